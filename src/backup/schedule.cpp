#include "sqlkeeper/backup/schedule.h"

#include <algorithm>

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;

TimePoint slot_on(LocalDate day, const ScheduleSettings& s) {
  return local_moment(day, s.backup_at.hour, s.backup_at.minute);
}

// `t` on the clock as it reads now: a stamp ahead of now means the clock went back.
// Clamping it to now instead would make every wait start again at each look, and
// nothing would ever come due.
TimePoint on_this_clock(TimePoint t, TimePoint now, std::optional<std::chrono::milliseconds> ago,
                        std::chrono::milliseconds due_after) {
  if (t <= now) return t;
  return ago ? now - *ago : now - due_after;
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

  // A backup stamped after now means the clock went back: it still counts as done
  // for the night, and intervals count from when it really was.
  const auto last = history.last_success ? std::optional(on_this_clock(*history.last_success, now,
                                                                      history.since_last_success, settings.interval))
                                         : std::nullopt;

  NextBackup next{next_slot, "nightly"};
  if (history.last_success && *history.last_success < previous_slot)
    next = {now, "catch-up: the backup due " + format_local(previous_slot) + " was not taken"};
  else if (settings.interval <= 0ms && history.last_success && *history.last_success > now &&
           !history.since_last_success)
    next = {now, "catch-up: the newest backup is stamped " + format_local(*history.last_success) +
                     ", after now; when it was really taken is unknown"};

  if (settings.interval > 0ms) {
    const auto from = last ? *last : history.started_at;
    const auto due = from + settings.interval;
    if (due < next.at) next = {std::max(due, now), "interval"};
  }

  // A failure since the last success is retried when its back-off ends, whatever
  // else is due: never sooner (a failing disk is not hammered), and never as late
  // as the next night (a failed first backup, or one asked for after tonight's,
  // must not leave the database without a fresh copy for a day). Both on the
  // clock as it reads now: a failure after a clock moved back is still the newer.
  if (history.last_failure && history.failures_since_success > 0) {
    const auto backoff = retry_backoff(history.failures_since_success);
    const auto failed = on_this_clock(*history.last_failure, now, history.since_last_failure, backoff);
    if (!last || failed >= *last)
      next = {std::max(failed + backoff, now), "retry after " + std::to_string(history.failures_since_success) +
                                                   (history.failures_since_success == 1 ? " failure" : " failures")};
  }
  return next;
}

}  // namespace sqlkeeper::core
