#include "sqlkeeper/core/schedule.h"

#include <algorithm>

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;

TimePoint slot_on(LocalDate day, const ScheduleSettings& s) {
  return local_moment(day, s.backup_at.hour, s.backup_at.minute);
}

}  // namespace

std::chrono::seconds retry_backoff(int failures) {
  if (failures <= 0) return 0s;
  const int doublings = std::min(failures - 1, 6);  // 64 min > the cap
  return std::min<std::chrono::seconds>(std::chrono::minutes(1) * (1 << doublings), 1h);
}

NextBackup next_backup(TimePoint now, const ScheduleHistory& history, const ScheduleSettings& settings) {
  const auto today = to_local(now).date;
  // The nightly slots around now: the latest one at or before it, and the next.
  auto previous_slot = slot_on(today, settings);
  auto next_slot = previous_slot;
  if (previous_slot > now) {
    previous_slot = slot_on(add_days(today, -1), settings);
  } else {
    next_slot = slot_on(add_days(today, 1), settings);
  }

  // A backup stamped after now means the clock went back: it still counts as done,
  // and intervals count from now rather than from a moment that has not come.
  const auto last = history.last_success ? std::optional(std::min(*history.last_success, now)) : std::nullopt;

  NextBackup next{next_slot, "nightly"};
  if (history.last_success && *history.last_success < previous_slot)
    next = {now, "catch-up: the backup due " + format_local(previous_slot) + " was not taken"};

  if (settings.interval > 0ms) {
    const auto from = last ? *last : history.started_at;
    const auto due = from + settings.interval;
    if (due < next.at) next = {std::max(due, now), "interval"};
  }

  // A failure since the last success waits out its back-off first.
  if (history.last_failure && history.failures_since_success > 0 &&
      (!history.last_success || *history.last_failure >= *history.last_success)) {
    const auto retry = std::min(*history.last_failure, now) + retry_backoff(history.failures_since_success);
    if (retry > next.at || next.at <= now)
      next = {std::max(retry, next.at), "retry after " + std::to_string(history.failures_since_success) +
                                            (history.failures_since_success == 1 ? " failure" : " failures")};
  }
  return next;
}

}  // namespace sqlkeeper::core
