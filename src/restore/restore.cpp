#include "sqlkeeper/restore/restore.h"

#include <sys/stat.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/base/file_lock.h"
#include "sqlkeeper/db/integrity.h"
#include "sqlkeeper/migrate/migration_source.h"
#include "sqlkeeper/migrate/migrator.h"
#include "sqlkeeper/db/snapshot.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;
constexpr int kLoadStepPages = 1024;

Ms since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t);
}

// A database made by the restore, with whatever SQLite left beside it; on a path
// that is already failing, so what cannot be removed is only logged.
void remove_quietly(Env& env, const std::filesystem::path& p) {
  for (const auto* suffix : {"", "-journal", "-wal", "-shm"}) {
    try {
      env.remove_file(p.string() + suffix);
    } catch (const Error& e) {
      spdlog::warn("{}", e.what());
    }
  }
}

// One sqlite3_backup from `source` into `dest`: a single write transaction on
// `dest` from the first step to the last, so until the last step readers see the
// old content and the destination's other writers wait. Destroyed before its
// last step, it rolls the load back.
class Load {
 public:
  Load(sqlite::Connection& dest, sqlite::Connection& source) : dest_(dest), source_(source) {
    b_ = sqlite3_backup_init(dest.handle(), "main", source.handle(), "main");
    if (!b_) dest.check(sqlite3_errcode(dest.handle()), "start loading " + source.path().string());
  }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;
  ~Load() {
    if (b_) sqlite3_backup_finish(b_);
  }

  // A step of no pages: it takes the destination's write lock (waiting in the
  // busy handler) and copies nothing, so nothing can commit in between.
  void lock(Job& job) {
    job.check("waiting for the write lock of " + dest_.path().string());
    const int rc = sqlite3_backup_step(b_, 0);
    if (rc != SQLITE_OK) fail(rc);
  }

  // The remaining pages, a step at a time with the job checked in between; the
  // last step commits.
  void finish(Job& job) {
    for (int rc = SQLITE_OK; rc != SQLITE_DONE;) {
      job.check("loading " + source_.path().string());
      rc = sqlite3_backup_step(b_, kLoadStepPages);
      const auto total = static_cast<std::uint64_t>(sqlite3_backup_pagecount(b_));
      job.set_progress(total - static_cast<std::uint64_t>(sqlite3_backup_remaining(b_)), total);
      if (rc != SQLITE_OK && rc != SQLITE_DONE) fail(rc);
    }
    const int rc = sqlite3_backup_finish(b_);
    b_ = nullptr;
    dest_.check(rc, "finish loading " + source_.path().string());
  }

 private:
  [[noreturn]] void fail(int rc) {
    const auto what = "load " + source_.path().string() + " into " + dest_.path().string();
    if (rc == SQLITE_READONLY)
      throw Error(ErrorCode::sqlite, "cannot " + what + ": its page size differs from the database's (a WAL "
                                         "database cannot change page size); restore with --to PATH instead", rc);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
      throw Error(ErrorCode::sqlite, "cannot " + what + ": another connection held the write lock past the busy "
                                         "limit", rc);
    throw Error(ErrorCode::sqlite, what + ": " + sqlite3_errstr(rc) + " (" + dest_.errmsg() + ")", rc);
  }

  sqlite::Connection& dest_;
  sqlite::Connection& source_;
  sqlite3_backup* b_ = nullptr;
};

// The restored database, read back whole. A stop during the check leaves the
// restore done and says so.
void check_restored(RestoreResult& result, const RestoreOptions& options, Job& job) {
  spdlog::info("restore: checking {}", result.into.string());
  try {
    const auto check = check_database(result.into, CheckDepth::full, job, options.busy_timeout);
    if (!check.ok)
      throw Error(ErrorCode::sqlite, "restored " + result.into.string() + " but it fails integrity_check: " +
                                         check.first_error);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::stopped && !job.should_stop()) throw;
    result.check_stopped = job.stop_reason().empty() ? e.what() : job.stop_reason();
  }
  sqlite::Connection after(result.into, SQLITE_OPEN_READONLY, options.busy_timeout);
  result.pages = after.query_int64("PRAGMA page_count").value_or(0);
}

// A scratch file in the backup folder with a temporary's name of ours, so a
// killed restore's leftover is removed by the next backup.
struct Scratch {
  std::filesystem::path path;
  Env& env;
  Scratch(std::filesystem::path p, Env& e) : path(std::move(p)), env(e) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    // With the -wal and -shm its connections may have left beside it.
    for (const char* suffix : {"", "-wal", "-shm"}) remove_quietly(env, path.string() + suffix);
  }
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : "; ") + i;
  return out;
}

// When `backup`'s migration ledger is behind the folder, a scratch copy of it
// with the pending migrations applied; nullopt when it is to be loaded as it is.
// A ledger that does not fit the folder is refused unless force_schema.
std::optional<std::filesystem::path> bring_schema_up_to_date(const std::filesystem::path& backup,
                                                             const RestoreOptions& options, Env& env, Job& job,
                                                             std::optional<Scratch>& scratch,
                                                             std::vector<std::string>& migrated) {
  std::error_code ec;
  if (!options.migrations || !std::filesystem::is_directory(*options.migrations, ec)) return std::nullopt;
  const auto set = load_migrations(*options.migrations);
  std::vector<AppliedRecord> applied;
  {
    sqlite::Connection b(backup, SQLITE_OPEN_READONLY, Ms(0));
    // Tables but no bookkeeping: not managed by these migrations; loaded as it is.
    if (unmanaged_database_problem(b, set.format)) return std::nullopt;
    applied = read_applied(b, set.format);
  }
  const auto plan = plan_migrations(set, applied, options.allow_out_of_order);
  if (!plan.problems.empty()) {
    if (!options.force_schema)
      throw Error(ErrorCode::migration, "refusing to restore " + backup.string() +
                                            ": its migration ledger does not fit " + options.migrations->string() +
                                            ": " + joined(plan.problems) +
                                            " (add --force-schema to load it as it is)");
    spdlog::warn("restore: loading {} as it is, although {}", backup.string(), joined(plan.problems));
    return std::nullopt;
  }
  if (plan.to_apply.empty()) return std::nullopt;
  scratch.emplace(options.backup_dir /
                      (snapshot_name(options.database.stem().string(), env.now(), "restore-scratch") + ".tmp"),
                  env);
  spdlog::info("restore: applying {} pending migrations to a copy of {}", plan.to_apply.size(), backup.string());
  {
    sqlite::Connection b(backup, SQLITE_OPEN_READONLY, Ms(0));
    copy_database(b, scratch->path, env, job);
  }
  sqlite::Connection copy(scratch->path, SQLITE_OPEN_READWRITE, options.busy_timeout);
  apply_connection_pragmas(copy);
  MigrateOptions m;
  m.allow_out_of_order = options.allow_out_of_order;
  m.env = &env;
  m.job = &job;
  m.lock_timeout = options.lock_timeout;
  m.busy_timeout = options.busy_timeout;
  for (const auto& a : migrate_up(copy, set, m).applied) migrated.push_back(a.name);
  return scratch->path;
}

RestoreResult restore_to_new_file(const std::filesystem::path& backup, const RestoreOptions& options, Env& env,
                                  Job& job) {
  const auto& to = *options.to;
  prepare_new_file(to, options.file_mode);
  env.create_file(to, options.file_mode);
  RestoreResult result;
  try {
    {
      sqlite::Connection dest(to, SQLITE_OPEN_READWRITE, options.busy_timeout);
      sqlite::Connection source(backup, SQLITE_OPEN_READONLY, Ms(0));
      const JobScope scope(dest, job, options.busy_timeout);
      spdlog::info("restore: loading {}", backup.string());
      Load load(dest, source);
      load.finish(job);
      dest.exec("PRAGMA journal_mode=WAL");
    }
    result.into = to;
    check_restored(result, options, job);
    // Reported restored only once its name survives a power cut too.
    env.fsync_dir(to.parent_path().empty() ? "." : to.parent_path());
  } catch (...) {
    // Whatever failed, no file that looks restored stays behind.
    remove_quietly(env, to);
    throw;
  }
  return result;
}

RestoreResult restore_in_place(const std::filesystem::path& backup, const RestoreOptions& options, Env& env,
                               Job& job) {
  RestoreResult result;
  const auto& database = options.database;
  bool committed = false;
  try {
    auto db = open_database({database, options.file_mode, options.busy_timeout});
    const bool holds_data = db.query_int64("SELECT count(*) FROM sqlite_schema").value_or(0) > 0;
    if (holds_data && !options.force)
      throw Error(ErrorCode::conflict, "refusing to replace " + database.string() +
                                           ": it holds data; add --force (its content is kept as a pre-restore "
                                           "backup first)");
    // Backups, prunes and other restores of this folder wait for this one, and
    // it takes the folder's lock before the database's, as a backup does.
    ensure_backup_dir(options.backup_dir, env);
    const auto folder_lock = FileLock::acquire(options.backup_dir / kBackupLockName,
                                               "the backup lock of " + options.backup_dir.string(), job,
                                               options.lock_timeout);
    std::optional<Scratch> scratch;
    const auto source_path =
        bring_schema_up_to_date(backup, options, env, job, scratch, result.migrated).value_or(backup);
    sqlite::Connection source(source_path, SQLITE_OPEN_READONLY, Ms(0));

    // The load's commit is synced before it is reported (the applications' connections run synchronous=NORMAL).
    db.exec("PRAGMA synchronous=FULL");
    const JobScope scope(db, job, options.busy_timeout);
    Load load(db, source);
    spdlog::info("restore: waiting for the write lock of {}", database.string());
    load.lock(job);
    const auto locked = std::chrono::steady_clock::now();
    // A connection of its own reads the committed state: the load's pages are
    // not committed and no one else can commit while the load holds the lock.
    sqlite::Connection reader(database, SQLITE_OPEN_READONLY, options.busy_timeout);
    sqlite3_db_config(reader.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    // Asked again under the lock: an application may have made its tables since.
    if (!holds_data && reader.query_int64("SELECT count(*) FROM sqlite_schema").value_or(0) > 0 && !options.force)
      throw Error(ErrorCode::conflict, "refusing to replace " + database.string() +
                                           ": it holds data since the restore began; add --force");
    if (holds_data || options.force) {
      spdlog::info("restore: saving the replaced content of {}", database.string());
      BackupOptions keep;
      keep.dir = options.backup_dir;
      keep.label = "pre-restore";
      keep.checkpoint_first = false;
      keep.folder_locked = true;
      keep.background = false;  // the applications' writers are waiting
      keep.lock_timeout = options.lock_timeout;
      const auto saved = take_backup(reader, keep, env, job);
      spdlog::info("restore: kept the replaced content as {}", saved.file.string());
      result.pre_restore = saved.file;
    }
    spdlog::info("restore: loading {} into {}", source_path.string(), database.string());
    load.finish(job);
    committed = true;
    result.writers_held = since(locked);
    if (db.query_text("PRAGMA journal_mode") != "wal") db.exec("PRAGMA journal_mode=WAL");
  } catch (const Error& e) {
    if (committed) throw;
    const auto kept = result.pre_restore ? " (the pre-restore backup " + result.pre_restore->string() + " stays)" : "";
    throw Error(e.code(), std::string(e.what()) + "; nothing was changed in " + database.string() + kept,
                e.sqlite_code(), e.sys_errno());
  }
  result.into = database;
  check_restored(result, options, job);
  return result;
}

}  // namespace

RestoreResult restore_backup(const std::filesystem::path& backup, const RestoreOptions& options, Env& env, Job& job) {
  const auto started = std::chrono::steady_clock::now();
  spdlog::info("restore: verifying {}", backup.string());
  const auto verified = verify_backup(backup, job, database_identity(options.database));
  if (!verified.ok) throw Error(ErrorCode::io, "refusing to restore " + backup.string() + ": " + verified.problem);
  if (verified.state == BackupState::foreign && !options.force)
    throw Error(ErrorCode::conflict, "refusing to restore " + backup.string() + ": " + verified.note +
                                         "; add --force to restore it anyway");
  auto result = options.to ? restore_to_new_file(backup, options, env, job) : restore_in_place(backup, options, env, job);
  result.duration = since(started);
  return result;
}

void prepare_new_file(const std::filesystem::path& to, unsigned file_mode) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(to, ec)))
    throw Error(ErrorCode::conflict, "refusing to restore into " + to.string() + ": it exists");
  ensure_database_directory(to, file_mode);
}

RestoreResult publish_made_file(const std::filesystem::path& made, const std::filesystem::path& to,
                                const RestoreOptions& options, Env& env, Job& job) {
  const auto started = std::chrono::steady_clock::now();
  spdlog::info("restore: checking {}", made.string());
  const auto check = check_database(made, CheckDepth::full, job, options.busy_timeout);
  if (!check.ok)
    throw Error(ErrorCode::sqlite, made.string() + " fails integrity_check: " + check.first_error +
                                       "; nothing was written to " + to.string());
  RestoreResult result;
  {
    // Closed as the only connection, it leaves no -wal or -shm beside the file.
    sqlite::Connection c(made, SQLITE_OPEN_READWRITE, options.busy_timeout);
    c.exec("PRAGMA journal_mode=WAL");
    result.pages = c.query_int64("PRAGMA page_count").value_or(0);
  }
  if (::chmod(made.c_str(), options.file_mode) != 0) throw system_error("chmod " + made.string(), errno);
  env.fsync_file(made);
  env.rename_new(made, to);
  try {
    // Reported restored only once its name survives a power cut too.
    env.fsync_dir(to.parent_path().empty() ? "." : to.parent_path());
  } catch (...) {
    // A failed restore leaves no file that looks restored.
    remove_quietly(env, to);
    throw;
  }
  result.into = to;
  result.duration = since(started);
  return result;
}

RestoreResult restore_checked_file(const std::filesystem::path& file, const RestoreOptions& options, Env& env,
                                   Job& job) {
  const auto started = std::chrono::steady_clock::now();
  auto result = options.to ? restore_to_new_file(file, options, env, job) : restore_in_place(file, options, env, job);
  result.duration = since(started);
  return result;
}

}  // namespace sqlkeeper::core
