#pragma once
// An Env that models what a power cut leaves of one folder: a file's bytes
// survive only as of its last fsync, and the folder's names (creations,
// renames, deletions) only as of the folder's last fsync. The cut comes at the
// Nth operation (cut_at); reboot() then rewrites the folder as the disk could
// hold it, in one of two ways:
//   - only what was synced: the names of the folder's last fsync, each with the
//     bytes of its last fsync (a file never synced is empty);
//   - the names reached the disk, the data did not: the names at the cut, with
//     the bytes of each file's last fsync (a file never synced holds half).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include "sqlkeeper/env.h"

namespace sqlkeeper::test_support {

namespace fs = std::filesystem;

struct PowerCut {};

inline std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline ino_t inode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) throw std::runtime_error("lstat " + p.string());
  return st.st_ino;
}

using Listing = std::map<std::string, ino_t>;

class PowerLossEnv : public Env {
 public:
  explicit PowerLossEnv(fs::path dir) : dir_(std::move(dir)) {
    durable_names_ = listing();
    for (const auto& [name, ino] : durable_names_) durable_bytes_[ino] = read_all(dir_ / name);
  }

  Clock::time_point now() const override { return at; }
  void fsync_file(const fs::path& p) override {
    hit();
    Env::fsync_file(p);
    if (p.parent_path() == dir_) durable_bytes_[inode_of(p)] = read_all(p);
  }
  void fsync_dir(const fs::path& p) override {
    hit();
    Env::fsync_dir(p);
    if (p == dir_) durable_names_ = listing();
  }
  // A new file's inode may be one a removed file had: what was synced of that
  // file is not this one's (the disk would never show it under the new name).
  void create_file(const fs::path& p, unsigned mode) override {
    Env::create_file(p, mode);
    if (p.parent_path() == dir_) durable_bytes_.erase(inode_of(p));
  }
  void rename(const fs::path& from, const fs::path& to) override {
    hit();
    Env::rename(from, to);
  }
  void write_file_atomic(const fs::path& p, const std::string& data, unsigned mode) override {
    hit();
    Env::write_file_atomic(p, data, mode);
  }

  enum class Reboot { only_synced, names_without_data };

  // Rewrites the folder as the disk could hold it after the cut.
  void reboot(Reboot how) {
    const auto names = how == Reboot::only_synced ? durable_names_ : names_at_cut_;
    std::map<std::string, std::string> files;
    for (const auto& [name, ino] : names) {
      if (const auto d = durable_bytes_.find(ino); d != durable_bytes_.end()) {
        files[name] = d->second;
      } else if (how == Reboot::names_without_data) {
        const auto& now = bytes_at_cut_[ino];
        files[name] = now.substr(0, now.size() / 2);
      } else {
        files[name] = "";
      }
    }
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& [name, bytes] : files) {
      std::ofstream(dir_ / name, std::ios::binary) << bytes;
      fs::permissions(dir_ / name, fs::perms::owner_read | fs::perms::owner_write);
    }
  }

  Clock::time_point at = Clock::time_point(std::chrono::seconds(1795500000));
  int cut_at = 0;  // 1-based; 0: never
  int ops = 0;
  bool cut = false;

 protected:
  Listing listing() const {
    Listing l;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) l[e.path().filename().string()] = inode_of(e.path());
    return l;
  }
  // Each operation that can be the last before the cut calls this first.
  void hit() {
    if (cut) throw PowerCut{};  // the machine is off: nothing more happens
    if (++ops != cut_at) return;
    cut = true;
    names_at_cut_ = listing();
    for (const auto& [name, ino] : names_at_cut_) bytes_at_cut_[ino] = read_all(dir_ / name);
    throw PowerCut{};
  }

  fs::path dir_;
  Listing durable_names_;
  std::map<ino_t, std::string> durable_bytes_;
  Listing names_at_cut_;
  std::map<ino_t, std::string> bytes_at_cut_;
};

}  // namespace sqlkeeper::test_support
