#include "sqlkeeper/db/live_snapshot.h"

#include "sqlkeeper/db/checkpoint.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;

// Starts a read transaction on `db` whose snapshot is the database file alone,
// and says whether it could: under a write lock held by a second connection (so
// nothing commits meanwhile), a passive checkpoint must copy every frame of the
// WAL into the file before the read begins. On false the copy goes page by
// page: of the read begun under the gate when `under_gate` gave a mark (the
// archive's place must be the snapshot's), else of a read begun later.
bool begin_snapshot_of_the_file(sqlite::Connection& db, Job& job, Ms busy_wait,
                                const std::function<std::string()>& under_gate, std::string& mark) {
  sqlite::Connection gate(db.path(), SQLITE_OPEN_READWRITE, busy_wait);
  sqlite3_db_config(gate.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  JobScope scope(gate, job, busy_wait);
  scope.busy_until(Job::Clock::now() + busy_wait);
  if (sqlite3_exec(gate.handle(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
  // First, so the archive's pinned read moves to the WAL's end and the
  // checkpoint below may copy every frame.
  if (under_gate) mark = under_gate();
  int log = 0;
  int done = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db.handle(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  const bool all_in_the_file = rc == SQLITE_OK && log == done;
  // With the archive's mark the snapshot must be this moment's even when the
  // WAL could not be copied (an application's checkpoint running holds the
  // checkpoint lock): it is then copied page by page.
  if (all_in_the_file || !mark.empty()) {
    db.exec("BEGIN");
    db.query_int64("SELECT count(*) FROM sqlite_schema");  // the snapshot begins at the first read
  }
  sqlite3_exec(gate.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  return all_in_the_file;
}

}  // namespace

LiveSnapshot LiveSnapshot::take(const std::filesystem::path& database, Job& job, const Options& options) {
  LiveSnapshot s;
  s.own_.emplace(database, SQLITE_OPEN_READWRITE, options.busy_wait);
  sqlite3_db_config(s.own_->handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  const auto c = checkpoint_on(*s.own_, job, options.busy_wait, options.journal_size_limit);
  if (!c.complete) s.checkpoint_note_ = "checkpoint skipped: " + c.note;
  s.whole_file_ = begin_snapshot_of_the_file(*s.own_, job, options.busy_wait, options.under_gate, s.archive_mark_);
  return s;
}

LiveSnapshot LiveSnapshot::of(sqlite::Connection& reader) {
  return LiveSnapshot(reader);
}

LiveSnapshot::LiveSnapshot(LiveSnapshot&& other) noexcept
    : own_(std::move(other.own_)),
      callers_(other.callers_),
      whole_file_(other.whole_file_),
      checkpoint_note_(std::move(other.checkpoint_note_)),
      archive_mark_(std::move(other.archive_mark_)) {
  other.own_.reset();
}

LiveSnapshot::~LiveSnapshot() {
  try {
    end();
  } catch (...) {  // a destructor never throws; the connection closes the transaction anyway
  }
}

void LiveSnapshot::end() {
  if (own_ && own_->in_transaction()) own_->exec("ROLLBACK");
  own_.reset();
}

CopyInfo LiveSnapshot::copy_to(const std::filesystem::path& target, Env& env, Job& job) {
  auto info = copy_database(reader(), target, env, job, whole_file_);
  end();
  return info;
}

}  // namespace sqlkeeper::core
