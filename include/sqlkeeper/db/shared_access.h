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

struct AccessChange {
  bool warning = false;  // true: a file left as it was that may keep the group out
  std::string message;
};

// Brings the database, its -wal and -shm to `file_mode` and to the group of their
// directory, so that the configuration, not the history of the files, decides who
// may use them: a database made under an older file-mode, or a volume that outlived
// a change of it, is put right at start. Only files this process owns are changed
// (and a group only to one it is in); a missing file is skipped. Run it before any
// connection of this process opens the files. One entry per file it changed or
// had to leave; an Error naming the file when a chmod of its own file fails.
std::vector<AccessChange> bring_to_configured_access(const std::filesystem::path& database, unsigned file_mode);

// Looks up the group and stats the database and its directory.
SharedAccessFacts look_up_shared_access(const std::string& app_group, const std::filesystem::path& database);

}  // namespace sqlkeeper::core
