#include "sqlkeeper/archive/wal_reader.h"

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

// Reads `size` bytes at `offset` into `out`; false when the file is shorter.
using ReadAt = std::function<bool(std::uint64_t offset, std::size_t size, std::uint8_t* out)>;

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
  std::vector<std::uint8_t> buf(frame_bytes);
  WalChecksum checksum = pos.checksum;
  WalTransaction pending;
  for (std::uint32_t frame = pos.next_frame;; ++frame) {
    const std::uint64_t offset = kWalHeaderBytes + std::uint64_t{frame - 1} * frame_bytes;
    if (!read_at(offset, frame_bytes, buf.data())) break;
    const std::uint8_t* h = buf.data();
    const std::uint32_t pgno = be32(h);
    const std::uint32_t db_pages = be32(h + 4);
    // Another generation's frame, one never written, or one written again since.
    if (be32(h + 8) != header->salt1 || be32(h + 12) != header->salt2 || pgno == 0) break;
    checksum = wal_checksum({h, 8}, checksum, header->big_endian);
    checksum = wal_checksum({h + kWalFrameHeaderBytes, header->page_size}, checksum, header->big_endian);
    if (checksum != WalChecksum{be32(h + 16), be32(h + 20)}) break;
    if (pending.frames.empty()) pending.first_frame = frame;
    pending.frames.push_back({pgno, std::vector<std::uint8_t>(h + kWalFrameHeaderBytes, h + frame_bytes)});
    if (db_pages == 0) continue;
    pending.commit_frame = frame;
    pending.db_pages = db_pages;
    r.bytes_read += std::uint64_t{pending.frames.size()} * frame_bytes;
    r.transactions.push_back(std::move(pending));
    pending = {};
    pos = WalPosition{header, frame + 1, checksum};
    if (r.bytes_read >= max_bytes) break;
  }
  r.next = pos;
  return r;
}

}  // namespace

WalChecksum wal_checksum(std::span<const std::uint8_t> data, WalChecksum seed, bool big_endian) {
  std::uint32_t s0 = seed.s0;
  std::uint32_t s1 = seed.s1;
  const auto word = big_endian ? be32 : le32;
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    s0 += word(&data[i]) + s1;
    s1 += word(&data[i + 4]) + s0;
  }
  return {s0, s1};
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
