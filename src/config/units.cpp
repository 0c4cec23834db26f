#include "sqlkeeper/config/units.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>
#include <utility>

namespace sqlkeeper::config {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads leading decimal digits; nullopt when there are none or they overflow.
std::optional<std::uint64_t> take_number(std::string_view& s) {
  std::uint64_t value = 0;
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc{} || ptr == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
  return value;
}

std::string_view take_unit(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && std::isalpha(static_cast<unsigned char>(s[n]))) ++n;
  auto unit = s.substr(0, n);
  s.remove_prefix(n);
  return unit;
}

bool multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  static const std::array<std::pair<std::string_view, std::uint64_t>, 14> units{{
      {"ms", 1},
      {"msec", 1},
      {"s", 1000},
      {"sec", 1000},
      {"m", 60000},
      {"min", 60000},
      {"h", 3600000},
      {"hr", 3600000},
      {"d", 86400000},
      {"day", 86400000},
      {"days", 86400000},
      {"w", 604800000},
      {"", 1000},
      {"seconds", 1000},
  }};
  auto s = trim(text);
  if (s.empty()) return std::nullopt;
  std::uint64_t total = 0;
  bool first = true;
  while (!s.empty()) {
    auto number = take_number(s);
    if (!number) return std::nullopt;
    s = trim(s);
    const auto unit = lower(take_unit(s));
    s = trim(s);
    // A bare number means seconds only when it is the whole value.
    if (unit.empty() && !(first && s.empty())) return std::nullopt;
    first = false;
    std::uint64_t factor = 0;
    for (const auto& [name, ms] : units)
      if (name == unit) factor = ms;
    std::uint64_t part = 0;
    if (factor == 0 || !multiply(*number, factor, part)) return std::nullopt;
    if (part > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - total) return std::nullopt;
    total += part;
  }
  return Duration(static_cast<std::int64_t>(total));
}

std::string format_duration(Duration d) {
  static const std::array<std::pair<const char*, std::int64_t>, 5> units{
      {{"d", 86400000}, {"h", 3600000}, {"min", 60000}, {"s", 1000}, {"ms", 1}}};
  auto ms = d.count();
  if (ms == 0) return "0s";
  // An age from a stamp ahead of the clock: still a duration, never an empty string.
  if (ms < 0) return "-" + format_duration(Duration(-(ms + 1)) + Duration(1));
  std::string out;
  for (const auto& [name, size] : units) {
    if (ms >= size) {
      out += std::to_string(ms / size) + name;
      ms %= size;
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  static const std::array<std::pair<std::string_view, std::uint64_t>, 14> units{{
      {"", 1},
      {"b", 1},
      {"k", 1ULL << 10},
      {"kib", 1ULL << 10},
      {"kb", 1000ULL},
      {"m", 1ULL << 20},
      {"mib", 1ULL << 20},
      {"mb", 1000ULL * 1000},
      {"g", 1ULL << 30},
      {"gib", 1ULL << 30},
      {"gb", 1000ULL * 1000 * 1000},
      {"t", 1ULL << 40},
      {"tib", 1ULL << 40},
      {"tb", 1000ULL * 1000 * 1000 * 1000},
  }};
  auto s = trim(text);
  auto number = take_number(s);
  if (!number) return std::nullopt;
  s = trim(s);
  const auto unit = lower(take_unit(s));
  if (!trim(s).empty()) return std::nullopt;
  for (const auto& [name, factor] : units) {
    std::uint64_t out = 0;
    if (name == unit) return multiply(*number, factor, out) ? std::optional(out) : std::nullopt;
  }
  return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
  static const std::array<std::pair<const char*, std::uint64_t>, 4> units{
      {{"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}}};
  for (const auto& [name, size] : units)
    if (bytes >= size && bytes % size == 0) return std::to_string(bytes / size) + name;
  return std::to_string(bytes) + "B";
}

std::string format_bytes(std::uint64_t bytes) {
  static const std::array<const char*, 4> units{"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  // Tenths, rounded down: 1023.96 KiB is "1023.9 KiB", never "1024.0 KiB".
  std::size_t unit = 0;
  std::uint64_t whole = bytes >> 10;
  std::uint64_t rest = bytes & 1023;
  while (whole >= 1024 && unit + 1 < units.size()) {
    rest = whole & 1023;
    whole >>= 10;
    ++unit;
  }
  return std::to_string(whole) + "." + std::to_string(rest * 10 / 1024) + " " + units[unit];
}

std::optional<unsigned> parse_mode(std::string_view text) {
  const auto s = trim(text);
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned mode = 0;
  for (char c : s) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  if (mode > 0777) return std::nullopt;
  return mode;
}

std::string format_mode(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::optional<TimeOfDay> parse_time_of_day(std::string_view text) {
  auto s = trim(text);
  auto hour = take_number(s);
  if (!hour || s.empty() || s.front() != ':') return std::nullopt;
  s.remove_prefix(1);
  if (s.size() != 2) return std::nullopt;
  auto minute = take_number(s);
  if (!minute || !s.empty() || *hour > 23 || *minute > 59) return std::nullopt;
  return TimeOfDay{static_cast<int>(*hour), static_cast<int>(*minute)};
}

std::string format_time_of_day(TimeOfDay t) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", t.hour, t.minute);
  return buf;
}

std::string format_utc(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<bool> parse_bool(std::string_view text) {
  const auto s = lower(trim(text));
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  return std::nullopt;
}

}  // namespace sqlkeeper::config
