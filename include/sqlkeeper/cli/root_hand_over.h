#pragma once
// A command run as root (a restore drill, a backup by hand) must not leave in the
// backup folder what the daemon, running as the database file's owner, can then
// not write, read or lock: a root:root 0700 `backups/` made every later daemon
// backup fail. While a RootHandOver lives, the folder exists with the database
// file's owner and group (made so if it was missing); when it ends, the backups,
// sidecars and lock file the command made there are handed to them too.
// Does nothing unless this process is root and the database belongs to someone else.
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "sqlkeeper/config/config.h"

namespace sqlkeeper::cli {

class RootHandOver {
 public:
  // Throws Error naming the command to run instead when the folder cannot be made so.
  explicit RootHandOver(const config::Config& config);
  ~RootHandOver();  // never throws: a failure is printed with the chown to run
  RootHandOver(const RootHandOver&) = delete;
  RootHandOver& operator=(const RootHandOver&) = delete;

 private:
  struct Owner {
    uid_t uid;
    gid_t gid;
  };
  std::filesystem::path dir_;
  std::string stem_;
  std::optional<Owner> owner_;
};

}  // namespace sqlkeeper::cli
