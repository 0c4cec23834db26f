#pragma once
// Wall-clock dates and times in the process's time zone (TZ, else /etc/localtime),
// for the nightly schedule and retention's days, weeks and months. The only
// non-obvious part is a wall time that does not exist (the hour skipped when
// daylight-saving time starts) or exists twice (the hour repeated when it ends).
#include <chrono>
#include <string>

namespace sqlkeeper::core {

using TimePoint = std::chrono::system_clock::time_point;

struct LocalDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  friend auto operator<=>(const LocalDate&, const LocalDate&) = default;
};

struct LocalTime {
  LocalDate date;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int iso_year = 1970;  // the year of the ISO 8601 week
  int iso_week = 1;
};

LocalTime to_local(TimePoint t);

// Calendar arithmetic on dates (no time zone involved).
LocalDate add_days(LocalDate d, int days);

// The first moment whose local wall time is `hour:minute` on `date`: of two such
// moments (clocks turned back) the earlier; when the clocks skipped that time,
// the moment the skip ended (so a backup due in the missing hour runs once, at
// the first moment after it).
TimePoint local_moment(LocalDate date, int hour, int minute);

// "2026-11-27 03:00 CET", for logs and `prune`.
std::string format_local(TimePoint t);

}  // namespace sqlkeeper::core
