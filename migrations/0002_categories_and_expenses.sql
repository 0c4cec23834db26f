-- Spending categories and the expenses filed under them. Money is an integer
-- number of cents, never a float; a category in use cannot be deleted.
CREATE TABLE categories (
  id          INTEGER PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name        TEXT    NOT NULL,
  created_at  INTEGER NOT NULL DEFAULT (unixepoch()),
  UNIQUE (user_id, name)
);

CREATE TABLE expenses (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  category_id  INTEGER NOT NULL REFERENCES categories (id) ON DELETE RESTRICT,
  amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
  currency     TEXT    NOT NULL DEFAULT 'EUR' CHECK (length(currency) = 3),
  spent_on     INTEGER NOT NULL,               -- the day of the expense, Unix seconds at 00:00 UTC
  note         TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL DEFAULT (unixepoch()),
  updated_at   INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE INDEX expenses_spent_on_idx ON expenses (spent_on);
CREATE INDEX expenses_category_id_idx ON expenses (category_id);
CREATE INDEX expenses_category_id_spent_on_idx ON expenses (category_id, spent_on);
CREATE INDEX expenses_user_id_spent_on_idx ON expenses (user_id, spent_on);
