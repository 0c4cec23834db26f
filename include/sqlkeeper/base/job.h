#pragma once
// The controls of one long job (a migration, a backup, a verification): a stop
// request, a deadline and a progress count, shared between the thread that runs the
// job and the thread that watches it. The job checks them between its steps, and
// SQLite checks them inside long statements through JobScope's progress handler,
// so a job stops at its next step whether it was asked to or ran out of time.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {

class Job {
 public:
  using Clock = std::chrono::steady_clock;

  // A job with no deadline until set_deadline().
  explicit Job(std::string name);
  Job(std::string name, Clock::duration limit);
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  const std::string& name() const noexcept { return name_; }

  // Thread-safe. The first reason given is the one reported.
  void request_stop(const std::string& why);
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_relaxed); }
  void set_deadline(Clock::time_point deadline) noexcept;
  Clock::time_point deadline() const noexcept;
  // True once a stop was requested or the deadline has passed.
  bool should_stop(Clock::time_point now = Clock::now()) const noexcept;
  // Why the job must stop ("stop requested: SIGTERM", "deadline of 2min passed"); empty while it may go on.
  std::string stop_reason(Clock::time_point now = Clock::now()) const;

  // Throws Error(stopped) naming what was being done, once the job must stop.
  void check(std::string_view doing) const;
  // Waits up to `pause`, returning early when a stop is requested. Returns false when the job must stop.
  bool pause(Clock::duration pause);

  // Progress: `beats` counts any sign of life (a statement step, a page copied);
  // done/total measure the current phase where it has a size.
  void beat() noexcept { beats_.fetch_add(1, std::memory_order_relaxed); }
  void set_progress(std::uint64_t done, std::uint64_t total) noexcept;
  std::uint64_t beats() const noexcept { return beats_.load(std::memory_order_relaxed); }
  std::uint64_t done() const noexcept { return done_.load(std::memory_order_relaxed); }
  std::uint64_t total() const noexcept { return total_.load(std::memory_order_relaxed); }

 private:
  std::string name_;
  std::atomic<bool> stop_{false};
  std::atomic<Clock::rep> deadline_;
  std::atomic<std::uint64_t> beats_{0};
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::uint64_t> total_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string stop_why_;  // guarded by mutex_
};

// Binds a connection to a job for the scope's lifetime: a progress handler makes a
// running statement fail with SQLITE_INTERRUPT once the job must stop, and a busy
// handler replaces the busy timeout so that a wait for another process's lock
// ends at `busy_limit`, at the job's deadline, or at a stop request, whichever
// comes first. The destructor restores the plain busy timeout.
class JobScope {
 public:
  JobScope(sqlite::Connection& db, Job& job, std::chrono::milliseconds busy_limit);
  JobScope(const JobScope&) = delete;
  JobScope& operator=(const JobScope&) = delete;
  ~JobScope();

  // Ends every busy wait at `until` as well: for one operation (a checkpoint)
  // that may meet several locks in turn, the whole wait stays within one bound.
  void busy_until(Job::Clock::time_point until) noexcept { busy_until_ = until; }

 private:
  static int on_progress(void* self);
  static int on_busy(void* self, int count);
  sqlite::Connection& db_;
  Job& job_;
  std::chrono::milliseconds busy_limit_;
  Job::Clock::time_point busy_since_{};
  Job::Clock::time_point busy_until_ = Job::Clock::time_point::max();
};

// Rethrows an error from work that `job` interrupted as Error(stopped) with the
// job's reason; any other error is rethrown unchanged. Call from a catch block.
[[noreturn]] void rethrow_as_stopped_if(const Job& job);

}  // namespace sqlkeeper::core
