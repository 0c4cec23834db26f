#include "sqlkeeper/archive/wal_pin.h"

namespace sqlkeeper::archive {
namespace {

using namespace std::chrono_literals;

// A read transaction waits for no one but a recovery of the WAL index; bounded.
constexpr auto kBusyTimeout = 2s;

void end_read(sqlite::Connection& c) {
  if (c.in_transaction()) c.exec("COMMIT");
}

}  // namespace

WalPin::WalPin(const std::filesystem::path& database) {
  for (auto& c : connections_) {
    c.emplace(database, SQLITE_OPEN_READONLY, kBusyTimeout);
    sqlite3_db_config(c->handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  }
}

void WalPin::begin_next() {
  const int next = newest_ < 0 ? 0 : 1 - newest_;
  auto& c = *connections_[static_cast<std::size_t>(next)];
  end_read(c);
  // BEGIN alone takes no snapshot; the first read does.
  c.exec("BEGIN");
  c.query_int64("SELECT count(*) FROM sqlite_schema");
  newest_ = next;
}

void WalPin::release_previous() {
  if (newest_ < 0) return;
  end_read(*connections_[static_cast<std::size_t>(1 - newest_)]);
}

void WalPin::release_all() {
  for (auto& c : connections_) end_read(*c);
  newest_ = -1;
}

bool WalPin::held() const {
  return newest_ >= 0 && connections_[static_cast<std::size_t>(newest_)]->in_transaction();
}

}  // namespace sqlkeeper::archive
