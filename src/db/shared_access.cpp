#include "sqlkeeper/db/shared_access.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

std::string octal(unsigned mode) {
  char text[16];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

// The name of group `gid`, or its number when it has none (getgrgid_r: reentrant).
std::string group_name(gid_t gid) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) return found->gr_name;
  return std::to_string(gid);
}

std::optional<unsigned> group_id(const std::string& name) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 && found)
    return static_cast<unsigned>(found->gr_gid);
  return std::nullopt;
}

std::optional<FileFacts> stat_facts(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileFacts{static_cast<unsigned>(st.st_mode & 07777), static_cast<unsigned>(st.st_gid), group_name(st.st_gid)};
}

}  // namespace

std::vector<std::string> shared_access_warnings(const std::string& app_group, unsigned file_mode,
                                                const std::filesystem::path& database, const SharedAccessFacts& facts) {
  std::vector<std::string> warnings;
  if (app_group.empty()) return warnings;
  if (!facts.app_gid) warnings.push_back("app-group '" + app_group + "' is not a group on this system");
  if ((file_mode & 0060) != 0060)
    warnings.push_back("file-mode " + octal(file_mode) + " gives app-group '" + app_group +
                       "' no read and write access to a database sqlkeeper creates; set file-mode = 0660");
  const auto dir = database.parent_path();
  if (facts.directory) {
    const auto& d = *facts.directory;
    if (facts.app_gid && d.gid != *facts.app_gid)
      warnings.push_back("directory " + dir.string() + " belongs to group '" + d.group + "', not app-group '" +
                         app_group + "': chgrp " + app_group + " " + dir.string());
    if ((d.mode & 0070) != 0070)
      warnings.push_back("directory " + dir.string() + " is mode " + octal(d.mode) + ": app-group '" + app_group +
                         "' cannot create the -wal and -shm files there; chmod 2770 " + dir.string());
    if ((d.mode & S_ISGID) == 0)
      warnings.push_back("directory " + dir.string() + " is not setgid: -wal and -shm files the application creates " +
                         "there get its own group, which sqlkeeper cannot use; chmod g+s " + dir.string());
  }
  if (facts.database) {
    const auto& f = *facts.database;
    if ((facts.app_gid && f.gid != *facts.app_gid) || (f.mode & 0060) != 0060)
      warnings.push_back("database " + database.string() + " is mode " + octal(f.mode) + ", group '" + f.group +
                         "': app-group '" + app_group + "' cannot read and write it yet; sqlkeeper brings it to " +
                         "file-mode and the directory's group when it next starts: restart it");
  }
  return warnings;
}

std::vector<AccessChange> bring_to_configured_access(const std::filesystem::path& database, unsigned file_mode) {
  std::vector<AccessChange> changes;
  const auto dir = database.parent_path().empty() ? std::filesystem::path(".") : database.parent_path();
  struct stat dir_st {};
  if (::stat(dir.c_str(), &dir_st) != 0) throw system_error("directory " + dir.string(), errno);
  const auto me = ::geteuid();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const auto file = database.string() + suffix;
    struct stat st {};
    // lstat: a symlink is left alone (chmod would change whatever it points to).
    if (::lstat(file.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      throw system_error("database " + file, errno);
    }
    if (!S_ISREG(st.st_mode)) continue;
    const unsigned mode = st.st_mode & 07777;
    if (mode == file_mode && st.st_gid == dir_st.st_gid) continue;
    const auto was = "mode " + octal(mode) + ", group " + std::to_string(st.st_gid);
    if (st.st_uid != me) {
      changes.push_back({true, "database " + file + " belongs to uid " + std::to_string(st.st_uid) +
                                   ", not sqlkeeper's (uid " + std::to_string(me) + "): left at " + was +
                                   ", though file-mode is " + octal(file_mode) + " and the directory's group " +
                                   std::to_string(dir_st.st_gid)});
      continue;
    }
    std::string message = "database " + file + ": mode " + octal(mode) + " -> " + octal(file_mode);
    bool warning = false;
    if (st.st_gid != dir_st.st_gid) {
      if (::chown(file.c_str(), static_cast<uid_t>(-1), dir_st.st_gid) == 0) {
        message += ", group " + std::to_string(st.st_gid) + " -> " + std::to_string(dir_st.st_gid);
      } else if (errno == EPERM) {
        // Only root may give a file a group its owner is not in.
        warning = true;
        message += ", group " + std::to_string(st.st_gid) + " kept: sqlkeeper is not in the directory's group " +
                   std::to_string(dir_st.st_gid) + " (" + std::strerror(errno) + ")";
      } else {
        throw system_error("chgrp " + file, errno);
      }
    }
    if (::chmod(file.c_str(), file_mode) != 0) throw system_error("chmod " + file, errno);
    changes.push_back({warning, message + " (file-mode, the group of " + dir.string() + ")"});
  }
  return changes;
}

SharedAccessFacts look_up_shared_access(const std::string& app_group, const std::filesystem::path& database) {
  SharedAccessFacts facts;
  if (app_group.empty()) return facts;
  facts.app_gid = group_id(app_group);
  facts.directory = stat_facts(database.parent_path().empty() ? "." : database.parent_path());
  facts.database = stat_facts(database);
  return facts;
}

}  // namespace sqlkeeper::core
