#include "sqlkeeper/archive/wal_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "sqlkeeper/error.h"

namespace sqlkeeper::archive {
namespace {

constexpr std::uint32_t kMagicLittleEndian = 0x377f0682;
constexpr std::uint32_t kMagicBigEndian = 0x377f0683;
constexpr std::uint32_t kWalVersion = 3007000;

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::uint32_t le32(const std::uint8_t* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}

// A template, so the word reads are inlined: the archive runs this over every WAL byte.
template <std::uint32_t (*word)(const std::uint8_t*)>
WalChecksum checksum_words(std::span<const std::uint8_t> data, WalChecksum seed) {
  std::uint32_t s0 = seed.s0;
  std::uint32_t s1 = seed.s1;
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    s0 += word(&data[i]) + s1;
    s1 += word(&data[i + 4]) + s0;
  }
  return {s0, s1};
}

// Reads `size` bytes at `offset` into `out`; false when the file is shorter.
using ReadAt = std::function<bool(std::uint64_t offset, std::size_t size, std::uint8_t* out)>;

void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

enum class FrameCheck { ok, foreign, bad_checksum };

// One frame (its 24-byte header, then the page) of `header`'s generation,
// continuing the running checksum `checksum` (advanced on ok).
FrameCheck check_frame(const WalHeader& header, const std::uint8_t* h, WalChecksum& checksum) {
  // Another generation's frame, one never written, or one written again since.
  if (be32(h + 8) != header.salt1 || be32(h + 12) != header.salt2 || be32(h) == 0) return FrameCheck::foreign;
  auto next = wal_checksum({h, 8}, checksum, header.big_endian);
  next = wal_checksum({h + kWalFrameHeaderBytes, header.page_size}, next, header.big_endian);
  if (next != WalChecksum{be32(h + 16), be32(h + 20)}) return FrameCheck::bad_checksum;
  checksum = next;
  return FrameCheck::ok;
}

WalRead scan(const ReadAt& read_at, const WalPosition& from, std::uint64_t max_bytes) {
  WalRead r;
  r.next = from;
  std::uint8_t raw[kWalHeaderBytes];
  if (!read_at(0, kWalHeaderBytes, raw)) return r;
  const auto header = parse_wal_header(raw);
  if (!header) return r;
  WalPosition pos = from;
  if (from.header != header) {
    r.new_generation = true;
    pos = WalPosition{header, 1, header->checksum};
  }
  const std::size_t frame_bytes = kWalFrameHeaderBytes + header->page_size;
  WalChecksum checksum = pos.checksum;
  WalTransaction pending;
  for (std::uint32_t frame = pos.next_frame;; ++frame) {
    const std::uint64_t offset = kWalHeaderBytes + std::uint64_t{frame - 1} * frame_bytes;
    // Read where it is kept: a frame that is not valid is cut off again.
    const auto at = pending.frames.size();
    pending.frames.resize(at + frame_bytes);
    const std::uint8_t* h = pending.frames.data() + at;
    if (!read_at(offset, frame_bytes, pending.frames.data() + at)) break;
    const auto before = checksum;
    if (check_frame(*header, h, checksum) != FrameCheck::ok) break;
    if (at == 0) {
      pending.first_frame = frame;
      pending.seed = before;
    }
    const std::uint32_t db_pages = be32(h + 4);
    if (db_pages == 0) continue;
    pending.commit_frame = frame;
    pending.db_pages = db_pages;
    pending.end = checksum;
    pending.page_size = header->page_size;
    r.bytes_read += pending.frames.size();
    r.transactions.push_back(std::move(pending));
    pending = {};
    pos = WalPosition{header, frame + 1, checksum};
    if (r.bytes_read >= max_bytes) {
      r.stopped_at_limit = true;
      break;
    }
  }
  r.next = pos;
  return r;
}

}  // namespace

WalChecksum wal_checksum(std::span<const std::uint8_t> data, WalChecksum seed, bool big_endian) {
  return big_endian ? checksum_words<be32>(data, seed) : checksum_words<le32>(data, seed);
}

std::optional<WalHeader> parse_wal_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kWalHeaderBytes) return std::nullopt;
  const std::uint32_t magic = be32(&bytes[0]);
  if (magic != kMagicLittleEndian && magic != kMagicBigEndian) return std::nullopt;
  if (be32(&bytes[4]) != kWalVersion) return std::nullopt;
  WalHeader h;
  h.big_endian = magic == kMagicBigEndian;
  h.page_size = be32(&bytes[8]);
  if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0) return std::nullopt;
  h.checkpoint_seq = be32(&bytes[12]);
  h.salt1 = be32(&bytes[16]);
  h.salt2 = be32(&bytes[20]);
  h.checksum = {be32(&bytes[24]), be32(&bytes[28])};
  if (wal_checksum(bytes.first(24), {}, h.big_endian) != h.checksum) return std::nullopt;
  return h;
}

WalRead read_wal(const Fd& wal, const WalPosition& from, std::uint64_t max_bytes) {
  return scan(
      [&wal](std::uint64_t offset, std::size_t size, std::uint8_t* out) {
        std::size_t done = 0;
        while (done < size) {
          const auto n = ::pread(wal.get(), out + done, size - done, static_cast<off_t>(offset + done));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) throw system_error("read the WAL", errno);
          if (n == 0) return false;
          done += static_cast<std::size_t>(n);
        }
        return true;
      },
      from, max_bytes);
}

WalRead read_wal_bytes(std::span<const std::uint8_t> file, const WalPosition& from, std::uint64_t max_bytes) {
  return scan(
      [file](std::uint64_t offset, std::size_t size, std::uint8_t* out) {
        if (offset > file.size() || file.size() - offset < size) return false;
        std::memcpy(out, file.data() + offset, size);
        return true;
      },
      from, max_bytes);
}

}  // namespace sqlkeeper::archive

namespace sqlkeeper::archive {

std::vector<std::uint8_t> encode_wal_header(const WalHeader& header) {
  std::vector<std::uint8_t> out(kWalHeaderBytes);
  put_be32(&out[0], header.big_endian ? kMagicBigEndian : kMagicLittleEndian);
  put_be32(&out[4], kWalVersion);
  put_be32(&out[8], header.page_size);
  put_be32(&out[12], header.checkpoint_seq);
  put_be32(&out[16], header.salt1);
  put_be32(&out[20], header.salt2);
  put_be32(&out[24], header.checksum.s0);
  put_be32(&out[28], header.checksum.s1);
  return out;
}

std::uint32_t WalTransaction::pgno(std::size_t i) const {
  return be32(&frames[i * (kWalFrameHeaderBytes + page_size)]);
}

std::span<const std::uint8_t> WalTransaction::page(std::size_t i) const {
  return std::span(frames).subspan(i * (kWalFrameHeaderBytes + page_size) + kWalFrameHeaderBytes, page_size);
}

std::optional<WalTransaction> parse_frames(const WalHeader& header, std::uint32_t first_frame, WalChecksum seed,
                                           std::span<const std::uint8_t> bytes, std::string& problem) {
  const std::size_t frame_bytes = kWalFrameHeaderBytes + header.page_size;
  if (bytes.empty() || bytes.size() % frame_bytes != 0) {
    problem = std::to_string(bytes.size()) + " bytes of frames, not a whole number of " +
              std::to_string(frame_bytes) + "-byte frames";
    return std::nullopt;
  }
  WalTransaction txn;
  txn.first_frame = first_frame;
  txn.seed = seed;
  txn.page_size = header.page_size;
  WalChecksum checksum = seed;
  const std::size_t n = bytes.size() / frame_bytes;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* h = &bytes[i * frame_bytes];
    const auto frame = first_frame + static_cast<std::uint32_t>(i);
    switch (check_frame(header, h, checksum)) {
      case FrameCheck::foreign:
        problem = "frame " + std::to_string(frame) + " is not of its WAL generation (salts or page number)";
        return std::nullopt;
      case FrameCheck::bad_checksum:
        problem = "frame " + std::to_string(frame) + " does not match the WAL checksum chain";
        return std::nullopt;
      case FrameCheck::ok:
        break;
    }
    const bool commit = be32(h + 4) != 0;
    if (commit != (i + 1 == n)) {
      problem = commit ? "frame " + std::to_string(frame) + " commits before the transaction's last frame"
                       : "the transaction's last frame " + std::to_string(frame) + " does not commit";
      return std::nullopt;
    }
    if (commit) {
      txn.commit_frame = frame;
      txn.db_pages = be32(h + 4);
    }
  }
  txn.end = checksum;
  txn.frames.assign(bytes.begin(), bytes.end());
  return txn;
}

}  // namespace sqlkeeper::archive
