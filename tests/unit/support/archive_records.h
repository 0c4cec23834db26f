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

// Transaction `seq`, archived at `at_ms`: `pages` frames (pages 1..pages, each
// filled with the byte `seq`) continuing `pos`, which moves past it.
inline archive::Record txn_record(std::uint64_t seq, std::int64_t at_ms, archive::WalPosition& pos, int pages) {
  const auto& h = *pos.header;
  std::vector<archive::WalFrame> frames;
  for (int i = 0; i < pages; ++i)
    frames.push_back({static_cast<std::uint32_t>(i + 1), std::vector<std::uint8_t>(h.page_size, static_cast<std::uint8_t>(seq))});
  archive::Record r;
  r.type = archive::RecordType::txn;
  r.seq = seq;
  r.at_ms = at_ms;
  r.wal_header = archive::encode_wal_header(h);
  r.first_frame = pos.next_frame;
  r.seed = pos.checksum;
  r.frames = archive::encode_frames(h, pos.checksum, frames, static_cast<std::uint32_t>(pages));
  pos = archive::position_after(r);
  return r;
}

}  // namespace sqlkeeper::test_support
