#pragma once
// Copying the WAL's frames back into the database file so the WAL stays small.
//
// Passive passes first copy the WAL while the applications write, until a pass
// had little left to copy; then one TRUNCATE under the writer lock copies what
// they committed since and resets the WAL. Passive passes are taken only with a
// library that has the WAL-reset fix.
//
// The only mode that takes the writer lock is TRUNCATE: a checkpoint that
// holds the writer lock cannot be the racing party of SQLite's WAL-reset bug
// (3.7.0-3.51.2), and TRUNCATE also shrinks the WAL file to nothing when it
// completes. It waits for the writer lock and then for readers through the busy
// handler, bounded by `busy_wait`: while it holds the writer lock the
// applications' writers wait, so the bound must stay far below their
// busy_timeout. When the bound passes, SQLite falls back to a PASSIVE pass
// (wal.c) — harmless with a fixed library, and the reason the daemon takes no
// checkpoint at all with an affected one (see docs/operations.md).
#include <chrono>
#include <filesystem>
#include <string>

#include "sqlkeeper/base/job.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {

struct CheckpointResult {
  bool complete = false;         // every frame was copied and the WAL reset
  int wal_frames = 0;            // frames in the WAL when it ran (-1 when not in WAL mode)
  int checkpointed_frames = 0;   // of those, copied into the database
  // The passive passes before the step under the writer lock, and the frames
  // the last one copied (-1: none ran): about what the applications appended
  // meanwhile, which the locked step copies while their writers wait.
  int passive_passes = 0;
  int last_pass_frames = -1;
  std::uint64_t wal_bytes_before = 0;
  std::uint64_t wal_bytes_after = 0;
  std::chrono::milliseconds duration{};
  std::string note;  // why it was not complete, e.g. "a reader holds the WAL"
};

// True when the linked SQLite has the WAL-reset fix, so sqlkeeper may checkpoint.
bool checkpoints_allowed();

// Runs one TRUNCATE checkpoint of `database` on a connection of its own.
// `journal_size_limit` is set on that connection so a WAL it resets is truncated.
// Throws Error when it cannot run at all (missing file, stopped).
CheckpointResult checkpoint_database(const std::filesystem::path& database, Job& job,
                                     std::chrono::milliseconds busy_wait, std::uint64_t journal_size_limit);
// The same on an open read-write connection (not in a transaction), which a
// backup then reads from at once, before a writer can grow the WAL again.
CheckpointResult checkpoint_on(sqlite::Connection& db, Job& job, std::chrono::milliseconds busy_wait,
                               std::uint64_t journal_size_limit);

}  // namespace sqlkeeper::core
