#pragma once
// Parsing and printing of values the way people write them in configuration:
// durations ("30d", "5min", "1h30min", "250ms"), sizes ("64MiB", "1GB", "4096"),
// octal modes ("0660") and times of day ("03:30"). Pure functions, no I/O.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sqlkeeper::config {

using Duration = std::chrono::milliseconds;

// systemd.time(7) style units: ms, s/sec, m/min, h/hr, d, w; several parts add up.
// A bare number is seconds. Negative and empty values are rejected.
std::optional<Duration> parse_duration(std::string_view text);
std::string format_duration(Duration d);

// Bytes, with decimal (kB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB) suffixes;
// "K", "M", "G" alone are binary, as in systemd. A bare number is bytes.
std::optional<std::uint64_t> parse_size(std::string_view text);
std::string format_size(std::uint64_t bytes);
// For people reading a status, not for configuration: "512 B", "1.5 KiB", "64.0 MiB"
// (binary units, one decimal, rounded down). Machine outputs keep the integer.
std::string format_bytes(std::uint64_t bytes);

// Octal permission bits, at most 0777, e.g. "0660". The setuid, setgid and sticky
// bits are refused: no file or socket sqlkeeper creates has a use for them.
std::optional<unsigned> parse_mode(std::string_view text);
std::string format_mode(unsigned mode);

struct TimeOfDay {
  int hour = 0;
  int minute = 0;
  friend bool operator==(const TimeOfDay&, const TimeOfDay&) = default;
};
// "HH:MM" on a 24-hour clock.
std::optional<TimeOfDay> parse_time_of_day(std::string_view text);
std::string format_time_of_day(TimeOfDay t);

// A moment as ISO 8601 in UTC: "2026-11-24T03:00:00Z".
std::string format_utc(std::chrono::system_clock::time_point t);

// true/false, yes/no, on/off, 1/0.
std::optional<bool> parse_bool(std::string_view text);

}  // namespace sqlkeeper::config
