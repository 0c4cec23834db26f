#pragma once
// Opening the kept database the way every sqlkeeper connection must see it:
// created with the configured mode whatever the umask, WAL journal (verified),
// foreign keys on, synchronous=NORMAL, a busy timeout, no double-quoted strings.
#include <chrono>
#include <cstdint>
#include <filesystem>

#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {

struct DatabaseOptions {
  std::filesystem::path path;
  unsigned file_mode = 0600;
  std::chrono::milliseconds busy_timeout{5000};
};

// Creates the parent directory and the file if missing, then opens read-write.
// A directory, an unreadable path or a file that is not SQLite is an Error
// naming the path.
sqlite::Connection open_database(const DatabaseOptions& options);

// Creates the database's directory when missing, with the search and write bits
// that file-mode gives the group (so a group that may use the file may create -wal/-shm).
void ensure_database_directory(const std::filesystem::path& database, unsigned file_mode);

// Opens an existing database read-only with the same per-connection settings.
sqlite::Connection open_database_readonly(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout);

// Applies the per-connection pragmas (foreign_keys, synchronous, and no autocheckpoint
// on an SQLite with the WAL-reset race) to any connection.
void apply_connection_pragmas(sqlite::Connection& db);

struct FileSizes {
  std::uint64_t database = 0;
  std::uint64_t wal = 0;
};
// Sizes of the database file and its -wal; missing files count as zero.
FileSizes file_sizes(const std::filesystem::path& database);

}  // namespace sqlkeeper::core
