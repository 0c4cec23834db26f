#pragma once
// Applying the retention policy to the backup folder: read the catalog under the
// folder's lock (so no backup, restore or other prune runs meanwhile), plan with
// core/retention, and delete what the plan names, sidecar first (so a file stops
// being a backup before it starts to disappear), then the folder is fsynced.
// Only sqlkeeper's own backups are ever candidates; foreign files are listed and
// left alone.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/core/catalog.h"
#include "sqlkeeper/core/job.h"
#include "sqlkeeper/core/retention.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::core {

RetentionPolicy retention_policy(const config::Config& config);

struct PruneReport {
  Catalog catalog;
  RetentionPlan plan;                         // decisions in catalog.backups' order
  std::vector<std::filesystem::path> deleted;  // empty on a dry run
};

// Throws Error naming the file that could not be deleted (those before it are gone).
PruneReport prune_backups(const std::filesystem::path& dir, const std::string& stem, const RetentionPolicy& policy,
                          bool dry_run, Env& env, Job& job, std::chrono::milliseconds lock_timeout);

}  // namespace sqlkeeper::core
