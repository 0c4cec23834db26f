#pragma once
// Putting a backup back.
//
// A restore never renames over the live database: a process that has it open
// would go on writing into the unlinked file and its writes would be lost.
// It loads the backup through SQLite (the online backup API into the live
// database, one write transaction), so open connections see the restored data
// at their next transaction. A damaged backup is refused before anything is
// touched.
//
// What is held, and for how long: the backup folder's lock for the whole
// restore; the live database's write lock from the load's first step, before
// the replaced content is copied, to the load's commit. So every commit that
// returned success before the restore's own commit is in the pre-restore backup
// (copied, verified and published while the lock is held), and every later one
// lands in the restored database. The applications' writers wait in their busy
// handlers for that long: the copy and check of the replaced content plus the
// load, a few seconds for a database of a few hundred MB.
//
// Until the load commits, a stop or a failure rolls it back and the database is
// as it was. The commit is durable (synchronous=FULL on the loading connection)
// before the restore reports it. A stop during the check after the commit is
// reported as such: the database is restored, unchecked.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/base/job.h"
#include "sqlkeeper/backup/verify.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::core {

struct RestoreOptions {
  std::filesystem::path database;
  std::filesystem::path backup_dir;          // where the pre-restore copy goes
  std::optional<std::filesystem::path> to;   // write a new file here instead
  bool force = false;                        // replace a database that holds data
  // The migrations folder: a backup behind it gets the pending migrations applied
  // to a scratch copy before that is loaded, so the applications never meet the
  // old schema. None, or a missing folder: the backup is loaded as it is.
  std::optional<std::filesystem::path> migrations;
  bool allow_out_of_order = false;
  // Load a backup whose migration ledger does not fit the folder (it names
  // migrations the folder lacks, or whose files changed) as it is.
  bool force_schema = false;
  unsigned file_mode = 0600;
  std::chrono::milliseconds busy_timeout{5000};
  std::chrono::milliseconds lock_timeout{std::chrono::minutes(2)};
};

struct RestoreResult {
  std::filesystem::path into;
  std::optional<std::filesystem::path> pre_restore;
  std::vector<std::string> migrated;  // pending migrations applied to the restored copy
  std::int64_t pages = 0;
  std::chrono::milliseconds duration{};
  // How long the live database's write lock was held (the applications' writers waited at most this).
  std::chrono::milliseconds writers_held{};
  // Non-empty when the restore committed but the check after it was stopped: why.
  std::string check_stopped;
};

// Throws Error naming the backup and why it was refused or failed; an error
// from an in-place restore says that nothing was changed.
RestoreResult restore_backup(const std::filesystem::path& backup, const RestoreOptions& options, Env& env, Job& job);

// The same for a file that is no backup but that sqlkeeper made and checked
// itself (a point-in-time restore's replayed copy): loaded without a sidecar.
RestoreResult restore_checked_file(const std::filesystem::path& file, const RestoreOptions& options, Env& env,
                                   Job& job);

// Refuses a `--to` that exists (a symbolic link too) and makes its folder.
void prepare_new_file(const std::filesystem::path& to, unsigned file_mode);

// A file sqlkeeper made beside `to` (on the same file system) becomes `to`:
// checked whole (integrity_check), put in WAL mode, given the file mode, synced
// and renamed into place, never over anything. Saves a point-in-time restore
// the copy a load would make. Throws Error naming what failed; `to` is then
// untouched and `made` is the caller's to remove.
RestoreResult publish_made_file(const std::filesystem::path& made, const std::filesystem::path& to,
                                const RestoreOptions& options, Env& env, Job& job);

}  // namespace sqlkeeper::core
