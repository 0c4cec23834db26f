#include "sqlkeeper/config/paths.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "sqlkeeper/error.h"

namespace sqlkeeper::config {
namespace {

enum class Kind { file, directory };

std::string type_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

void check(const Loaded& loaded, const char* name, const std::filesystem::path& path, Kind want) {
  const auto it = loaded.settings.find(name);
  const Setting setting =
      it != loaded.settings.end() ? it->second : Setting{find_option(name)->default_value, "default"};
  const auto fail = [&](const std::string& why) {
    return Error(ErrorCode::config,
                 "option '" + std::string(name) + "' from " + setting.source + ": '" + setting.value + "' " + why);
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    if (errno == ENOTDIR) throw fail("has a parent that is not a directory");
    throw fail(std::string("cannot be examined: ") + std::strerror(errno));
  }
  if (want == Kind::directory && !S_ISDIR(st.st_mode))
    throw fail("is " + type_of(st.st_mode) + ", expected a directory");
  if (want == Kind::file && !S_ISREG(st.st_mode))
    throw fail("is " + type_of(st.st_mode) + ", expected a database file");
}

}  // namespace

void check_paths(const Loaded& loaded) {
  check(loaded, "database", loaded.config.database, Kind::file);
  check(loaded, "migrations", loaded.config.migrations, Kind::directory);
  check(loaded, "backup-dir", loaded.config.backup_dir, Kind::directory);
}

}  // namespace sqlkeeper::config
