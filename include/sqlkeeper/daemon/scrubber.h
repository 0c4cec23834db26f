#pragma once
// The scrub in the daemon (backup/scrub.h): a timer on the loop wakes when the
// next kept backup is due (at least hourly, as the wall clock may jump and new
// backups appear), and the worker re-hashes that one file at background
// priority and records the result in its sidecar. Every pass also collects the
// backups a scrub found damaged, for /health and /status; they stay damaged,
// and named, until someone deletes or replaces them. Callbacks, not a detached
// coroutine: an exception has nowhere to vanish.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/daemon/jobs.h"
#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::daemon {

class Scrubber {
 public:
  Scrubber(boost::asio::io_context& io, Worker& worker, DaemonState& state, const config::Config& config, Env& env,
           std::function<void()> changed);

  void start();
  void stop();
  // The settings may have changed (reload): look again now.
  void rearm();

 private:
  struct Pass;
  void arm(std::chrono::steady_clock::duration after);
  void run_pass();
  void on_pass(const Outcome<Pass>& r);

  boost::asio::io_context& io_;
  Worker& worker_;
  DaemonState& state_;
  const config::Config& config_;
  Env& env_;
  std::function<void()> changed_;
  boost::asio::steady_timer timer_;
  Env::Clock::time_point last_ended_{};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sqlkeeper::daemon
