#pragma once
// Which SQLite sqlkeeper runs on, and whether it has the fix for the WAL-reset race
// (docs/operations.md). The classification is a pure function of the version, so it is
// tested from a table; linked_library() asks the library this binary really runs on.
#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace sqlkeeper::sqlite {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;
  friend auto operator<=>(const Version&, const Version&) = default;
};

// "3.51.3" -> {3, 51, 3}. A fourth part, as in the old "3.8.11.1", is accepted and
// ignored (no fix was ever released that way); anything else is nullopt.
std::optional<Version> parse_version(std::string_view text);

// Fixed in 3.51.3 and every later release, and in the backports 3.44.6 and 3.50.7
// (and their later patch releases); every other version has the race. Versions
// before 3.7.0 have no WAL at all and sqlkeeper cannot run on them: they count as
// unfixed too, so that nothing ever treats an unknown old library as safe.
bool has_wal_reset_fix(Version v);

struct LibraryInfo {
  std::string version;  // as the library reports it: "3.53.2"
  std::string source;   // "bundled" (third_party/sqlite) or "system" (SQLKEEPER_SYSTEM_SQLITE)
  bool wal_reset_fix = false;
};

// The SQLite this binary is linked with. A version that does not parse counts as
// unfixed.
LibraryInfo linked_library();

// "3.53.2 (bundled, has the WAL-reset fix)", "3.40.1 (system, has the WAL-reset bug)":
// for `sqlkeeper --version` and the start-up log.
std::string describe(const LibraryInfo& library);

}  // namespace sqlkeeper::sqlite
