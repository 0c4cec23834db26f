// Records stored as a compressed batch read back as the records they hold,
// each checked as if stored alone, and a damaged batch is refused, never taken
// for a write cut short.
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sqlkeeper/archive/record.h"
#include "sqlkeeper/base/sha256.h"
#include "support/archive_records.h"

namespace sqlkeeper::archive {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Ten transactions of four pages each, every page one repeated byte.
std::vector<Record> some_transactions() {
  const auto h = test_support::wal_header(1);
  WalPosition pos{h, 1, h.checksum};
  std::vector<Record> out;
  for (int i = 1; i <= 10; ++i) out.push_back(test_support::txn_record(i, 1000 * i, pos, 4));
  return out;
}

void put_u32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// A batch written by hand around `inner` (any bytes), with a true hash: what a
// writer with a bug, or someone who rewrote the hash too, would leave.
Bytes batch_around(const Bytes& inner) {
  Bytes body{6};
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<std::uint8_t>(std::uint64_t{inner.size()} >> (8 * i)));
  const auto head = body.size();
  body.resize(head + ZSTD_compressBound(inner.size()));
  body.resize(head + ZSTD_compress(body.data() + head, body.size() - head, inner.data(), inner.size(), 1));
  Bytes out;
  put_u32(out, 0x31524b53);
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  const auto hash = core::sha256_hex({reinterpret_cast<const char*>(body.data()), body.size()});
  out.insert(out.end(), hash.begin(), hash.end());
  return out;
}

TEST(RecordBatch, ReadsBackTheRecordsItHoldsAndIsSmaller) {
  const auto records = some_transactions();
  const auto plain = encode_records(records, false).bytes;
  const auto batched = encode_records(records, true);
  EXPECT_LT(batched.bytes.size() * 7, plain.size()) << "pages written again and again shrink";
  EXPECT_EQ(batched.plain_bytes, plain.size());
  for (const auto* bytes : {&plain, &batched.bytes}) {
    const auto d = decode_records(*bytes);
    EXPECT_EQ(d.problem, "");
    EXPECT_EQ(d.good_bytes, bytes->size());
    EXPECT_EQ(d.plain_bytes, plain.size()) << "what a segment's sealing counts, stored either way";
    EXPECT_EQ(d.batches, bytes == &batched.bytes ? 1u : 0u);
    ASSERT_EQ(d.records.size(), records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(encode_record(d.records[i]), encode_record(records[i])) << i;
      EXPECT_NO_THROW(check_txn(d.records[i]));
    }
  }
}

TEST(RecordBatch, RecordsThatDoNotShrinkAreStoredOneByOne) {
  auto records = some_transactions();
  std::mt19937 rng(7);
  for (auto& r : records)
    for (auto& b : r.frames) b = static_cast<std::uint8_t>(rng());
  EXPECT_EQ(encode_records(records, true).bytes, encode_records(records, false).bytes);
}

// A reader allocates what a batch claims: past 64 MiB an append is stored plain.
TEST(RecordBatch, AnAppendPast64MiBIsStoredOneByOne) {
  const auto h = test_support::wal_header(1, 65536);
  WalPosition pos{h, 1, h.checksum};
  const std::vector<Record> records{test_support::txn_record(1, 1000, pos, 1025)};  // 64 MiB and a page
  EXPECT_EQ(encode_records(records, true).bytes, encode_records(records, false).bytes);
}

TEST(RecordBatch, ABatchCutShortIsTornAndTheRecordsBeforeItStay) {
  auto bytes = encode_record(some_transactions().front());
  const auto whole = bytes.size();
  const auto batch = encode_records(some_transactions(), true).bytes;
  bytes.insert(bytes.end(), batch.begin(), batch.end() - 10);
  const auto d = decode_records(bytes);
  EXPECT_TRUE(d.torn) << d.problem;
  EXPECT_EQ(d.good_bytes, whole);
  EXPECT_EQ(d.records.size(), 1u);
}

TEST(RecordBatch, AChangedByteInABatchIsRefused) {
  auto bytes = encode_records(some_transactions(), true).bytes;
  bytes[bytes.size() / 2] ^= 0x01;
  const auto d = decode_records(bytes);
  EXPECT_FALSE(d.torn);
  EXPECT_NE(d.problem.find("SHA-256"), std::string::npos) << d.problem;
  EXPECT_TRUE(d.records.empty());
}

// Behind a true hash: damage inside is named, and never passes for a torn write
// (which a reopened chain would cut off as if it had never been acknowledged).
TEST(RecordBatch, DamageInsideABatchWithATrueHashIsNamedAndNotTorn) {
  auto inner = encode_records(some_transactions(), false).bytes;
  inner.resize(inner.size() - 10);  // its last record cut short
  auto d = decode_records(batch_around(inner));
  EXPECT_FALSE(d.torn);
  EXPECT_NE(d.problem.find("in a batch"), std::string::npos) << d.problem;
  EXPECT_TRUE(d.records.empty());

  d = decode_records(batch_around(encode_records(some_transactions(), true).bytes));
  EXPECT_NE(d.problem.find("a batch inside a batch"), std::string::npos) << d.problem;

  auto lying = batch_around(encode_records(some_transactions(), false).bytes);
  lying[9] ^= 0x01;  // the length it claims, under a hash made again
  const Bytes body(lying.begin() + 8, lying.end() - 64);
  const auto hash = core::sha256_hex({reinterpret_cast<const char*>(body.data()), body.size()});
  std::copy(hash.begin(), hash.end(), lying.end() - 64);
  d = decode_records(lying);
  EXPECT_FALSE(d.torn);
  EXPECT_NE(d.problem.find("does not hold"), std::string::npos) << d.problem;
}

}  // namespace
}  // namespace sqlkeeper::archive
