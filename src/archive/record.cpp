#include "sqlkeeper/archive/record.h"

#include <cstring>

#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/base/zstd.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::archive {
namespace {

constexpr std::uint32_t kRecordMagic = 0x31524b53;  // "SKR1" read as little-endian
constexpr std::size_t kHashHex = 64;
// A record's body never comes near this: one transaction's frames are held in
// memory whole (archive/archiver.h caps them far below).
constexpr std::uint32_t kMaxBodyBytes = 1U << 30;
// Not a RecordType: a batch is how records are stored, never what is read.
constexpr std::uint8_t kBatchType = 6;
// Of a batch: quick, as it is made under the archive's lock at every flush; the
// sealed segment is compressed again harder (archive/chain.h).
constexpr int kBatchLevel = 1;
// What a batch may hold once decompressed; a larger append (a flush that took
// a transaction of more than this) is stored one record after another. A
// reader allocates what a batch claims before it can tell a lie, so the bound
// is kept small.
constexpr std::uint64_t kMaxBatchBytes = 64ULL << 20;

// Appends to a buffer it does not own: the records of a flush go one after
// another into one buffer, with no copy of each on its own.
class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& to) : out(to) {}
  void u8(std::uint8_t v) { out.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void raw(std::span<const std::uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }
  void bytes(std::span<const std::uint8_t> b) {
    u32(static_cast<std::uint32_t>(b.size()));
    raw(b);
  }
  void text(const std::string& s) {
    bytes({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  }
  std::vector<std::uint8_t>& out;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> b) : in(b) {}
  std::uint8_t u8() { return take(1)[0]; }
  std::uint32_t u32() {
    const auto p = take(4);
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
  }
  std::uint64_t u64() {
    const std::uint64_t lo = u32();
    return lo | (std::uint64_t{u32()} << 32);
  }
  std::vector<std::uint8_t> bytes() {
    const auto n = u32();
    const auto p = take(n);
    return {p.begin(), p.end()};
  }
  std::string text() {
    const auto b = bytes();
    return {b.begin(), b.end()};
  }
  bool done() const { return at == in.size(); }

 private:
  std::span<const std::uint8_t> take(std::size_t n) {
    if (in.size() - at < n) throw Error(ErrorCode::io, "a record's body is shorter than its fields");
    const auto s = in.subspan(at, n);
    at += n;
    return s;
  }
  std::span<const std::uint8_t> in;
  std::size_t at = 0;
};

std::string hash_of(std::span<const std::uint8_t> body) {
  return core::sha256_hex({reinterpret_cast<const char*>(body.data()), body.size()});
}

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}

Record decode_body(std::span<const std::uint8_t> body) {
  Reader r(body);
  Record rec;
  const auto type = r.u8();
  if (type < 1 || type > 5) throw Error(ErrorCode::io, "a record of unknown type " + std::to_string(type));
  rec.type = static_cast<RecordType>(type);
  rec.at_ms = static_cast<std::int64_t>(r.u64());
  rec.seq = r.u64();
  rec.wal_header = r.bytes();
  rec.first_frame = r.u32();
  rec.seed.s0 = r.u32();
  rec.seed.s1 = r.u32();
  rec.frames = r.bytes();
  rec.since_ms = static_cast<std::int64_t>(r.u64());
  rec.cause = r.text();
  if (!r.done()) throw Error(ErrorCode::io, "a record's body is longer than its fields");
  return rec;
}

const WalHeader& header_of(const Record& rec, std::optional<WalHeader>& parsed) {
  parsed = parse_wal_header(rec.wal_header);
  if (!parsed) throw Error(ErrorCode::io, "transaction " + std::to_string(rec.seq) + ": its WAL header is not valid");
  return *parsed;
}

// Appends `magic | length | body | hash` to `out`, the body written by `body`.
template <typename WriteBody>
void append_framed(std::vector<std::uint8_t>& out, WriteBody&& body) {
  Writer w(out);
  w.u32(kRecordMagic);
  const auto length_at = out.size();
  w.u32(0);
  const auto body_at = out.size();
  body(w);
  const auto length = static_cast<std::uint32_t>(out.size() - body_at);
  for (int i = 0; i < 4; ++i) out[length_at + i] = static_cast<std::uint8_t>(length >> (8 * i));
  const auto hash = hash_of(std::span(out).subspan(body_at));
  out.insert(out.end(), hash.begin(), hash.end());
}

void append_record(std::vector<std::uint8_t>& out, const Record& rec) {
  append_framed(out, [&rec](Writer& body) {
    body.u8(static_cast<std::uint8_t>(rec.type));
    body.u64(static_cast<std::uint64_t>(rec.at_ms));
    body.u64(rec.seq);
    body.bytes(rec.wal_header);
    body.u32(rec.first_frame);
    body.u32(rec.seed.s0);
    body.u32(rec.seed.s1);
    body.bytes(rec.frames);
    body.u64(static_cast<std::uint64_t>(rec.since_ms));
    body.text(rec.cause);
  });
}

// The records a batch's body holds; throws Error(io) naming what is wrong.
std::vector<Record> unbatch(std::span<const std::uint8_t> body, std::size_t& batches, std::size_t& plain_bytes);

Decoded decode(std::span<const std::uint8_t> bytes, bool in_batch) {
  Decoded d;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const auto left = bytes.size() - at;
    const auto where = "at byte " + std::to_string(at);
    if (left < 8) {
      d.problem = where + ": " + std::to_string(left) + " bytes, less than a record's head";
      d.torn = true;
      break;
    }
    if (le32(&bytes[at]) != kRecordMagic) {
      d.problem = where + ": not the start of a record";
      break;
    }
    const auto body_bytes = le32(&bytes[at + 4]);
    if (body_bytes > kMaxBodyBytes) {
      d.problem = where + ": a record claims " + std::to_string(body_bytes) + " bytes";
      break;
    }
    if (left < 8 + std::size_t{body_bytes} + kHashHex) {
      d.problem = where + ": a record cut short (" + std::to_string(left) + " of " +
                  std::to_string(8 + std::size_t{body_bytes} + kHashHex) + " bytes)";
      d.torn = true;
      break;
    }
    const auto body = bytes.subspan(at + 8, body_bytes);
    const std::string stored(reinterpret_cast<const char*>(&bytes[at + 8 + body_bytes]), kHashHex);
    if (stored != hash_of(body)) {
      d.problem = where + ": a record does not match its SHA-256";
      break;
    }
    try {
      if (!body.empty() && body[0] == kBatchType) {
        if (in_batch) throw Error(ErrorCode::io, "a batch inside a batch");
        auto records = unbatch(body, d.batches, d.plain_bytes);
        d.records.insert(d.records.end(), std::make_move_iterator(records.begin()),
                         std::make_move_iterator(records.end()));
      } else {
        d.records.push_back(decode_body(body));
        d.plain_bytes += 8 + body_bytes + kHashHex;
      }
    } catch (const Error& e) {
      d.problem = where + ": " + e.what();
      break;
    }
    at += 8 + body_bytes + kHashHex;
    d.good_bytes = at;
  }
  return d;
}

std::vector<Record> unbatch(std::span<const std::uint8_t> body, std::size_t& batches, std::size_t& plain_bytes) {
  if (body.size() < 9) throw Error(ErrorCode::io, "a batch shorter than its head");
  std::uint64_t claimed = 0;
  for (int i = 0; i < 8; ++i) claimed |= std::uint64_t{body[1 + i]} << (8 * i);
  const auto plain = core::zstd_decompress(body.subspan(9), kMaxBatchBytes, "a batch");
  if (plain.size() != claimed)
    throw Error(ErrorCode::io, "a batch whose zstd frame does not hold the " + std::to_string(claimed) +
                                   " bytes it claims");
  // Its records were whole when it was written: a problem inside is damage, never a torn write.
  auto inner = decode(plain, true);
  if (!inner.problem.empty()) throw Error(ErrorCode::io, "in a batch, " + inner.problem);
  ++batches;
  plain_bytes += plain.size();
  return std::move(inner.records);
}

}  // namespace

std::vector<std::uint8_t> encode_record(const Record& rec) {
  std::vector<std::uint8_t> out;
  append_record(out, rec);
  return out;
}

Encoded encode_records(const std::vector<Record>& records, bool batch) {
  // magic, length, type, times, lengths, first frame, seed, hash: under 128 bytes
  // a record besides its header, frames and cause.
  std::size_t estimate = 0;
  for (const auto& r : records) estimate += 128 + r.wal_header.size() + r.frames.size() + r.cause.size();
  std::vector<std::uint8_t> plain;
  plain.reserve(estimate);
  for (const auto& r : records) append_record(plain, r);
  const auto plain_bytes = plain.size();
  if (!batch || plain.empty() || plain.size() > kMaxBatchBytes) return {std::move(plain), plain_bytes};
  const auto frame = core::zstd_compress(plain, kBatchLevel);
  std::vector<std::uint8_t> out;
  out.reserve(frame.size() + 128);
  append_framed(out, [&](Writer& body) {
    body.u8(kBatchType);
    body.u64(plain.size());
    body.raw(frame);
  });
  if (out.size() < plain.size()) return {std::move(out), plain_bytes};
  return {std::move(plain), plain_bytes};
}

Decoded decode_records(std::span<const std::uint8_t> bytes) { return decode(bytes, false); }

WalTransaction check_txn(const Record& rec) {
  std::optional<WalHeader> parsed;
  const auto& header = header_of(rec, parsed);
  std::string problem;
  auto txn = parse_frames(header, rec.first_frame, rec.seed, rec.frames, problem);
  if (!txn) throw Error(ErrorCode::io, "transaction " + std::to_string(rec.seq) + ": " + problem);
  return std::move(*txn);
}

WalPosition position_after(const Record& rec) {
  std::optional<WalHeader> parsed;
  const auto& header = header_of(rec, parsed);
  const auto txn = check_txn(rec);
  return WalPosition{header, txn.commit_frame + 1, txn.end};
}

WalPosition position_of_start(const Record& start) {
  WalPosition p;
  p.header = parse_wal_header(start.wal_header);
  p.next_frame = start.first_frame == 0 ? 1 : start.first_frame;
  p.checksum = start.seed;
  return p;
}

Record start_record(const WalPosition& at, std::int64_t at_ms) {
  Record r;
  r.type = RecordType::start;
  r.at_ms = at_ms;
  if (at.header) r.wal_header = encode_wal_header(*at.header);
  r.first_frame = at.next_frame;
  r.seed = at.checksum;
  return r;
}

}  // namespace sqlkeeper::archive
