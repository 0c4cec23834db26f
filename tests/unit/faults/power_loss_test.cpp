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
#include "support/power_loss_env.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using test_support::PowerCut;
using test_support::PowerLossEnv;

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
