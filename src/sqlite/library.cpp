#include "sqlkeeper/sqlite/library.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <vector>

#ifndef SQLKEEPER_SQLITE_SOURCE
#error "CMakeLists.txt defines SQLKEEPER_SQLITE_SOURCE as \"bundled\" or \"system\""
#endif

namespace sqlkeeper::sqlite {
namespace {

// One all-digit part of a version; from_chars alone would also take a sign.
std::optional<int> number(std::string_view part) {
  if (part.empty() || !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int value = 0;
  if (std::from_chars(part.data(), part.data() + part.size(), value).ec != std::errc()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Version> parse_version(std::string_view text) {
  std::vector<int> parts;
  for (;;) {
    const auto dot = text.find('.');
    const auto part = number(text.substr(0, dot));
    if (!part) return std::nullopt;
    parts.push_back(*part);
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  if (parts.size() != 3 && parts.size() != 4) return std::nullopt;
  return Version{parts[0], parts[1], parts[2]};
}

bool has_wal_reset_fix(Version v) {
  if (v >= Version{3, 51, 3}) return true;
  if (v.major == 3 && v.minor == 44) return v.patch >= 6;
  if (v.major == 3 && v.minor == 50) return v.patch >= 7;
  return false;
}

LibraryInfo linked_library() {
  LibraryInfo info;
  info.version = sqlite3_libversion();
  info.source = SQLKEEPER_SQLITE_SOURCE;
  const auto version = parse_version(info.version);
  info.wal_reset_fix = version && has_wal_reset_fix(*version);
  return info;
}

std::string describe(const LibraryInfo& library) {
  return library.version + " (" + library.source + ", has the WAL-reset " + (library.wal_reset_fix ? "fix" : "bug") +
         ")";
}

}  // namespace sqlkeeper::sqlite
