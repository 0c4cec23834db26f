#pragma once
// The archive folder's lock file, writer and readers in one place. One daemon
// archives into a folder at a time: it holds an exclusive flock on the file
// while it runs, and writes into it the id of the chain it writes. That name
// outlives the daemon, and makes the chain the newest (chain_dirs) whatever
// the clock did to the chains' start times: the one resumed at the next start,
// the timeline's last, the one retention keeps without a backup.
#include <filesystem>
#include <string>

#include "sqlkeeper/env.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::archive {

inline constexpr const char* kArchivingLock = ".archiving";

class FolderLock {
 public:
  // Makes the folder (owner-only) and takes the lock; Error(conflict) when
  // another daemon holds it.
  static FolderLock take(const std::filesystem::path& archive_dir, Env& env);
  // Names the chain written. Called before a new chain's folder is made, so
  // no reader lists the new chain with the old one named; a chain that cannot
  // be named is not begun (throws).
  void name_chain(const std::string& id);

 private:
  FolderLock(Fd fd, std::filesystem::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Fd fd_;
  std::filesystem::path path_;
};

// True when a daemon archives into `archive_dir` now (it holds the lock).
bool archive_is_live(const std::filesystem::path& archive_dir);
// The chain an archive last wrote, live or not, as its lock file names it;
// empty when it names none.
std::string last_chain_written(const std::filesystem::path& archive_dir);

}  // namespace sqlkeeper::archive
