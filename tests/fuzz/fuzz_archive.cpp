// Archive segments and WAL bytes, as read from a disk anyone may have damaged:
// records decode or stop with a problem, a record that decodes encodes back to
// the same bytes (or, from a batch, to bytes that decode to it again), and a transaction's frames pass every check or are refused;
// a WAL read from arbitrary bytes never reads past them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "sqlkeeper/archive/record.h"
#include "sqlkeeper/error.h"

using namespace sqlkeeper::archive;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const auto decoded = decode_records(bytes);
  if (decoded.good_bytes > size) std::abort();
  std::size_t at = 0;
  for (const auto& r : decoded.records) {
    const auto again = encode_record(r);
    if (decoded.batches == 0) {
      if (at + again.size() > size || !std::equal(again.begin(), again.end(), data + at)) std::abort();
      at += again.size();
    } else {
      const auto back = decode_records(again);
      if (back.records.size() != 1 || !back.problem.empty() || encode_record(back.records.front()) != again) std::abort();
    }
    if (r.type != RecordType::txn) continue;
    try {
      const auto txn = check_txn(r);
      if (txn.frames.empty()) std::abort();
    } catch (const sqlkeeper::Error&) {
    }
  }
  const auto read = read_wal_bytes(bytes, WalPosition{}, 1 << 20);
  if (read.bytes_read > size) std::abort();
  return 0;
}
