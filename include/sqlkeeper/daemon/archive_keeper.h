#pragma once
// The daemon's side of the WAL archive (archive/archiver.h): started before the
// start-up opens the database (so the WAL stays as the last chain left it), its
// state copied into the daemon's at every refresh, a
// backup taken at once whenever no chain runs (a chain begins with a backup),
// stopped after the loop has ended (its last flush writes to disk).
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "sqlkeeper/archive/archiver.h"
#include "sqlkeeper/config/config.h"
#include "sqlkeeper/daemon/maintenance.h"
#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::daemon {

class ArchiveKeeper {
 public:
  ArchiveKeeper(boost::asio::io_context& io, DaemonState& state, Maintenance& maintenance, Env& env)
      : io_(io), state_(state), maintenance_(maintenance), env_(env) {}
  ArchiveKeeper(const ArchiveKeeper&) = delete;
  ArchiveKeeper& operator=(const ArchiveKeeper&) = delete;

  // On the loop, before the start-up, which `then` runs (on the loop) once the
  // archive holds the WAL, or at once when the archive is off.
  void start(const config::Config& config, std::function<void()> then);
  // On the loop, at every refresh.
  void refresh();
  // On the loop: the archive's state into the daemon's (before answering /status).
  void sync();
  // After the loop has ended.
  void stop();

 private:
  boost::asio::io_context& io_;
  DaemonState& state_;
  Maintenance& maintenance_;
  Env& env_;
  std::unique_ptr<archive::Archiver> archiver_;
  std::optional<std::chrono::steady_clock::time_point> last_base_request_;
};

}  // namespace sqlkeeper::daemon
