#pragma once
// Checking a backup, and putting one back.
//
// A restore never renames over the live database: a process that has it open
// would go on writing into the unlinked file and its writes would be lost.
// It loads the backup through SQLite (the online backup API into the live
// database, one transaction), so open connections see the restored data at
// their next transaction. The replaced content is first saved as a verified
// backup labelled "pre-restore". A damaged backup is refused before anything
// is touched.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "sqlkeeper/core/job.h"
#include "sqlkeeper/core/verify.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::core {

struct RestoreOptions {
  std::filesystem::path database;
  std::filesystem::path backup_dir;          // where the pre-restore copy goes
  std::optional<std::filesystem::path> to;   // write a new file here instead
  bool force = false;                        // replace a database that holds data
  unsigned file_mode = 0600;
  std::chrono::milliseconds busy_timeout{5000};
  std::chrono::milliseconds lock_timeout{std::chrono::minutes(2)};
};

struct RestoreResult {
  std::filesystem::path into;
  std::optional<std::filesystem::path> pre_restore;
  std::int64_t pages = 0;
  std::chrono::milliseconds duration{};
};

// Throws Error naming the backup and why it was refused or failed.
RestoreResult restore_backup(const std::filesystem::path& backup, const RestoreOptions& options, Env& env, Job& job);

}  // namespace sqlkeeper::core
