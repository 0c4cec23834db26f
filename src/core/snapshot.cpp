#include "sqlkeeper/core/snapshot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "sqlkeeper/core/sha256.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

constexpr unsigned kBackupMode = 0600;  // backups stay owner-only whatever file-mode says

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

void copy_database(sqlite::Connection& source, const std::filesystem::path& target) {
  sqlite::Connection dest(target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, std::chrono::milliseconds(0));
  ::chmod(target.c_str(), kBackupMode);
  BackupHandle handle{sqlite3_backup_init(dest.handle(), "main", source.handle(), "main")};
  if (!handle.b) dest.check(sqlite3_errcode(dest.handle()), "start backup of " + source.path().string());
  int rc = SQLITE_OK;
  // Copy in steps so a writer in the application is never locked out for long;
  // each step holds the read lock only briefly.
  do {
    rc = sqlite3_backup_step(handle.b, 1024);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  const int finish_rc = sqlite3_backup_finish(handle.b);
  handle.b = nullptr;
  if (rc != SQLITE_DONE)
    throw Error(ErrorCode::sqlite,
                "copy " + source.path().string() + " to " + target.string() + ": " + sqlite3_errstr(rc), rc);
  dest.check(finish_rc, "finish copy to " + target.string());
  // A published copy is one self-contained file: no -wal beside it.
  dest.exec("PRAGMA journal_mode=DELETE");
}

void check_integrity(const std::filesystem::path& file) {
  sqlite::Connection db(file, SQLITE_OPEN_READONLY, std::chrono::milliseconds(0));
  auto st = db.prepare("PRAGMA integrity_check");
  std::string result;
  while (st.step()) result += (result.empty() ? "" : "; ") + st.column_text(0);
  if (result != "ok") throw Error(ErrorCode::sqlite, "integrity check of " + file.string() + " failed: " + result);
}

SnapshotResult write_snapshot(sqlite::Connection& source, const std::filesystem::path& dir, const std::string& stem,
                              const std::string& label, Env& env) {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::io, "create backup directory " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);

  auto name = snapshot_name(stem, env.now(), label);
  for (int n = 1; std::filesystem::exists(dir / name); ++n)
    name = snapshot_name(stem, env.now(), label + (label.empty() ? "" : "-") + std::to_string(n));
  SnapshotResult result;
  result.file = dir / name;
  result.checksum_file = dir / (name + ".sha256");
  const auto tmp = dir / (name + ".tmp");
  try {
    copy_database(source, tmp);
    check_integrity(tmp);
    result.sha256 = sha256_file(tmp);
    result.size = std::filesystem::file_size(tmp);
    env.fsync_file(tmp);
    env.rename(tmp, result.file);
    env.fsync_dir(dir);
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    std::filesystem::remove(dir / (name + ".tmp-journal"), ec);
    throw;
  }
  // The checksum is written last: only with it is the copy a finished backup.
  env.write_file_atomic(result.checksum_file, result.sha256 + "  " + name + "\n", kBackupMode);
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace sqlkeeper::core

namespace sqlkeeper::core {

std::optional<std::chrono::system_clock::time_point> parse_snapshot_time(const std::string& name,
                                                                         const std::string& stem) {
  const std::string prefix = stem + "-";
  constexpr std::size_t kStampLength = 16;  // yyyymmddThhmmssZ
  if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + kStampLength + 3) return std::nullopt;
  if (name.substr(name.size() - 3) != ".db") return std::nullopt;
  const auto stamp = name.substr(prefix.size(), kStampLength);
  std::tm tm{};
  const char* end = strptime(stamp.c_str(), "%Y%m%dT%H%M%SZ", &tm);
  if (!end || *end != '\0') return std::nullopt;
  const auto rest = name.substr(prefix.size() + kStampLength);
  if (rest != ".db" && rest.front() != '-') return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::vector<SnapshotEntry> list_snapshots(const std::filesystem::path& dir, const std::string& stem) {
  std::vector<SnapshotEntry> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    const auto at = parse_snapshot_time(name, stem);
    if (!at || !entry.is_regular_file(ec)) continue;
    if (!std::filesystem::exists(entry.path().string() + ".sha256", ec)) continue;
    out.push_back({entry.path(), *at, entry.file_size(ec)});
  }
  // By time; within one second ("-1" suffixes sort before the plain name) by age of the file.
  std::sort(out.begin(), out.end(), [](const SnapshotEntry& a, const SnapshotEntry& b) {
    if (a.at != b.at) return a.at < b.at;
    std::error_code ignored;
    return std::filesystem::last_write_time(a.file, ignored) < std::filesystem::last_write_time(b.file, ignored);
  });
  return out;
}

}  // namespace sqlkeeper::core
