#pragma once
// The one thread that does work whose time grows with the database (migrations,
// backups, integrity checks, big checkpoints), so the event loop never waits.
// Jobs run in order; each reports back by posting to the loop's executor.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace sqlkeeper::daemon {

class Worker {
 public:
  Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  // Joins the thread after the queued jobs are done.
  ~Worker();

  // Queues `job` to run on the worker thread; `deadline` is how long it may
  // take before the watchdog calls the worker stuck.
  void post(std::string name, std::chrono::milliseconds deadline, std::function<void()> job);

  // True when a job has been running past its deadline.
  bool stuck(std::chrono::steady_clock::time_point now) const;
  // The running job's name, empty when idle.
  std::string current() const;

  void stop();

 private:
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  // steady_clock ticks at which the running job must be done; 0 when idle.
  std::atomic<std::int64_t> deadline_ticks_{0};
  mutable std::mutex mutex_;
  std::string current_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace sqlkeeper::daemon
