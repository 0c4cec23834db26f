#pragma once
// PRAGMA quick_check on the worker every quick-check-interval: the liveness
// probe reads only the schema and cannot see damage deeper in the file. A timer
// on the loop posts the check; its outcome comes back to the loop and into the
// state (logged when it finds damage, and when it is ok again). Callbacks, not a
// detached coroutine: an exception has nowhere to vanish.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/daemon/jobs.h"
#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::daemon {

class QuickCheck {
 public:
  QuickCheck(boost::asio::io_context& io, Worker& worker, DaemonState& state, const config::Config& config, Env& env,
             std::function<void()> changed);

  void start();
  void stop();
  // The interval may have changed (reload): count it from now.
  void rearm();

 private:
  void arm();
  void run();

  boost::asio::io_context& io_;
  Worker& worker_;
  DaemonState& state_;
  const config::Config& config_;
  Env& env_;
  std::function<void()> changed_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace sqlkeeper::daemon
