// The value parsers of the configuration: durations, sizes, modes, times of
// day, booleans, and post-backup-command's word splitting. Beyond not crashing,
// each value that parses must print back to text that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sqlkeeper/config/command.h"
#include "sqlkeeper/config/units.h"

using namespace sqlkeeper::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto d = parse_duration(text)) {
    if (parse_duration(format_duration(*d)) != d) std::abort();
  }
  if (const auto s = parse_size(text)) {
    if (parse_size(format_size(*s)) != s) std::abort();
  }
  if (const auto m = parse_mode(text)) {
    if (parse_mode(format_mode(*m)) != m) std::abort();
  }
  if (const auto t = parse_time_of_day(text)) {
    if (parse_time_of_day(format_time_of_day(*t)) != t) std::abort();
  }
  (void)parse_bool(text);
  if (const auto words = split_command(text)) {
    // Words quoted back as '...' (with ' spelled '\'') split to the same words.
    std::string quoted;
    for (const auto& w : *words) {
      quoted += '\'';
      for (const char c : w) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      quoted += "' ";
    }
    if (split_command(quoted) != words) std::abort();
    (void)command_for_file(*words, "/var/lib/sqlkeeper/backups/app-20261127T030000Z.db");
  }
  return 0;
}
