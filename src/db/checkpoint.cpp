#include "sqlkeeper/db/checkpoint.h"

#include "sqlkeeper/db/database.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/sqlite/library.h"

namespace sqlkeeper::core {
namespace {

constexpr std::uint64_t kWalHeader = 32;   // bytes before the first frame
constexpr std::int64_t kFrameHeader = 24;  // bytes before each frame's page
// Passive passes go on until one had at most this many frames to copy: the
// applications appended about that much meanwhile, and the step under the
// writer lock copies that (a few MiB at most, milliseconds of I/O).
constexpr int kLockedFramesGoal = 256;
// A pass that copied no less than the one before (the applications write as fast
// as it copies), or left frames behind (a reader pins them), ends the passes;
// this bounds them anyway.
constexpr int kMaxPassivePasses = 16;

struct Passes {
  int count = 0;
  int last_copied = -1;
};

Passes backfill_passively(sqlite::Connection& db, Job& job) {
  Passes p;
  int backfilled = 0;  // by the pass before; frames above it are what a pass copies
  while (p.count < kMaxPassivePasses) {
    int log = 0;
    int done = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db.handle(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    job.check("checkpointing " + db.path().string());
    if (rc != SQLITE_OK || log < 0) break;
    ++p.count;
    // A writer restarts the WAL from its first frame once everything is backfilled.
    const int copied = log >= backfilled ? log - backfilled : log;
    const bool gained = p.last_copied < 0 || copied < p.last_copied;
    p.last_copied = copied;
    backfilled = done;
    if (!gained || done < log || copied <= kLockedFramesGoal) break;
  }
  return p;
}

}  // namespace

bool checkpoints_allowed() {
  return sqlite::linked_library().wal_reset_fix;
}

CheckpointResult checkpoint_database(const std::filesystem::path& database, Job& job,
                                     std::chrono::milliseconds busy_wait, std::uint64_t journal_size_limit) {
  sqlite::Connection db(database, SQLITE_OPEN_READWRITE, busy_wait);
  return checkpoint_on(db, job, busy_wait, journal_size_limit);
}

CheckpointResult checkpoint_on(sqlite::Connection& db, Job& job, std::chrono::milliseconds busy_wait,
                               std::uint64_t journal_size_limit) {
  const auto started = std::chrono::steady_clock::now();
  const auto& database = db.path();
  CheckpointResult result;
  result.wal_bytes_before = file_sizes(database).wal;
  db.exec("PRAGMA journal_size_limit=" + std::to_string(journal_size_limit));
  JobScope scope(db, job, busy_wait);
  // Opens the database file and its WAL: until a first read the connection does
  // not know it is in WAL mode, and a checkpoint would report "not in WAL mode".
  db.query_int64("SELECT count(*) FROM sqlite_schema");
  int log = 0;
  int done = 0;
  // First passive passes, which copy the WAL into the database while the
  // applications go on writing, each shorter than the one before while they copy
  // faster than the applications write; then TRUNCATE, which holds their writers
  // off, but only for the little they committed since the last pass, and empties
  // the WAL. The passive passes are safe only because the linked SQLite has the
  // WAL-reset fix: on an affected library sqlkeeper takes no checkpoints at all
  // (checkpoints_allowed()).
  if (checkpoints_allowed()) {
    const auto passes = backfill_passively(db, job);
    result.passive_passes = passes.count;
    result.last_pass_frames = passes.last_copied;
  }
  job.check("checkpointing " + database.string());
  scope.busy_until(Job::Clock::now() + busy_wait);
  const int rc = sqlite3_wal_checkpoint_v2(db.handle(), "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
  job.check("checkpointing " + database.string());
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) db.check(rc, "checkpoint");
  result.complete = rc == SQLITE_OK && done == log;
  result.wal_frames = log;
  result.checkpointed_frames = done;
  if (result.complete && log == 0 && result.wal_bytes_before > kWalHeader) {
    // A completed TRUNCATE reports the emptied WAL (0 frames); what it copied is
    // what the WAL held, which its size before tells (header, then frames).
    const auto page_size = db.query_int64("PRAGMA page_size").value_or(4096);
    result.wal_frames = result.checkpointed_frames =
        static_cast<int>((result.wal_bytes_before - kWalHeader) / static_cast<std::uint64_t>(page_size + kFrameHeader));
  }
  if (!result.complete)
    result.note = (rc & 0xff) == SQLITE_BUSY
                      ? "the WAL stayed in use for " + std::to_string(busy_wait.count()) +
                            " ms (a reader or writer holds it); copied " + std::to_string(done) + " of " +
                            std::to_string(log) + " frames"
                      : "copied " + std::to_string(done) + " of " + std::to_string(log) + " frames";
  result.wal_bytes_after = file_sizes(database).wal;
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace sqlkeeper::core
