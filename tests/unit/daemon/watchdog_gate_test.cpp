#include "sqlkeeper/daemon/watchdog_gate.h"

#include <gtest/gtest.h>

namespace sqlkeeper::daemon {
namespace {

WatchdogSigns signs(bool on_time, bool stuck, bool checked, bool answered, std::string error = "") {
  WatchdogSigns s;
  s.loop_on_time = on_time;
  s.worker_stuck = stuck;
  s.worker_job = stuck ? "backup" : "";
  s.database_checked = checked;
  s.database_answered = answered;
  s.database_error = std::move(error);
  return s;
}

TEST(WatchdogVerdict, PingsOnlyWhenTheLoopTheWorkerAndTheDatabaseAreAlive) {
  EXPECT_TRUE(watchdog_verdict(signs(true, false, true, true)).ping);
  // Starting: the database is not probed yet, and that withholds nothing.
  EXPECT_TRUE(watchdog_verdict(signs(true, false, false, false)).ping);

  const auto late = watchdog_verdict(signs(false, false, true, true));
  EXPECT_FALSE(late.ping);
  EXPECT_EQ(late.withheld_because, "loop late, worker ok, database answering");

  const auto stuck = watchdog_verdict(signs(true, true, true, true));
  EXPECT_FALSE(stuck.ping);
  EXPECT_EQ(stuck.withheld_because, "loop on time, worker stuck in backup, database answering");

  const auto silent = watchdog_verdict(signs(true, false, true, false, "database is locked"));
  EXPECT_FALSE(silent.ping);
  EXPECT_EQ(silent.withheld_because, "loop on time, worker ok, database database is locked");
}

}  // namespace
}  // namespace sqlkeeper::daemon
