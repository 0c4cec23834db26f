#include "sqlkeeper/daemon/ownership_hint.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlkeeper/config/units.h"
#include "sqlkeeper/backup/catalog.h"

namespace sqlkeeper::daemon {
namespace {

std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return "";
}

std::string who(uid_t uid) {
  const auto name = user_name(uid);
  return "uid " + std::to_string(uid) + (name.empty() ? "" : " (" + name + ")");
}

}  // namespace

std::string ownership_hint(const std::filesystem::path& dir) {
  const uid_t me = ::geteuid();
  for (const auto& p : {dir, dir / core::kBackupLockName}) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || st.st_uid == me) continue;
    return "; " + p.string() + " belongs to " + who(st.st_uid) + " (mode " + config::format_mode(st.st_mode & 0777) +
           "), not to this daemon's user, " + who(me) +
           ": was a sqlkeeper command run as root before the daemon's first backup? Fix: chown -R " +
           std::to_string(me) + ":" + std::to_string(::getegid()) + " " + dir.string();
  }
  return "";
}

}  // namespace sqlkeeper::daemon
