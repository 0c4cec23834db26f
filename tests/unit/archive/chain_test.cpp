#include "sqlkeeper/archive/chain.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sqlkeeper/archive/timeline.h"
#include "sqlkeeper/error.h"
#include "support/archive_records.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::archive {
namespace {

namespace fs = std::filesystem;


WalHeader header(std::uint32_t salt1) {
  return test_support::wal_header(salt1);
}

// txn_record(seq, at_ms, pos, pages) with the header argument the tests read with.
Record txn_record(std::uint64_t seq, std::int64_t at_ms, const WalHeader&, WalPosition& pos, int pages) {
  return test_support::txn_record(seq, at_ms, pos, pages);
}

class Chain : public test_support::ScratchDirTest {
 protected:
  // A chain of `n` one-page transactions at 1000, 2000, ... ms.
  ChainWriter make(int n) {
    const auto h = header(1);
    WalPosition pos{h, 1, h.checksum};
    auto w = ChainWriter::create(dir_, "c1", "/db", start_record(pos, 500), env_);
    for (int i = 1; i <= n; ++i) w.append({txn_record(i, 1000 * i, h, pos, 1)});
    return w;
  }
  std::vector<Record> read_all() {
    std::vector<Record> out;
    read_chain(dir_ / "c1", [&out](const Record& r, const fs::path&) {
      out.push_back(r);
      return true;
    });
    return out;
  }
  // What the archiver does after each append, outside its lock.
  void compress(ChainWriter& w) {
    for (const auto& p : w.take_sealed()) compress_segment(p, env_);
  }
  Env& env_ = Env::real();
};

TEST_F(Chain, RecordsReadBackInOrderWithTheirFramesChecked) {
  make(3);
  const auto records = read_all();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].type, RecordType::start);
  EXPECT_EQ(records[3].seq, 3u);
  const auto txn = check_txn(records[3]);
  const auto page = txn.page(0);
  EXPECT_EQ(std::vector<std::uint8_t>(page.begin(), page.end()), std::vector<std::uint8_t>(512, 3));
}

TEST_F(Chain, ARecordCutShortAtTheEndOfTheOpenSegmentIsCutOffOnReopen) {
  make(2);
  const auto open = dir_ / "c1" / "00000001.open";
  const auto size = fs::file_size(open);
  fs::resize_file(open, size - 10);
  EXPECT_EQ(read_all().size(), 2u);  // the start and transaction 1
  ChainTail tail;
  auto w = ChainWriter::reopen(dir_ / "c1", env_, tail);
  EXPECT_EQ(tail.last_seq, 1u);
  auto pos = tail.position;
  w.append({txn_record(2, 5000, header(1), pos, 1)});
  EXPECT_EQ(read_all().size(), 3u);
}

TEST_F(Chain, AChangedByteIsNamedWithItsSegment) {
  make(2);
  const auto open = dir_ / "c1" / "00000001.open";
  std::fstream f(open, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(open) / 2));
  f.put('\x5a');
  f.close();
  try {
    read_all();
    FAIL() << "a damaged segment was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("00000001.open"), std::string::npos) << e.what();
  }
}

TEST_F(Chain, SealedSegmentsAreChainedByHashAndAMissingOneBreaksTheChain) {
  // Transactions of 9000 pages of 512 bytes pass kSealBytes every few.
  const auto h = header(1);
  WalPosition pos{h, 1, h.checksum};
  auto w = ChainWriter::create(dir_, "c1", "/db", start_record(pos, 500), env_);
  for (int i = 1; i <= 9; ++i) w.append({txn_record(i, 1000 * i, h, pos, 9000)});
  compress(w);
  ASSERT_TRUE(fs::exists(dir_ / "c1" / "00000002.seg.zst"));
  EXPECT_EQ(read_all().size(), 10u);
  fs::remove(dir_ / "c1" / "00000002.seg.zst");
  EXPECT_THROW(read_all(), Error);
}

// Sealed segments are compressed once the chain has gone on past them; the
// hash chain is over the bytes as written, so it holds whichever form is read.
TEST_F(Chain, SealedSegmentsAreCompressedAndReadBackWhicheverFormIsThere) {
  const auto h = header(1);
  WalPosition pos{h, 1, h.checksum};
  auto w = ChainWriter::create(dir_, "c1", "/db", start_record(pos, 500), env_);
  for (int i = 1; i <= 9; ++i) w.append({txn_record(i, 1000 * i, h, pos, 9000)});
  EXPECT_TRUE(fs::exists(dir_ / "c1" / "00000001.seg")) << "sealed; compressed by the caller, outside its lock";
  // Sealed past 16 MiB of records, though stored as batches of a few KiB.
  EXPECT_LT(fs::file_size(dir_ / "c1" / "00000001.seg"), 1u << 20);
  compress(w);
  const auto compressed = dir_ / "c1" / "00000001.seg.zst";
  ASSERT_TRUE(fs::exists(compressed));
  EXPECT_FALSE(fs::exists(dir_ / "c1" / "00000001.seg"));
  EXPECT_LT(fs::file_size(compressed), 1u << 20) << "four transactions of 9000 pages of one repeated byte";
  EXPECT_EQ(read_all().size(), 10u);
  EXPECT_EQ(list_chains(dir_).front().segments, 3);

  // A byte changed in the compressed file is named with it.
  fs::copy_file(compressed, dir_ / "keep.zst");
  {
    std::fstream f(compressed, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(compressed) / 2));
    f.put('\x5a');
  }
  try {
    read_all();
    FAIL() << "a damaged compressed segment was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("00000001.seg.zst"), std::string::npos) << e.what();
  }
  fs::remove(compressed);
  fs::copy_file(dir_ / "keep.zst", compressed);
  ChainTail tail;
  auto again = ChainWriter::reopen(dir_ / "c1", env_, tail);
  EXPECT_EQ(tail.last_seq, 9u);
}

// A listing (sqlkeeper archive, restore --at's timeline) reads the summaries of
// the sealed segments and only the newest segment, and a restore the segments
// from the one holding its first transaction on: neither grows with history.
TEST_F(Chain, AListingReadsTheSummariesOfSealedSegmentsAndARestoreOnlyWhatItNeeds) {
  const auto h = header(1);
  WalPosition pos{h, 1, h.checksum};
  auto w = ChainWriter::create(dir_, "c1", "/db", start_record(pos, 500), env_);
  for (int i = 1; i <= 13; ++i) {
    if (i == 6) {
      Record stop;
      stop.type = RecordType::stop;
      stop.at_ms = 5500;
      stop.seq = 5;
      Record resume;
      resume.type = RecordType::resume;
      resume.at_ms = 5900;
      resume.since_ms = 5500;
      resume.seq = 5;
      resume.cause = "sqlkeeper was not running";
      w.append({stop});
      w.append({resume});
    }
    w.append({txn_record(i, 1000 * i, h, pos, 9000)});
  }
  compress(w);
  const auto full = list_chains(dir_).front();
  ASSERT_TRUE(full.problem.empty()) << full.problem;
  EXPECT_EQ(full.transactions, 13u);
  EXPECT_EQ(full.first_txn_ms, 1000);
  EXPECT_EQ(full.last_txn_ms, 13000);
  ASSERT_EQ(full.pauses.size(), 1u);
  EXPECT_EQ(full.pauses[0].since_ms, 5500);
  EXPECT_EQ(full.pauses[0].cause, "sqlkeeper was not running");

  // The first sealed segment damaged: not read by a listing or by a restore
  // from transaction 9 on; a whole read names it.
  const auto first = dir_ / "c1" / "00000001.seg.zst";
  ASSERT_TRUE(fs::exists(first));
  {
    std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(first) / 2));
    f.put('\x5a');
  }
  const auto listed = list_chains(dir_).front();
  EXPECT_TRUE(listed.problem.empty()) << listed.problem;
  EXPECT_EQ(listed.transactions, full.transactions);
  EXPECT_EQ(listed.frame_bytes, full.frame_bytes);
  EXPECT_EQ(listed.pauses.size(), 1u);
  EXPECT_EQ(listed.last_ms, full.last_ms);
  std::vector<std::uint64_t> seen;
  read_chain(
      dir_ / "c1",
      [&seen](const Record& r, const fs::path&) {
        if (r.type == RecordType::txn) seen.push_back(r.seq);
        return true;
      },
      9);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 13u);
  EXPECT_THROW(read_all(), Error);
}

TEST_F(Chain, RetentionDropsTheSegmentsBeforeTheOldestKeptPointAndTheRestReadsOn) {
  const auto h = header(1);
  WalPosition pos{h, 1, h.checksum};
  auto w = ChainWriter::create(dir_, "c1", "/db", start_record(pos, 500), env_);
  for (int i = 1; i <= 13; ++i) w.append({txn_record(i, 1000 * i, h, pos, 9000)});
  compress(w);
  // Segments of four transactions: 1-4 and 5-8 sealed, 9-12 sealed, 13 open.
  ASSERT_TRUE(fs::exists(dir_ / "c1" / "00000003.seg.zst"));
  const auto dry = prune_chain_before(dir_ / "c1", 9, env_, /*dry_run=*/true);
  EXPECT_EQ(dry.segments.size(), 2u);
  EXPECT_TRUE(fs::exists(dir_ / "c1" / "00000001.seg.zst"));
  const auto pruned = prune_chain_before(dir_ / "c1", 9, env_, /*dry_run=*/false);
  EXPECT_EQ(pruned.segments.size(), 2u);
  EXPECT_FALSE(fs::exists(dir_ / "c1" / "00000001.seg.zst"));
  const auto records = read_all();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().seq, 9u);
  EXPECT_EQ(records.back().seq, 13u);
  // The writer goes on after a prune.
  ChainTail tail;
  auto again = ChainWriter::reopen(dir_ / "c1", env_, tail);
  EXPECT_EQ(tail.last_seq, 13u);
  auto next = tail.position;
  again.append({txn_record(14, 99'000, h, next, 1)});
  EXPECT_EQ(read_all().back().seq, 14u);
}

TEST_F(Chain, AReadFromATransactionSkipsTheSegmentsBeforeIt) {
  const auto h = header(1);
  WalPosition pos{h, 1, h.checksum};
  auto w = ChainWriter::create(dir_, "c1", "/db", start_record(pos, 500), env_);
  for (int i = 1; i <= 9; ++i) w.append({txn_record(i, 1000 * i, h, pos, 9000)});
  std::vector<std::uint64_t> seen;
  read_chain(
      dir_ / "c1",
      [&seen](const Record& r, const fs::path&) {
        seen.push_back(r.seq);
        return true;
      },
      6);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front(), 5u);  // from the segment holding transaction 7 on
  EXPECT_EQ(seen.back(), 9u);
}

TEST_F(Chain, ATransactionThatDoesNotContinueTheWalIsRefused) {
  const auto h = header(1);
  WalPosition pos{h, 1, h.checksum};
  auto w = ChainWriter::create(dir_, "c1", "/db", start_record(pos, 500), env_);
  w.append({txn_record(1, 1000, h, pos, 2)});
  auto skipped = pos;
  skipped.next_frame += 1;  // a frame left out
  w.append({txn_record(2, 2000, h, skipped, 1)});
  EXPECT_THROW(read_all(), Error);
}

TEST(Timeline, ATimeInAGapIsRefusedNamingItAndTheNearestMoments) {
  ChainSummary a;
  a.id = "a";
  a.covered_ms = 10'000;
  a.ended = true;
  a.end_cause = "the WAL was restarted while sqlkeeper was not running";
  ChainSummary b;
  b.id = "b";
  b.covered_ms = 30'000;
  const std::vector<ChainPoint> points = {{"a.db", "a", 0, 1'000}, {"b.db", "b", 0, 20'000}, {"b2.db", "b", 40, 25'000}};
  const auto t = build_timeline({a, b}, points, false, 99'000);
  ASSERT_EQ(t.covered.size(), 2u);
  EXPECT_EQ(t.covered[0].from_ms, 1'000);
  EXPECT_EQ(t.covered[1].to_ms, 30'000);
  // Between the chains, and after the newest: no daemon archives now (live is false).
  ASSERT_EQ(t.gaps.size(), 2u);
  EXPECT_EQ(t.gaps[1].since_ms, 30'000);
  EXPECT_EQ(t.gaps[1].until_ms, 0);
  try {
    plan_restore(t, {a, b}, points, 15'000);
    FAIL() << "a time in a gap was planned";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("gap"), std::string::npos) << what;
    EXPECT_NE(what.find("restarted"), std::string::npos) << what;
  }
  const auto plan = plan_restore(t, {a, b}, points, 26'000);
  EXPECT_EQ(plan.base.backup, "b2.db");
  EXPECT_EQ(plan.base.seq, 40u);
}

TEST(Timeline, APauseIsAGapAndALiveChainCoversUpToNow) {
  ChainSummary a;
  a.id = "a";
  a.covered_ms = 10'000;
  a.pauses = {{4'000, 6'000, "sqlkeeper was not running"}};
  const std::vector<ChainPoint> points = {{"a.db", "a", 0, 1'000}};
  const auto t = build_timeline({a}, points, true, 50'000);
  ASSERT_EQ(t.covered.size(), 2u);
  EXPECT_EQ(t.covered[0].to_ms, 4'000);
  EXPECT_EQ(t.covered[1].from_ms, 6'000);
  EXPECT_EQ(t.covered[1].to_ms, 50'000);
  EXPECT_THROW(plan_restore(t, {a}, points, 5'000), Error);
}

}  // namespace
}  // namespace sqlkeeper::archive
