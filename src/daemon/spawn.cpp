#include "sqlkeeper/daemon/spawn.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <chrono>
#include <deque>
#include <memory>

namespace sqlkeeper::daemon {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxRestarts = 5;
constexpr auto kRestartWindow = std::chrono::minutes(1);

struct Restarts {
  std::string name;
  std::function<boost::asio::awaitable<void>()> make;
  std::deque<Clock::time_point> failures;
};

void start(boost::asio::io_context& io, std::shared_ptr<Restarts> r) {
  boost::asio::co_spawn(io, r->make(), [&io, r](const std::exception_ptr& e) {
    if (!e) return;
    const auto now = Clock::now();
    r->failures.push_back(now);
    while (!r->failures.empty() && now - r->failures.front() > kRestartWindow) r->failures.pop_front();
    if (r->failures.size() >= kMaxRestarts) {
      spdlog::critical("{} failed {} times within a minute, giving up: {}", r->name, r->failures.size(), describe(e));
      std::rethrow_exception(e);
    }
    spdlog::error("{} ended by an error, starting it again: {}", r->name, describe(e));
    start(io, r);
  });
}

}  // namespace

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

void spawn_loop(boost::asio::io_context& io, std::string name, std::function<boost::asio::awaitable<void>()> make) {
  start(io, std::make_shared<Restarts>(Restarts{std::move(name), std::move(make), {}}));
}

void spawn_logged(const boost::asio::any_io_executor& executor, boost::asio::awaitable<void> work, std::string name) {
  boost::asio::co_spawn(executor, std::move(work), [name = std::move(name)](const std::exception_ptr& e) {
    if (e) spdlog::error("{} ended by an error: {}", name, describe(e));
  });
}

}  // namespace sqlkeeper::daemon
