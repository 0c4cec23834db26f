#include "sqlkeeper/daemon/spawn.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sqlkeeper::daemon {
namespace {

// A loop that throws its first two times and then ends as it should: started again each time.
TEST(SpawnLoop, ALoopEndedByAnExceptionIsStartedAgain) {
  boost::asio::io_context io;
  int starts = 0;
  spawn_loop(io, "test loop", [&]() -> boost::asio::awaitable<void> {
    ++starts;
    if (starts <= 2) throw std::runtime_error("EACCES on the backup folder");
    co_return;
  });
  EXPECT_NO_THROW(io.run());
  EXPECT_EQ(starts, 3);
}

// One that keeps failing is not restarted for ever: its exception leaves run(),
// where the daemon stops with a failure status.
TEST(SpawnLoop, ALoopThatKeepsFailingEndsTheLoopWithItsError) {
  boost::asio::io_context io;
  int starts = 0;
  spawn_loop(io, "test loop", [&]() -> boost::asio::awaitable<void> {
    ++starts;
    throw std::runtime_error("always");
    co_return;
  });
  try {
    io.run();
    FAIL() << "run() returned";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "always");
  }
  EXPECT_EQ(starts, 5);
}

boost::asio::awaitable<void> failing_session() {
  throw std::runtime_error("a session failed");
  co_return;
}

// A reference parameter is copied into the frame: `ran` outlives the coroutine.
boost::asio::awaitable<void> session(bool& ran) {
  ran = true;
  co_return;
}

TEST(SpawnLogged, AnExceptionEndsOnlyThatCoroutine) {
  boost::asio::io_context io;
  bool other_ran = false;
  spawn_logged(io.get_executor(), failing_session(), "test session");
  spawn_logged(io.get_executor(), session(other_ran), "other");
  EXPECT_NO_THROW(io.run());
  EXPECT_TRUE(other_ran);
}

}  // namespace
}  // namespace sqlkeeper::daemon
