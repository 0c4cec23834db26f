#include "sqlkeeper/cli/root_hand_over.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <vector>

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::cli {
namespace {

std::string chown_command(uid_t uid, gid_t gid, const std::filesystem::path& dir) {
  return "chown -R " + std::to_string(uid) + ":" + std::to_string(gid) + " " + dir.string();
}

// Never through a link: a link planted in the folder must not hand over its target.
bool is_root_owned(const std::filesystem::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && st.st_uid == 0;
}

}  // namespace

RootHandOver::RootHandOver(const config::Config& config)
    : dir_(config.backup_dir), stem_(config.database.stem().string()) {
  struct stat db {};
  if (::geteuid() != 0 || ::stat(config.database.c_str(), &db) != 0 || db.st_uid == 0) return;
  owner_ = Owner{db.st_uid, db.st_gid};
  std::error_code ec;
  if (std::filesystem::exists(dir_, ec) || ec) return;  // an existing folder's owner is the operator's choice
  std::filesystem::create_directories(dir_, ec);
  if (ec || ::chmod(dir_.c_str(), 0700) != 0 || ::lchown(dir_.c_str(), db.st_uid, db.st_gid) != 0) {
    const int err = ec ? ec.value() : errno;
    throw system_error("running as root, make backup folder " + dir_.string() + " for the database's owner (uid " +
                           std::to_string(db.st_uid) + "); make it yourself: mkdir -m 0700 " + dir_.string() + " && " +
                           chown_command(db.st_uid, db.st_gid, dir_),
                       err);
  }
}

RootHandOver::~RootHandOver() {
  if (!owner_) return;
  try {
    std::vector<std::filesystem::path> ours{dir_, dir_ / core::kBackupLockName};
    for (const auto& b : core::read_catalog(dir_, stem_).backups) {
      ours.push_back(b.file);
      ours.push_back(b.file.string() + ".sha256");
    }
    for (const auto& p : ours)
      if (is_root_owned(p) && ::lchown(p.c_str(), owner_->uid, owner_->gid) != 0)
        throw system_error("hand " + p.string() + " to the database's owner", errno);
  } catch (const std::exception& e) {
    std::cerr << "sqlkeeper: " << e.what() << "; the daemon cannot use what root left there: run "
              << chown_command(owner_->uid, owner_->gid, dir_) << "\n";
  }
}

}  // namespace sqlkeeper::cli
