#include "sqlkeeper/daemon/database_probe.h"

#include <gtest/gtest.h>

#include "sqlkeeper/sqlite/connection.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::daemon {
namespace {

using namespace std::chrono_literals;

class Probe : public test_support::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    db_ = dir_ / "app.db";
    sqlite::Connection c(db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1s);
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("CREATE TABLE t (x)");
  }
  std::filesystem::path db_;
};

TEST_F(Probe, ADatabaseThatAnswersAndIsTheOneOpened) {
  const auto r = probe_database(db_, core::identity_of(db_), 250ms);
  EXPECT_TRUE(r.answered) << r.error;
  EXPECT_EQ(r.replaced, "");
}

TEST_F(Probe, ALockHeldByAnotherConnectionIsSeenWithinTheBound) {
  sqlite::Connection holder(db_, SQLITE_OPEN_READWRITE, 1s);
  holder.exec("PRAGMA locking_mode=EXCLUSIVE");
  holder.exec("BEGIN EXCLUSIVE");
  const auto started = std::chrono::steady_clock::now();
  const auto r = probe_database(db_, core::identity_of(db_), 250ms);
  EXPECT_FALSE(r.answered);
  EXPECT_NE(r.error.find("locked"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST_F(Probe, AFileRenamedOverTheDatabaseIsNamed) {
  const auto opened = core::identity_of(db_);
  {
    sqlite::Connection other(dir_ / "other.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1s);
    other.exec("CREATE TABLE t (x)");
  }
  std::filesystem::rename(dir_ / "other.db", db_);
  const auto r = probe_database(db_, opened, 250ms);
  EXPECT_TRUE(r.answered) << r.error;
  EXPECT_NE(r.replaced.find("replaced"), std::string::npos) << r.replaced;
}

TEST_F(Probe, AMissingDatabaseDoesNotAnswer) {
  const auto r = probe_database(dir_ / "gone.db", std::nullopt, 250ms);
  EXPECT_FALSE(r.answered);
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace sqlkeeper::daemon
