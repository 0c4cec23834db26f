#pragma once
// An exclusive flock(2) held for an object's lifetime, on a lock file or on a
// directory, never on the database file itself: closing any descriptor of the
// database file would drop SQLite's own POSIX locks in this process. Waiting for
// it is bounded, stoppable, and names the process that holds it.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/base/job.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::core {

class FileLock {
 public:
  // Takes the lock at once, or returns nullopt when another open file holds it.
  // A missing lock file is created owner-only; a directory must exist.
  static std::optional<FileLock> try_acquire(const std::filesystem::path& path);
  // Waits for the lock, logging once who holds it, until `timeout`, the job's
  // deadline or a stop request; then throws Error(conflict) (or Error(stopped))
  // naming `what` and the holder.
  static FileLock acquire(const std::filesystem::path& path, const std::string& what, Job& job,
                          std::chrono::milliseconds timeout);

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  FileLock(Fd fd, std::filesystem::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Fd fd_;
  std::filesystem::path path_;
};

// The processes holding a flock on `path` (from /proc/locks), e.g. "pid 1234 (sqlkeeper)";
// empty when none is found.
std::string describe_lock_holders(const std::filesystem::path& path);

}  // namespace sqlkeeper::core
