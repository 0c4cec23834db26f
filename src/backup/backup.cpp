#include "sqlkeeper/backup/backup.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>
#include <optional>

#include "sqlkeeper/base/background_priority.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/base/file_lock.h"
#include "sqlkeeper/db/checkpoint.h"
#include "sqlkeeper/db/integrity.h"
#include "sqlkeeper/db/live_snapshot.h"
#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/db/snapshot.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;
constexpr unsigned kBackupMode = 0600;  // backups stay owner-only whatever file-mode says

Ms since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t);
}

// A free name: the plain one, or "-1", "-2"... for a second backup in one second.
std::string free_name(const std::filesystem::path& dir, const std::string& stem, Env::Clock::time_point at,
                      const std::string& label) {
  std::error_code ec;
  auto name = snapshot_name(stem, at, label);
  for (int n = 1; std::filesystem::exists(std::filesystem::symlink_status(dir / name, ec)); ++n)
    name = snapshot_name(stem, at, label + (label.empty() ? "" : "-") + std::to_string(n));
  return name;
}

// The copy must fit with room to spare: a backup never fills the disk.
void check_free_space(const std::filesystem::path& database, const std::filesystem::path& dir, Env& env) {
  const auto sizes = file_sizes(database);
  const auto need = sizes.database + sizes.wal;
  const auto margin = std::max<std::uint64_t>(need / 10, 16ULL << 20);
  const auto free = env.free_bytes(dir);
  if (free < need + margin)
    throw Error(ErrorCode::io, "not enough space for a backup in " + dir.string() + ": " + std::to_string(free) +
                                   " bytes free, a copy of " + database.string() + " needs " + std::to_string(need) +
                                   " plus a margin of " + std::to_string(margin));
}

// On a path that is already failing: what could not be removed is a temporary
// the next backup removes, or is named by `backups`.
void remove_quietly(Env& env, const std::filesystem::path& p) {
  try {
    env.remove_file(p);
  } catch (const Error& e) {
    spdlog::warn("{}", e.what());
  }
}

// The caller holds the folder's lock, so no temporary of a running backup is among them.
int remove_temporaries(const std::filesystem::path& dir, const std::string& stem, Env& env) {
  int removed = 0;
  for (const auto& tmp : read_catalog(dir, stem).temporaries) {
    spdlog::info("removing {} left by an interrupted backup", tmp.string());
    if (env.remove_file(tmp)) ++removed;
  }
  return removed;
}

}  // namespace

void ensure_backup_dir(const std::filesystem::path& dir, Env& env) {
  std::error_code ec;
  const auto st = std::filesystem::status(dir, ec);
  // Only a folder that is not there is created; one that cannot be looked at (a
  // parent the user may not enter, a dead mount) is named as that.
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw Error(ErrorCode::io, "cannot look at backup folder " + dir.string() + ": " + ec.message(), 0, ec.value());
  if (std::filesystem::exists(st)) {
    if (!std::filesystem::is_directory(st))
      throw Error(ErrorCode::io, "backup folder " + dir.string() + " exists and is not a directory");
    return;
  }
  env.create_directories(dir, 0700);
}

BackupOptions backup_options(const config::Config& config) {
  BackupOptions options;
  options.dir = config.backup_dir;
  options.checkpoint_first = checkpoints_allowed();
  options.checkpoint_busy_wait = config.checkpoint_busy_wait;
  options.journal_size_limit = config.wal_max_bytes;
  options.lock_timeout = config.lock_timeout;
  return options;
}

BackupResult take_backup(sqlite::Connection& source, const BackupOptions& options, Env& env, Job& job) {
  const auto started = std::chrono::steady_clock::now();
  const auto& dir = options.dir;
  const auto database = source.path();
  const auto stem = database.stem().string();
  ensure_backup_dir(dir, env);
  std::optional<FileLock> lock;
  if (!options.folder_locked) {
    lock = FileLock::acquire(dir / kBackupLockName, "the backup lock of " + dir.string(), job, options.lock_timeout);
    remove_temporaries(dir, stem, env);
  }
  check_free_space(database, dir, env);

  BackupResult result;
  result.at = env.now();
  const auto name = free_name(dir, stem, result.at, options.label);
  result.file = dir / name;
  result.sidecar = dir / (name + ".sha256");
  const auto tmp = dir / (name + ".tmp");

  // The snapshot protocol (db/live_snapshot.h): a checkpoint, then the write
  // gate's moment; or, for a caller that holds the write lock, its own reader.
  auto snapshot = options.checkpoint_first
                      ? LiveSnapshot::take(database, job,
                                           {options.checkpoint_busy_wait, options.journal_size_limit, options.archive_mark})
                      : LiveSnapshot::of(source);
  if (!snapshot.checkpoint_note().empty()) {
    result.checkpoint_note = snapshot.checkpoint_note();
    spdlog::info("backup of {}: {}", database.string(), result.checkpoint_note);
  }
  result.archive_mark = snapshot.archive_mark();
  job.check("starting the copy");
  bool published = false;
  try {
    // The copy and its verification, at background priority (base/background_priority.h).
    CopyInfo info;
    std::string digest;
    const auto copy_and_verify = [&] {
      const auto copy_started = std::chrono::steady_clock::now();
      info = snapshot.copy_to(tmp, env, job);
      env.fsync_file(tmp);
      result.copy = since(copy_started);
      result.copy_method = info.method;

      const auto verify_started = std::chrono::steady_clock::now();
      // A copy hashed on its way in needs no second read for its checksum; a copy
      // made page by page is hashed beside the integrity check, on the other core.
      std::future<std::string> hashing;
      if (info.sha256.empty()) hashing = std::async(std::launch::async, [&tmp, &job] { return sha256_file(tmp, &job); });
      const auto check = check_database(tmp, CheckDepth::full, job, Ms(0));
      result.sha256 = hashing.valid() ? hashing.get() : info.sha256;
      if (!check.ok)
        throw Error(ErrorCode::sqlite, "the copy " + tmp.string() + " failed its integrity check: " + check.first_error);
      {
        sqlite::Connection copy(tmp, SQLITE_OPEN_READONLY, Ms(0));
        result.pages = copy.query_int64("PRAGMA page_count").value_or(-1);
        result.page_size = copy.query_int64("PRAGMA page_size").value_or(-1);
        digest = schema_digest(copy);
      }
      // The backup API gives the copy a schema cookie of its own, so the schema
      // itself is compared, by digest.
      result.schema_version = info.schema_version;
      if (result.pages != info.pages || digest != info.schema_digest)
        throw Error(ErrorCode::sqlite, "the copy " + tmp.string() + " does not match its source: " +
                                           std::to_string(result.pages) + " pages, expected " +
                                           std::to_string(info.pages) + (digest != info.schema_digest
                                                                             ? ", and its schema differs"
                                                                             : ""));
      result.bytes = std::filesystem::file_size(tmp);
      result.verify = since(verify_started);
      result.verified = true;
    };
    if (options.background)
      run_at_background_priority(copy_and_verify);
    else
      copy_and_verify();

    env.rename(tmp, result.file);
    published = true;
    env.fsync_dir(dir);
    result.total = since(started);
    Sidecar sidecar{result.sha256, name, {}};
    sidecar.fields = {
        {"source", database.string()},
        {kDatabaseKey, database_identity(database)},
        {"time", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(result.at.time_since_epoch()).count())},
        {"label", options.label},
        {"size", std::to_string(result.bytes)},
        {"pages", std::to_string(result.pages)},
        {"page_size", std::to_string(result.page_size)},
        {"schema_version", std::to_string(result.schema_version)},
        {"sqlite", sqlite3_libversion()},
        {"copy_ms", std::to_string(result.copy.count())},
        {"verify_ms", std::to_string(result.verify.count())},
        {"copy_method", result.copy_method},
        {"verified", "ok"},
        {"schema_sha256", digest},
        {"verification", "integrity_check ok; page count and schema equal the snapshot's"},
    };
    if (!result.archive_mark.empty()) sidecar.fields["archive"] = result.archive_mark;
    // Last: only with its sidecar is the copy a backup.
    env.write_file_atomic(result.sidecar, format_sidecar(sidecar), kBackupMode);
  } catch (...) {
    remove_quietly(env, tmp);
    remove_quietly(env, dir / (name + ".tmp-journal"));
    if (published) {
      // The sidecar first, as prune does: the file stops being a backup before it
      // goes. It is there when only the folder's fsync after its rename failed.
      remove_quietly(env, result.sidecar);
      remove_quietly(env, result.file);
    }
    remove_quietly(env, dir / (name + ".sha256.tmp"));
    throw;
  }
  result.total = since(started);
  return result;
}

int remove_stale_temporaries(const std::filesystem::path& dir, const std::string& stem, Env& env, Job& job,
                             std::chrono::milliseconds lock_timeout) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return 0;
  const auto lock = FileLock::acquire(dir / kBackupLockName, "the backup lock of " + dir.string(), job, lock_timeout);
  return remove_temporaries(dir, stem, env);
}

}  // namespace sqlkeeper::core
