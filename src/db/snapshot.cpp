#include "sqlkeeper/db/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <vector>

#include "sqlkeeper/base/background_hash.h"
#include "sqlkeeper/db/integrity.h"
#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::core {
namespace {

constexpr unsigned kBackupMode = 0600;  // backups stay owner-only whatever file-mode says
constexpr int kCopyStepPages = 1024;
// Large enough that a read and a write per chunk cost nothing next to the data,
// small enough to stay out of the resident size.
constexpr std::size_t kCopyChunkBytes = 1 << 20;
constexpr std::uint64_t kWritebackBytes = 8 << 20;

struct BackupHandle {
  sqlite3_backup* b;
  ~BackupHandle() {
    if (b) sqlite3_backup_finish(b);
  }
};

}  // namespace

std::string snapshot_name(const std::string& stem, std::chrono::system_clock::time_point at, const std::string& label) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return stem + "-" + buf + (label.empty() ? "" : "-" + label) + ".db";
}

namespace {

// Inside a read transaction, a missing or empty -wal means the transaction's
// snapshot is the database file alone: the WAL can only become empty again by a
// TRUNCATE checkpoint, which waits for every reader of the WAL, and the one
// reader that reads no WAL blocks every checkpoint from writing into the file
// (it needs that reader's lock). So while the transaction lasts, the file's
// bytes are the snapshot. stat() only: never a descriptor on the live files.
bool snapshot_is_the_file(const std::filesystem::path& database) {
  struct stat st {};
  const auto wal = database.string() + "-wal";
  if (::stat(wal.c_str(), &st) != 0) return errno == ENOENT;
  return st.st_size == 0;
}

void write_all(int fd, const unsigned char* data, std::size_t size, const std::filesystem::path& target) {
  while (size > 0) {
    const auto n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw system_error("write " + target.string(), errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Keeps the copy's writes from piling up as dirty pages: each window is written
// back as soon as it is complete, and the one before is waited for. The disk's
// queue never holds more than two windows, so an application's fsync waits
// behind little rather than behind a gigabyte of backup, and the final fsync is
// short. (Dropping the windows from the cache too would spare the applications'
// cached pages, but the integrity check would then read the copy back from the
// disk at random: 24 s instead of 5 s for 1 GiB on the benchmark's machine.)
class WriteBehind {
 public:
  explicit WriteBehind(int fd) : fd_(fd) {}
  void wrote(std::uint64_t end) {
    while (end - started_ >= kWritebackBytes) {
      const auto off = static_cast<off_t>(started_);
      const auto len = static_cast<off_t>(kWritebackBytes);
      (void)::sync_file_range(fd_, off, len, SYNC_FILE_RANGE_WRITE);
      if (started_ >= kWritebackBytes) {
        const auto prev = off - len;
        (void)::sync_file_range(fd_, prev, len,
                                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      }
      started_ += kWritebackBytes;
    }
  }

 private:
  int fd_;
  std::uint64_t started_ = 0;
};

// The file's bytes, read through SQLite's own descriptor of it (a descriptor of
// ours, once closed, would drop SQLite's locks), hashed as they pass.
void copy_file_bytes(sqlite::Connection& source, int out, const std::filesystem::path& target, const CopyInfo& info,
                     Job& job, std::string& sha256) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(source.handle(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || !file ||
      !file->pMethods)
    throw Error(ErrorCode::internal, "no file handle for " + source.path().string());
  const auto page_size = static_cast<std::size_t>(info.page_size);
  const auto total = static_cast<std::uint64_t>(info.pages);
  const std::size_t pages_per_chunk = std::max<std::size_t>(1, kCopyChunkBytes / page_size);
  BackgroundSha256 hash(pages_per_chunk * page_size, 3);
  WriteBehind write_behind(out);
  for (std::uint64_t done = 0; done < total;) {
    job.check("copying " + source.path().string());
    auto& buffer = hash.acquire();
    const auto pages = std::min<std::uint64_t>(pages_per_chunk, total - done);
    const auto bytes = static_cast<int>(pages * page_size);
    const auto offset = static_cast<sqlite3_int64>(done * page_size);
    const int rc = file->pMethods->xRead(file, buffer.data(), bytes, offset);
    if (rc != SQLITE_OK)
      throw Error(ErrorCode::sqlite, "read " + source.path().string() + " at byte " + std::to_string(offset) + ": " +
                                         sqlite3_errstr(rc), rc);
    if (done == 0) {
      // File format bytes: 1 for a rollback journal (2 is WAL). A published copy
      // is one self-contained file, never a database that wants a -wal beside it.
      buffer[18] = 1;
      buffer[19] = 1;
    }
    write_all(out, buffer.data(), static_cast<std::size_t>(bytes), target);
    hash.submit(buffer, static_cast<std::size_t>(bytes));
    done += pages;
    write_behind.wrote(done * page_size);
    job.set_progress(done, total);
  }
  sha256 = hash.finish();
}

void copy_pages(sqlite::Connection& source, const std::filesystem::path& target, Job& job) {
  sqlite::Connection dest(target, SQLITE_OPEN_READWRITE, std::chrono::milliseconds(0));
  BackupHandle handle{sqlite3_backup_init(dest.handle(), "main", source.handle(), "main")};
  if (!handle.b) dest.check(sqlite3_errcode(dest.handle()), "start backup of " + source.path().string());
  int rc = SQLITE_OK;
  // Steps of kCopyStepPages: between them the job's stop and deadline are checked
  // and progress is reported.
  while (rc == SQLITE_OK) {
    job.check("copying " + source.path().string());
    rc = sqlite3_backup_step(handle.b, kCopyStepPages);
    const auto total = static_cast<std::uint64_t>(sqlite3_backup_pagecount(handle.b));
    job.set_progress(total - static_cast<std::uint64_t>(sqlite3_backup_remaining(handle.b)), total);
  }
  const int finish_rc = sqlite3_backup_finish(handle.b);
  handle.b = nullptr;
  if (rc != SQLITE_DONE)
    throw Error(ErrorCode::sqlite,
                "copy " + source.path().string() + " to " + target.string() + ": " + sqlite3_errstr(rc), rc);
  dest.check(finish_rc, "finish copy to " + target.string());
  // A published copy is one self-contained file: no -wal beside it.
  dest.exec("PRAGMA journal_mode=DELETE");
}

}  // namespace

CopyInfo copy_database(sqlite::Connection& source, const std::filesystem::path& target, Env& env, Job& job,
                       bool snapshot_is_file) {
  // Created through the Env (so a fault test can fail it), owner-only, never
  // through a link someone planted at the name; then written here.
  env.create_file(target, kBackupMode);
  Fd out(::open(target.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!out) throw system_error("open " + target.string() + " to write the copy", errno);
  // One read transaction on the source across the whole copy: the copy is of that
  // one snapshot, so a writer in another process never makes it start over
  // (without it, every commit restarts a page-by-page copy, and under a busy
  // writer it never ends). Readers do not block writers in WAL mode.
  const bool own_transaction = !source.in_transaction();
  if (own_transaction) source.exec("BEGIN");
  CopyInfo info;
  // Read inside the transaction (the first read starts it): these describe exactly the snapshot copied.
  info.schema_version = source.query_int64("PRAGMA schema_version").value_or(0);
  info.pages = source.query_int64("PRAGMA page_count").value_or(0);
  info.page_size = source.query_int64("PRAGMA page_size").value_or(0);
  info.schema_digest = schema_digest(source);
  struct EndRead {
    sqlite::Connection& db;
    bool active;
    ~EndRead() {
      if (active) sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  } end_read{source, own_transaction};
  // An in-memory database (a dry run's scratch copy) has no file to copy whole.
  const char* file_name = sqlite3_db_filename(source.handle(), "main");
  const bool on_disk = file_name != nullptr && *file_name != '\0';
  if (on_disk && info.page_size > 0 && (snapshot_is_file || snapshot_is_the_file(source.path()))) {
    info.method = "file";
    copy_file_bytes(source, out.get(), target, info, job, info.sha256);
  } else {
    out.reset();
    info.method = "pages";
    copy_pages(source, target, job);
  }
  return info;
}

std::string schema_digest(sqlite::Connection& db) {
  auto st = db.prepare("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY type, name");
  std::string text;
  while (st.step())
    for (int i = 0; i < 4; ++i) text += st.column_text(i) + '\0';
  return sha256_hex(text);
}

}  // namespace sqlkeeper::core

