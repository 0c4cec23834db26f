#include "sqlkeeper/backup/schedule.h"

#include <gtest/gtest.h>

#include "support/local_clock.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;
using testing::ScopedTimeZone;
using testing::utc;

struct Case {
  const char* name;
  const char* zone;
  config::TimeOfDay at;
  std::chrono::milliseconds interval;
  const char* now;
  const char* last_success;  // nullptr: none yet
  const char* last_failure;  // nullptr: none since the success
  int failures;
  const char* expected;
  const char* why;  // the start of the reason
};

// gtest shows a case by its name, not as 80 bytes of hex.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// A daemon started an hour before `now` in every case.
const Case kCases[] = {
    {"the slot later today, in local time", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T01:00:00Z",
     "2026-11-26T02:00:05Z", nullptr, 0, "2026-11-27T02:00:00Z", "nightly"},
    {"after today's backup, tomorrow's slot", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T10:00:00Z",
     "2026-11-27T02:00:05Z", nullptr, 0, "2026-11-28T02:00:00Z", "nightly"},
    {"TZ is respected", "America/New_York", {3, 0}, 0ms, "2026-11-27T15:00:00Z", "2026-11-27T08:00:04Z", nullptr,
     0, "2026-11-28T08:00:00Z", "nightly"},
    {"a fresh install waits for its first night", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T10:00:00Z", nullptr,
     nullptr, 0, "2026-11-28T02:00:00Z", "nightly"},
    {"restart right after a backup takes no second one", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T02:00:30Z",
     "2026-11-27T02:00:03Z", nullptr, 0, "2026-11-28T02:00:00Z", "nightly"},
    {"catch-up after a week down", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T10:00:00Z", "2026-11-20T02:00:04Z",
     nullptr, 0, "2026-11-27T10:00:00Z", "catch-up"},
    {"catch-up of last night's slot, missed by an hour", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T03:00:00Z",
     "2026-11-26T02:00:04Z", nullptr, 0, "2026-11-27T03:00:00Z", "catch-up"},
    // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z; 02:30 never happens.
    {"spring forward: the missing slot runs when the gap ends", "Europe/Berlin", {2, 30}, 0ms,
     "2026-03-28T12:00:00Z", "2026-03-28T01:30:04Z", nullptr, 0, "2026-03-29T01:00:00Z", "nightly"},
    {"spring forward: and only once", "Europe/Berlin", {2, 30}, 0ms, "2026-03-29T01:00:20Z", "2026-03-29T01:00:04Z",
     nullptr, 0, "2026-03-30T00:30:00Z", "nightly"},
    // Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z; 02:30 happens twice.
    {"fall back: the first 02:30", "Europe/Berlin", {2, 30}, 0ms, "2026-10-24T12:00:00Z", "2026-10-24T00:30:04Z",
     nullptr, 0, "2026-10-25T00:30:00Z", "nightly"},
    {"fall back: not again at the second 02:30", "Europe/Berlin", {2, 30}, 0ms, "2026-10-25T01:30:00Z",
     "2026-10-25T00:30:04Z", nullptr, 0, "2026-10-26T01:30:00Z", "nightly"},
    // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00Z.
    {"spring forward in New York", "America/New_York", {2, 15}, 0ms, "2026-03-07T20:00:00Z",
     "2026-03-07T07:15:02Z", nullptr, 0, "2026-03-08T07:00:00Z", "nightly"},
    {"fall back in New York", "America/New_York", {1, 30}, 0ms, "2026-11-01T05:31:00Z", "2026-11-01T05:30:02Z",
     nullptr, 0, "2026-11-02T06:30:00Z", "nightly"},
    {"interval between nights", "Europe/Berlin", {3, 0}, 1h, "2026-11-27T10:20:00Z", "2026-11-27T10:00:02Z",
     nullptr, 0, "2026-11-27T11:00:02Z", "interval"},
    {"the nightly slot comes first", "Europe/Berlin", {3, 0}, 1h, "2026-11-27T01:30:00Z", "2026-11-27T01:10:00Z",
     nullptr, 0, "2026-11-27T02:00:00Z", "nightly"},
    {"an interval that passed while down runs now", "Europe/Berlin", {3, 0}, 15min, "2026-11-27T10:00:00Z",
     "2026-11-27T09:00:00Z", nullptr, 0, "2026-11-27T10:00:00Z", "interval"},
    {"a first interval counts from the start", "Europe/Berlin", {3, 0}, 2h, "2026-11-27T10:00:00Z", nullptr,
     nullptr, 0, "2026-11-27T11:00:00Z", "interval"},
    {"one failure: retried after a minute", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T02:00:10Z",
     "2026-11-26T02:00:04Z", "2026-11-27T02:00:08Z", 1, "2026-11-27T02:01:08Z", "retry after 1 failure"},
    {"three failures: four minutes", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T02:10:00Z", "2026-11-26T02:00:04Z",
     "2026-11-27T02:08:00Z", 3, "2026-11-27T02:12:00Z", "retry after 3 failures"},
    {"many failures: at most an hour", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T09:00:00Z", "2026-11-26T02:00:04Z",
     "2026-11-27T08:30:00Z", 12, "2026-11-27T09:30:00Z", "retry after 12 failures"},
    {"a failed interval backup backs off too", "Europe/Berlin", {3, 0}, 15min, "2026-11-27T10:15:01Z",
     "2026-11-27T10:00:00Z", "2026-11-27T10:15:00Z", 2, "2026-11-27T10:17:00Z", "retry after 2 failures"},
    {"a fresh install's failed backup is retried in a minute, not at the first night", "Europe/Berlin", {3, 0},
     0ms, "2026-11-27T10:00:10Z", nullptr, "2026-11-27T10:00:05Z", 1, "2026-11-27T10:01:05Z",
     "retry after 1 failure"},
    {"a fresh install backs off 1, 2, 4 minutes", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T10:00:10Z", nullptr,
     "2026-11-27T10:00:05Z", 3, "2026-11-27T10:04:05Z", "retry after 3 failures"},
    {"a failed backup asked for after tonight's is retried too", "Europe/Berlin", {3, 0}, 0ms,
     "2026-11-27T10:00:10Z", "2026-11-27T02:00:04Z", "2026-11-27T10:00:05Z", 1, "2026-11-27T10:01:05Z",
     "retry after 1 failure"},
    {"a fresh install with an interval retries before the interval", "Europe/Berlin", {3, 0}, 6h,
     "2026-11-27T10:00:10Z", nullptr, "2026-11-27T10:00:05Z", 2, "2026-11-27T10:02:05Z", "retry after 2 failures"},
    {"capped at an hour even past the nightly slot", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T01:50:00Z", nullptr,
     "2026-11-27T01:40:00Z", 12, "2026-11-27T02:40:00Z", "retry after 12 failures"},
    {"a failure before the last success is forgotten", "Europe/Berlin", {3, 0}, 0ms, "2026-11-27T10:00:00Z",
     "2026-11-27T02:05:00Z", "2026-11-27T02:00:08Z", 0, "2026-11-28T02:00:00Z", "nightly"},
    // A backup stamped ahead of the clock that this process did not see taken (a
    // restart, or the stamp came from a clock that ran ahead): its real age is
    // unknown, so one is taken now, nightly-only too, as with an interval.
    {"clock back a year behind a backup of unknown age, nightly only: one catch-up now", "Europe/Berlin", {3, 0}, 0ms,
     "2025-11-27T10:00:00Z", "2026-11-27T02:00:04Z", nullptr, 0, "2025-11-27T10:00:00Z", "catch-up"},
    {"clock back a year behind a backup of unknown age: one interval backup now", "Europe/Berlin", {3, 0}, 1h,
     "2025-11-27T10:00:00Z", "2026-11-27T02:00:04Z", nullptr, 0, "2025-11-27T10:00:00Z", "interval"},
    {"clock forward a year: one catch-up", "Europe/Berlin", {3, 0}, 0ms, "2027-11-27T10:00:00Z",
     "2026-11-27T02:00:04Z", nullptr, 0, "2027-11-27T10:00:00Z", "catch-up"},
};

class NextBackupTable : public ::testing::TestWithParam<Case> {};

TEST_P(NextBackupTable, Case) {
  const auto& c = GetParam();
  ScopedTimeZone zone(c.zone);
  ScheduleHistory history;
  history.started_at = utc(c.now) - 1h;
  if (c.last_success) history.last_success = utc(c.last_success);
  if (c.last_failure) history.last_failure = utc(c.last_failure);
  history.failures_since_success = c.failures;
  const auto next = next_backup(utc(c.now), history, {c.at, c.interval});
  EXPECT_EQ(std::chrono::system_clock::to_time_t(next.at), std::chrono::system_clock::to_time_t(utc(c.expected)))
      << c.name << ": got " << format_local(next.at) << " (" << next.why << ")";
  EXPECT_EQ(next.why.rfind(c.why, 0), 0U) << c.name << ": " << next.why;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string out;
  for (const char* p = info.param.name; *p; ++p) out += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(Schedule, NextBackupTable, ::testing::ValuesIn(kCases), case_name);

// The daemon's loop, simulated: it looks, sleeps until what it was told, and
// looks again; a backup stamps the wall clock's time. With the wall clock moved a
// year back behind the last backup, interval backups go on every interval, and
// failed ones are retried after their back-off, not pushed away at every look.
TEST(NextBackup, AClockMovedBackBehindTheLastBackupNeverStallsIntervalsOrRetries) {
  ScopedTimeZone zone("Europe/Berlin");
  const ScheduleSettings settings{{3, 0}, 2s};
  for (const bool failing : {false, true}) {
    ScheduleHistory history;
    history.started_at = utc("2026-11-27T10:00:00Z");
    history.last_success = utc("2026-11-27T10:00:00Z");
    history.since_last_success = 0ms;
    auto now = utc("2025-11-27T10:00:00Z");  // a year back, just after that backup
    auto steady = 0ms;                        // the clock that never jumps
    auto last_success_steady = 0ms;
    std::optional<std::chrono::milliseconds> last_failure_steady;
    std::vector<std::chrono::milliseconds> attempts;
    for (int look = 0; look < 200 && attempts.size() < 4; ++look) {
      history.since_last_success = steady - last_success_steady;
      if (last_failure_steady) history.since_last_failure = steady - *last_failure_steady;
      const auto next = next_backup(now, history, settings);
      if (next.at > now) {
        // Sleeps at most a minute, as the daemon does, then looks again.
        const auto wait = std::min<std::chrono::milliseconds>(
            std::chrono::duration_cast<std::chrono::milliseconds>(next.at - now), 1min);
        now += wait;
        steady += wait;
        continue;
      }
      attempts.push_back(steady);
      if (failing) {
        history.last_failure = now;
        ++history.failures_since_success;
        last_failure_steady = steady;
      } else {
        history.last_success = now;
        last_success_steady = steady;
      }
    }
    ASSERT_EQ(attempts.size(), 4U) << (failing ? "retries" : "interval backups") << " stalled";
    if (failing) {
      // 2 s after the backup, then 1, 2 and 4 minutes of back-off.
      EXPECT_EQ(attempts[0], 2s);
      EXPECT_EQ(attempts[1] - attempts[0], 1min);
      EXPECT_EQ(attempts[2] - attempts[1], 2min);
      EXPECT_EQ(attempts[3] - attempts[2], 4min);
    } else {
      for (std::size_t i = 0; i < attempts.size(); ++i) EXPECT_EQ(attempts[i], 2s * static_cast<int>(i + 1));
    }
  }
}

TEST(RetryBackoff, DoublesFromAMinuteUpToAnHour) {
  EXPECT_EQ(retry_backoff(0), 0s);
  EXPECT_EQ(retry_backoff(1), 1min);
  EXPECT_EQ(retry_backoff(2), 2min);
  EXPECT_EQ(retry_backoff(6), 32min);
  EXPECT_EQ(retry_backoff(7), 1h);
  EXPECT_EQ(retry_backoff(1000), 1h);
}

TEST(LocalMoment, EveryHalfHourOfADstYearRoundTrips) {
  // Outside the skipped hour, local_moment is the inverse of to_local.
  ScopedTimeZone zone("Europe/Berlin");
  for (auto t = utc("2026-01-01T00:00:00Z"); t < utc("2027-01-01T00:00:00Z"); t += 30min) {
    const auto local = to_local(t);
    const auto back = local_moment(local.date, local.hour, local.minute);
    const bool second_of_two = t - back == 1h;  // the repeated hour maps to its first occurrence
    EXPECT_TRUE(back == t || second_of_two) << format_local(t);
  }
}

}  // namespace
}  // namespace sqlkeeper::core
