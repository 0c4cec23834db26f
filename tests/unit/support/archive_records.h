#pragma once
// Archive records for tests: a WAL generation's header and transactions that
// continue a WAL position exactly as SQLite would have written them.
#include <cstdint>
#include <vector>

#include "sqlkeeper/archive/record.h"

namespace sqlkeeper::test_support {

inline archive::WalHeader wal_header(std::uint32_t salt1, std::uint32_t page_size = 512) {
  archive::WalHeader h;
  h.page_size = page_size;
  h.checkpoint_seq = 1;
  h.salt1 = salt1;
  h.salt2 = 7;
  const auto bytes = archive::encode_wal_header(h);
  h.checksum = archive::wal_checksum({bytes.data(), 24}, {}, false);
  return h;
}

// `pages` frames of pages 1..pages, each filled with `fill`, as SQLite would
// write them as one transaction continuing `seed`: the frame headers with the
// salts and the running checksum, and the database's size on the last.
inline std::vector<std::uint8_t> frames_of(const archive::WalHeader& h, archive::WalChecksum seed, int pages,
                                           std::uint8_t fill) {
  const auto put_be32 = [](std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  };
  const std::size_t frame_bytes = archive::kWalFrameHeaderBytes + h.page_size;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(pages) * frame_bytes, fill);
  auto checksum = seed;
  for (int i = 0; i < pages; ++i) {
    std::uint8_t* f = &out[static_cast<std::size_t>(i) * frame_bytes];
    put_be32(f, static_cast<std::uint32_t>(i + 1));
    put_be32(f + 4, i + 1 == pages ? static_cast<std::uint32_t>(pages) : 0);
    put_be32(f + 8, h.salt1);
    put_be32(f + 12, h.salt2);
    checksum = archive::wal_checksum({f, 8}, checksum, h.big_endian);
    checksum = archive::wal_checksum({f + archive::kWalFrameHeaderBytes, h.page_size}, checksum, h.big_endian);
    put_be32(f + 16, checksum.s0);
    put_be32(f + 20, checksum.s1);
  }
  return out;
}

// Transaction `seq`, archived at `at_ms`: `pages` frames (pages 1..pages, each
// filled with the byte `seq`) continuing `pos`, which moves past it.
inline archive::Record txn_record(std::uint64_t seq, std::int64_t at_ms, archive::WalPosition& pos, int pages) {
  const auto& h = *pos.header;
  archive::Record r;
  r.type = archive::RecordType::txn;
  r.seq = seq;
  r.at_ms = at_ms;
  r.wal_header = archive::encode_wal_header(h);
  r.first_frame = pos.next_frame;
  r.seed = pos.checksum;
  r.frames = frames_of(h, pos.checksum, pages, static_cast<std::uint8_t>(seq));
  pos = archive::position_after(r);
  return r;
}

}  // namespace sqlkeeper::test_support
