#include "sqlkeeper/base/local_time.h"

#include <ctime>
#include <tuple>

namespace sqlkeeper::core {
namespace {

std::time_t to_time_t(TimePoint t) { return std::chrono::system_clock::to_time_t(t); }
TimePoint from_time_t(std::time_t t) { return std::chrono::system_clock::from_time_t(t); }

std::tm local_tm(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

auto wall(const std::tm& tm) {
  return std::make_tuple(tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::tm civil(LocalDate date, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = date.year - 1900;
  tm.tm_mon = date.month - 1;
  tm.tm_mday = date.day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return tm;
}

}  // namespace

LocalTime to_local(TimePoint t) {
  const auto tm = local_tm(to_time_t(t));
  char iso[16];
  std::strftime(iso, sizeof iso, "%G %V", &tm);
  LocalTime out;
  out.date = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
  out.hour = tm.tm_hour;
  out.minute = tm.tm_min;
  out.second = tm.tm_sec;
  std::sscanf(iso, "%d %d", &out.iso_year, &out.iso_week);  // NOLINT(cert-err34-c): strftime wrote it
  return out;
}

LocalDate add_days(LocalDate d, int days) {
  auto tm = civil(d, 12, 0);
  tm.tm_mday += days;
  const std::time_t t = timegm(&tm);
  std::tm out{};
  gmtime_r(&t, &out);
  return {out.tm_year + 1900, out.tm_mon + 1, out.tm_mday};
}

TimePoint local_moment(LocalDate date, int hour, int minute) {
  const auto target = civil(date, hour, minute);
  const auto want = wall(target);
  // mktime reads the wall time as standard and as daylight time; whichever reads
  // back as the same wall time exists. Both do when the hour repeats.
  std::time_t candidates[2];
  int n = 0;
  std::time_t lo = 0, hi = 0;
  for (int dst = 0; dst < 2; ++dst) {
    auto tm = target;
    tm.tm_isdst = dst;
    const std::time_t t = std::mktime(&tm);
    if (n == 0 && dst == 0) lo = hi = t;
    lo = std::min(lo, t);
    hi = std::max(hi, t);
    if (wall(local_tm(t)) == want) candidates[n++] = t;
  }
  if (n == 2) return from_time_t(std::min(candidates[0], candidates[1]));
  if (n == 1) return from_time_t(candidates[0]);
  // In the gap: the two readings straddle it; the first second whose wall time is
  // past the target is where the clocks landed after the skip.
  while (lo < hi) {
    const std::time_t mid = lo + (hi - lo) / 2;
    if (wall(local_tm(mid)) >= want) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return from_time_t(lo);
}

std::string format_local(TimePoint t) {
  const auto tm = local_tm(to_time_t(t));
  char out[64];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M %Z", &tm);
  return out;
}

}  // namespace sqlkeeper::core
