#include "sqlkeeper/migrate/migrator.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/base/file_lock.h"
#include "sqlkeeper/db/snapshot.h"
#include "sqlkeeper/migrate/sql_text.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/sqlite/transaction.h"

namespace sqlkeeper::core {
namespace {

// drizzle-orm's own statement, byte for byte, so both tools create the same table.
constexpr const char* kDrizzleTable =
    "CREATE TABLE IF NOT EXISTS \"__drizzle_migrations\" (\n\t\t\t\tid SERIAL PRIMARY KEY,\n\t\t\t\thash text NOT NULL,"
    "\n\t\t\t\tcreated_at numeric\n\t\t\t)";
constexpr const char* kPlainTable =
    "CREATE TABLE IF NOT EXISTS sqlkeeper_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "sha256 TEXT NOT NULL, applied_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL)";

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool table_exists(sqlite::Connection& db, const std::string& name) {
  auto st = db.prepare("SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?");
  st.bind(1, name);
  return st.step();
}

enum class StatementKind { normal, foreign_keys_off, foreign_keys_on, needs_no_transaction, transaction_control };

StatementKind classify(const std::string& sql) {
  const auto w = leading_words(sql, 3);
  if (w.empty()) return StatementKind::normal;
  if (w[0] == "BEGIN" || w[0] == "COMMIT" || w[0] == "END" || w[0] == "ROLLBACK")
    return StatementKind::transaction_control;
  if (w[0] == "VACUUM" || w[0] == "ATTACH" || w[0] == "DETACH") return StatementKind::needs_no_transaction;
  if (w[0] == "PRAGMA" && w.size() >= 2) {
    if (w[1] == "JOURNAL_MODE" || w[1] == "LOCKING_MODE" || w[1] == "PAGE_SIZE" || w[1] == "AUTO_VACUUM")
      return StatementKind::needs_no_transaction;
    if (w[1] == "FOREIGN_KEYS" && w.size() == 3) {
      if (w[2] == "OFF" || w[2] == "FALSE" || w[2] == "0" || w[2] == "NO") return StatementKind::foreign_keys_off;
      return StatementKind::foreign_keys_on;
    }
  }
  return StatementKind::normal;
}

std::string statement_where(const MigrationFile& file, std::size_t index) {
  return "migration " + file.name + ", statement " + std::to_string(index + 1) + " (line " +
         std::to_string(file.statements[index].line) + ")";
}

struct TableRows {
  std::int64_t rootpage = 0;  // survives ALTER TABLE RENAME, so a renamed table is recognised
  std::int64_t count = 0;
};

std::map<std::string, TableRows> row_counts(sqlite::Connection& db) {
  std::map<std::string, TableRows> counts;
  std::vector<std::pair<std::string, std::int64_t>> tables;
  auto st = db.prepare(
      "SELECT name, rootpage FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
      "AND sql NOT LIKE 'CREATE VIRTUAL%'");
  while (st.step()) tables.emplace_back(st.column_text(0), st.column_int64(1));
  for (const auto& [t, root] : tables)
    counts[t] = {root, db.query_int64("SELECT count(*) FROM " + quote_identifier(t)).value_or(0)};
  return counts;
}

std::map<std::string, std::int64_t> foreign_key_violations(sqlite::Connection& db) {
  std::map<std::string, std::int64_t> per_table;
  auto st = db.prepare("PRAGMA foreign_key_check");
  while (st.step()) ++per_table[st.column_text(0) + " -> " + st.column_text(2)];
  return per_table;
}

std::optional<AppliedRecord> find_record(sqlite::Connection& db, MigrationFormat format, std::int64_t key) {
  for (auto& r : read_applied(db, format))
    if (r.key == key) return r;
  return std::nullopt;
}

void record_applied(sqlite::Connection& db, const MigrationSet& set, const MigrationFile& file, Env& env,
                    std::chrono::milliseconds duration) {
  if (set.format == MigrationFormat::drizzle) {
    db.exec(kDrizzleTable);
    auto st = db.prepare("INSERT INTO \"__drizzle_migrations\" (\"hash\", \"created_at\") VALUES (?, ?)");
    st.bind(1, file.sha256).bind(2, file.key);
    st.step();
    return;
  }
  db.exec(kPlainTable);
  auto st = db.prepare(
      "INSERT INTO sqlkeeper_migrations (version, name, sha256, applied_at, duration_ms) VALUES (?, ?, ?, ?, ?)");
  st.bind(1, file.key).bind(2, file.name).bind(3, file.sha256).bind(4, unix_ms(env.now())).bind(5, duration.count());
  st.step();
  const auto newest = db.query_int64("SELECT max(version) FROM sqlkeeper_migrations").value_or(0);
  // user_version is a signed 32-bit header field; bigger numbers live only in the table.
  if (newest <= INT32_MAX) db.exec("PRAGMA user_version=" + std::to_string(newest));
}

// Fails the migration when a table it did not declare lost rows.
void check_row_loss(const MigrationFile& file, const std::map<std::string, TableRows>& before,
                    const std::map<std::string, TableRows>& after, AppliedMigration& result) {
  std::string lost;
  std::set<std::string> renamed_to;
  const auto allowed = [&](const std::string& table) {
    return file.directives.allow_row_loss_all || file.directives.allow_row_loss.count(ascii_lower(table)) > 0;
  };
  for (const auto& [table, rows] : before) {
    const auto count = rows.count;
    std::string label = table;
    std::string renamed;  // the table's new name, when it was renamed
    std::int64_t now = -1;
    if (const auto it = after.find(table); it != after.end()) {
      now = it->second.count;
    } else {
      // Gone by name: renamed (ALTER TABLE RENAME keeps the root page) or dropped.
      for (const auto& [name, a] : after) {
        if (before.count(name) || a.rootpage != rows.rootpage) continue;
        now = a.count;
        renamed = name;
        label = table + " -> " + name;
        renamed_to.insert(name);
        break;
      }
    }
    if (now != count || label != table) result.row_changes[label] = {count, now};
    const bool lost_rows = now < count && count > 0;
    if (!lost_rows || allowed(table) || (!renamed.empty() && allowed(renamed))) continue;
    lost += (lost.empty() ? "" : ", ") + label + " " + std::to_string(count) + " -> " +
            (now < 0 ? std::string("dropped") : std::to_string(now));
  }
  for (const auto& [table, rows] : after)
    if (!before.count(table) && !renamed_to.count(table) && rows.count != 0)
      result.row_changes[table] = {0, rows.count};
  if (!lost.empty())
    throw Error(ErrorCode::migration, "migration " + file.name + " would lose rows (" + lost +
                                          "); rolled back. If that is intended, add the line "
                                          "`-- sqlkeeper: allow-row-loss=<table>` to the file");
}

AppliedMigration apply_one(sqlite::Connection& db, const MigrationSet& set, const MigrationFile& file, Env& env) {
  AppliedMigration result{file.name, {}, {}, 0, false};
  bool wants_fk_off = file.directives.foreign_keys_off;
  for (std::size_t i = 0; i < file.statements.size(); ++i) {
    switch (classify(file.statements[i].sql)) {
      case StatementKind::transaction_control:
        throw Error(ErrorCode::migration, statement_where(file, i) +
                                              ": sqlkeeper runs each migration in its own transaction; remove "
                                              "BEGIN/COMMIT/ROLLBACK from the file");
      case StatementKind::needs_no_transaction:
        if (!file.directives.no_transaction)
          throw Error(ErrorCode::migration, statement_where(file, i) +
                                                ": cannot run inside a transaction; if the migration must run "
                                                "without one, add the line `-- sqlkeeper: no-transaction`");
        break;
      case StatementKind::foreign_keys_off: wants_fk_off = true; break;
      default: break;
    }
  }
  const auto started = std::chrono::steady_clock::now();
  const auto run_statements = [&] {
    for (std::size_t i = 0; i < file.statements.size(); ++i) {
      const auto kind = classify(file.statements[i].sql);
      // Inside a transaction these pragmas are silent no-ops; sqlkeeper sets
      // foreign_keys itself, outside the transaction.
      if (kind == StatementKind::foreign_keys_off || kind == StatementKind::foreign_keys_on) continue;
      try {
        db.exec(file.statements[i].sql);
      } catch (const Error& e) {
        throw Error(ErrorCode::migration,
                    statement_where(file, i) + ": " + sqlite3_errstr(e.sqlite_code()) + ": " + db.errmsg(),
                    e.sqlite_code());
      }
    }
  };
  // foreign_keys can only change outside a transaction: turn it off for the whole
  // migration (run_statements skips the file's own foreign_keys pragmas), on again after.
  if (wants_fk_off) db.exec("PRAGMA foreign_keys=OFF");
  struct RestoreForeignKeys {
    sqlite::Connection& db;
    bool active;
    ~RestoreForeignKeys() {
      if (active) sqlite3_exec(db.handle(), "PRAGMA foreign_keys=ON", nullptr, nullptr, nullptr);
    }
  } restore{db, wants_fk_off};

  if (file.directives.no_transaction) {
    // Documented: such a migration is not atomic; its row is written only after
    // every statement succeeded.
    run_statements();
    sqlite::Transaction tx(db, sqlite::Transaction::Mode::immediate);
    record_applied(db, set, file, env,
                   std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
    tx.commit();
    return result;
  }

  sqlite::Transaction tx(db, sqlite::Transaction::Mode::immediate);
  // Another migrator (drizzle-kit, say) may have applied it since we planned.
  if (find_record(db, set.format, file.key)) {
    result.skipped = true;
    return result;
  }
  const auto counts_before = row_counts(db);
  const auto violations_before = wants_fk_off ? foreign_key_violations(db) : std::map<std::string, std::int64_t>{};
  run_statements();
  if (wants_fk_off) {
    std::string added;
    for (const auto& [key, count] : foreign_key_violations(db)) {
      const auto it = violations_before.find(key);
      const auto old = it == violations_before.end() ? 0 : it->second;
      result.foreign_key_violations += count - old;
      if (count > old) added += (added.empty() ? "" : ", ") + key + ": " + std::to_string(count - old);
    }
    if (!added.empty())
      throw Error(ErrorCode::migration,
                  "migration " + file.name + " leaves foreign key violations (" + added + "); rolled back");
  }
  check_row_loss(file, counts_before, row_counts(db), result);
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  record_applied(db, set, file, env, result.duration);
  tx.commit();
  return result;
}

bool database_is_empty(sqlite::Connection& db) {
  return db.query_int64("SELECT count(*) FROM sqlite_schema").value_or(0) == 0;
}

const char* bookkeeping_table(MigrationFormat format) {
  return format == MigrationFormat::drizzle ? "__drizzle_migrations" : "sqlkeeper_migrations";
}

// The database's tables, SQLite's internal ones left out, by name.
std::vector<std::string> user_tables(sqlite::Connection& db) {
  std::vector<std::string> names;
  auto st = db.prepare(
      "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
  while (st.step()) names.push_back(st.column_text(0));
  return names;
}

// `database` names the database in messages: `db` may be a dry run's scratch copy.
MigrateReport apply_plan(sqlite::Connection& db, const std::filesystem::path& database, const MigrationSet& set,
                         const MigrateOptions& options, Job& job, bool with_backup) {
  MigrateReport report;
  const JobScope scope(db, job, options.busy_timeout);
  const auto plan = plan_migrations(set, read_applied(db, set.format), options.allow_out_of_order);
  if (!plan.problems.empty()) {
    std::string all;
    for (const auto& p : plan.problems) all += (all.empty() ? "" : "\n  ") + p;
    throw Error(ErrorCode::migration, "refusing to migrate " + database.string() + ":\n  " + all);
  }
  if (plan.to_apply.empty()) return report;
  if (const auto problem = unmanaged_database_problem(db, set.format))
    throw Error(ErrorCode::migration, "refusing to migrate " + database.string() + ": " + *problem);
  if (with_backup && options.backup_dir && !database_is_empty(db)) {
    BackupOptions backup;
    backup.dir = *options.backup_dir;
    backup.label = "pre-migration";
    backup.checkpoint_first = false;  // the copy is of one snapshot either way
    backup.lock_timeout = options.lock_timeout;
    const auto snap = take_backup(db, backup, *options.env, job);
    spdlog::info("pre-migration backup {} ({} bytes, sha256 {})", snap.file.string(), snap.bytes, snap.sha256);
    report.backup = snap.file;
  }
  for (const auto index : plan.to_apply) {
    const auto& file = set.files[index];
    job.check("starting migration " + file.name);
    if (options.on_start) options.on_start(file.name);
    try {
      report.applied.push_back(apply_one(db, set, file, *options.env));
    } catch (...) {
      rethrow_as_stopped_if(job);
    }
  }
  return report;
}

}  // namespace

std::vector<AppliedRecord> read_applied(sqlite::Connection& db, MigrationFormat format) {
  std::vector<AppliedRecord> records;
  if (format == MigrationFormat::drizzle) {
    if (!table_exists(db, "__drizzle_migrations")) return records;
    auto st = db.prepare(
        "SELECT hash, CAST(created_at AS INTEGER) FROM \"__drizzle_migrations\" WHERE created_at IS NOT NULL "
        "ORDER BY created_at");
    while (st.step()) records.push_back({st.column_int64(1), st.column_text(0), "", 0, 0});
    return records;
  }
  if (!table_exists(db, "sqlkeeper_migrations")) return records;
  auto st =
      db.prepare("SELECT version, sha256, name, applied_at, duration_ms FROM sqlkeeper_migrations ORDER BY version");
  while (st.step())
    records.push_back(
        {st.column_int64(0), st.column_text(1), st.column_text(2), st.column_int64(3), st.column_int64(4)});
  return records;
}

namespace {

// Serialises migrators in this and other sqlkeeper processes: a lock on the
// database's directory (see FileLock for why never on the file).
FileLock migration_lock(const sqlite::Connection& db, const MigrateOptions& options, Job& job) {
  auto dir = db.path().parent_path();
  if (dir.empty()) dir = ".";
  return FileLock::acquire(dir, "the migration lock of " + db.path().string(), job, options.lock_timeout);
}

}  // namespace

std::optional<std::string> unmanaged_database_problem(sqlite::Connection& db, MigrationFormat format) {
  const std::string table = bookkeeping_table(format);
  if (table_exists(db, table)) return std::nullopt;
  const auto tables = user_tables(db);
  if (tables.empty()) return std::nullopt;
  constexpr std::size_t kShown = 5;
  std::string shown;
  for (std::size_t i = 0; i < tables.size() && i < kShown; ++i) shown += (i ? ", " : "") + tables[i];
  if (tables.size() > kShown) shown += " and " + std::to_string(tables.size() - kShown) + " more";
  return "it has tables (" + shown + ") but no " + table +
         " bookkeeping, so which migrations its schema already holds is unknown (was it made by another tool, "
         "or a -wal file of another database replayed into it?). If its schema is that of the migrations up "
         "to N, adopt it with `sqlkeeper migrate baseline --to N` (without --to: all the folder's migrations)";
}

std::vector<std::string> migrate_baseline(sqlite::Connection& db, const MigrationSet& set,
                                          const std::optional<std::string>& to, Env& env) {
  std::size_t count = set.files.size();
  if (count == 0) throw Error(ErrorCode::migration, "migrations folder " + set.folder.string() + " has no migrations");
  if (to) {
    std::int64_t key = 0;
    const auto* end = to->data() + to->size();
    const bool numeric = !to->empty() && std::from_chars(to->data(), end, key).ptr == end;
    const auto it = std::find_if(set.files.begin(), set.files.end(), [&](const MigrationFile& f) {
      return (numeric && f.key == key) || f.name == *to || f.name == *to + ".sql";
    });
    if (it == set.files.end())
      throw Error(ErrorCode::migration, "no migration '" + *to + "' in " + set.folder.string() +
                                            "; --to takes a migration's number (drizzle: its \"when\") or file name");
    count = static_cast<std::size_t>(it - set.files.begin()) + 1;
  }
  Job unbounded("baseline");
  const auto lock = migration_lock(db, MigrateOptions{}, unbounded);
  sqlite::Transaction tx(db, sqlite::Transaction::Mode::immediate);
  if (table_exists(db, bookkeeping_table(set.format)))
    throw Error(ErrorCode::migration, db.path().string() + " already has migration bookkeeping (" +
                                          bookkeeping_table(set.format) +
                                          "); baseline only adopts a database without it (see `sqlkeeper "
                                          "migrate status`)");
  if (user_tables(db).empty())
    throw Error(ErrorCode::migration, db.path().string() +
                                          " has no tables, so there is nothing to adopt; apply the migrations with "
                                          "`sqlkeeper migrate up`");
  std::vector<std::string> recorded;
  for (std::size_t i = 0; i < count; ++i) {
    record_applied(db, set, set.files[i], env, std::chrono::milliseconds(0));
    recorded.push_back(set.files[i].name);
  }
  tx.commit();
  return recorded;
}

MigrateReport migrate_up(sqlite::Connection& db, const MigrationSet& set, const MigrateOptions& options) {
  Job unbounded("migration");
  Job& job = options.job ? *options.job : unbounded;
  const auto lock = migration_lock(db, options, job);
  return apply_plan(db, db.path(), set, options, job, true);
}

MigrateReport migrate_dry_run(sqlite::Connection& db, const MigrationSet& set, const MigrateOptions& options) {
  Job unbounded("dry run");
  Job& job = options.job ? *options.job : unbounded;
  const auto lock = migration_lock(db, options, job);
  const char* tmpdir = std::getenv("TMPDIR");
  // A private folder: the copy is created inside it, never at a name others can guess.
  std::string templ = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/sqlkeeper-dry-run-XXXXXX";
  if (!::mkdtemp(templ.data())) throw system_error("create a scratch folder for the dry run in " + templ, errno);
  struct RemoveAll {
    std::filesystem::path dir;
    ~RemoveAll() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove{templ};
  const auto scratch = remove.dir / "copy.db";
  copy_database(db, scratch, options.env ? *options.env : Env::real(), job);
  sqlite::Connection copy(scratch, SQLITE_OPEN_READWRITE, std::chrono::milliseconds(0));
  apply_connection_pragmas(copy);
  return apply_plan(copy, db.path(), set, options, job, false);
}

}  // namespace sqlkeeper::core
