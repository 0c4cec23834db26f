#pragma once
// Looks at the backup folder on a thread of its own and hands what it saw to the
// loop: the free space there, and, when the folder changed since the last look,
// the backups in it (so a backup that `sqlkeeper backup` took beside the daemon
// shows in /status and /health and counts for the schedule). The folder may be on
// a volume that hangs (a dead NFS mount) or refuses (EACCES, ESTALE, EIO): a stat
// there must stall neither the loop nor the worker's checkpoints, so a look runs
// here, and a look that does not come back is reported by `busy_for`.
// backup-dir given as a symbolic link is followed once, at start (`dir` is where
// it led then); a look also checks that `configured` still leads to that folder:
// a link swapped later is reported like a replaced database, and backups go on
// to the folder the daemon started with.
// look() and busy_for() are called on the loop; results arrive there by post.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::daemon {

struct BackupFolderLook {
  // Why the folder could not be looked at, or why `configured` no longer leads to
  // it; empty when all is well.
  std::string error;
  std::optional<std::uint64_t> free_bytes;
  // Set when the backups were read this time (the folder changed, or it was due).
  bool read_backups = false;
  int backup_count = 0;
  std::optional<BackupSummary> last_backup;
};

class BackupFolderWatch {
 public:
  using Seen = std::function<void(const BackupFolderLook&)>;
  // `dir` is the folder, `configured` backup-dir as given; `fallback` where free
  // space is measured while it does not exist yet (the database's folder).
  BackupFolderWatch(boost::asio::io_context& io, std::filesystem::path dir, std::filesystem::path configured,
                    std::filesystem::path fallback, std::string stem, Env& env, Seen seen);
  // A look stuck in a system call is left behind; it never calls back.
  ~BackupFolderWatch();
  BackupFolderWatch(const BackupFolderWatch&) = delete;
  BackupFolderWatch& operator=(const BackupFolderWatch&) = delete;

  // Asks for a look; while one runs, the ask is remembered and done after it.
  // `reread` reads the backups even when the folder looks unchanged.
  void look(bool reread = false);
  // How long the running look has taken; nullopt when none runs.
  std::optional<std::chrono::steady_clock::duration> busy_for() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace sqlkeeper::daemon
