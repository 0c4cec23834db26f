#pragma once
// Reading a whole database to find damage: PRAGMA quick_check (every page and
// record, no index cross-check) or integrity_check (also indexes against
// tables). Both run on their own read-only connection under a job, so they stop
// at a stop request or deadline, and report the first problem in words.
#include <chrono>
#include <filesystem>
#include <string>

#include "sqlkeeper/base/job.h"

namespace sqlkeeper::core {

enum class CheckDepth { quick, full };

struct IntegrityResult {
  bool ok = false;
  std::string first_error;  // SQLite's first line when not ok
  int problems = 0;         // lines reported (capped by SQLite at 100)
  std::chrono::milliseconds duration{};
};

// Throws Error when the check cannot run (missing file, locked past the busy
// limit, stopped); a damaged database, even one whose schema cannot be read, is
// a result that is not ok, not an exception.
IntegrityResult check_database(const std::filesystem::path& file, CheckDepth depth, Job& job,
                               std::chrono::milliseconds busy_timeout);

}  // namespace sqlkeeper::core
