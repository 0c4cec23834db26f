#pragma once
// RAII over sqlite3* and sqlite3_stmt*. Every call's result code is checked and
// turned into an Error that names the operation, the database file and SQLite's
// own message. Not thread-safe: a connection belongs to one thread at a time.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sqlkeeper::sqlite {

class Connection;

class Statement {
 public:
  Statement(Connection& db, std::string_view sql);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);

  // Advances; true while a row is available.
  bool step();
  void reset();

  std::int64_t column_int64(int i) const;
  std::string column_text(int i) const;
  bool column_is_null(int i) const;

  // The text this statement was prepared from.
  std::string sql() const;

 private:
  Connection* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Connection {
 public:
  // Opens with SQLITE_OPEN_* `flags`; sets the busy timeout and turns off
  // double-quoted string literals, as every sqlkeeper connection must.
  Connection(const std::filesystem::path& path, int flags, std::chrono::milliseconds busy_timeout);
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one or more statements that return no rows the caller needs.
  void exec(std::string_view sql);
  // Runs a query whose first column of the first row is wanted.
  std::optional<std::int64_t> query_int64(std::string_view sql);
  std::optional<std::string> query_text(std::string_view sql);
  Statement prepare(std::string_view sql) { return Statement(*this, sql); }

  bool in_transaction() const;

  sqlite3* handle() const noexcept { return db_; }
  const std::filesystem::path& path() const noexcept { return path_; }
  std::string errmsg() const;

  // Throws Error(sqlite) describing `what` on this database unless rc is OK.
  void check(int rc, std::string_view what) const;

 private:
  void close() noexcept;
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

// "3.40.1"
std::string library_version();

}  // namespace sqlkeeper::sqlite
