#pragma once
// The one thread that does work whose time grows with the database (migrations,
// backups, integrity checks, big checkpoints), so the event loop never waits.
// Jobs run one at a time in order; each reports back by posting to the loop.
// Every job has a deadline and can be stopped (core::Job); a request for a job
// that is already queued or running joins it instead of queueing a duplicate.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sqlkeeper/base/job.h"

namespace sqlkeeper::daemon {

class Worker {
 public:
  using Task = std::function<void(core::Job&)>;

  Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  // Drops the queued jobs, stops the running one and joins the thread.
  ~Worker();

  struct Posted {
    std::shared_ptr<core::Job> job;
    bool joined = false;  // true: a job of that name was already queued or running
  };
  // Queues `task` under `name`; it must be done within `limit` of its start.
  // With `join`, a job of that name already queued or running is returned instead
  // and `task` is dropped; a caller that needs its own completion callback to run
  // passes false (and does its own joining).
  Posted post(const std::string& name, std::chrono::milliseconds limit, Task task, bool join = true);

  // The running job, or null when idle.
  std::shared_ptr<core::Job> running() const;
  // True when the running job is past its deadline by more than a grace period,
  // so it did not stop at its deadline as it should: it hangs.
  bool stuck(std::chrono::steady_clock::time_point now) const;
  // The running job's name, empty when idle.
  std::string current() const;

  // Drops the queued jobs, asks the running one to stop for `why`, and waits up to
  // `grace` for the thread. Returns false when the thread did not finish in time
  // (it is then detached: the process must exit without running destructors that
  // its job may still use).
  bool stop(const std::string& why, std::chrono::milliseconds grace);

 private:
  struct Item {
    std::shared_ptr<core::Job> job;
    std::chrono::milliseconds limit;
    Task task;
  };
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;                  // guarded by mutex_
  std::shared_ptr<core::Job> running_;      // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  bool finished_ = false;                   // guarded by mutex_; the thread left its loop
  std::condition_variable finished_signal_;
  std::thread thread_;
};

}  // namespace sqlkeeper::daemon
