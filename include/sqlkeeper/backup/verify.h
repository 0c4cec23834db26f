#pragma once
// Checking a backup file on disk: its sidecar's checksum and PRAGMA integrity_check.
#include <chrono>
#include <filesystem>
#include <string>

#include "sqlkeeper/backup/backup_state.h"
#include "sqlkeeper/base/job.h"

namespace sqlkeeper::core {

struct VerifyResult {
  std::filesystem::path file;
  bool ok = false;                // intact: not damaged, and integrity_check passed
  BackupState state = BackupState::ok;  // as backup/backup_state decides it
  bool checksum_checked = false;  // false when there is no sidecar
  std::string problem;            // why not ok
  std::string note;               // for an unfinished or foreign one, what it is
  std::chrono::milliseconds duration{};
};

// The file's state (backup/backup_state: a sidecar that does not parse, names another
// file or no longer matches makes it damaged), then PRAGMA integrity_check. A file
// that cannot be opened, or is not a database, is a result that is not ok.
// `database` (database_identity()) tells a foreign backup; empty accepts any.
VerifyResult verify_backup(const std::filesystem::path& file, Job& job, const std::string& database = "");

}  // namespace sqlkeeper::core
