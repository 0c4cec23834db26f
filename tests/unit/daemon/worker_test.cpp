#include "sqlkeeper/daemon/worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace sqlkeeper::daemon {
namespace {

using namespace std::chrono_literals;

TEST(Worker, RunsJobsInOrderUnderTheirDeadline) {
  Worker worker;
  std::promise<std::chrono::steady_clock::time_point> deadline;
  std::promise<void> second_ran;
  worker.post("first", 1h, [&](core::Job& job) { deadline.set_value(job.deadline()); });
  worker.post("second", 1h, [&](core::Job&) { second_ran.set_value(); });
  EXPECT_EQ(second_ran.get_future().wait_for(10s), std::future_status::ready);
  // The deadline counts from the job's start, not from when it was queued.
  EXPECT_GT(deadline.get_future().get(), std::chrono::steady_clock::now() + 50min);
  EXPECT_TRUE(worker.stop("test", 10s));
}

TEST(Worker, ASecondRequestJoinsTheQueuedOrRunningJob) {
  Worker worker;
  std::promise<void> started;
  std::atomic<int> backups{0};
  const auto blocker = worker.post("backup", 1h, [&](core::Job& job) {
    ++backups;
    started.set_value();
    job.pause(1h);  // until stopped
  });
  started.get_future().wait();
  EXPECT_EQ(worker.current(), "backup");
  const auto joined = worker.post("backup", 1h, [&](core::Job&) { ++backups; });
  EXPECT_TRUE(joined.joined);
  EXPECT_EQ(joined.job, blocker.job);
  const auto queued = worker.post("checkpoint", 1h, [](core::Job&) {});
  EXPECT_FALSE(queued.joined);
  EXPECT_TRUE(worker.post("checkpoint", 1h, [](core::Job&) {}).joined);
  EXPECT_TRUE(worker.stop("test", 10s));
  EXPECT_EQ(backups.load(), 1);
}

TEST(Worker, StopDropsQueuedJobsAndStopsTheRunningOne) {
  Worker worker;
  std::promise<void> started;
  std::atomic<bool> queued_ran{false};
  const auto running = worker.post("long", 1h, [&](core::Job& job) {
    started.set_value();
    while (!job.should_stop()) job.pause(1h);
  });
  const auto queued = worker.post("next", 1h, [&](core::Job&) { queued_ran = true; });
  started.get_future().wait();
  EXPECT_TRUE(worker.stop("SIGTERM", 10s));
  EXPECT_FALSE(queued_ran.load());
  EXPECT_EQ(running.job->stop_reason(), "stop requested (SIGTERM)");
  EXPECT_TRUE(queued.job->stop_requested());
  // After the stop nothing more runs.
  EXPECT_TRUE(worker.post("late", 1h, [&](core::Job&) { queued_ran = true; }).job->stop_requested());
  EXPECT_FALSE(queued_ran.load());
}

TEST(Worker, AJobPastItsDeadlineIsStuck) {
  Worker worker;
  std::promise<void> started;
  worker.post("slow", 1ms, [&](core::Job& job) {
    started.set_value();
    while (!job.stop_requested()) job.pause(1h);
  });
  started.get_future().wait();
  const auto now = std::chrono::steady_clock::now();
  EXPECT_FALSE(worker.stuck(now));
  EXPECT_TRUE(worker.stuck(now + 1min));
  EXPECT_TRUE(worker.stop("test", 10s));
  EXPECT_FALSE(worker.stuck(now + 1min));
}

}  // namespace
}  // namespace sqlkeeper::daemon
