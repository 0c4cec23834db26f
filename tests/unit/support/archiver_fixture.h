#pragma once
// An application's database in WAL mode, open throughout, and an archive of it
// in the same scratch folder.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "sqlkeeper/archive/archiver.h"
#include "sqlkeeper/sqlite/connection.h"
#include "sqlkeeper/sqlite/library.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::test_support {

using namespace std::chrono_literals;
using archive::Archiver;
using archive::ArchiverOptions;

// Bounded: the archive's thread pins and reads the folder within milliseconds.
inline void wait_until_running(const Archiver& a) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!a.status().running) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the archive did not start: " << a.status().error;
    std::this_thread::sleep_for(5ms);
  }
}

class ArchiverTest : public ScratchDirTest {
 protected:
  void SetUp() override {
    if (!sqlite::linked_library().wal_reset_fix) GTEST_SKIP() << "the archive is off with the WAL-reset bug";
    ScratchDirTest::SetUp();
    db_ = dir_ / "app.db";
    app_.emplace(db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5s);
    app_->exec("PRAGMA journal_mode=WAL");
    app_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  }
  ArchiverOptions options(std::function<bool(const std::string&)> has_base) {
    ArchiverOptions o;
    o.database = db_;
    o.dir = dir_ / "wal";
    o.database_identity = db_.string();
    o.interval = 100ms;
    o.has_base = std::move(has_base);
    return o;
  }
  std::filesystem::path db_;
  std::optional<sqlite::Connection> app_;  // open throughout: the WAL stays
};

}  // namespace sqlkeeper::test_support
