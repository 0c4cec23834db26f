#pragma once
// The daemon's start-up work, run on the worker: open (or create) the database,
// apply the pending migrations, and read what the status needs. Stops at its
// next step when its job is stopped; the connection is closed when it returns,
// so that between jobs the daemon holds no lock on the database.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/base/file_lock.h"
#include "sqlkeeper/base/job.h"
#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::daemon {

struct StartupResult {
  SchemaSummary schema;
  std::optional<BackupSummary> last_backup;
  int backup_count = 0;
  std::vector<std::string> backup_problems;  // damaged (by their sidecar or size) and future-stamped, named
  // The newest backup stamped in the future: with none before now, the schedule takes one at once.
  std::optional<std::chrono::system_clock::time_point> future_backup_at;
};

// One daemon per database: a second one would race the first's checkpoints,
// backups and retention. Takes the lock file beside the database (never a lock
// on the database file itself); throws Error(conflict) naming the holder's pid.
core::FileLock lock_instance(const std::filesystem::path& database, unsigned file_mode);

// Throws Error; `on_migration` is called (on the worker) before each migration.
StartupResult start_up(const config::Config& config, core::Job& job, Env& env,
                       const std::function<void(const std::string&)>& on_migration);

}  // namespace sqlkeeper::daemon
