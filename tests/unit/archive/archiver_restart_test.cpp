#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "sqlkeeper/archive/archiver.h"
#include "support/archiver_fixture.h"

namespace sqlkeeper::archive {
namespace {

using namespace std::chrono_literals;
using ArchiverRestart = test_support::ArchiverTest;
using test_support::wait_until_running;

std::uint64_t seq_of(const std::string& mark) {
  const auto a = mark.find(' ');
  return std::stoull(mark.substr(a + 1, mark.find(' ', a + 1) - a - 1));
}

std::uint64_t file_size_or_zero(const std::filesystem::path& p) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

// Under a writer that commits every millisecond or so and never waits long,
// the pin would keep the WAL from ever starting again: the archive restarts
// it, losing nothing, and the file stays small.
TEST_F(ArchiverRestart, TheArchiveRestartsTheWalUnderAWriterThatNeverPauses) {
  auto o = options(nullptr);
  o.restart_wal_bytes = 64 * 1024;
  Archiver a(o, Env::real());
  a.start();
  wait_until_running(a);
  ASSERT_FALSE(a.mark().empty());
  app_->exec("CREATE TABLE pad (id INTEGER PRIMARY KEY, v BLOB)");
  std::uint64_t commits = 1;
  std::uint64_t largest_wal = 0;
  // Bounded: at least 6 MiB of WAL written, then until three restarts or 20 s.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (commits < 1500 || a.status().wal_restarts < 3) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the archive restarted the WAL " << a.status().wal_restarts << " times in " << commits << " commits";
    app_->exec("INSERT INTO pad (v) VALUES (randomblob(3000))");
    ++commits;
    largest_wal = std::max(largest_wal, file_size_or_zero(db_.string() + "-wal"));
    std::this_thread::sleep_for(500us);  // an application's pace: the writer lock is free in between
  }
  const auto last = a.mark();
  ASSERT_FALSE(last.empty()) << a.status().error;
  EXPECT_EQ(seq_of(last), commits) << "transactions lost from the chain";
  EXPECT_TRUE(a.status().gaps.empty());
  // Without the restarts the WAL holds every commit: about 4 KiB each.
  EXPECT_LT(largest_wal, commits * 4096 / 2) << "the WAL grew as if never restarted";
  a.stop();
}

// An application's reader on an older snapshot keeps the WAL from restarting:
// the archive gives up within its bound, loses nothing, and restarts the WAL
// again once the reader is gone.
TEST_F(ArchiverRestart, AReaderOnAnOlderSnapshotPutsTheRestartOffAndNothingIsLost) {
  auto o = options(nullptr);
  o.restart_wal_bytes = 64 * 1024;
  Archiver a(o, Env::real());
  a.start();
  wait_until_running(a);
  ASSERT_FALSE(a.mark().empty());
  app_->exec("CREATE TABLE pad (id INTEGER PRIMARY KEY, v BLOB)");
  std::uint64_t commits = 1;
  auto commit = [&] {
    app_->exec("INSERT INTO pad (v) VALUES (randomblob(3000))");
    ++commits;
    std::this_thread::sleep_for(500us);
  };
  {
    sqlite::Connection reader(db_, SQLITE_OPEN_READONLY, 5s);
    commit();
    reader.exec("BEGIN");
    reader.query_int64("SELECT count(*) FROM pad");  // its snapshot: a read mark other than 0
    for (int i = 0; i < 300; ++i) commit();
    EXPECT_EQ(a.status().wal_restarts, 0u) << "the WAL restarted under a reader that needed it";
    reader.exec("COMMIT");
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (a.status().wal_restarts == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no restart after the reader was gone";
    commit();
  }
  const auto last = a.mark();
  ASSERT_FALSE(last.empty()) << a.status().error;
  EXPECT_EQ(seq_of(last), commits) << "transactions lost from the chain";
  EXPECT_TRUE(a.status().gaps.empty());
  a.stop();
}

// sqlkeeper's own checkpoints and backups hold the archive's restarts off: both
// need the checkpoint lock a restart takes.
TEST_F(ArchiverRestart, NoRestartWhileAHoldLives) {
  auto o = options(nullptr);
  o.restart_wal_bytes = 64 * 1024;
  Archiver a(o, Env::real());
  a.start();
  wait_until_running(a);
  ASSERT_FALSE(a.mark().empty());
  app_->exec("CREATE TABLE pad (id INTEGER PRIMARY KEY, v BLOB)");
  auto commit = [&] {
    app_->exec("INSERT INTO pad (v) VALUES (randomblob(3000))");
    std::this_thread::sleep_for(500us);
  };
  {
    const auto hold = a.hold_restarts();
    for (int i = 0; i < 300; ++i) commit();  // 1.2 MiB: 18 restarts' worth
    ASSERT_FALSE(a.mark().empty());
    EXPECT_EQ(a.status().wal_restarts, 0u);
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (a.status().wal_restarts == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no restart once the hold was gone";
    commit();
  }
  a.stop();
}

}  // namespace
}  // namespace sqlkeeper::archive
