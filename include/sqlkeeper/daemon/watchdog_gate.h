#pragma once
// Whether the daemon is really alive, as the systemd watchdog asks: a ping is
// sent only when the loop's tick came on time (the loop is turning), the worker
// is not past its job's deadline (a job that did not stop at its deadline hangs),
// and, once ready, the database answered a fresh connection just now. Pure.
#include <string>

namespace sqlkeeper::daemon {

struct WatchdogSigns {
  bool loop_on_time = true;
  bool worker_stuck = false;
  std::string worker_job;          // what the worker is running, for the log
  bool database_checked = false;   // ready: the probe ran for this tick
  bool database_answered = true;
  std::string database_error;
};

struct WatchdogVerdict {
  bool ping = false;
  std::string withheld_because;  // for the log when no ping is sent
};

WatchdogVerdict watchdog_verdict(const WatchdogSigns& signs);

}  // namespace sqlkeeper::daemon
