#include "sqlkeeper/db/checkpoint.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "sqlkeeper/db/database.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;

sqlite::Connection writer_connection(const std::filesystem::path& db) {
  sqlite::Connection c(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 10s);
  c.exec("PRAGMA journal_mode=WAL");
  c.exec("PRAGMA synchronous=NORMAL");
  c.exec("PRAGMA wal_autocheckpoint=0");  // every checkpoint here is the one under test
  return c;
}

// The step under the writer lock copies only what the applications committed
// during a short last passive pass, not what they committed during a long first
// one: with 80 MiB in the WAL and a writer appending a few frames every
// millisecond, the first pass alone copies 20,000 frames and the writer appends
// hundreds meanwhile.
TEST(Checkpoint, LockedStepCopiesLittleWhileAWriterAppendsToALargeWal) {
  if (!checkpoints_allowed()) GTEST_SKIP() << "this build links a SQLite with the WAL-reset bug: no passive passes";
  const auto dir = test_support::fresh_scratch_dir();
  const auto db = dir / "app.db";
  auto setup = writer_connection(db);
  setup.exec("CREATE TABLE bulk (i INTEGER PRIMARY KEY, pad BLOB)");
  setup.exec("CREATE TABLE ticks (i INTEGER PRIMARY KEY, pad BLOB)");
  setup.exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000) "
             "INSERT INTO bulk SELECT i, randomblob(4000) FROM c");
  ASSERT_GT(file_sizes(db).wal, 75u << 20);

  std::atomic<bool> stop{false};
  std::atomic<int> commits{0};
  std::thread writer([&] {
    auto w = writer_connection(db);
    while (!stop) {
      w.exec("INSERT INTO ticks(pad) VALUES (randomblob(8000))");
      ++commits;
      std::this_thread::sleep_for(1ms);
    }
  });
  // The writer under way first; bounded, so a writer that cannot commit fails the test below.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (commits < 10 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_GE(commits, 10) << "the writer did not commit within 10 s";
  Job job("checkpoint");
  const auto r = checkpoint_database(db, job, 200ms, 64ULL << 20);
  const int during = commits;
  stop = true;
  writer.join();

  std::printf("checkpoint: %d frames, %d passive passes, the last copied %d, %lld ms, %d commits during it\n",
              r.wal_frames, r.passive_passes, r.last_pass_frames, static_cast<long long>(r.duration.count()), during);
  EXPECT_TRUE(r.complete) << r.note;
  EXPECT_GT(during, 20) << "the writer did not write during the checkpoint";
  EXPECT_GE(r.last_pass_frames, 0);
  EXPECT_LE(r.last_pass_frames, 256) << "the last passive pass copied this much, so the step under the writer lock "
                                        "copies about what the writer appended while it ran";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sqlkeeper::core
