#include "sqlkeeper/db/file_identity.h"

#include <sys/stat.h>

namespace sqlkeeper::core {

std::optional<FileIdentity> identity_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileIdentity{st.st_dev, st.st_ino};
}

std::string replaced_problem(const std::filesystem::path& path, const FileIdentity& opened,
                             const std::optional<FileIdentity>& now) {
  if (!now || *now == opened) return {};
  return path.string() + " was replaced while sqlkeeper ran (inode " + std::to_string(opened.inode) + ", now " +
         std::to_string(now->inode) +
         "): connections opened before still use the old file; restart the applications and sqlkeeper";
}

}  // namespace sqlkeeper::core
