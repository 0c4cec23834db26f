#include "sqlkeeper/restore/replay_backup.h"

#include <fcntl.h>
#include <unistd.h>

#include "sqlkeeper/archive/chain.h"
#include "sqlkeeper/archive/replay.h"
#include "sqlkeeper/archive/timeline.h"
#include "sqlkeeper/db/snapshot.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::core {

namespace {

bool create_exclusively(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd) return true;
  if (errno != EEXIST) throw system_error("create " + path.string(), errno);
  return false;
}

}  // namespace

ScratchFile::ScratchFile(const std::filesystem::path& backup_dir, const std::string& stem, const std::string& label,
                         Env& env)
    : env_(env) {
  // Made exclusively: a verify --archive and the daemon's own check may run at once.
  for (int n = 0;; ++n) {
    path_ = backup_dir / (snapshot_name(stem, env.now(), n ? label + "-" + std::to_string(n) : label) + ".tmp");
    if (create_exclusively(path_)) return;
    if (n >= 100) throw system_error("create " + path_.string(), EEXIST);
  }
}

ScratchFile::ScratchFile(std::filesystem::path path, Env& env) : path_(std::move(path)), env_(env) {
  if (!create_exclusively(path_)) throw system_error("create " + path_.string(), EEXIST);
}

ScratchFile::~ScratchFile() {
  // With the -wal and -shm the checks' connections may have left beside it.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    try {
      env_.remove_file(path_.string() + suffix);
    } catch (...) {  // a leftover the next backup removes
    }
  }
}

std::uint32_t header_page_size(const std::filesystem::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw system_error("open " + file.string(), errno);
  // Offset 16, big-endian; 1 means 65536.
  std::uint8_t raw[2];
  if (::pread(fd.get(), raw, sizeof raw, 16) != static_cast<ssize_t>(sizeof raw))
    throw Error(ErrorCode::io, "read the header of " + file.string() + ": too short for a database");
  const std::uint32_t size = (std::uint32_t{raw[0]} << 8) | raw[1];
  return size == 1 ? 65536 : size;
}

Replayed replay_backup(const ReplayRequest& request, const std::optional<std::filesystem::path>& target, Job& job) {
  Replayed result;
  result.last_seq = request.backup_seq;
  result.last_ms = request.backup_ms;
  Fd db;
  if (target) {
    std::filesystem::copy_file(request.backup, *target, std::filesystem::copy_options::overwrite_existing);
    db = Fd(::open(target->c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!db) throw system_error("open " + target->string(), errno);
    result.page_size = header_page_size(*target);
  }
  const auto started = std::chrono::steady_clock::now();
  archive::read_chain(
      request.chain_dir,
      [&](const archive::Record& r, const std::filesystem::path& segment) {
        job.check("replaying the archive");
        if (r.type != archive::RecordType::txn || r.seq <= request.backup_seq) return true;
        if (!request.take(r)) return false;
        if (r.seq != result.last_seq + 1)
          throw Error(ErrorCode::io, "archive segment " + segment.string() + ": transaction " + std::to_string(r.seq) +
                                         " follows " + std::to_string(result.last_seq));
        if (target) {
          const auto txn = archive::check_txn(r);
          const auto header = archive::parse_wal_header(r.wal_header);
          if (header->page_size != result.page_size)
            throw Error(ErrorCode::io, "archive segment " + segment.string() + ", transaction " +
                                           std::to_string(r.seq) + ": pages of " +
                                           std::to_string(header->page_size) + " bytes for a database of " +
                                           std::to_string(result.page_size) + "-byte pages");
          archive::apply_transaction(db, result.page_size, txn, target->string());
          result.db_pages = txn.db_pages;
        }
        ++result.transactions;
        result.frame_bytes += r.frames.size();
        result.last_seq = r.seq;
        result.last_ms = r.at_ms;
        return true;
      },
      request.backup_seq);
  result.replay = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace sqlkeeper::core
