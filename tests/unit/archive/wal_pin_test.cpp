#include "sqlkeeper/archive/wal_pin.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "sqlkeeper/archive/replay.h"
#include "sqlkeeper/archive/wal_reader.h"
#include "sqlkeeper/sqlite/library.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::archive {
namespace {

using namespace std::chrono_literals;

std::string content_of(sqlite::Connection& c) {
  return std::to_string(c.query_int64("SELECT count(*) FROM t").value_or(-1)) + " rows: " +
         c.query_text("SELECT group_concat(id || ':' || hex(substr(v, -8)), ' ') FROM (SELECT * FROM t ORDER BY id)")
             .value_or("");
}

// The invariant the archive stands on, against SQLite itself: an application
// that checkpoints after every commit (autocheckpoint 1 page) and a second
// connection that runs wal_checkpoint(TRUNCATE) every 20 ms, so the WAL is
// restarted and truncated under the reader again and again; a reader that moves
// its pin forward as wal_pin.h says reads every committed transaction, and the
// first database file plus those page images is the live database.
TEST(WalPin, KeepsEveryCommittedFrameForTheReaderWhileTheAppCheckpointsAndTruncates) {
  // The app's own checkpoints racing its WAL restarts are what SQLite's WAL-reset
  // bug breaks: on such a library nothing here could be proven.
  if (!sqlite::linked_library().wal_reset_fix) GTEST_SKIP() << "this build links a SQLite with the WAL-reset bug";
  const auto dir = test_support::fresh_scratch_dir();
  const auto db = dir / "app.db";
  {
    sqlite::Connection c(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5s);
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    c.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  std::filesystem::copy_file(db, dir / "base.db");

  WalPin pin(db);
  pin.begin_next();
  Fd wal(::open((db.string() + "-wal").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(wal);

  // The app commits in bursts; after each it asks the second connection for a
  // TRUNCATE and waits (bounded) until that has run: everything is in the
  // database file then, the WAL restarts under the reader, and the next burst
  // writes a new generation.
  constexpr int kBursts = 40;
  constexpr int kCommitsPerBurst = 10;
  std::mutex m;
  std::condition_variable cv;
  int requested = 0;  // TRUNCATEs the app asked for
  int served = 0;     // of those, run to the end (done or given up)
  std::atomic<bool> writing{true};
  std::atomic<int> committed{0};     // inserts
  std::atomic<int> transactions{0};  // every commit, updates too
  std::atomic<int> truncated{0};
  std::thread app([&] {
    sqlite::Connection c(db, SQLITE_OPEN_READWRITE, 10s);
    c.exec("PRAGMA wal_autocheckpoint=1");
    c.exec("PRAGMA synchronous=NORMAL");
    for (int burst = 0; burst < kBursts; ++burst) {
      for (int i = 0; i < kCommitsPerBurst; ++i) {
        c.exec("INSERT INTO t(v) VALUES (randomblob(300))");
        ++committed;
        ++transactions;
        if (committed % 50 == 0) {
          c.exec("UPDATE t SET v = randomblob(200) WHERE id % 7 = 0");
          ++transactions;
        }
      }
      std::unique_lock lock(m);
      const int ticket = ++requested;
      cv.notify_all();
      cv.wait_for(lock, 5s, [&] { return served >= ticket; });
    }
    std::lock_guard lock(m);
    writing = false;
    cv.notify_all();
  });
  std::thread checkpointer([&] {
    sqlite::Connection c(db, SQLITE_OPEN_READWRITE, 100ms);
    // Until it has read once, a connection does not know the database is in WAL mode and checkpoints nothing.
    c.query_int64("SELECT count(*) FROM sqlite_schema");
    for (;;) {
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return requested > served || !writing; });
        if (!writing && requested == served) return;
      }
      // The reader's pin holds it off until the pin has moved to the end of the
      // WAL; each attempt waits up to the busy timeout, all of them 2 s at most.
      const auto deadline = std::chrono::steady_clock::now() + 2s;
      while (std::chrono::steady_clock::now() < deadline) {
        int log = 0;
        int done = 0;
        const int rc = sqlite3_wal_checkpoint_v2(c.handle(), "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
        if (rc == SQLITE_OK && log == 0) {
          ++truncated;
          break;
        }
      }
      std::lock_guard lock(m);
      ++served;
      cv.notify_all();
    }
  });

  std::vector<WalTransaction> archived;
  WalPosition at;
  int generations = 0;
  std::uint32_t page_size = 0;
  for (bool last_round = false;;) {
    last_round = !writing;
    pin.begin_next();
    for (;;) {
      auto r = read_wal(wal, at, 1 << 20);
      // (Nothing in the new header tells whether a generation went by unseen: a
      // writer that never restarted the WAL itself picks new salts at random and
      // writes a checkpoint sequence of its own. Only the replay below can tell.)
      if (r.new_generation && !r.transactions.empty()) ++generations;
      if (r.next.header) page_size = r.next.header->page_size;
      for (auto& t : r.transactions) archived.push_back(std::move(t));
      if (r.transactions.empty()) break;
      at = r.next;
    }
    pin.release_previous();
    if (last_round) break;
    std::this_thread::sleep_for(2ms);
  }
  app.join();
  checkpointer.join();
  pin.release_all();

  // Every commit is there, in order: the states in between are restorable too
  // (the final state alone would hide a missing transaction whose pages a later
  // one wrote again).
  EXPECT_EQ(static_cast<int>(archived.size()), transactions.load());
  {
    Fd out(::open((dir / "base.db").c_str(), O_RDWR | O_CLOEXEC));
    std::int64_t rows = 0;
    for (std::size_t i = 0; i < archived.size(); ++i) {
      apply_transaction(out, page_size, archived[i], "base.db");
      if (i % 100 != 99) continue;
      sqlite::Connection between(dir / "base.db", SQLITE_OPEN_READONLY, 0ms);
      EXPECT_EQ(between.query_text("PRAGMA quick_check"), "ok") << "after transaction " << i + 1;
      const auto now = between.query_int64("SELECT count(*) FROM t").value_or(-1);
      EXPECT_GE(now, rows);
      rows = now;
    }
  }
  sqlite::Connection live(db, SQLITE_OPEN_READONLY, 5s);
  sqlite::Connection replayed(dir / "base.db", SQLITE_OPEN_READONLY, 0ms);
  std::printf("pin: %d transactions committed, %zu archived, %d WAL generations, %d TRUNCATE checkpoints done\n",
              transactions.load(), archived.size(), generations, truncated.load());
  EXPECT_EQ(replayed.query_text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(content_of(replayed), content_of(live));
  EXPECT_GE(generations, 10) << "the WAL was seldom restarted under the reader: the test showed little";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sqlkeeper::archive
