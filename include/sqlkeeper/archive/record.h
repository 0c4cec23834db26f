#pragma once
// The archive's records: what a chain file holds, one after another.
//
// A record is `u32 magic "SKR1" | u32 body length | body | 64 hex of SHA-256(body)`
// (integers little-endian). A body starts with its type:
//   start   the chain begins here: the WAL position of the backup that bases it
//   txn     one committed transaction: the WAL frames exactly as SQLite wrote them,
//           their generation's 32-byte WAL header, the 1-based index of the first
//           frame and the running checksum before it, so the frames are checked
//           again (salts, checksum chain, commit marker, page size) when read
//   resume  sqlkeeper started again and the WAL had not been restarted meanwhile:
//           the chain goes on, but commits between `since` and `at` were archived
//           only at `at` (a gap in time, not in transactions)
//   stop    sqlkeeper stopped cleanly with everything up to here archived
//   end     the chain ends here (why: `cause`); a new chain starts from a backup
// Every record carries the wall-clock time it was made durable (`at_ms`).
//
// A batch is a record too, of type 6: `u64 length | zstd frame` of whole
// records as above, stored in their place when that is smaller. A stream of
// commits writes the same few pages again and again, so the records of one
// flush shrink about sevenfold: the archive's disk writes, which slow the
// application's own fsyncs on a shared disk, shrink with them. Reading expands
// a batch into its records; each is checked as if it had been stored alone.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sqlkeeper/archive/wal_reader.h"

namespace sqlkeeper::archive {

enum class RecordType : std::uint8_t { start = 1, txn = 2, resume = 3, stop = 4, end = 5 };

struct Record {
  RecordType type = RecordType::txn;
  std::int64_t at_ms = 0;      // unix ms: when it was durable in the archive
  std::uint64_t seq = 0;       // txn: 1, 2, ... within the chain; others: the last txn's seq
  // txn: the generation's header; start: the WAL's header then (all zero: none)
  std::vector<std::uint8_t> wal_header;
  std::uint32_t first_frame = 0;  // txn: its first frame; start: the next frame to read
  WalChecksum seed;               // txn: running checksum before its first frame; start: at first_frame
  std::vector<std::uint8_t> frames;  // txn: (24 + page size) bytes per frame
  std::int64_t since_ms = 0;         // resume: the last moment known archived before it
  std::string cause;                 // resume, end: why
};

std::vector<std::uint8_t> encode_record(const Record& record);
struct Encoded {
  std::vector<std::uint8_t> bytes;
  std::size_t plain_bytes = 0;  // of the records stored one after another
};
// The records one after another, or as one batch when `batch` and that is smaller.
Encoded encode_records(const std::vector<Record>& records, bool batch);

struct Decoded {
  std::vector<Record> records;
  std::size_t good_bytes = 0;  // the records' bytes, from the start
  // Empty when every byte was a whole record. Otherwise why the rest is not:
  // `torn` when it is a prefix of a record (a write that did not finish).
  std::string problem;
  bool torn = false;
  std::size_t batches = 0;  // batch records expanded into `records`
  std::size_t plain_bytes = 0;  // of `records` stored one after another
};

// Decodes records from `bytes` until the end or the first one that is incomplete
// or does not match its hash, expanding batches. Damage inside a batch (whose
// hash matched) is never `torn`.
Decoded decode_records(std::span<const std::uint8_t> bytes);

// A txn record's frames checked as SQLite would check them in its WAL, and its
// pages. Throws Error(io) saying which check failed.
WalTransaction check_txn(const Record& txn);

// The WAL position just after a checked txn record (its generation, next frame, checksum).
WalPosition position_after(const Record& txn);
// The position a start record holds.
WalPosition position_of_start(const Record& start);
Record start_record(const WalPosition& at, std::int64_t at_ms);

}  // namespace sqlkeeper::archive
