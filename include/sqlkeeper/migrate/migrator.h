#pragma once
// Applying a migration plan to a database, each migration atomically with its
// bookkeeping row, under an exclusive lock against any other migrator, with the
// guards drizzle-kit and friends lack: foreign keys really off for rebuilds,
// foreign_key_check before commit, a row-count guard, and a verified backup first.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/base/job.h"
#include "sqlkeeper/migrate/migration_plan.h"
#include "sqlkeeper/migrate/migration_source.h"
#include "sqlkeeper/env.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {

struct TableChange {
  std::int64_t before = 0;
  std::int64_t after = 0;  // -1 when the table was dropped
};

struct AppliedMigration {
  std::string name;
  std::chrono::milliseconds duration{};
  std::map<std::string, TableChange> row_changes;  // tables whose row count changed
  std::int64_t foreign_key_violations = 0;
  bool skipped = false;  // another migrator applied it first
};

struct MigrateOptions {
  bool allow_out_of_order = false;
  // Where the pre-migration backup of a non-empty database goes; none when empty.
  std::optional<std::filesystem::path> backup_dir;
  // Called before each migration starts, with its file name.
  std::function<void(const std::string&)> on_start;
  Env* env = &Env::real();
  // Stops the migration at its next step (it rolls back); none: runs to the end.
  Job* job = nullptr;
  // How long to wait for another migrator, and for the application's locks.
  std::chrono::milliseconds lock_timeout{std::chrono::minutes(2)};
  std::chrono::milliseconds busy_timeout{5000};
};

struct MigrateReport {
  std::vector<AppliedMigration> applied;
  std::optional<std::filesystem::path> backup;
};

// Reads the bookkeeping for `format` from the database; empty when none.
std::vector<AppliedRecord> read_applied(sqlite::Connection& db, MigrationFormat format);

// Why `db` must not be migrated with a `format` folder, or nothing: it has
// tables but no bookkeeping table for the format, so sqlkeeper cannot tell which
// migrations its schema already holds (another tool made it, or a -wal file of
// another database was replayed into it). `migrate baseline` adopts it.
std::optional<std::string> unmanaged_database_problem(sqlite::Connection& db, MigrationFormat format);

// Records the migrations of `set` up to and including `to` (a migration's number,
// drizzle `when` or file name; all when empty) as applied without running them,
// in the same bookkeeping `migrate_up` writes, in one IMMEDIATE transaction.
// Only for a database that has tables and no bookkeeping yet; returns the names.
std::vector<std::string> migrate_baseline(sqlite::Connection& db, const MigrationSet& set,
                                          const std::optional<std::string>& to, Env& env = Env::real());

// Applies every pending migration of `set` to `db`. Throws Error(migration) with
// the file, statement number and SQLite's message; the failing migration is
// rolled back, earlier ones stay applied.
MigrateReport migrate_up(sqlite::Connection& db, const MigrationSet& set, const MigrateOptions& options);

// Applies the pending migrations to a scratch copy of `db` and reports what
// they would do; the database itself is not written.
MigrateReport migrate_dry_run(sqlite::Connection& db, const MigrationSet& set, const MigrateOptions& options);

}  // namespace sqlkeeper::core
