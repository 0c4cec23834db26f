#include "sqlkeeper/daemon/backup_folder_watch.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "sqlkeeper/error.h"

namespace sqlkeeper::daemon {
namespace {

using namespace std::chrono_literals;

// free_bytes, the watch's first call into the volume, as a dead mount or a
// refusing one would answer it.
class VolumeEnv : public Env {
 public:
  enum class Mode { answer, refuse, hang };
  std::uint64_t free_bytes(const std::filesystem::path& path) const override {
    std::unique_lock lock(mutex_);
    if (mode_ == Mode::refuse) throw system_error("statvfs " + path.string(), EIO);
    released_.wait(lock, [this] { return mode_ != Mode::hang; });
    return 123456;
  }
  void set(Mode m) {
    {
      std::lock_guard lock(mutex_);
      mode_ = m;
    }
    released_.notify_all();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable released_;
  Mode mode_ = Mode::answer;
};

struct BackupFolderWatchTest : ::testing::Test {
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "watch-test-backups";
  boost::asio::io_context io;
  // The looks arrive by post from another thread: the loop must not run out of work meanwhile.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> busy = boost::asio::make_work_guard(io);
  VolumeEnv env;
  std::vector<BackupFolderLook> looks;

  void SetUp() override {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    // Changed long ago: a fresh change is re-read until it has settled.
    std::filesystem::last_write_time(dir, std::filesystem::file_time_type::clock::now() - 1h);
  }
  // Runs the loop until `n` looks came back, or a deadline.
  bool run_until_looks(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (looks.size() < n && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
    return looks.size() >= n;
  }
};

TEST_F(BackupFolderWatchTest, AFolderThatRefusesIsReportedNamingItAndTheReasonAndRecovers) {
  BackupFolderWatch watch(io, dir, dir, dir, "app", env, [this](const BackupFolderLook& l) { looks.push_back(l); });
  env.set(VolumeEnv::Mode::refuse);
  watch.look();
  ASSERT_TRUE(run_until_looks(1));
  EXPECT_EQ(looks[0].error,
            "cannot look at backup folder " + dir.string() + ": statvfs " + dir.string() + ": " + std::strerror(EIO));
  env.set(VolumeEnv::Mode::answer);
  watch.look();
  ASSERT_TRUE(run_until_looks(2));
  EXPECT_EQ(looks[1].error, "");
  EXPECT_EQ(looks[1].free_bytes, 123456u);
}

TEST_F(BackupFolderWatchTest, AHungVolumeHoldsOnlyTheWatchNotTheLoop) {
  BackupFolderWatch watch(io, dir, dir, dir, "app", env, [this](const BackupFolderLook& l) { looks.push_back(l); });
  env.set(VolumeEnv::Mode::hang);
  watch.look();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!watch.busy_for() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  // The loop goes on turning (a timer fires) while the look hangs, and the hang shows.
  boost::asio::steady_timer tick(io, 200ms);
  bool ticked = false;
  tick.async_wait([&](auto) { ticked = true; });
  while (!ticked && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
  EXPECT_TRUE(ticked);
  EXPECT_TRUE(looks.empty());
  ASSERT_TRUE(watch.busy_for().has_value());
  EXPECT_GE(*watch.busy_for(), 200ms);
  env.set(VolumeEnv::Mode::answer);
  ASSERT_TRUE(run_until_looks(1));
  EXPECT_FALSE(watch.busy_for().has_value());
  EXPECT_EQ(looks[0].error, "");
}

TEST_F(BackupFolderWatchTest, ReadsTheBackupsWhenTheFolderChangesAndNotOtherwise) {
  BackupFolderWatch watch(io, dir, dir, dir, "app", env, [this](const BackupFolderLook& l) { looks.push_back(l); });
  watch.look();
  ASSERT_TRUE(run_until_looks(1));
  EXPECT_TRUE(looks[0].read_backups);
  EXPECT_EQ(looks[0].backup_count, 0);
  watch.look();
  ASSERT_TRUE(run_until_looks(2));
  EXPECT_FALSE(looks[1].read_backups);
  // A file appears (any file changes the folder's mtime); the next look reads again.
  std::ofstream(dir / "app-20261206T000000Z.db") << "x";
  watch.look();
  ASSERT_TRUE(run_until_looks(3));
  EXPECT_TRUE(looks[2].read_backups);
  watch.look(/*reread=*/true);
  ASSERT_TRUE(run_until_looks(4));
  EXPECT_TRUE(looks[3].read_backups);
}

}  // namespace
}  // namespace sqlkeeper::daemon
