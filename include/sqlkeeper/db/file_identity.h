#pragma once
// Which file a path names: its device and inode. A database replaced under the
// running daemon (a copy renamed over it, or deleted and made again) keeps its
// path but not its identity, and connections opened before go on using the old
// file: the applications' writes then go where nobody reads them.
// Found with stat(2), never by opening the live file (closing a descriptor of it
// would drop SQLite's locks).
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace sqlkeeper::core {

struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileIdentity&) const = default;
};

// nullopt when the path names nothing that can be stat'ed.
std::optional<FileIdentity> identity_of(const std::filesystem::path& path);

// Why `now` is not the file `opened` was; empty when it is (or when the path
// names nothing now: that is the liveness probe's to report).
std::string replaced_problem(const std::filesystem::path& path, const FileIdentity& opened,
                             const std::optional<FileIdentity>& now);

}  // namespace sqlkeeper::core
