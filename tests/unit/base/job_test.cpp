#include "sqlkeeper/base/job.h"

#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "sqlkeeper/db/database.h"
#include "sqlkeeper/base/file_lock.h"
#include "sqlkeeper/db/snapshot.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;

// A statement that runs for minutes unless something stops it.
constexpr const char* kEndless =
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) FROM c";

class JobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sqlkeeper-job-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST(Job, CheckThrowsStoppedWithTheFirstReason) {
  Job job("backup");
  EXPECT_NO_THROW(job.check("copying"));
  job.request_stop("SIGTERM");
  job.request_stop("second");
  try {
    job.check("copying");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::stopped);
    EXPECT_EQ(std::string(e.what()), "backup stopped while copying: stop requested (SIGTERM)");
  }
}

TEST(Job, DeadlineStopsIt) {
  Job job("verify", 0ms);
  EXPECT_TRUE(job.should_stop());
  EXPECT_EQ(job.stop_reason(), "its deadline passed");
  Job later("verify", 1h);
  EXPECT_FALSE(later.should_stop());
}

TEST(Job, PauseWakesOnStop) {
  Job job("wait");
  std::thread stopper([&] { job.request_stop("test"); });
  // Without the wake-up this pause would last an hour.
  EXPECT_FALSE(job.pause(1h));
  stopper.join();
}

TEST_F(JobTest, StopInterruptsARunningStatement) {
  auto db = open_database({dir_ / "app.db", 0600, 1s});
  Job job("migration");
  const JobScope scope(db, job, 1s);
  std::thread stopper([&] {
    // Once the statement is running (it beats), ask it to stop.
    while (job.beats() == 0) std::this_thread::yield();
    job.request_stop("SIGTERM");
  });
  try {
    db.query_int64(kEndless);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.sqlite_code(), SQLITE_INTERRUPT);
  }
  stopper.join();
  EXPECT_GT(job.beats(), 0u);
}

TEST_F(JobTest, DeadlineInterruptsARunningStatement) {
  auto db = open_database({dir_ / "app.db", 0600, 1s});
  Job job("migration", 50ms);
  const JobScope scope(db, job, 1s);
  EXPECT_THROW(db.query_int64(kEndless), Error);
  EXPECT_TRUE(job.should_stop());
}

TEST_F(JobTest, BusyWaitEndsAtTheLimitAndAtStop) {
  auto db = open_database({dir_ / "app.db", 0600, 1s});
  db.exec("CREATE TABLE t (x)");
  auto other = open_database({dir_ / "app.db", 0600, 1s});
  other.exec("BEGIN IMMEDIATE");
  Job job("write");
  {
    const JobScope scope(db, job, 20ms);
    try {
      db.exec("INSERT INTO t VALUES (1)");
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.sqlite_code() & 0xff, SQLITE_BUSY);
    }
  }
  // With a long limit, a stop request ends the wait.
  const JobScope scope(db, job, std::chrono::hours(1));
  std::thread stopper([&] { job.request_stop("test"); });
  EXPECT_THROW(db.exec("INSERT INTO t VALUES (1)"), Error);
  stopper.join();
  other.exec("ROLLBACK");
}

TEST_F(JobTest, CopyStopsBetweenSteps) {
  auto db = open_database({dir_ / "app.db", 0600, 1s});
  db.exec("CREATE TABLE t (x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 50000) "
          "INSERT INTO t SELECT randomblob(200) FROM c");
  Job job("copy");
  job.request_stop("test");
  try {
    copy_database(db, dir_ / "copy.db", Env::real(), job);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::stopped);
  }
  // The source's read transaction was ended.
  EXPECT_FALSE(db.in_transaction());
  Job fine("copy");
  copy_database(db, dir_ / "copy2.db", Env::real(), fine);
  EXPECT_EQ(fine.done(), fine.total());
  EXPECT_GT(fine.total(), 1000u);
}

TEST_F(JobTest, LockWaitGivesUpNamingTheHolder) {
  const auto path = dir_ / "lock";
  auto held = FileLock::try_acquire(path);
  ASSERT_TRUE(held);
  EXPECT_FALSE(FileLock::try_acquire(path));
  EXPECT_NE(describe_lock_holders(path).find("pid " + std::to_string(::getpid())), std::string::npos);
  Job job("migration");
  try {
    FileLock::acquire(path, "the test lock", job, 30ms);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::conflict);
    EXPECT_NE(std::string(e.what()).find("held by pid " + std::to_string(::getpid())), std::string::npos);
  }
  // A stop request ends the wait long before its timeout.
  job.request_stop("SIGTERM");
  try {
    FileLock::acquire(path, "the test lock", job, std::chrono::hours(1));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::stopped);
  }
  held.reset();
  Job again("migration");
  EXPECT_NO_THROW(FileLock::acquire(path, "the test lock", again, 30ms));
}

}  // namespace
}  // namespace sqlkeeper::core
