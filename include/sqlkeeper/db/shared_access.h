#pragma once
// Can the application's group use the database sqlkeeper keeps? The shared-group
// set-up needs a database the group may read and write, in a directory where the
// group may create the -wal and -shm files and where new files inherit the group
// (setgid). `check-config` reports what stands in the way; the rules are pure, the
// look-up beside them only gathers the facts.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sqlkeeper::core {

struct FileFacts {
  unsigned mode = 0;  // permission bits with setgid, as stat reports them
  unsigned gid = 0;
  std::string group;  // the group's name, or its number when it has none
};

struct SharedAccessFacts {
  std::optional<unsigned> app_gid;     // empty: no such group
  std::optional<FileFacts> directory;  // the database's directory, when it exists
  std::optional<FileFacts> database;   // the database file, when it exists
};

// One line per problem, each naming the file or option and what to do; empty
// when `app_group` is empty (the application runs as sqlkeeper's own user).
std::vector<std::string> shared_access_warnings(const std::string& app_group, unsigned file_mode,
                                                const std::filesystem::path& database, const SharedAccessFacts& facts);

// Looks up the group and stats the database and its directory.
SharedAccessFacts look_up_shared_access(const std::string& app_group, const std::filesystem::path& database);

}  // namespace sqlkeeper::core
