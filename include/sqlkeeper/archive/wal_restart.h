#pragma once
// Lets the WAL start again from its first frame under a writer that never
// pauses, as it does without the archive.
//
// Without the archive a busy application's autocheckpoint copies the WAL into
// the database every 1000 pages, and its next write restarts the WAL: the
// writer overwrites the same few MiB. With the archive's pin, a checkpoint may
// copy only up to the pin, and the WAL restarts only when it is all copied and
// the pin holds read mark 0: under a writer that never pauses that moment never
// comes, so the WAL grows until sqlkeeper's own checkpoint and every commit
// extends the file (the writer's p99 rose by half: bench/archive_bench.py).
//
// So the archive restarts the WAL itself: a passive pass copies what it can
// while the writers go on, then a RESTART checkpoint holds
// the applications' writers off while it lasts (as their autocheckpoint would
// hold the one that commits), and each time it waits for a reader its busy
// handler moves the pin to the end, everything read first: once so the copy
// reaches the end, once more so the pin holds read mark 0. Bounded: a reader of
// the application's on an older snapshot makes it give up after `limit` (the
// bound is checked between the pin's moves; the copy and its fsync, under the
// writer lock, come on top, as in an application's own checkpoint).
#include <chrono>
#include <filesystem>
#include <functional>

#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::archive {

class WalRestart {
 public:
  explicit WalRestart(const std::filesystem::path& database);

  enum class Outcome {
    restarted,           // every frame copied, no reader holds the WAL: the next write starts it again
    another_checkpoint,  // one ran (the checkpoint lock): try again soon
    held,                // a reader or writer held it past `limit`
  };
  // `move_pin` runs on this thread while the checkpoint waits; what it throws
  // is thrown here once the checkpoint has given up.
  Outcome run(std::chrono::milliseconds limit, const std::function<void()>& move_pin);

 private:
  sqlite::Connection db_;
};

}  // namespace sqlkeeper::archive
