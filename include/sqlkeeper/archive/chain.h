#pragma once
// An archive chain on disk: the transactions archived from one backup on,
// without a break, in numbered segment files.
//
//   <archive-dir>/<chain id>/chain          "database: ...", "started_ms: ..." (written once)
//   <archive-dir>/<chain id>/00000001.seg   sealed segments, never written again
//   <archive-dir>/<chain id>/00000007.open  the one being appended to (the newest)
//
// A segment is "SQLKWAL1", its number (8 decimal digits), the SHA-256 (hex) of
// the sealed segment before it (64 zeros for the first), then records
// (archive/record.h). So a missing, reordered or replaced segment breaks the
// chain loudly. Records are appended and fsynced, an append's as one compressed
// batch when that is smaller (archive/record.h); a segment is sealed (renamed
// from .open to .seg, folder fsynced) when its records, counted as if stored
// one by one, pass kSealBytes: a segment is read whole, so what it holds in
// memory once expanded stays bounded, however well it compressed.
//
// Reading checks everything a writer promised: the segments' numbers and hashes,
// each record's SHA-256, each transaction's frames (salts, checksum chain,
// commit marker), that transactions are numbered 1, 2, ... and that each one
// continues the WAL exactly where the one before it ended. Only the open
// segment may end in a record cut short (a write that never finished and was
// never reported archived); anything else is damage, named with its file.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sqlkeeper/archive/record.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::archive {

inline constexpr std::uint64_t kSealBytes = 16ULL << 20;
// Written when the oldest segments are pruned: where the chain now begins.
inline constexpr const char* kPrunedFile = "pruned";

struct Pause {
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;
  std::string cause;
};

// What a segment's records add to a chain's listing (list_chains).
struct SegmentContents {
  std::uint64_t transactions = 0;
  std::uint64_t frame_bytes = 0;
  std::int64_t first_txn_ms = 0;  // 0: none
  std::int64_t last_txn_ms = 0;
  std::vector<Pause> pauses;  // from its resume records
};

// What a sealed segment holds ("NNNNNNNN.idx", written before it is sealed):
// lets a restore skip the segments before the transactions it needs, a listing
// skip every sealed segment, and retention drop them.
struct SegmentSummary {
  std::uint64_t first_seq = 0;  // 0: no transaction
  std::uint64_t last_seq = 0;   // the chain's last transaction at its end
  std::int64_t first_ms = 0;
  std::int64_t last_ms = 0;
  WalPosition position_after;   // the WAL position at its end
  SegmentContents contents;
  bool contents_known = true;  // false: a summary written before it had them (the segment is read)
};
inline constexpr unsigned kArchiveMode = 0600;

// Where a chain stands at its end: what a writer needs to go on.
struct ChainTail {
  std::uint64_t last_seq = 0;
  std::int64_t last_ms = 0;         // the newest record's time
  WalPosition position;             // just after the last transaction (or the start)
  std::optional<Record> last;       // the newest record
};

// How an append stores its records (archive/record.h): as a compressed batch
// when that is smaller, or always one by one. The daemon batches; `plain` is
// the form a batch falls back to, and lets the power-loss sweep cover it too.
enum class AppendForm { batched, plain };

class ChainWriter {
 public:
  // A new chain folder `archive_dir/id` whose first record is `start`.
  // `seal_bytes`: the size past which a segment is sealed (smaller in tests).
  static ChainWriter create(const std::filesystem::path& archive_dir, const std::string& id,
                            const std::string& database, const Record& start, Env& env,
                            std::uint64_t seal_bytes = kSealBytes, AppendForm form = AppendForm::batched);
  // Goes on with an existing chain: reads it whole (throws Error naming the
  // damage), cuts a record cut short off its open segment.
  static ChainWriter reopen(const std::filesystem::path& chain_dir, Env& env, ChainTail& tail,
                            std::uint64_t seal_bytes = kSealBytes, AppendForm form = AppendForm::batched);

  // Appends the records and fsyncs them; durable when it returns. When the
  // write fails (a full disk) the open segment is cut back to what it held
  // before and Error is thrown: try again later. When an fsync or a seal fails,
  // the writer is broken (what was written may be lost): every later append
  // throws, and the chain must end.
  // The segments sealed since the last call, to be compressed (compress_segment)
  // by the caller outside whatever lock it holds around appends.
  std::vector<std::filesystem::path> take_sealed() { return std::exchange(sealed_, {}); }
  void append(const std::vector<Record>& records);
  const std::string& broken() const { return broken_; }

  const std::filesystem::path& dir() const { return dir_; }
  std::string id() const { return dir_.filename().string(); }
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  ChainWriter(std::filesystem::path dir, Env& env, std::uint64_t seal_bytes, AppendForm form)
      : dir_(std::move(dir)), env_(&env), seal_bytes_(seal_bytes), form_(form) {}
  void open_segment(std::uint32_t number, const std::string& prev_hash);
  void seal();

  std::filesystem::path dir_;
  Env* env_;
  std::uint64_t seal_bytes_;
  AppendForm form_;
  std::filesystem::path open_;
  std::uint32_t number_ = 0;
  std::uint64_t open_bytes_ = 0;
  std::uint64_t open_plain_bytes_ = 0;  // what sealing counts (see the top)
  std::uint64_t bytes_written_ = 0;
  SegmentSummary summary_;  // of the open segment
  std::vector<std::filesystem::path> sealed_;  // not yet taken for compression
  std::string broken_;      // why no append can be trusted any more; empty: none
};

struct ChainSummary {
  std::string id;
  std::filesystem::path dir;
  std::string database;
  std::int64_t started_ms = 0;
  std::int64_t last_ms = 0;       // the newest record's time
  std::int64_t covered_ms = 0;    // the newest record's time but an end's: archived up to here
  std::uint64_t transactions = 0;
  std::int64_t first_txn_ms = 0;  // 0: none
  std::int64_t last_txn_ms = 0;
  std::uint64_t frame_bytes = 0;  // of WAL frames archived
  std::uint64_t bytes_on_disk = 0;
  int segments = 0;
  std::vector<Pause> pauses;      // sqlkeeper not running, WAL unchanged
  bool ended = false;
  std::string end_cause;
  bool stopped = false;           // the newest record is a clean stop
  std::string problem;            // non-empty: damaged (file and why); the summary holds what came before
};

// Calls `on_record` with every record of the chain in order (its segment's
// path beside it), checking as it goes; `on_record` returns false to stop.
// With `after_seq`, sealed segments that end at or before that transaction are
// skipped (their summaries say so), so a restore reads what it needs. Throws
// Error(io) naming the segment and what is wrong.
using OnRecord = std::function<bool(const Record&, const std::filesystem::path& segment)>;
void read_chain(const std::filesystem::path& chain_dir, const OnRecord& on_record, std::uint64_t after_seq = 0);

// Compresses a sealed segment (NNNNNNNN.seg -> NNNNNNNN.seg.zst) once the chain
// has gone on past it; readers take either form. A failure only logs: the
// segment stays as it was, whole and readable.
void compress_segment(const std::filesystem::path& sealed, Env& env);

// The folders of `database`'s chains, oldest first: the one the archive's lock
// file names (folder_lock.h) is the newest, whatever the clock did, and
// the others are in the order they began by their chain files (an id only has
// the second, and its random part orders two chains of one second either way),
// by id when they began in the same millisecond. The newest is the one an
// archive may be writing.
std::vector<std::filesystem::path> chain_dirs(const std::filesystem::path& archive_dir, const std::string& database);

// The chains in `archive_dir`, oldest first as in chain_dirs (a missing folder:
// none), each summarised.
std::vector<ChainSummary> list_chains(const std::filesystem::path& archive_dir);

// Retention inside a chain: deletes the sealed segments that hold only
// transactions up to `keep_after_seq` (the oldest kept backup of the chain has
// them), after recording where the chain now begins (kPrunedFile).
struct ChainPrune {
  std::vector<std::filesystem::path> segments;  // deleted (or, on a dry run, to delete)
  std::uint64_t bytes = 0;
};
ChainPrune prune_chain_before(const std::filesystem::path& chain_dir, std::uint64_t keep_after_seq, Env& env,
                              bool dry_run);

// A new chain's id: its start time in UTC, sortable, plus a random part.
std::string new_chain_id(std::int64_t now_ms);

}  // namespace sqlkeeper::archive
