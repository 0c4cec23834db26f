#pragma once
// Reading committed transactions out of a live `-wal` file, as SQLite wrote
// them (the format is in SQLite's wal.c and fileformat2.html): a 32-byte header
// with two salts, then frames of a 24-byte header and one page each. A frame
// belongs to the WAL's current generation only when its salts are the header's,
// and is valid only when its checksum, which runs over every frame before it
// since the header, matches; a frame with a non-zero "database size" ends a
// transaction. So only a run of valid frames up to a commit frame is a
// committed transaction, and a torn, overwritten or rolled-back frame breaks
// the chain and ends the read there.
//
// The file is read with a descriptor of its own and pread: SQLite keeps no
// POSIX locks on the -wal file, so this disturbs no one. That what is read is
// still there is the caller's business (the archive's pinned read transaction:
// archive/README or docs/ARCHITECTURE.md); a frame overwritten while it was read
// fails its checksum and is read again next time.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sqlkeeper/fd.h"

namespace sqlkeeper::archive {

inline constexpr std::size_t kWalHeaderBytes = 32;
inline constexpr std::size_t kWalFrameHeaderBytes = 24;

struct WalChecksum {
  std::uint32_t s0 = 0;
  std::uint32_t s1 = 0;
  bool operator==(const WalChecksum&) const = default;
};

// SQLite's WAL checksum (wal.c walChecksumBytes) over `data`, whose size is a
// multiple of 8, continuing from `seed`; its 32-bit words are big-endian when
// `big_endian`, little-endian otherwise.
WalChecksum wal_checksum(std::span<const std::uint8_t> data, WalChecksum seed, bool big_endian);

struct WalHeader {
  bool big_endian = false;  // the byte order of the checksums' words (magic 0x377f0683)
  std::uint32_t page_size = 0;
  std::uint32_t checkpoint_seq = 0;
  std::uint32_t salt1 = 0;
  std::uint32_t salt2 = 0;
  WalChecksum checksum;  // of the header's first 24 bytes: where the frames' checksums start
  bool operator==(const WalHeader&) const = default;
};

// nullopt unless `bytes` (at least 32) begin with a valid WAL header: the magic,
// version 3007000, a page size that is a power of two from 512 to 65536, and a
// matching checksum.
std::optional<WalHeader> parse_wal_header(std::span<const std::uint8_t> bytes);

struct WalTransaction {
  std::uint32_t first_frame = 0;  // 1-based index in its generation of its first frame
  std::uint32_t commit_frame = 0;
  std::uint32_t db_pages = 0;     // the database's size in pages after it
  std::uint32_t page_size = 0;
  // Its frames exactly as they stood in the WAL, in WAL order: each a 24-byte
  // header and a page. Kept as read, so archiving them copies nothing more; a
  // page may appear more than once, the last wins.
  std::vector<std::uint8_t> frames;
  WalChecksum seed;               // the running checksum before its first frame
  WalChecksum end;                // and after its commit frame

  std::size_t frame_count() const { return page_size == 0 ? 0 : frames.size() / (kWalFrameHeaderBytes + page_size); }
  std::uint32_t pgno(std::size_t i) const;
  std::span<const std::uint8_t> page(std::size_t i) const;
};

// Where a reader stands in the WAL: the generation (its header) and the first
// frame after the last committed transaction read, with the running checksum
// there. A default position has read nothing.
struct WalPosition {
  std::optional<WalHeader> header;
  std::uint32_t next_frame = 1;
  WalChecksum checksum;
  bool operator==(const WalPosition&) const = default;
};

struct WalRead {
  // True when the WAL's header is not the one `from` had: SQLite restarted the
  // WAL (a new generation from frame 1) or the file was truncated or replaced.
  // The transactions are then the new generation's, from its first frame.
  bool new_generation = false;
  std::vector<WalTransaction> transactions;
  WalPosition next;  // where the next read starts
  std::uint64_t bytes_read = 0;
  // The read stopped at max_bytes: more may be committed after `next`.
  bool stopped_at_limit = false;
};

// Reads the committed transactions after `from` in the -wal file open at `wal`,
// at most `max_bytes` of frames (whole transactions: at least one, even if
// larger). An empty file or one without a valid header reads as nothing, with
// `next` unchanged. Throws Error(io) when the file cannot be read.
WalRead read_wal(const Fd& wal, const WalPosition& from, std::uint64_t max_bytes);

// Pure: the same over the whole file's bytes.
WalRead read_wal_bytes(std::span<const std::uint8_t> file, const WalPosition& from, std::uint64_t max_bytes);

// The 32 bytes of a header, as SQLite wrote them.
std::vector<std::uint8_t> encode_wal_header(const WalHeader& header);
// The reverse, with every check the reader makes: the frames of one committed
// transaction of `header`'s generation starting at `first_frame` with running
// checksum `seed`. nullopt, with `problem` set, when they are not.
std::optional<WalTransaction> parse_frames(const WalHeader& header, std::uint32_t first_frame, WalChecksum seed,
                                           std::span<const std::uint8_t> bytes, std::string& problem);

}  // namespace sqlkeeper::archive
