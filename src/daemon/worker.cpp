#include "sqlkeeper/daemon/worker.h"

#include <spdlog/spdlog.h>

namespace sqlkeeper::daemon {

Worker::Worker() : guard_(context_.get_executor()), thread_([this] { context_.run(); }) {}

Worker::~Worker() {
  stop();
}

void Worker::stop() {
  guard_.reset();
  if (thread_.joinable()) thread_.join();
}

void Worker::post(std::string name, std::chrono::milliseconds deadline, std::function<void()> job) {
  boost::asio::post(context_, [this, name = std::move(name), deadline, job = std::move(job)] {
    deadline_ticks_ = (std::chrono::steady_clock::now() + deadline).time_since_epoch().count();
    {
      std::lock_guard lock(mutex_);
      current_ = name;
    }
    try {
      job();
    } catch (const std::exception& e) {
      // Jobs report their own errors to the loop; reaching here is a bug.
      spdlog::critical("worker job {} threw: {}", name, e.what());
    }
    {
      std::lock_guard lock(mutex_);
      current_.clear();
    }
    deadline_ticks_ = 0;
  });
}

bool Worker::stuck(std::chrono::steady_clock::time_point now) const {
  const auto ticks = deadline_ticks_.load();
  return ticks != 0 && now.time_since_epoch().count() > ticks;
}

std::string Worker::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace sqlkeeper::daemon
