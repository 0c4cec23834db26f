#pragma once
// When the next backup is due: a pure function of the time now, what happened
// (the last successful backup, failures since), and the settings (`backup-at`,
// `backup-interval`), in the process's time zone. The daemon only arms a timer
// from it, and asks again after every backup and whenever the timer fires, so a
// restart, a clock jump or a missed night all come out of the same arithmetic.
//
// Like a persistent systemd timer: a nightly slot that passed without a
// successful backup (the machine was off, the daemon down) is caught up at once;
// a restart just after a backup takes no second one; a fresh install waits for
// its first slot. A failure (of any backup, on a fresh install too) is retried
// when its back-off ends: never sooner, and never left for the next slot.
#include <chrono>
#include <optional>
#include <string>

#include "sqlkeeper/config/units.h"
#include "sqlkeeper/base/local_time.h"

namespace sqlkeeper::core {

struct ScheduleSettings {
  config::TimeOfDay backup_at{3, 0};
  std::chrono::milliseconds interval{0};  // 0: nightly only
};

struct ScheduleHistory {
  TimePoint started_at;                     // the daemon's start: a first interval counts from it
  std::optional<TimePoint> last_success;    // the newest verified regular backup
  std::optional<TimePoint> last_failure;    // the last failed attempt
  int failures_since_success = 0;
  // How long ago each was, by a clock that never jumps, when this process saw it.
  // With the wall clock moved back behind a stamp, waits count from these; a stamp
  // ahead of the clock with no such measure is taken as long enough ago for what
  // waits on it to be due (one backup now, then every interval again).
  std::optional<std::chrono::milliseconds> since_last_success;
  std::optional<std::chrono::milliseconds> since_last_failure;
};

struct NextBackup {
  TimePoint at;
  std::string why;  // "nightly", "interval", "catch-up: ...", "retry ..."
};

NextBackup next_backup(TimePoint now, const ScheduleHistory& history, const ScheduleSettings& settings);

// After n consecutive failures: 1 min, 2, 4, ... at most 1 h.
std::chrono::seconds retry_backoff(int failures);

}  // namespace sqlkeeper::core
