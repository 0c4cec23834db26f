#include "sqlkeeper/daemon/worker.h"

#include <spdlog/spdlog.h>

namespace sqlkeeper::daemon {
namespace {

// A job is expected to notice its deadline at its next step; one that has not
// within this long is stuck in something that cannot be interrupted.
constexpr auto kStuckGrace = std::chrono::seconds(10);

}  // namespace

Worker::Worker() : thread_([this] { loop(); }) {}

Worker::~Worker() {
  stop("shutting down", std::chrono::hours(24 * 365));
}

Worker::Posted Worker::post(const std::string& name, std::chrono::milliseconds limit, Task task, bool join) {
  std::lock_guard lock(mutex_);
  if (join && running_ && running_->name() == name && !running_->should_stop()) return {running_, true};
  for (const auto& item : queue_)
    if (join && item.job->name() == name) return {item.job, true};
  auto job = std::make_shared<core::Job>(name);
  if (stopping_) {
    job->request_stop("the daemon is stopping");
  } else {
    queue_.push_back({job, limit, std::move(task)});
    wake_.notify_one();
  }
  return {job, false};
}

void Worker::loop() {
  for (;;) {
    Item item;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      item = std::move(queue_.front());
      queue_.pop_front();
      item.job->set_deadline(core::Job::Clock::now() + item.limit);
      running_ = item.job;
    }
    try {
      item.task(*item.job);
    } catch (const std::exception& e) {
      // Tasks report their own errors to the loop; reaching here is a bug.
      spdlog::critical("worker job {} threw: {}", item.job->name(), e.what());
    }
    std::lock_guard lock(mutex_);
    running_.reset();
  }
  std::lock_guard lock(mutex_);
  finished_ = true;
  finished_signal_.notify_all();
}

std::shared_ptr<core::Job> Worker::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

bool Worker::stuck(std::chrono::steady_clock::time_point now) const {
  const auto job = running();
  return job && now > job->deadline() + kStuckGrace;
}

std::string Worker::current() const {
  const auto job = running();
  return job ? job->name() : std::string();
}

bool Worker::stop(const std::string& why, std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  for (auto& item : queue_) item.job->request_stop(why);
  queue_.clear();
  if (running_) running_->request_stop(why);
  wake_.notify_all();
  if (!thread_.joinable()) return true;
  if (!finished_signal_.wait_for(lock, grace, [this] { return finished_; })) {
    spdlog::error("worker job {} did not stop within {} ms", running_ ? running_->name() : "?", grace.count());
    thread_.detach();
    return false;
  }
  lock.unlock();
  thread_.join();
  return true;
}

}  // namespace sqlkeeper::daemon
