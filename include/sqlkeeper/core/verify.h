#pragma once
// Checking a backup file on disk: its sidecar's checksum and PRAGMA integrity_check.
#include <chrono>
#include <filesystem>
#include <string>

#include "sqlkeeper/core/job.h"

namespace sqlkeeper::core {

struct VerifyResult {
  std::filesystem::path file;
  bool ok = false;
  bool checksum_checked = false;  // false when there is no sidecar
  std::string problem;            // why not ok
  std::chrono::milliseconds duration{};
};

// The sidecar's checksum (when it exists) and PRAGMA integrity_check. A file that
// cannot be opened, or is not a database, is a result that is not ok.
VerifyResult verify_backup(const std::filesystem::path& file, Job& job);

}  // namespace sqlkeeper::core
