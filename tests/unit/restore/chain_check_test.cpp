#include "sqlkeeper/restore/chain_check.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "sqlkeeper/sqlite/connection.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;
using ChainCheckPages = test_support::ScratchDirTest;

void make_database(const std::filesystem::path& db) {
  sqlite::Connection c(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1s);
  c.exec("PRAGMA journal_mode=WAL");
  c.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  for (int i = 0; i < 500; ++i) c.exec("INSERT INTO t VALUES (" + std::to_string(i) + ", printf('%0200d', 7))");
  c.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

// A backup copied page by page through SQLite's backup API differs from the
// file in the header fields that API rewrites, and in nothing else.
TEST_F(ChainCheckPages, ACopyThroughTheBackupApiHoldsTheSamePages) {
  const auto db = dir_ / "a.db";
  make_database(db);
  const auto copy = dir_ / "copy.db";
  {
    sqlite::Connection source(db, SQLITE_OPEN_READONLY, 1s);
    sqlite::Connection dest(copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1s);
    dest.exec("PRAGMA journal_mode=DELETE");
    auto* b = sqlite3_backup_init(dest.handle(), "main", source.handle(), "main");
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(sqlite3_backup_step(b, -1), SQLITE_DONE);
    ASSERT_EQ(sqlite3_backup_finish(b), SQLITE_OK);
  }
  Job job("test");
  EXPECT_EQ(compare_database_pages(db, copy, job), "");

  {
    sqlite::Connection c(copy, SQLITE_OPEN_READWRITE, 1s);
    c.exec("UPDATE t SET v = 'changed' WHERE id = 250");
  }
  const auto difference = compare_database_pages(db, copy, job);
  EXPECT_NE(difference.find("differs"), std::string::npos) << difference;
  EXPECT_EQ(difference.find("page 1 "), std::string::npos) << "only the row's page: " << difference;
}

TEST_F(ChainCheckPages, DifferentSizesAreNamed) {
  const auto db = dir_ / "a.db";
  make_database(db);
  std::filesystem::copy_file(db, dir_ / "b.db");
  std::filesystem::resize_file(dir_ / "b.db", std::filesystem::file_size(db) + 4096);
  Job job("test");
  const auto difference = compare_database_pages(db, dir_ / "b.db", job);
  EXPECT_NE(difference.find("pages, b.db"), std::string::npos) << difference;
}

}  // namespace
}  // namespace sqlkeeper::core
