#include "sqlkeeper/core/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "sqlkeeper/core/integrity.h"
#include "sqlkeeper/core/sha256.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::core {
namespace {

constexpr unsigned kBackupMode = 0600;  // backups stay owner-only whatever file-mode says
constexpr int kCopyStepPages = 1024;

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

CopyInfo copy_database(sqlite::Connection& source, const std::filesystem::path& target, Job& job) {
  {
    // Created here, owner-only, and never through a link someone planted at the name.
    Fd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kBackupMode));
    if (!fd) throw system_error("create " + target.string(), errno);
  }
  sqlite::Connection dest(target, SQLITE_OPEN_READWRITE, std::chrono::milliseconds(0));
  // One read transaction on the source across all steps: the copy is of that one
  // snapshot, so a writer in another process never makes it start over (without
  // it, every commit restarts the copy and under a busy writer it never ends).
  // Readers do not block writers in WAL mode, so the application goes on.
  const bool own_transaction = !source.in_transaction();
  if (own_transaction) source.exec("BEGIN");
  CopyInfo info;
  // Read inside the transaction: these describe exactly the snapshot copied.
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
  return info;
}

std::string schema_digest(sqlite::Connection& db) {
  auto st = db.prepare("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY type, name");
  std::string text;
  while (st.step())
    for (int i = 0; i < 4; ++i) text += st.column_text(i) + '\0';
  return sha256_hex(text);
}

void check_integrity(const std::filesystem::path& file, Job& job) {
  const auto r = check_database(file, CheckDepth::full, job, std::chrono::milliseconds(0));
  if (!r.ok)
    throw Error(ErrorCode::sqlite, "integrity check of " + file.string() + " failed: " + r.first_error +
                                       (r.problems > 1 ? " (and " + std::to_string(r.problems - 1) + " more)" : ""));
}

}  // namespace sqlkeeper::core

