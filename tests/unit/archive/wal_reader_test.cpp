#include "sqlkeeper/archive/wal_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "sqlkeeper/archive/replay.h"
#include "sqlkeeper/sqlite/connection.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::archive {
namespace {

using namespace std::chrono_literals;

class WalFile : public test_support::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    db_ = dir_ / "app.db";
    app_.emplace(db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5s);
    app_->exec("PRAGMA journal_mode=WAL");
    app_->exec("PRAGMA wal_autocheckpoint=0");
    app_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    app_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
    // The base: the database file with every frame so far in it.
    std::filesystem::copy_file(db_, dir_ / "base.db");
  }
  void TearDown() override {
    app_.reset();
    ScratchDirTest::TearDown();
  }

  // Inserts `rows` rows of `bytes` random bytes each in one transaction.
  void commit(int rows, int bytes) {
    app_->exec("BEGIN");
    for (int i = 0; i < rows; ++i) app_->exec("INSERT INTO t(v) VALUES (randomblob(" + std::to_string(bytes) + "))");
    app_->exec("COMMIT");
  }

  Fd open_wal() const {
    Fd fd(::open((db_.string() + "-wal").c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd);
    return fd;
  }

  std::vector<std::uint8_t> wal_bytes() const {
    std::ifstream in(db_.string() + "-wal", std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // The base with `txns` applied, read as SQLite sees it: count and sum of lengths.
  std::string replayed(const std::vector<WalTransaction>& txns, std::uint32_t page_size) {
    const auto out = dir_ / "replayed.db";
    std::filesystem::copy_file(dir_ / "base.db", out, std::filesystem::copy_options::overwrite_existing);
    {
      Fd fd(::open(out.c_str(), O_RDWR | O_CLOEXEC));
      for (const auto& t : txns) apply_transaction(fd, page_size, t, out.string());
    }
    sqlite::Connection c(out, SQLITE_OPEN_READONLY, 0ms);
    const auto check = c.query_text("PRAGMA integrity_check").value_or("");
    return check + " " + content_of(c);
  }

  static std::string content_of(sqlite::Connection& c) {
    return std::to_string(c.query_int64("SELECT count(*) FROM t").value_or(-1)) + " rows: " +
           c.query_text("SELECT group_concat(id || ':' || length(v) || ':' || hex(substr(v, -8)), ' ') "
                        "FROM (SELECT * FROM t ORDER BY id)").value_or("");
  }

  std::string live() { return "ok " + content_of(*app_); }

  std::filesystem::path db_;
  std::optional<sqlite::Connection> app_;
};

TEST(WalChecksum, FollowsSqlitesDefinition) {
  // Two words, by hand: s0 = 1 + 0, s1 = 2 + s0 (little-endian words 1 and 2).
  const std::uint8_t data[8] = {1, 0, 0, 0, 2, 0, 0, 0};
  EXPECT_EQ(wal_checksum(data, {}, false), (WalChecksum{1, 3}));
  EXPECT_EQ(wal_checksum(data, {}, true), (WalChecksum{0x01000000, 0x03000000}));
  EXPECT_EQ(wal_checksum(data, {10, 20}, false), (WalChecksum{31, 53}));
  // Two steps, each word order (worked out apart from this code).
  std::uint8_t counting[16];
  for (int i = 0; i < 16; ++i) counting[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(wal_checksum(counting, {}, false), (WalChecksum{0x1814100c, 0x312a231c}));
  EXPECT_EQ(wal_checksum(counting, {5, 7}, true), (WalChecksum{0x0c101437, 0x1c232a63}));
}

TEST_F(WalFile, ReplayingEveryCommittedTransactionGivesTheLiveDatabase) {
  std::mt19937 rng(7);
  for (int i = 0; i < 60; ++i) commit(1 + static_cast<int>(rng() % 20), 100 + static_cast<int>(rng() % 9000));
  app_->exec("DELETE FROM t WHERE id % 3 = 0");  // frees pages: the file may shrink
  app_->exec("VACUUM");
  commit(3, 50);
  const auto r = read_wal(open_wal(), {}, UINT64_MAX);
  EXPECT_TRUE(r.new_generation);
  ASSERT_EQ(r.transactions.size(), 63u);
  EXPECT_EQ(r.transactions.front().first_frame, 1u);
  for (std::size_t i = 1; i < r.transactions.size(); ++i)
    EXPECT_EQ(r.transactions[i].first_frame, r.transactions[i - 1].commit_frame + 1);
  EXPECT_EQ(replayed(r.transactions, r.next.header->page_size), live());
  // Each transaction's frames are the file's bytes, as SQLite wrote them: what the archive stores.
  const auto file = wal_bytes();
  std::vector<std::uint8_t> read(file.begin(), file.begin() + kWalHeaderBytes);
  for (const auto& t : r.transactions) read.insert(read.end(), t.frames.begin(), t.frames.end());
  ASSERT_LE(read.size(), file.size());
  EXPECT_TRUE(std::equal(read.begin(), read.end(), file.begin()));
}

TEST_F(WalFile, ReadsOnFromWhereItStoppedInPiecesOfAboutTheBoundAsked) {
  for (int i = 0; i < 40; ++i) commit(2, 3000);
  std::vector<WalTransaction> all;
  WalPosition at;
  int reads = 0;
  for (;; ++reads) {
    auto r = read_wal(open_wal(), at, 32 * 1024);
    EXPECT_EQ(r.new_generation, reads == 0);
    if (reads == 0) {
      EXPECT_TRUE(r.stopped_at_limit);
    }
    if (r.transactions.empty()) {
      EXPECT_FALSE(r.stopped_at_limit);
      break;
    }
    EXPECT_LE(r.bytes_read, 32u * 1024 + 8 * (4096 + kWalFrameHeaderBytes));
    for (auto& t : r.transactions) all.push_back(std::move(t));
    at = r.next;
  }
  EXPECT_GT(reads, 5);
  EXPECT_EQ(all.size(), 40u);
  // Nothing new: the same position back.
  EXPECT_EQ(read_wal(open_wal(), at, UINT64_MAX).next, at);
  commit(1, 10);
  const auto more = read_wal(open_wal(), at, UINT64_MAX);
  EXPECT_FALSE(more.new_generation);
  ASSERT_EQ(more.transactions.size(), 1u);
  all.push_back(more.transactions.front());
  EXPECT_EQ(replayed(all, at.header->page_size), live());
}

TEST_F(WalFile, SeesANewGenerationAfterTheWalRestarts) {
  commit(5, 2000);
  const auto first = read_wal(open_wal(), {}, UINT64_MAX);
  ASSERT_EQ(first.transactions.size(), 1u);
  // Everything is in the database file now: the next writer starts the WAL again from frame 1, with new salts.
  app_->exec("PRAGMA wal_checkpoint(RESTART)");
  commit(1, 10);
  const auto second = read_wal(open_wal(), first.next, UINT64_MAX);
  EXPECT_TRUE(second.new_generation);
  ASSERT_EQ(second.transactions.size(), 1u);
  EXPECT_EQ(second.transactions.front().first_frame, 1u);
  EXPECT_NE(second.next.header->salt1, first.next.header->salt1);
  std::vector<WalTransaction> all = first.transactions;
  all.push_back(second.transactions.front());
  EXPECT_EQ(replayed(all, first.next.header->page_size), live());
}

TEST_F(WalFile, StopsBeforeAFrameWhoseChecksumFailsOrAnUnfinishedTransaction) {
  for (int i = 0; i < 5; ++i) commit(1, 100);
  auto bytes = wal_bytes();
  const auto whole = read_wal_bytes(bytes, {}, UINT64_MAX);
  ASSERT_EQ(whole.transactions.size(), 5u);
  const auto page_size = whole.next.header->page_size;
  const auto offset_of = [&](std::uint32_t frame) {
    return kWalHeaderBytes + std::size_t{frame - 1} * (kWalFrameHeaderBytes + page_size);
  };
  // A flipped byte in the fourth transaction's page: the first three stand.
  auto damaged = bytes;
  damaged[offset_of(whole.transactions[3].first_frame) + kWalFrameHeaderBytes + 100] ^= 0x40;
  EXPECT_EQ(read_wal_bytes(damaged, {}, UINT64_MAX).transactions.size(), 3u);
  // The file cut inside the last transaction's commit frame: four.
  const std::vector<std::uint8_t> cut(bytes.begin(),
                                      bytes.begin() + static_cast<long>(offset_of(whole.transactions[4].commit_frame) + 50));
  EXPECT_EQ(read_wal_bytes(cut, {}, UINT64_MAX).transactions.size(), 4u);
  // A damaged header: nothing, and the position stays.
  auto bad_header = bytes;
  bad_header[20] ^= 1;
  const auto none = read_wal_bytes(bad_header, whole.next, UINT64_MAX);
  EXPECT_TRUE(none.transactions.empty());
  EXPECT_EQ(none.next, whole.next);
}

TEST(WalHeaderParse, RefusesWhatIsNotAWalHeader) {
  std::vector<std::uint8_t> zeros(32, 0);
  EXPECT_FALSE(parse_wal_header(zeros));
  EXPECT_FALSE(parse_wal_header(std::span<const std::uint8_t>(zeros).first(10)));
}

}  // namespace
}  // namespace sqlkeeper::archive
