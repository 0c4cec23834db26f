// Step 3 (migration 0002_rebuild_categories): changing categories.budget from
// INTEGER to REAL with a default is something SQLite cannot ALTER, so
// drizzle-kit emits a table rebuild of the *parent* table:
//   PRAGMA foreign_keys=OFF; CREATE TABLE __new_categories ...; INSERT ... SELECT;
//   DROP TABLE categories; ALTER TABLE __new_categories RENAME TO categories;
//   PRAGMA foreign_keys=ON;
import { sqliteTable, integer, real, text, index } from 'drizzle-orm/sqlite-core';

export const categories = sqliteTable('categories', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  budget: real('budget').default(0),
});

export const expenses = sqliteTable(
  'expenses',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    categoryId: integer('category_id')
      .notNull()
      .references(() => categories.id, { onDelete: 'cascade' }),
    amountCents: integer('amount_cents').notNull(),
    note: text('note'),
    spentAt: integer('spent_at'),
  },
  (t) => [index('expenses_category_idx').on(t.categoryId)],
);
