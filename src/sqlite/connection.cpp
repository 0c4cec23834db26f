#include "sqlkeeper/sqlite/connection.h"

#include <utility>

#include "sqlkeeper/error.h"

namespace sqlkeeper::sqlite {

Statement::Statement(Connection& db, std::string_view sql) : db_(&db) {
  const int rc = sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  db.check(rc, "prepare `" + std::string(sql.substr(0, 80)) + "`");
}

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, std::int64_t value) {
  db_->check(sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  db_->check(sqlite3_bind_double(stmt_, index, value), "bind");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  db_->check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT), "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->check(rc, "run `" + sql().substr(0, 80) + "`");
  return false;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int64(int i) const {
  return sqlite3_column_int64(stmt_, i);
}
bool Statement::column_is_null(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

std::string Statement::column_text(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
}
std::string Statement::sql() const {
  const char* s = sqlite3_sql(stmt_);
  return s ? s : "";
}

Connection::Connection(const std::filesystem::path& path, int flags, std::chrono::milliseconds busy_timeout)
    : path_(path) {
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    throw Error(ErrorCode::sqlite, "open database " + path.string() + ": " + message, rc);
  }
  sqlite3_extended_result_codes(db_, 1);
  // A double-quoted identifier that names nothing must be an error, not a string.
  check(sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DML, 0, nullptr), "turn off double-quoted strings");
  check(sqlite3_db_config(db_, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr), "turn off double-quoted strings");
  check(sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count())), "set busy timeout");
}

Connection::Connection(Connection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Connection::~Connection() {
  close();
}

void Connection::close() noexcept {
  if (db_) {
    // sqlite3_close_v2 defers the close until every statement is finalized.
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

void Connection::exec(std::string_view sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw Error(ErrorCode::sqlite, "run `" + std::string(sql.substr(0, 80)) + "` on " + path_.string() + ": " + text,
                rc);
  }
}

std::optional<std::int64_t> Connection::query_int64(std::string_view sql) {
  Statement st(*this, sql);
  if (!st.step() || st.column_is_null(0)) return std::nullopt;
  return st.column_int64(0);
}

std::optional<std::string> Connection::query_text(std::string_view sql) {
  Statement st(*this, sql);
  if (!st.step() || st.column_is_null(0)) return std::nullopt;
  return st.column_text(0);
}

bool Connection::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

std::string Connection::errmsg() const {
  return db_ ? sqlite3_errmsg(db_) : "no connection";
}

void Connection::check(int rc, std::string_view what) const {
  if (rc == SQLITE_OK) return;
  throw Error(ErrorCode::sqlite, std::string(what) + " on " + path_.string() + ": " + errmsg(), rc);
}

std::string library_version() {
  return sqlite3_libversion();
}

}  // namespace sqlkeeper::sqlite
