// Power loss at every step of backing up and pruning. The Env below models what a
// power cut leaves of the backup folder: a file's bytes survive only as of its
// last fsync, and the folder's names (creations, renames, deletions) only as of
// the folder's last fsync. The cut comes at the Nth operation, for every N of a
// run of backup, backup, prune, backup; the folder is then rebuilt as the disk
// could hold it after the reboot, in two ways:
//   - only what was synced: the names of the folder's last fsync, each with the
//     bytes of its last fsync (a file never synced is empty);
//   - the names reached the disk, the data did not: the names at the cut, with
//     the bytes of each file's last fsync (a file never synced holds half).
// Either way every backup that was reported done must be listed and verify, no
// listed backup may fail verification, and the next backup must succeed.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/backup/prune.h"
#include "sqlkeeper/restore/restore.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct PowerCut {};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ino_t inode_of(const fs::path& p) {
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

 private:
  Listing listing() const {
    Listing l;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) l[e.path().filename().string()] = inode_of(e.path());
    return l;
  }
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

class PowerLoss : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sqlkeeper-power-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.dir = dir_ / "backups";
    spdlog::set_level(spdlog::level::warn);
  }
  void TearDown() override {
    spdlog::set_level(spdlog::level::info);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path dir_;
  BackupOptions options_;
};

TEST_F(PowerLoss, EveryBackupReportedDoneSurvivesACutAtEveryStep) {
  auto db = open_database({dir_ / "app.db", 0600, 1s});
  db.exec("CREATE TABLE t (x); INSERT INTO t SELECT randomblob(3000) FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3);");
  RetentionPolicy policy;
  policy.retention_days = 1;
  policy.min_count = 2;
  int cuts = 0;
  for (const auto how : {PowerLossEnv::Reboot::only_synced, PowerLossEnv::Reboot::names_without_data}) {
    for (int n = 1;; ++n) {
      fs::remove_all(options_.dir);
      fs::create_directories(options_.dir);
      const auto context = std::string(how == PowerLossEnv::Reboot::only_synced ? "only what was synced"
                                                                                 : "names without data") +
                           ", power cut at operation " + std::to_string(n);
      PowerLossEnv env(options_.dir);
      env.cut_at = n;
      std::vector<fs::path> done;  // reported done and not pruned since
      Job job("power");
      try {
        for (int step = 0; step < 4; ++step) {
          env.at += 48h;
          if (step == 2) {
            const auto report = prune_backups(options_.dir, "app", "", policy, false, env, job, 1s);
            // The older of two, two days apart, is past one day and beyond the two kept.
            ASSERT_EQ(done.size(), 2U);
            done.erase(done.begin());
            (void)report;
          } else {
            done.push_back(take_backup(db, options_, env, job).file);
          }
        }
      } catch (const PowerCut&) {
      }
      if (!env.cut) {
        ASSERT_GE(n, 20) << "a whole run took only " << n - 1 << " operations";
        break;
      }
      ++cuts;
      env.reboot(how);

      const auto catalog = read_catalog(options_.dir, "app");
      for (const auto& f : done) {
        const auto listed = std::find_if(catalog.backups.begin(), catalog.backups.end(),
                                         [&](const CatalogEntry& e) { return e.file == f; });
        ASSERT_NE(listed, catalog.backups.end()) << context << ": " << f << " was reported done and is gone";
        EXPECT_TRUE(listed->verified()) << context << ": " << f;
      }
      for (const auto& e : catalog.backups) {
        if (!e.finished()) continue;
        const auto v = verify_backup(e.file, job);
        EXPECT_TRUE(v.ok) << context << ": " << e.file << " is listed and does not verify: " << v.problem;
      }
      // After the reboot the next backup cleans up and succeeds.
      remove_stale_temporaries(options_.dir, "app", Env::real(), job, 1s);
      env.at += 1h;
      PowerLossEnv after(options_.dir);
      after.at = env.at + 1h;
      EXPECT_NO_THROW(take_backup(db, options_, after, job)) << context;
      EXPECT_TRUE(read_catalog(options_.dir, "app").temporaries.empty()) << context;
    }
  }
  EXPECT_GE(cuts, 40);
  RecordProperty("power_cuts", cuts);
}

}  // namespace
}  // namespace sqlkeeper::core
