#pragma once
// Applying the retention policy to the backup folder: read the catalog under the
// folder's lock (so no backup, restore or other prune runs meanwhile), plan with
// backup/retention, and delete what the plan names, sidecar first (so a file stops
// being a backup before it starts to disappear), then the folder is fsynced.
// Only this database's backups with a sidecar that parses are ever candidates;
// foreign files, another database's backups, unfinished and damaged ones are
// listed and left alone (backup/backup_state).
//
// Before deleting anything, the backups the plan counts (retention-min-count, the
// keep-* tiers, the newest verified one) are hashed again, at background priority,
// newest first: a file that no longer matches its sidecar is damaged, set aside,
// and the plan is made again without it, until every counted backup is good.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/backup/backup_state.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/base/job.h"
#include "sqlkeeper/backup/retention.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::core {

RetentionPolicy retention_policy(const config::Config& config);

struct PruneReport {
  Catalog catalog;                             // as read, every file in the folder
  std::vector<CatalogEntry> backups;           // this database's, oldest first
  std::vector<BackupCheck> checks;             // each one's state after prune's checks, in backups' order
  RetentionPlan plan;                          // decisions in backups' order
  std::vector<std::pair<std::filesystem::path, std::string>> other_databases;  // file, whose
  std::vector<std::string> problems;           // damaged and future-stamped backups, each named with why
  std::optional<CatalogEntry> newest_good;     // the newest regular backup that matched its sidecar
  std::vector<std::filesystem::path> deleted;  // empty on a dry run
};

// Throws Error naming the file that could not be deleted (those before it are gone).
// `database` is database_identity() of the database the backups are of.
PruneReport prune_backups(const std::filesystem::path& dir, const std::string& stem, const std::string& database,
                          const RetentionPolicy& policy, bool dry_run, Env& env, Job& job,
                          std::chrono::milliseconds lock_timeout);

}  // namespace sqlkeeper::core
