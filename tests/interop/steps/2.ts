// Step 2 (migration 0001_add_budget_and_index): plain ALTER TABLE ... ADD COLUMN
// on both tables plus a new index on the child's foreign key column.
import { sqliteTable, integer, text, index } from 'drizzle-orm/sqlite-core';

export const categories = sqliteTable('categories', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  budget: integer('budget'),
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
