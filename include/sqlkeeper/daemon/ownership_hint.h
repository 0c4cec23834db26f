#pragma once
// A backup that failed with EACCES or EPERM in the backup folder is nearly always
// a folder or lock file made by root (a restore drill or a backup by hand before
// the daemon's first): say whose it is and the chown that fixes it. Runs on the
// worker (it stats the folder).
#include <filesystem>
#include <string>

namespace sqlkeeper::daemon {

// "; DIR belongs to uid 0 (root) (mode 0700), not to ...: Fix: chown -R U:G DIR", or "" when
// neither the folder nor its lock file belongs to another user.
std::string ownership_hint(const std::filesystem::path& dir);

}  // namespace sqlkeeper::daemon
