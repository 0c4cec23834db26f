#include "sqlkeeper/db/database.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"
#include "sqlkeeper/sqlite/library.h"

namespace sqlkeeper::core {
namespace {

// The directory gets the file's permissions plus the search bit wherever the
// file is readable, so a group that may use the file may also create -wal/-shm.
unsigned directory_mode_for(unsigned file_mode) {
  unsigned mode = 0700 | (file_mode & 0070);
  if (mode & 0040) mode |= 0010;
  return mode;
}

// Refuses what SQLite would open and then fail on later, or silently overwrite.
// stat() only: opening and closing a descriptor of the live database would drop
// every POSIX lock this process holds on it, SQLite's included.
void check_existing(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw system_error("database " + path.string(), errno);
  if (S_ISDIR(st.st_mode)) throw Error(ErrorCode::io, "database " + path.string() + " is a directory");
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::io, "database " + path.string() + " is not a regular file");
}

void create_or_check(const std::filesystem::path& path, unsigned file_mode) {
  // A new file cannot be open in this process yet, so closing this descriptor is safe.
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd) {
    // O_CREAT applies the umask; fchmod sets exactly the configured mode.
    if (::fchmod(fd.get(), file_mode) != 0) throw system_error("chmod " + path.string(), errno);
    return;
  }
  if (errno == EISDIR) throw Error(ErrorCode::io, "database " + path.string() + " is a directory");
  if (errno != EEXIST && errno != ELOOP) throw system_error("create database " + path.string(), errno);
  check_existing(path);
  if (::access(path.c_str(), R_OK | W_OK) != 0)
    throw system_error("database " + path.string() + " is not readable and writable", errno);
}

// Reading the schema catches a damaged or foreign file now rather than on first
// use; SQLite itself says when the file is not a database (SQLITE_NOTADB).
void read_schema(sqlite::Connection& db) {
  try {
    db.query_int64("SELECT count(*) FROM sqlite_schema");
  } catch (const Error& e) {
    if ((e.sqlite_code() & 0xff) != SQLITE_NOTADB) throw;
    throw Error(ErrorCode::sqlite, "database " + db.path().string() + " is not a SQLite database (" + db.errmsg() + ")",
                e.sqlite_code());
  }
}

// Two processes opening the same new file both read it in rollback mode and both
// try to upgrade their lock to write the WAL header; SQLite refuses one at once with
// SQLITE_BUSY (waiting could deadlock, so the busy handler is not called). Retry
// until the busy timeout: once the other has switched, the switch is a no-op.
void switch_to_wal(sqlite::Connection& db, std::chrono::milliseconds busy_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + std::max(busy_timeout, std::chrono::milliseconds(1000));
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    try {
      const auto mode = db.query_text("PRAGMA journal_mode=WAL");
      if (!mode || *mode != "wal")
        throw Error(ErrorCode::sqlite, "database " + db.path().string() +
                                           ": could not switch to WAL journal mode (still '" + mode.value_or("?") +
                                           "')");
      return;
    } catch (const Error& e) {
      if ((e.sqlite_code() & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) throw;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace

void ensure_database_directory(const std::filesystem::path& database, unsigned file_mode) {
  const auto dir = database.parent_path();
  if (dir.empty()) return;
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::io, "create directory " + dir.string() + ": " + ec.message(), 0, ec.value());
  ::chmod(dir.c_str(), directory_mode_for(file_mode));
}

void apply_connection_pragmas(sqlite::Connection& db) {
  db.exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;");
  // On an SQLite with the WAL-reset race sqlkeeper takes no checkpoints at all
  // (docs/operations.md), not even the automatic one after a large migration's commit.
  if (!sqlite::linked_library().wal_reset_fix) db.exec("PRAGMA wal_autocheckpoint=0");
}

sqlite::Connection open_database(const DatabaseOptions& options) {
  ensure_database_directory(options.path, options.file_mode);
  create_or_check(options.path, options.file_mode);
  sqlite::Connection db(options.path, SQLITE_OPEN_READWRITE, options.busy_timeout);
  read_schema(db);
  switch_to_wal(db, options.busy_timeout);
  apply_connection_pragmas(db);
  return db;
}

sqlite::Connection open_database_readonly(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  check_existing(path);
  sqlite::Connection db(path, SQLITE_OPEN_READONLY, busy_timeout);
  read_schema(db);
  apply_connection_pragmas(db);
  return db;
}

FileSizes file_sizes(const std::filesystem::path& database) {
  FileSizes sizes;
  struct stat st {};
  if (::stat(database.c_str(), &st) == 0) sizes.database = static_cast<std::uint64_t>(st.st_size);
  if (::stat((database.string() + "-wal").c_str(), &st) == 0) sizes.wal = static_cast<std::uint64_t>(st.st_size);
  return sizes;
}

}  // namespace sqlkeeper::core
