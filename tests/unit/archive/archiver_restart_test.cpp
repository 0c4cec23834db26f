#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "sqlkeeper/archive/archiver.h"
#include "support/archiver_fixture.h"

namespace sqlkeeper::archive {
namespace {

using namespace std::chrono_literals;
using test_support::wait_until_running;

std::uint64_t seq_of(const std::string& mark) {
  const auto a = mark.find(' ');
  return std::stoull(mark.substr(a + 1, mark.find(' ', a + 1) - a - 1));
}

// An archive that restarts the WAL every 64 KiB, a chain begun, and an
// application committing 3000-byte rows (a page each) at an application's pace.
class ArchiverRestart : public test_support::ArchiverTest {
 protected:
  void SetUp() override {
    ArchiverTest::SetUp();
    if (IsSkipped()) return;
    auto o = options(nullptr);
    o.restart_wal_bytes = 64 * 1024;
    // What is tested is that restarts happen and lose nothing, not their bound:
    // a sanitizer build on a loaded machine takes more than 20 ms for one.
    o.restart_limit = 250ms;
    tune(o);
    archive_ = std::make_unique<Archiver>(o, Env::real());
    archive_->start();
    wait_until_running(*archive_);
    ASSERT_FALSE(archive_->mark().empty());
    app_->exec("CREATE TABLE pad (id INTEGER PRIMARY KEY, v BLOB)");
    commits_ = 1;
  }
  virtual void tune(ArchiverOptions&) {}
  void TearDown() override {
    if (archive_) archive_->stop();
    ArchiverTest::TearDown();
  }
  void commit() {
    app_->exec("INSERT INTO pad (v) VALUES (randomblob(3000))");
    ++commits_;
    std::this_thread::sleep_for(500us);  // the writer lock is free in between
  }
  // The -wal file's first salt: a new one each time the WAL starts again.
  std::uint32_t wal_salt() const {
    std::ifstream in(db_.string() + "-wal", std::ios::binary);
    std::uint8_t raw[20] = {};
    in.read(reinterpret_cast<char*>(raw), sizeof raw);
    return (std::uint32_t{raw[16]} << 24) | (std::uint32_t{raw[17]} << 16) | (std::uint32_t{raw[18]} << 8) | raw[19];
  }
  // Commits at least `at_least` more, then until `restarts` in all; bounded.
  void commit_until_restarts(std::uint64_t restarts, std::uint64_t at_least = 0) {
    const auto until = commits_ + at_least;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (commits_ < until || archive_->status().wal_restarts < restarts) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "the archive restarted the WAL " << archive_->status().wal_restarts << " times in " << commits_
          << " commits";
      commit();
    }
  }
  // Every commit is in the chain, and no gap opened.
  void expect_nothing_lost() {
    const auto last = archive_->mark();
    ASSERT_FALSE(last.empty()) << archive_->status().error;
    EXPECT_EQ(seq_of(last), commits_) << "transactions lost from the chain";
    EXPECT_TRUE(archive_->status().gaps.empty());
  }
  std::unique_ptr<Archiver> archive_;
  std::uint64_t commits_ = 0;
};

// Under a writer that commits every millisecond or so and never waits long,
// the pin would keep the WAL from ever starting again: the archive restarts
// it, losing nothing, and the file stays small.
TEST_F(ArchiverRestart, TheArchiveRestartsTheWalUnderAWriterThatNeverPauses) {
  const auto first = wal_salt();
  commit_until_restarts(3, 1500);  // at least 6 MiB of WAL
  expect_nothing_lost();
  EXPECT_NE(wal_salt(), first) << "the WAL never started again";
}

// An application's reader on an older snapshot keeps the WAL from restarting:
// the archive gives up within its bound, loses nothing, and restarts the WAL
// again once the reader is gone.
TEST_F(ArchiverRestart, AReaderOnAnOlderSnapshotPutsTheRestartOffAndNothingIsLost) {
  {
    sqlite::Connection reader(db_, SQLITE_OPEN_READONLY, 5s);
    commit();
    reader.exec("BEGIN");
    reader.query_int64("SELECT count(*) FROM pad");  // its snapshot: a read mark other than 0
    for (int i = 0; i < 300; ++i) commit();
    EXPECT_EQ(archive_->status().wal_restarts, 0u) << "the WAL restarted under a reader that needed it";
    reader.exec("COMMIT");
  }
  commit_until_restarts(1);
  expect_nothing_lost();
}

// sqlkeeper's own checkpoints and backups hold the archive's restarts off: both
// need the checkpoint lock a restart takes.
TEST_F(ArchiverRestart, NoRestartWhileAHoldLives) {
  {
    const auto hold = archive_->hold_restarts();
    for (int i = 0; i < 300; ++i) commit();  // 1.2 MiB: 18 restarts' worth
    ASSERT_FALSE(archive_->mark().empty());
    EXPECT_EQ(archive_->status().wal_restarts, 0u);
  }
  commit_until_restarts(1);
  expect_nothing_lost();
}

// A small page size makes many frames of few bytes: the archive restarts the
// WAL by its frame count too, before an application's autocheckpoint (at 1000
// frames by default) would checkpoint after each of its commits.
class ArchiverRestartByFrames : public ArchiverRestart {
 protected:
  void tune(ArchiverOptions& o) override {
    o.restart_wal_bytes = 1ULL << 30;  // never reached here
    o.restart_wal_frames = 60;
  }
};

TEST_F(ArchiverRestartByFrames, TheWalRestartsOnceItHoldsThatManyFrames) {
  std::uintmax_t largest = 0;
  const auto wal = db_.string() + "-wal";
  commit_until_restarts(3, 1500);  // at least 1500 frames
  for (int i = 0; i < 300; ++i) {
    commit();
    largest = std::max(largest, std::filesystem::file_size(wal));
  }
  expect_nothing_lost();
  // 60 frames, and those committed while a step ran and a restart that had to
  // wait backed off (up to 1.6 s on a loaded machine); not the 1800 written.
  const auto page_size = app_->query_int64("PRAGMA page_size").value_or(0);
  EXPECT_LT(largest, 1200 * (page_size + 24)) << "the -wal file grew to " << largest << " bytes, with "
                                               << archive_->status().wal_restarts << " restarts";
}

}  // namespace
}  // namespace sqlkeeper::archive
