#include "sqlkeeper/base/job.h"

#include <algorithm>
#include <exception>

#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

constexpr auto kNoDeadline = Job::Clock::time_point::max();
// SQLite calls the progress handler every this many virtual machine instructions:
// often enough to stop within milliseconds, rarely enough to cost nothing.
constexpr int kProgressOps = 10000;

}  // namespace

Job::Job(std::string name) : name_(std::move(name)), deadline_(kNoDeadline.time_since_epoch().count()) {}

Job::Job(std::string name, Clock::duration limit) : Job(std::move(name)) {
  set_deadline(Clock::now() + limit);
}

void Job::request_stop(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (stop_why_.empty()) stop_why_ = why;
    stop_ = true;
  }
  wake_.notify_all();
}

void Job::set_deadline(Clock::time_point deadline) noexcept {
  deadline_ = deadline.time_since_epoch().count();
}

Job::Clock::time_point Job::deadline() const noexcept {
  return Clock::time_point(Clock::duration(deadline_.load(std::memory_order_relaxed)));
}

bool Job::should_stop(Clock::time_point now) const noexcept {
  return stop_requested() || now >= deadline();
}

std::string Job::stop_reason(Clock::time_point now) const {
  if (stop_requested()) {
    std::lock_guard lock(mutex_);
    return "stop requested (" + stop_why_ + ")";
  }
  if (now >= deadline()) return "its deadline passed";
  return {};
}

void Job::check(std::string_view doing) const {
  const auto why = stop_reason();
  if (!why.empty()) throw Error(ErrorCode::stopped, name_ + " stopped while " + std::string(doing) + ": " + why);
}

bool Job::pause(Clock::duration pause) {
  std::unique_lock lock(mutex_);
  const auto until = std::min(Clock::now() + pause, deadline());
  wake_.wait_until(lock, until, [this] { return stop_.load(); });
  lock.unlock();
  return !should_stop();
}

void Job::set_progress(std::uint64_t done, std::uint64_t total) noexcept {
  total_ = total;
  done_ = done;
  beat();
}

JobScope::JobScope(sqlite::Connection& db, Job& job, std::chrono::milliseconds busy_limit)
    : db_(db), job_(job), busy_limit_(busy_limit) {
  sqlite3_progress_handler(db_.handle(), kProgressOps, &JobScope::on_progress, this);
  sqlite3_busy_handler(db_.handle(), &JobScope::on_busy, this);
}

JobScope::~JobScope() {
  sqlite3_progress_handler(db_.handle(), 0, nullptr, nullptr);
  // Installing a busy timeout replaces the busy handler.
  sqlite3_busy_timeout(db_.handle(), static_cast<int>(busy_limit_.count()));
}

int JobScope::on_progress(void* self) {
  auto& scope = *static_cast<JobScope*>(self);
  scope.job_.beat();
  return scope.job_.should_stop() ? 1 : 0;
}

// Returns 0 to give up (the statement fails with SQLITE_BUSY), 1 to retry.
int JobScope::on_busy(void* self, int count) {
  auto& scope = *static_cast<JobScope*>(self);
  const auto now = Job::Clock::now();
  if (count == 0) scope.busy_since_ = now;
  if (now - scope.busy_since_ >= scope.busy_limit_ || now >= scope.busy_until_) return 0;
  // Short pauses first, as sqlite3_busy_timeout does, so a brief lock costs little.
  const auto pause = std::chrono::milliseconds(std::min(1 + count, 25));
  return scope.job_.pause(pause) ? 1 : 0;
}

void rethrow_as_stopped_if(const Job& job) {
  const auto why = job.stop_reason();
  if (why.empty()) throw;
  try {
    throw;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::stopped) throw;
    throw Error(ErrorCode::stopped, job.name() + " stopped: " + why + " (" + e.what() + ")", e.sqlite_code(),
                e.sys_errno());
  }
}

}  // namespace sqlkeeper::core
