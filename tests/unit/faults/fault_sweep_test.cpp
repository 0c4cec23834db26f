// I/O faults through the Env seam, swept over every operation: the Nth fsync,
// directory fsync, rename or atomic write fails with EIO or ENOSPC, for N = 1, 2,
// ... until a run meets no fault. Each faulted run must end in an error that says
// what failed, with nothing lost: the older backup still listed and verified, no
// temporary left, no half-made backup listed, the live database untouched.
// An fsync that failed is never retried into a success: the file is given up.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/backup/prune.h"
#include "sqlkeeper/restore/restore.h"
#include "sqlkeeper/error.h"
#include "support/backup_folder.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;

class FaultEnv : public Env {
 public:
  Clock::time_point now() const override { return at; }
  void fsync_file(const std::filesystem::path& p) override {
    hit("fsync " + p.filename().string());
    Env::fsync_file(p);
  }
  void fsync_dir(const std::filesystem::path& p) override {
    hit("fsync directory " + p.filename().string());
    Env::fsync_dir(p);
  }
  void rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    hit("rename " + from.filename().string());
    Env::rename(from, to);
  }
  void write_file_atomic(const std::filesystem::path& p, const std::string& data, unsigned mode) override {
    hit("write " + p.filename().string());
    Env::write_file_atomic(p, data, mode);
  }

  Clock::time_point at = Clock::time_point(std::chrono::seconds(1795500000));
  int fail_at = 0;  // 1-based; 0: never
  int err = EIO;
  int ops = 0;
  bool fired = false;

 private:
  void hit(const std::string& what) {
    if (++ops == fail_at) {
      fired = true;
      throw system_error(what + " (injected)", err);
    }
  }
};

class FaultSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sqlkeeper-fault-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    options_.dir = dir_ / "backups";
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  sqlite::Connection database() { return open_database({dir_ / "app.db", 0600, 1s}); }

  void expect_only(const std::vector<std::filesystem::path>& backups, const std::string& context) {
    test_support::expect_only_backups(options_.dir, "app", backups, context);
  }

  std::filesystem::path dir_;
  BackupOptions options_;
};

TEST_F(FaultSweep, BackupKeepsTheOlderOneAndLeavesNothingAtEveryFault) {
  auto db = database();
  db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);");
  FaultEnv env;
  Job job("backup");
  const auto good = take_backup(db, options_, env, job).file;
  int faulted = 0;
  for (const int err : {EIO, ENOSPC}) {
    int n = 1;
    for (;; ++n) {
      env.ops = 0;
      env.fired = false;
      env.fail_at = n;
      env.err = err;
      env.at += 1h;
      const auto context = "fault at operation " + std::to_string(n) + " (" + std::strerror(err) + ")";
      try {
        const auto made = take_backup(db, options_, env, job);
        ASSERT_FALSE(env.fired) << context << ": a backup was reported after a fault";
        std::filesystem::remove(made.file);
        std::filesystem::remove(made.sidecar);
        break;
      } catch (const Error& e) {
        ASSERT_TRUE(env.fired) << context << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("(injected)"), std::string::npos) << e.what();
        EXPECT_EQ(e.sys_errno(), err) << e.what();
        ++faulted;
      }
      expect_only({good}, context);
    }
    // The copy, its fsync, the rename, the folder's fsync and the sidecar's
    // write (itself an fsync, a rename and a folder fsync) were each faulted.
    EXPECT_GE(n, 7) << "only " << n - 1 << " operations were faulted";
  }
  expect_only({good}, "at the end");
  RecordProperty("faulted_runs", faulted);
}

TEST_F(FaultSweep, PruneReportsAFaultAndKeepsWhatThePolicyKeeps) {
  auto db = database();
  db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  FaultEnv env;
  Job job("prune");
  RetentionPolicy policy;
  policy.retention_days = 1;
  policy.min_count = 2;
  for (const int err : {EIO, ENOSPC}) {
    std::vector<std::filesystem::path> made;
    for (int i = 0; i < 4; ++i) {
      env.at += 48h;
      made.push_back(take_backup(db, options_, env, job).file);
    }
    env.ops = 0;
    env.fired = false;
    env.fail_at = 1;
    env.err = err;
    EXPECT_THROW(prune_backups(options_.dir, "app", "", policy, false, env, job, 1s), Error);
    EXPECT_TRUE(env.fired);
    env.fail_at = 0;
    // The two deletions happened (their durability is what failed); the two newest are whole.
    expect_only({made[2], made[3]}, std::strerror(err));
    for (const auto& f : {made[2], made[3]}) {
      std::filesystem::remove(f);
      std::filesystem::remove(f.string() + ".sha256");
    }
  }
  RecordProperty("faulted_runs", 2);
}

TEST_F(FaultSweep, InPlaceRestoreTouchesNothingWhenSavingTheReplacedContentFails) {
  auto db = database();
  db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);");
  FaultEnv env;
  Job job("restore");
  const auto good = take_backup(db, options_, env, job).file;
  db.exec("INSERT INTO t VALUES (4)");
  RestoreOptions restore;
  restore.database = dir_ / "app.db";
  restore.backup_dir = options_.dir;
  restore.force = true;
  for (int n = 1;; ++n) {
    env.ops = 0;
    env.fired = false;
    env.fail_at = n;
    env.at += 1h;
    const auto context = "fault at operation " + std::to_string(n);
    try {
      restore_backup(good, restore, env, job);
      ASSERT_FALSE(env.fired) << context;
      RecordProperty("faulted_runs", n - 1);
      break;
    } catch (const Error& e) {
      ASSERT_TRUE(env.fired) << context << ": " << e.what();
    }
    // The live database still holds the four rows, and only the good backup is listed.
    EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 4) << context;
    expect_only({good}, context);
  }
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 3);
}

}  // namespace
}  // namespace sqlkeeper::core
