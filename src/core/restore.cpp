#include "sqlkeeper/core/restore.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include "sqlkeeper/core/backup.h"
#include "sqlkeeper/core/catalog.h"
#include "sqlkeeper/core/database.h"
#include "sqlkeeper/core/file_lock.h"
#include "sqlkeeper/core/integrity.h"
#include "sqlkeeper/core/sha256.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;

Ms since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t);
}

// Copies `backup` into the open database `dest` in one transaction, waiting for
// the applications' locks within the job's busy limit.
void load_into(const std::filesystem::path& backup, sqlite::Connection& dest, Job& job) {
  sqlite::Connection source(backup, SQLITE_OPEN_READONLY, Ms(0));
  sqlite3_backup* b = sqlite3_backup_init(dest.handle(), "main", source.handle(), "main");
  if (!b) dest.check(sqlite3_errcode(dest.handle()), "start loading " + backup.string());
  // All pages in one step: one write transaction, so readers see the old or the
  // new database, never a mix. The busy handler (JobScope) bounds the lock wait.
  const int rc = sqlite3_backup_step(b, -1);
  const int finish = sqlite3_backup_finish(b);
  job.check("loading " + backup.string());
  if (rc == SQLITE_READONLY)
    throw Error(ErrorCode::sqlite, "cannot load " + backup.string() + " into " + dest.path().string() +
                                       ": its page size differs from the database's (a WAL database cannot change "
                                       "page size); restore with --to PATH instead",
                rc);
  if (rc != SQLITE_DONE)
    throw Error(ErrorCode::sqlite, "load " + backup.string() + " into " + dest.path().string() + ": " +
                                       sqlite3_errstr(rc) + " (" + dest.errmsg() + ")",
                rc);
  dest.check(finish, "finish loading " + backup.string());
}

// The restored database, read back whole.
void check_restored(RestoreResult& result, const RestoreOptions& options, Job& job) {
  const auto check = check_database(result.into, CheckDepth::full, job, options.busy_timeout);
  if (!check.ok)
    throw Error(ErrorCode::sqlite, "restored " + result.into.string() + " but it fails integrity_check: " +
                                       check.first_error);
  sqlite::Connection after(result.into, SQLITE_OPEN_READONLY, options.busy_timeout);
  result.pages = after.query_int64("PRAGMA page_count").value_or(0);
}

}  // namespace

RestoreResult restore_backup(const std::filesystem::path& backup, const RestoreOptions& options, Env& env, Job& job) {
  const auto started = std::chrono::steady_clock::now();
  const auto verified = verify_backup(backup, job, database_identity(options.database));
  if (!verified.ok) throw Error(ErrorCode::io, "refusing to restore " + backup.string() + ": " + verified.problem);
  if (verified.state == BackupState::foreign && !options.force)
    throw Error(ErrorCode::conflict, "refusing to restore " + backup.string() + ": " + verified.note +
                                         "; add --force to restore it anyway");
  RestoreResult result;
  if (options.to) {
    const auto& to = *options.to;
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(to, ec)))
      throw Error(ErrorCode::conflict, "refusing to restore into " + to.string() + ": it exists");
    ensure_database_directory(to, options.file_mode);
    {
      Fd fd(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd) throw system_error("create " + to.string(), errno);
      if (::fchmod(fd.get(), options.file_mode) != 0) throw system_error("chmod " + to.string(), errno);
    }
    try {
      {
        sqlite::Connection dest(to, SQLITE_OPEN_READWRITE, options.busy_timeout);
        const JobScope scope(dest, job, options.busy_timeout);
        load_into(backup, dest, job);
        dest.exec("PRAGMA journal_mode=WAL");
      }
      result.into = to;
      check_restored(result, options, job);
      // Reported restored only once its name survives a power cut too.
      env.fsync_dir(to.parent_path().empty() ? "." : to.parent_path());
    } catch (...) {
      // Whatever failed, no file that looks restored stays behind.
      for (const auto* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(to.string() + suffix, ec);
      throw;
    }
  } else {
    auto db = open_database({options.database, options.file_mode, options.busy_timeout});
    const bool holds_data = db.query_int64("SELECT count(*) FROM sqlite_schema").value_or(0) > 0;
    if (holds_data && !options.force)
      throw Error(ErrorCode::conflict, "refusing to replace " + options.database.string() +
                                           ": it holds data; add --force (its content is kept as a pre-restore "
                                           "backup first)");
    if (holds_data) {
      BackupOptions keep;
      keep.dir = options.backup_dir;
      keep.label = "pre-restore";
      keep.checkpoint_first = false;
      keep.lock_timeout = options.lock_timeout;
      const auto saved = take_backup(db, keep, env, job);
      spdlog::info("kept the replaced content as {}", saved.file.string());
      result.pre_restore = saved.file;
    }
    const JobScope scope(db, job, options.busy_timeout);
    load_into(backup, db, job);
    const auto mode = db.query_text("PRAGMA journal_mode");
    if (mode != "wal") db.exec("PRAGMA journal_mode=WAL");
    result.into = options.database;
    check_restored(result, options, job);
  }
  result.duration = since(started);
  return result;
}

}  // namespace sqlkeeper::core
