#pragma once
// The daily restore drill in the daemon (restore/drill.h): a timer on the loop
// wakes when the next drill is due (archive-drill-interval after the last one,
// whose record survives restarts; the first one a few minutes after start),
// the worker restores a random past second of the archive into scratch space
// and checks it, and the result goes to /status, with failing health when it
// did not restore. Callbacks, not a detached coroutine.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <optional>
#include <random>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/daemon/jobs.h"
#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/env.h"
#include "sqlkeeper/restore/drill.h"

namespace sqlkeeper::daemon {

class ArchiveDrill {
 public:
  ArchiveDrill(boost::asio::io_context& io, Worker& worker, DaemonState& state, const config::Config& config,
               Env& env, std::function<void()> changed);

  // Once ready, when the archive is on.
  void start();
  void stop();

 private:
  struct Pass {
    std::optional<core::DrillRecord> previous;  // read from disk at the first pass
    std::optional<core::DrillRecord> ran;       // nullopt: nothing to drill on yet, or not due
  };
  void arm(std::chrono::steady_clock::duration after);
  void run_pass();
  void on_pass(const Outcome<Pass>& r);
  Env::Clock::time_point due() const;

  boost::asio::io_context& io_;
  Worker& worker_;
  DaemonState& state_;
  const config::Config& config_;
  Env& env_;
  std::function<void()> changed_;
  boost::asio::steady_timer timer_;
  Env::Clock::time_point started_at_{};
  bool read_previous_ = false;
  bool stopped_ = true;
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace sqlkeeper::daemon
