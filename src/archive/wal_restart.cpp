#include "sqlkeeper/archive/wal_restart.h"

#include <exception>
#include <thread>

namespace sqlkeeper::archive {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The pin is moved at once the first times (the copy, then read mark 0); after
// that the checkpoint waits for someone else, and polls.
constexpr int kImmediateMoves = 2;
constexpr auto kPoll = 500us;

struct Waiting {
  Clock::time_point deadline;
  const std::function<void()>* move_pin = nullptr;
  std::exception_ptr error;
};

int on_busy(void* arg, int count) {
  auto& w = *static_cast<Waiting*>(arg);
  if (w.error || Clock::now() >= w.deadline) return 0;
  if (count >= kImmediateMoves) std::this_thread::sleep_for(kPoll);
  try {
    (*w.move_pin)();
  } catch (...) {
    w.error = std::current_exception();
    return 0;
  }
  return 1;
}

}  // namespace

WalRestart::WalRestart(const std::filesystem::path& database) : db_(database, SQLITE_OPEN_READWRITE, 100ms) {
  sqlite3_db_config(db_.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  // Until a first read the connection does not know the database is in WAL mode.
  db_.query_int64("SELECT count(*) FROM sqlite_schema");
}

WalRestart::Outcome WalRestart::run(std::chrono::milliseconds limit, const std::function<void()>& move_pin) {
  Waiting w{Clock::now() + limit, &move_pin, nullptr};
  // SQLite takes the checkpoint lock without waiting, and once the WAL is long an
  // application's autocheckpoint takes it after each of its commits: tried
  // again within the bound (the frame counts stay -1 when it was taken).
  const auto checkpoint = [&](int mode, int& log, int& done) {
    for (;;) {
      const int rc = sqlite3_wal_checkpoint_v2(db_.handle(), "main", mode, &log, &done);
      if ((rc & 0xff) != SQLITE_BUSY || log >= 0 || w.error || Clock::now() >= w.deadline) return rc;
      std::this_thread::sleep_for(kPoll / 2);
    }
  };
  int log = -1;
  int done = -1;
  // A passive pass first copies what it can while the writers go on, so the
  // RESTART holds them off for little more than the pin's last moves.
  sqlite3_busy_handler(db_.handle(), nullptr, nullptr);
  const int passive = checkpoint(SQLITE_CHECKPOINT_PASSIVE, log, done);
  if (passive != SQLITE_OK) {
    if ((passive & 0xff) != SQLITE_BUSY) db_.check(passive, "copying the WAL");
    return Outcome::another_checkpoint;
  }
  sqlite3_busy_handler(db_.handle(), &on_busy, &w);
  const int rc = checkpoint(SQLITE_CHECKPOINT_RESTART, log, done);
  sqlite3_busy_handler(db_.handle(), nullptr, nullptr);
  if (w.error) std::rethrow_exception(w.error);
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) db_.check(rc, "restarting the WAL");
  if (rc == SQLITE_OK && log == done) return Outcome::restarted;
  return log < 0 ? Outcome::another_checkpoint : Outcome::held;
}

}  // namespace sqlkeeper::archive
