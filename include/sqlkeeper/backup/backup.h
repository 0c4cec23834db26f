#pragma once
// Taking a verified backup of the live database into the backup folder, the safe
// way: one at a time per folder (a lock in the folder), refused when the folder
// cannot hold it, a bounded checkpoint first, a consistent copy under a temporary
// name, fsync, verification of the copy (integrity_check, and the page count and
// schema of the snapshot it was taken from), its SHA-256, rename into
// place, fsync of the folder, and last the sidecar: only a file with its sidecar
// is a backup. Any failure removes what it made and keeps every older backup.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "sqlkeeper/base/job.h"
#include "sqlkeeper/config/config.h"
#include "sqlkeeper/env.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {

struct BackupOptions {
  std::filesystem::path dir;
  std::string label;  // "" for a regular backup, "pre-migration", "pre-restore"
  // A TRUNCATE checkpoint first, so the copy is of a database whose WAL is empty;
  // off when the linked SQLite has the WAL-reset bug (see db/checkpoint.h).
  bool checkpoint_first = true;
  std::chrono::milliseconds checkpoint_busy_wait{200};
  std::uint64_t journal_size_limit = 64ULL << 20;
  std::chrono::milliseconds lock_timeout{std::chrono::minutes(2)};
  // The caller holds the folder's lock already (a restore holds it throughout).
  bool folder_locked = false;
  // Copy and verify at background priority; off while the applications' writers wait for the copy.
  bool background = true;
  // The WAL archive's place for the snapshot (db/live_snapshot.h Options::under_gate);
  // recorded in the sidecar as `archive: <chain> <seq> <unix ms>`.
  std::function<std::string()> archive_mark;
};

struct BackupResult {
  std::filesystem::path file;
  std::filesystem::path sidecar;
  std::uint64_t bytes = 0;
  std::string sha256;
  std::int64_t pages = 0;
  std::int64_t page_size = 0;
  std::int64_t schema_version = 0;
  bool verified = false;
  std::string copy_method;      // "file" or "pages" (db/snapshot.h)
  std::string checkpoint_note;  // empty when the checkpoint completed or was not asked for
  std::string archive_mark;     // the archive chain's place of this backup; empty: none
  std::chrono::system_clock::time_point at;
  std::chrono::milliseconds copy{};
  std::chrono::milliseconds verify{};
  std::chrono::milliseconds total{};
};

// `source` is a connection to the live database (not in a write transaction).
// Throws Error naming what failed and where; nothing half-made is left behind.
// The options a backup of the configured database takes, built here only (the
// daemon and the CLI both use it). Checkpoints first only where they are allowed
// (db/checkpoint.h).
BackupOptions backup_options(const config::Config& config);

BackupResult take_backup(sqlite::Connection& source, const BackupOptions& options, Env& env, Job& job);

// Creates the backup folder owner-only if missing; refuses a path that is not a
// directory (a symlink to one is accepted only when it already exists).
void ensure_backup_dir(const std::filesystem::path& dir, Env& env);

// Removes the temporaries a killed backup left in `dir` (under the folder's lock,
// so never those of a backup running now); returns how many.
int remove_stale_temporaries(const std::filesystem::path& dir, const std::string& stem, Env& env, Job& job,
                             std::chrono::milliseconds lock_timeout);

}  // namespace sqlkeeper::core
