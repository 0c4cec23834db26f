#include "sqlkeeper/archive/chain.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <regex>
#include <sstream>
#include <tuple>
#include <utility>

#include <spdlog/spdlog.h>

#include "sqlkeeper/archive/folder_lock.h"
#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/base/zstd.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::archive {
namespace {

namespace fs = std::filesystem;

constexpr char kSegmentMagic[] = "SQLKWAL1";
constexpr std::size_t kMagicBytes = 8;
constexpr std::size_t kNumberDigits = 8;
constexpr std::size_t kHashHex = 64;
constexpr std::size_t kSegmentHeaderBytes = kMagicBytes + kNumberDigits + kHashHex;
const std::string kNoHash(kHashHex, '0');
constexpr const char* kChainFile = "chain";

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Frames in a txn record (its header says the page size).
std::size_t frame_count(const Record& r) {
  const auto h = parse_wal_header(r.wal_header);
  return h ? r.frames.size() / (kWalFrameHeaderBytes + h->page_size) : 1;
}

std::string segment_header(std::uint32_t number, const std::string& prev_hash) {
  char digits[kNumberDigits + 1];
  std::snprintf(digits, sizeof digits, "%08u", number);
  return std::string(kSegmentMagic, kMagicBytes) + digits + prev_hash;
}

std::string segment_name(std::uint32_t number, bool open) {
  char name[32];
  std::snprintf(name, sizeof name, "%08u.%s", number, open ? "open" : "seg");
  return name;
}

// A sealed segment compressed: one zstd frame holding exactly the .seg bytes.
constexpr const char* kCompressedSuffix = ".zst";
// No sealed segment is near this (they are sealed past seal_bytes, 16 MiB by
// default, plus one transaction, itself bounded by the archiver's 256 MiB).
constexpr unsigned long long kMaxSegmentBytes = 1ULL << 30;
constexpr int kCompressionLevel = 3;

bool is_compressed(const fs::path& path) {
  return path.extension() == kCompressedSuffix;
}

std::vector<std::uint8_t> read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(ErrorCode::io, "cannot read archive segment " + path.string());
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    throw Error(ErrorCode::io, "cannot read archive segment " + path.string());
  if (!is_compressed(path)) return bytes;
  return core::zstd_decompress(bytes, kMaxSegmentBytes, "archive segment " + path.string());
}

// The sealed segment `number`, compressed or not; nullopt when neither is there.
// Both are there only after a crash between compressing and removing the
// original: both are whole, and the original is read.
std::optional<fs::path> sealed_path(const fs::path& chain_dir, std::uint32_t number) {
  const auto plain = chain_dir / segment_name(number, false);
  if (fs::exists(plain)) return plain;
  auto compressed = plain;
  compressed += kCompressedSuffix;
  if (fs::exists(compressed)) return compressed;
  return std::nullopt;
}

bool segment_exists(const fs::path& chain_dir, std::uint32_t number) {
  return sealed_path(chain_dir, number) || fs::exists(chain_dir / segment_name(number, true));
}

struct SegmentFile {
  std::uint32_t number = 0;
  bool open = false;
  fs::path path;
};

std::vector<SegmentFile> segment_files(const fs::path& chain_dir, std::uint32_t first) {
  static const std::regex pattern(R"((\d{8})\.(seg|open|seg\.zst))");
  std::vector<SegmentFile> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(chain_dir, ec)) {
    std::smatch m;
    const auto name = e.path().filename().string();
    if (!std::regex_match(name, m, pattern)) continue;
    files.push_back({static_cast<std::uint32_t>(std::stoul(m[1].str())), m[2].str() == "open", e.path()});
  }
  // A segment both compressed and not (a crash in between): the original is read.
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return a.number != b.number ? a.number < b.number : is_compressed(b.path);
  });
  files.erase(std::unique(files.begin(), files.end(),
                          [](const auto& a, const auto& b) { return a.number == b.number && !a.open && !b.open; }),
              files.end());
  if (ec) throw Error(ErrorCode::io, "cannot list archive chain " + chain_dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.number < b.number; });
  // Segments before `first` were pruned (their leftovers, if a prune was cut short, are not read).
  std::erase_if(files, [first](const SegmentFile& f) { return f.number < first; });
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i].number != first + i)
      throw Error(ErrorCode::io, "archive chain " + chain_dir.string() + ": segment " + std::to_string(first + i) +
                                     " is missing (found " + files[i].path.filename().string() + ")");
    if (files[i].open && i + 1 != files.size())
      throw Error(ErrorCode::io, "archive chain " + chain_dir.string() + ": " + files[i].path.filename().string() +
                                     " is open but not the newest segment");
  }
  return files;
}

// What reading left at the chain's end, for a writer that goes on.
struct ReadEnd {
  SegmentFile last;
  std::size_t last_good_bytes = 0;  // header + whole records of the last segment
  std::size_t last_plain_bytes = 0;  // the same, its records counted as stored one by one
  std::string last_hash;            // of the last sealed segment
  SegmentSummary last_summary;      // of the last segment's records
  ChainTail tail;
};

std::string position_text(const WalPosition& p) {
  std::string header = "none";
  if (p.header) {
    header.clear();
    char hex[3];
    for (const auto b : encode_wal_header(*p.header)) {
      std::snprintf(hex, sizeof hex, "%02x", b);
      header += hex;
    }
  }
  return header + " " + std::to_string(p.next_frame) + " " + std::to_string(p.checksum.s0) + " " +
         std::to_string(p.checksum.s1);
}

std::optional<WalPosition> parse_position(const std::string& text) {
  std::istringstream in(text);
  std::string header;
  WalPosition p;
  if (!(in >> header >> p.next_frame >> p.checksum.s0 >> p.checksum.s1)) return std::nullopt;
  if (header != "none") {
    if (header.size() != 2 * kWalHeaderBytes) return std::nullopt;
    std::vector<std::uint8_t> raw;
    for (std::size_t i = 0; i < header.size(); i += 2)
      raw.push_back(static_cast<std::uint8_t>(std::stoul(header.substr(i, 2), nullptr, 16)));
    p.header = parse_wal_header(raw);
    if (!p.header) return std::nullopt;
  }
  return p;
}

std::map<std::string, std::string> read_fields(const fs::path& path) {
  std::ifstream in(path);
  std::map<std::string, std::string> fields;
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(": ");
    if (colon != std::string::npos) fields[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return fields;
}

void add_record(SegmentContents& c, const Record& r) {
  if (r.type == RecordType::txn) {
    ++c.transactions;
    c.frame_bytes += r.frames.size();
    if (c.first_txn_ms == 0) c.first_txn_ms = r.at_ms;
    c.last_txn_ms = r.at_ms;
  } else if (r.type == RecordType::resume) {
    c.pauses.push_back({r.since_ms, r.at_ms, r.cause});
  }
}

void add_contents(ChainSummary& s, const SegmentContents& c) {
  s.transactions += c.transactions;
  s.frame_bytes += c.frame_bytes;
  if (s.first_txn_ms == 0) s.first_txn_ms = c.first_txn_ms;
  if (c.last_txn_ms) s.last_txn_ms = c.last_txn_ms;
  s.pauses.insert(s.pauses.end(), c.pauses.begin(), c.pauses.end());
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

std::string summary_text(const SegmentSummary& s) {
  const auto& c = s.contents;
  std::string text = "first_seq: " + std::to_string(s.first_seq) + "\nlast_seq: " + std::to_string(s.last_seq) +
                     "\nfirst_ms: " + std::to_string(s.first_ms) + "\nlast_ms: " + std::to_string(s.last_ms) +
                     "\nposition: " + position_text(s.position_after) +
                     "\ntransactions: " + std::to_string(c.transactions) +
                     "\nframe_bytes: " + std::to_string(c.frame_bytes) +
                     "\nfirst_txn_ms: " + std::to_string(c.first_txn_ms) +
                     "\nlast_txn_ms: " + std::to_string(c.last_txn_ms) + "\npauses: " + std::to_string(c.pauses.size()) +
                     "\n";
  for (std::size_t i = 0; i < c.pauses.size(); ++i)
    text += "pause." + std::to_string(i) + ": " + std::to_string(c.pauses[i].since_ms) + " " +
            std::to_string(c.pauses[i].until_ms) + " " + one_line(c.pauses[i].cause) + "\n";
  return text;
}

std::optional<SegmentSummary> parse_summary(const std::map<std::string, std::string>& f) {
  try {
    SegmentSummary s;
    s.first_seq = std::stoull(f.at("first_seq"));
    s.last_seq = std::stoull(f.at("last_seq"));
    s.first_ms = std::stoll(f.at("first_ms"));
    s.last_ms = std::stoll(f.at("last_ms"));
    const auto p = parse_position(f.at("position"));
    if (!p) return std::nullopt;
    s.position_after = *p;
    s.contents_known = f.count("transactions") > 0;
    if (!s.contents_known) return s;
    auto& c = s.contents;
    c.transactions = std::stoull(f.at("transactions"));
    c.frame_bytes = std::stoull(f.at("frame_bytes"));
    c.first_txn_ms = std::stoll(f.at("first_txn_ms"));
    c.last_txn_ms = std::stoll(f.at("last_txn_ms"));
    const auto pauses = std::stoul(f.at("pauses"));
    for (std::size_t i = 0; i < pauses; ++i) {
      std::istringstream in(f.at("pause." + std::to_string(i)));
      Pause pause;
      if (!(in >> pause.since_ms >> pause.until_ms)) return std::nullopt;
      std::getline(in >> std::ws, pause.cause);
      c.pauses.push_back(pause);
    }
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string index_name(std::uint32_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%08u.idx", number);
  return name;
}

// Of the segment's bytes as written, whether it is compressed now or not.
std::string segment_hash(const fs::path& path) {
  if (!is_compressed(path)) return core::sha256_file(path);
  const auto bytes = read_whole(path);
  return core::sha256_hex({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

// Where reading begins: the first segment (after a prune, or the one holding
// the transactions a restore needs) with what came before it.
struct StartAt {
  std::uint32_t segment = 1;
  std::string prev_hash = kNoHash;
  std::optional<WalPosition> position;  // nullopt: the chain's start record comes first
  std::uint64_t last_seq = 0;
  std::int64_t last_ms = 0;
};

StartAt chain_start(const fs::path& chain_dir) {
  StartAt at;
  const auto pruned = chain_dir / kPrunedFile;
  if (!fs::exists(pruned)) return at;
  const auto f = read_fields(pruned);
  const auto summary = parse_summary(f);
  if (!summary || !f.count("first_segment") || !f.count("prev_hash"))
    throw Error(ErrorCode::io, "archive chain " + chain_dir.string() + ": " + pruned.filename().string() + " does not parse");
  at.segment = static_cast<std::uint32_t>(std::stoul(f.at("first_segment")));
  at.prev_hash = f.at("prev_hash");
  at.position = summary->position_after;
  at.last_seq = summary->last_seq;
  at.last_ms = summary->last_ms;
  return at;
}

// The latest start after which every transaction after `after_seq` is: a
// sealed segment whose summary ends at or before it is not read. Only the last
// one skipped is hashed, for its link to the first one read: what comes before
// is not needed, so a restore reads no more with a longer history. With
// `listing`, every sealed segment that has a successor and a summary with its
// contents is skipped, and those contents are added to the listing.
StartAt start_for(const fs::path& chain_dir, std::uint64_t after_seq, ChainSummary* listing = nullptr) {
  auto at = chain_start(chain_dir);
  if (after_seq == 0) return at;
  std::optional<fs::path> last_skipped;
  for (std::uint32_t n = at.segment;; ++n) {
    const auto sealed = sealed_path(chain_dir, n);
    const auto index = chain_dir / index_name(n);
    if (!sealed || !fs::exists(index) || !segment_exists(chain_dir, n + 1)) break;
    const auto summary = parse_summary(read_fields(index));
    if (!summary || summary->last_seq > after_seq || (listing && !summary->contents_known)) break;
    if (listing) add_contents(*listing, summary->contents);
    at.segment = n + 1;
    at.position = summary->position_after;
    at.last_seq = summary->last_seq;
    at.last_ms = summary->last_ms;
    last_skipped = *sealed;
  }
  if (last_skipped) at.prev_hash = segment_hash(*last_skipped);
  return at;
}

ReadEnd read_segments(const fs::path& chain_dir, const OnRecord& on_record, const StartAt& at) {
  ReadEnd end;
  end.last_hash = at.prev_hash;
  std::optional<WalPosition> pos = at.position;
  bool started = at.position.has_value();
  bool ended = false;
  end.tail.last_seq = at.last_seq;
  end.tail.last_ms = at.last_ms;
  if (pos) end.tail.position = *pos;
  const auto files = segment_files(chain_dir, at.segment);
  for (const auto& file : files) {
    const auto bytes = read_whole(file.path);
    const auto name = file.path.string();
    const auto expected = segment_header(file.number, end.last_hash);
    if (file.open && bytes.size() < kSegmentHeaderBytes &&
        std::equal(bytes.begin(), bytes.end(), expected.begin())) {
      // Made, but its header never written whole (a crash or a fault right
      // after a seal): no record was ever in it. A writer writes it again.
      end.last = file;
      end.last_good_bytes = 0;
      end.last_summary = {};
      end.last_summary.last_seq = end.tail.last_seq;
      end.last_summary.last_ms = end.tail.last_ms;
      end.last_summary.position_after = pos.value_or(WalPosition{});
      continue;
    }
    if (bytes.size() < kSegmentHeaderBytes ||
        std::string(bytes.begin(), bytes.begin() + kSegmentHeaderBytes) != segment_header(file.number, end.last_hash))
      throw Error(ErrorCode::io, "archive segment " + name +
                                     ": its header does not name it, or the segment before it is not the one it "
                                     "was written after (the chain is broken)");
    const auto decoded = decode_records({bytes.data() + kSegmentHeaderBytes, bytes.size() - kSegmentHeaderBytes});
    // The records before a damage are whole and checked: they are given first,
    // so a restore to a moment before it succeeds, and one past it fails here.
    const bool damaged = !decoded.problem.empty() && !(decoded.torn && file.open);
    SegmentSummary summary;
    for (const auto& rec : decoded.records) {
      const auto what = [&] { return "archive segment " + name + ", record after transaction " + std::to_string(end.tail.last_seq) + ": "; };
      if (ended) throw Error(ErrorCode::io, what() + "a record after the chain's end");
      if (!started && rec.type != RecordType::start) throw Error(ErrorCode::io, what() + "the chain does not begin with its start");
      if (started && rec.type == RecordType::start) throw Error(ErrorCode::io, what() + "a second start");
      if (rec.at_ms < end.tail.last_ms) throw Error(ErrorCode::io, what() + "a record older than the one before it");
      switch (rec.type) {
        case RecordType::start:
          started = true;
          pos = position_of_start(rec);
          break;
        case RecordType::txn: {
          if (rec.seq != end.tail.last_seq + 1)
            throw Error(ErrorCode::io, what() + "transaction " + std::to_string(rec.seq) + " out of order");
          try {
            const auto txn = check_txn(rec);
            const auto header = parse_wal_header(rec.wal_header);
            const bool same_generation = pos && pos->header == header;
            const bool continues = same_generation ? rec.first_frame == pos->next_frame && rec.seed == pos->checksum
                                                   : rec.first_frame == 1 && rec.seed == header->checksum;
            if (!continues) throw Error(ErrorCode::io, "it does not continue the WAL where the transaction before it ended");
            pos = WalPosition{header, txn.commit_frame + 1, txn.end};
          } catch (const Error& e) {
            throw Error(ErrorCode::io, "archive segment " + name + ", transaction " + std::to_string(rec.seq) + ": " + e.what());
          }
          if (summary.first_seq == 0) {
            summary.first_seq = rec.seq;
            summary.first_ms = rec.at_ms;
          }
          summary.last_seq = rec.seq;
          end.tail.last_seq = rec.seq;
          break;
        }
        case RecordType::end:
          ended = true;
          break;
        case RecordType::resume:
        case RecordType::stop:
          break;
      }
      add_record(summary.contents, rec);
      end.tail.last_ms = rec.at_ms;
      end.tail.last = rec;
      if (on_record && !on_record(rec, file.path)) return end;
    }
    if (damaged) throw Error(ErrorCode::io, "archive segment " + name + " is damaged " + decoded.problem);
    summary.last_seq = end.tail.last_seq;
    summary.last_ms = end.tail.last_ms;
    summary.position_after = pos.value_or(WalPosition{});
    end.last = file;
    end.last_summary = summary;
    end.last_good_bytes = kSegmentHeaderBytes + decoded.good_bytes;
    end.last_plain_bytes = kSegmentHeaderBytes + decoded.plain_bytes;
    if (!file.open) end.last_hash = core::sha256_hex({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  }
  if (!started) throw Error(ErrorCode::io, "archive chain " + chain_dir.string() + " holds no start record");
  end.tail.position = pos.value_or(WalPosition{});
  return end;
}

std::map<std::string, std::string> read_chain_file(const fs::path& chain_dir) {
  return read_fields(chain_dir / kChainFile);
}

// 0 when the chain file has no readable start: such a chain sorts oldest.
std::int64_t started_ms(const std::map<std::string, std::string>& chain_file) {
  const auto it = chain_file.find("started_ms");
  std::int64_t ms = 0;
  if (it != chain_file.end()) std::from_chars(it->second.data(), it->second.data() + it->second.size(), ms);
  return ms;
}

// Where a chain sorts (chain_dirs): the one the lock file names (`last`) after
// all the others, which go by their start, then by id.
using ChainOrder = std::tuple<bool, std::int64_t, std::string>;
ChainOrder chain_order(const std::string& last, const std::string& id, std::int64_t started) {
  return {id == last, started, id};
}

}  // namespace

ChainWriter ChainWriter::create(const fs::path& archive_dir, const std::string& id, const std::string& database,
                                const Record& start, Env& env, std::uint64_t seal_bytes, AppendForm form) {
  ChainWriter w(archive_dir / id, env, seal_bytes, form);
  env.create_directories(w.dir_, 0700);
  env.write_file_atomic(w.dir_ / kChainFile,
                        "database: " + database + "\nstarted_ms: " + std::to_string(start.at_ms) + "\n", kArchiveMode);
  env.fsync_dir(archive_dir);
  w.open_segment(1, kNoHash);
  w.append({start});
  return w;
}

ChainWriter ChainWriter::reopen(const fs::path& chain_dir, Env& env, ChainTail& tail, std::uint64_t seal_bytes,
                                AppendForm form) {
  ChainWriter w(chain_dir, env, seal_bytes, form);
  auto end = read_segments(chain_dir, {}, chain_start(chain_dir));
  tail = end.tail;
  w.summary_ = end.last_summary;
  if (end.last.open && end.last_good_bytes == 0) {
    w.open_segment(end.last.number, end.last_hash);  // its header again
  } else if (end.last.open) {
    w.open_ = end.last.path;
    w.number_ = end.last.number;
    const auto size = fs::file_size(w.open_);
    if (size != end.last_good_bytes) {
      env.truncate(w.open_, end.last_good_bytes);
      env.fsync_file(w.open_);
    }
    w.open_bytes_ = end.last_good_bytes;
    w.open_plain_bytes_ = end.last_plain_bytes;
  } else {
    w.open_segment(end.last.number + 1, end.last_hash);
    w.summary_ = {};
    w.summary_.last_seq = tail.last_seq;
    w.summary_.last_ms = tail.last_ms;
    w.summary_.position_after = tail.position;
  }
  return w;
}

void ChainWriter::open_segment(std::uint32_t number, const std::string& prev_hash) {
  const auto path = dir_ / segment_name(number, true);
  const auto header = segment_header(number, prev_hash);
  // A leftover of a crash between creating and first writing it holds no record.
  env_->remove_file(path);
  env_->create_file(path, kArchiveMode);
  env_->append(path, header.data(), header.size());
  env_->fsync_file(path);
  env_->fsync_dir(dir_);
  open_ = path;
  number_ = number;
  open_bytes_ = header.size();
  open_plain_bytes_ = header.size();
}

void ChainWriter::seal() {
  const auto sealed = dir_ / segment_name(number_, false);
  // The summary first: a sealed segment without one is read in full, never misread.
  env_->write_file_atomic(dir_ / index_name(number_), summary_text(summary_), kArchiveMode);
  env_->rename(open_, sealed);
  env_->fsync_dir(dir_);
  open_segment(number_ + 1, core::sha256_file(sealed));
  const auto before = summary_;
  summary_ = {};
  summary_.last_seq = before.last_seq;
  summary_.last_ms = before.last_ms;
  summary_.position_after = before.position_after;
  sealed_.push_back(sealed);
}

// After the chain goes on: a sealed segment is whole and readable as it is, so
// compressing it is only a saving, and one that fails leaves it as it was.
void compress_segment(const fs::path& sealed, Env& env) {
  try {
    const auto out = core::zstd_compress(read_whole(sealed), kCompressionLevel);
    auto target = sealed;
    target += kCompressedSuffix;
    env.write_file_atomic(target, std::string(out.begin(), out.end()), kArchiveMode);
    env.remove_file(sealed);
    env.fsync_dir(sealed.parent_path());
  } catch (const std::exception& e) {
    spdlog::warn("archive: segment {} stays uncompressed: {}", sealed.string(), e.what());
  }
}

void ChainWriter::append(const std::vector<Record>& records) {
  if (records.empty()) return;
  if (!broken_.empty()) throw Error(ErrorCode::io, broken_);
  if (open_plain_bytes_ >= seal_bytes_) {
    try {
      seal();
    } catch (const Error& e) {
      broken_ = "sealing archive segment " + open_.string() + " failed: " + e.what();
      throw;
    }
  }
  const auto [bytes, plain_bytes] = encode_records(records, form_ == AppendForm::batched);
  try {
    env_->append(open_, bytes.data(), bytes.size());
  } catch (...) {
    // A part written must not stay: the next append would follow a torn record.
    try {
      env_->truncate(open_, open_bytes_);
    } catch (...) {  // reopening the chain cuts it then
    }
    throw;
  }
  try {
    env_->fsync_file(open_);
  } catch (const Error& e) {
    // After a failed fsync the kernel may have dropped the pages it could not
    // write: a later fsync that succeeds proves nothing. The segment is given up.
    broken_ = "archive segment " + open_.string() + " could not be made durable: " + e.what();
    throw;
  }
  open_bytes_ += bytes.size();
  open_plain_bytes_ += plain_bytes;
  bytes_written_ += bytes.size();
  for (const auto& r : records) {
    if (r.type == RecordType::txn) {
      if (summary_.first_seq == 0) {
        summary_.first_seq = r.seq;
        summary_.first_ms = r.at_ms;
      }
      summary_.last_seq = r.seq;
      // The running checksum after the commit frame is in that frame's header.
      const auto* last = r.frames.data() + r.frames.size() - (r.frames.size() / frame_count(r));
      summary_.position_after = WalPosition{parse_wal_header(r.wal_header),
                                            r.first_frame + static_cast<std::uint32_t>(frame_count(r)),
                                            {be32(last + 16), be32(last + 20)}};
    } else if (r.type == RecordType::start) {
      summary_.position_after = position_of_start(r);
    }
    add_record(summary_.contents, r);
    summary_.last_ms = r.at_ms;
  }
}

void read_chain(const fs::path& chain_dir, const OnRecord& on_record, std::uint64_t after_seq) {
  read_segments(chain_dir, on_record, start_for(chain_dir, after_seq));
}

std::vector<fs::path> chain_dirs(const fs::path& archive_dir, const std::string& database) {
  const auto last = last_chain_written(archive_dir);
  std::vector<std::pair<ChainOrder, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(archive_dir, ec)) {
    if (!e.is_directory()) continue;
    const auto fields = read_chain_file(e.path());
    const auto of = fields.find("database");
    if (of == fields.end() || of->second != database) continue;
    found.emplace_back(chain_order(last, e.path().filename().string(), started_ms(fields)), e.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> dirs;
  for (auto& [order, dir] : found) dirs.push_back(std::move(dir));
  return dirs;
}

std::vector<ChainSummary> list_chains(const fs::path& archive_dir) {
  std::vector<ChainSummary> chains;
  std::error_code ec;
  if (!fs::is_directory(archive_dir, ec)) return chains;
  for (const auto& e : fs::directory_iterator(archive_dir, ec)) {
    if (!e.is_directory() || !fs::exists(e.path() / kChainFile)) continue;
    ChainSummary s;
    s.id = e.path().filename().string();
    s.dir = e.path();
    const auto fields = read_chain_file(e.path());
    s.database = fields.count("database") ? fields.at("database") : "";
    s.started_ms = started_ms(fields);
    std::error_code size_ec;
    for (const auto& f : fs::directory_iterator(e.path(), size_ec)) {
      if (!f.is_regular_file()) continue;
      s.bytes_on_disk += f.file_size(size_ec);
      const auto ext = f.path().extension();
      if (ext == ".seg" || ext == ".open" || ext == kCompressedSuffix) ++s.segments;
    }
    // The sealed segments by their summaries (verify --archive reads them all);
    // the newest segments, read.
    SegmentContents newest;
    try {
      const auto at = start_for(e.path(), std::numeric_limits<std::uint64_t>::max(), &s);
      s.last_ms = s.covered_ms = at.last_ms;
      read_segments(
          e.path(),
          [&s, &newest](const Record& r, const fs::path&) {
            s.last_ms = r.at_ms;
            if (r.type != RecordType::end) s.covered_ms = r.at_ms;
            s.stopped = r.type == RecordType::stop;
            add_record(newest, r);
            if (r.type == RecordType::end) {
              s.ended = true;
              s.end_cause = r.cause;
            }
            return true;
          },
          at);
    } catch (const Error& err) {
      s.problem = err.what();
    }
    add_contents(s, newest);
    chains.push_back(std::move(s));
  }
  const auto last = last_chain_written(archive_dir);
  std::sort(chains.begin(), chains.end(), [&last](const auto& a, const auto& b) {
    return chain_order(last, a.id, a.started_ms) < chain_order(last, b.id, b.started_ms);
  });
  return chains;
}

ChainPrune prune_chain_before(const fs::path& chain_dir, std::uint64_t keep_after_seq, Env& env, bool dry_run) {
  ChainPrune r;
  const auto at = chain_start(chain_dir);
  // The last sealed segment whose transactions all are at or before keep_after_seq.
  std::uint32_t first_kept = at.segment;
  std::optional<SegmentSummary> before;
  for (std::uint32_t n = at.segment;; ++n) {
    const auto index = chain_dir / index_name(n);
    if (!sealed_path(chain_dir, n) || !fs::exists(index) || !segment_exists(chain_dir, n + 1)) break;
    const auto summary = parse_summary(read_fields(index));
    if (!summary || summary->last_seq > keep_after_seq) break;
    first_kept = n + 1;
    before = summary;
  }
  if (!before) return r;
  for (std::uint32_t n = at.segment; n < first_kept; ++n) {
    const auto seg = *sealed_path(chain_dir, n);
    std::error_code ec;
    r.bytes += fs::file_size(seg, ec);
    r.segments.push_back(seg);
  }
  if (dry_run) return r;
  // The boundary first: reading starts there even if the deletions below are cut short.
  const auto first_path = sealed_path(chain_dir, first_kept).value_or(chain_dir / segment_name(first_kept, true));
  const auto first_bytes = read_whole(first_path);
  if (first_bytes.size() < kSegmentHeaderBytes)
    throw Error(ErrorCode::io, "cannot read the header of archive segment " + first_path.string());
  const std::string header(first_bytes.begin(), first_bytes.begin() + kSegmentHeaderBytes);
  env.write_file_atomic(chain_dir / kPrunedFile,
                        "first_segment: " + std::to_string(first_kept) + "\nprev_hash: " +
                            header.substr(kMagicBytes + kNumberDigits) + "\n" + summary_text(*before),
                        kArchiveMode);
  for (std::uint32_t n = at.segment; n < first_kept; ++n) {
    auto plain = chain_dir / segment_name(n, false);
    env.remove_file(plain);
    env.remove_file(plain += kCompressedSuffix);
    env.remove_file(chain_dir / index_name(n));
  }
  env.fsync_dir(chain_dir);
  return r;
}

std::string new_chain_id(std::int64_t now_ms) {
  const std::time_t t = now_ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x", rd());
  return std::string(stamp) + suffix;
}

}  // namespace sqlkeeper::archive
