#include "sqlkeeper/db/snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;

class ScratchDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sqlkeeper-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

// An Env whose clock is fixed and whose rename can be made to fail.
class FakeEnv : public Env {
 public:
  Clock::time_point now() const override { return at; }
  void rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    if (fail_rename) throw Error(ErrorCode::io, "rename failed on purpose");
    Env::rename(from, to);
  }
  Clock::time_point at = Clock::time_point(std::chrono::seconds(1795500000));  // 2026-11-24T06:00:00Z
  bool fail_rename = false;
};

TEST(SnapshotName, IsSortableUtc) {
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1795500000));
  EXPECT_EQ(snapshot_name("app", at, ""), "app-20261124T060000Z.db");
  EXPECT_EQ(snapshot_name("app", at, "pre-migration"), "app-20261124T060000Z-pre-migration.db");
  EXPECT_EQ(parse_backup_name("app-20261124T060000Z-pre-migration.db", "app")->at, at);
  EXPECT_EQ(parse_backup_name("app-20261124T060000Z-pre-migration.db", "app")->label, "pre-migration");
  EXPECT_EQ(parse_backup_name("app-20261124T060000Z-pre-migration-2.db", "app")->label, "pre-migration");
  EXPECT_EQ(parse_backup_name("app-20261124T060000Z-1.db", "app")->label, "");
  EXPECT_EQ(parse_backup_name("app-20261124T060000Z.db", "app")->at, at);
  EXPECT_FALSE(parse_backup_name("app-20261124T060000Z.db.tmp", "app"));
  EXPECT_FALSE(parse_backup_name("other-20261124T060000Z.db", "app"));
  EXPECT_FALSE(parse_backup_name("app-2026.db", "app"));
  EXPECT_FALSE(parse_backup_name("app-20261124T060000Z-Evil Label.db", "app"));
  EXPECT_FALSE(parse_backup_name("app-20261124T060000Z-.db", "app"));
  // Found by fuzz_catalog: strptime took blanks and a six-digit year.
  EXPECT_FALSE(parse_backup_name("app-  261127T030000Z.db", "app"));
  EXPECT_FALSE(parse_backup_name("app-+0261127T03000Z.db", "app"));
  EXPECT_FALSE(parse_backup_name("app-52260303T030000Z.db", "app"));  // past what a time_point holds
}

TEST_F(ScratchDir, WritesAVerifiedCopyWithItsSidecar) {
  auto db = open_database({dir_ / "app.db", 0600, 1s});
  db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);");
  FakeEnv env;
  Job job("test");
  BackupOptions options;
  options.dir = dir_ / "backups";
  options.label = "pre-migration";
  const auto snap = take_backup(db, options, env, job);
  EXPECT_EQ(snap.file.filename(), "app-20261124T060000Z-pre-migration.db");
  EXPECT_EQ(sha256_file(snap.file), snap.sha256);
  EXPECT_TRUE(snap.verified);
  EXPECT_EQ(std::filesystem::status(snap.file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  sqlite::Connection copy(snap.file, SQLITE_OPEN_READONLY, 0ms);
  EXPECT_EQ(copy.query_int64("SELECT count(*) FROM t"), 3);
  EXPECT_EQ(copy.query_text("PRAGMA journal_mode"), "delete");
  const auto catalog = read_catalog(dir_ / "backups", "app");
  ASSERT_EQ(catalog.backups.size(), 1u);
  EXPECT_EQ(catalog.backups[0].file, snap.file);
  EXPECT_TRUE(catalog.backups[0].verified());
  EXPECT_EQ(catalog.backups[0].sidecar->sha256, snap.sha256);
  EXPECT_EQ(catalog.backups[0].sidecar->field("pages"), std::to_string(snap.pages));
  EXPECT_TRUE(catalog.foreign.empty());
  EXPECT_TRUE(catalog.temporaries.empty());
  // A labelled copy is listed but is not "the last backup".
  EXPECT_EQ(last_regular_backup(catalog), nullptr);
  // A second copy in the same second gets its own name.
  const auto again = take_backup(db, options, env, job);
  EXPECT_NE(again.file, snap.file);
}

TEST_F(ScratchDir, FailedRenameLeavesNoBackupAndNoTemporaryFile) {
  auto db = open_database({dir_ / "app.db", 0600, 1s});
  db.exec("CREATE TABLE t (x)");
  FakeEnv env;
  env.fail_rename = true;
  Job job("test");
  BackupOptions options;
  options.dir = dir_ / "backups";
  EXPECT_THROW(take_backup(db, options, env, job), Error);
  const auto catalog = read_catalog(dir_ / "backups", "app");
  EXPECT_TRUE(catalog.backups.empty());
  EXPECT_TRUE(catalog.temporaries.empty());
  EXPECT_TRUE(catalog.foreign.empty());
}

TEST_F(ScratchDir, OpenDatabaseRefusesDirectoriesAndForeignFiles) {
  std::filesystem::create_directories(dir_ / "adir");
  EXPECT_THROW(open_database({dir_ / "adir", 0600, 1s}), Error);
  {
    std::FILE* f = std::fopen((dir_ / "notes.txt").c_str(), "w");
    std::fputs("these are not the pages you are looking for, not at all\n", f);
    std::fclose(f);
  }
  try {
    open_database({dir_ / "notes.txt", 0600, 1s});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a SQLite database"), std::string::npos);
  }
}

TEST_F(ScratchDir, OpenDatabaseCreatesWithModeAndPragmas) {
  const auto old = ::umask(0077);
  auto db = open_database({dir_ / "sub" / "app.db", 0660, 1s});
  ::umask(old);
  EXPECT_EQ(std::filesystem::status(dir_ / "sub" / "app.db").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read | std::filesystem::perms::group_write);
  EXPECT_EQ(db.query_text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(db.query_int64("PRAGMA foreign_keys"), 1);
  EXPECT_EQ(db.query_int64("PRAGMA synchronous"), 1);  // NORMAL
  db.exec("CREATE TABLE t (x)");
  // Double-quoted strings are identifiers only: a misspelt column is an error.
  EXPECT_THROW(db.exec("SELECT \"nope\" FROM t"), Error);
}

}  // namespace
}  // namespace sqlkeeper::core
