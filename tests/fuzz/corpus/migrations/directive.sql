-- sqlkeeper: no-transaction
CREATE TABLE t (x);
--> statement-breakpoint
CREATE INDEX i ON t (x);
