#include "sqlkeeper/daemon/watchdog_gate.h"

namespace sqlkeeper::daemon {

WatchdogVerdict watchdog_verdict(const WatchdogSigns& s) {
  const bool database_ok = !s.database_checked || s.database_answered;
  if (s.loop_on_time && !s.worker_stuck && database_ok) return {true, {}};
  return {false, std::string("loop ") + (s.loop_on_time ? "on time" : "late") + ", worker " +
                     (s.worker_stuck ? "stuck in " + s.worker_job : "ok") + ", database " +
                     (database_ok ? "answering" : s.database_error)};
}

}  // namespace sqlkeeper::daemon
