#include "sqlkeeper/daemon/quick_check.h"

#include <spdlog/spdlog.h>

#include "sqlkeeper/db/integrity.h"

namespace sqlkeeper::daemon {
namespace {

using namespace std::chrono_literals;

// Off (interval 0): look again at the setting this often.
constexpr auto kWhenOff = std::chrono::steady_clock::duration(1h);
// Reading the whole file takes time in proportion to it; allow generously.
constexpr auto kLimit = std::chrono::milliseconds(1h);

}  // namespace

QuickCheck::QuickCheck(boost::asio::io_context& io, Worker& worker, DaemonState& state, const config::Config& config,
                       Env& env, std::function<void()> changed)
    : io_(io), worker_(worker), state_(state), config_(config), env_(env), changed_(std::move(changed)), timer_(io) {}

void QuickCheck::start() {
  arm();
}

void QuickCheck::stop() {
  stopped_ = true;
  timer_.cancel();
}

void QuickCheck::rearm() {
  if (!stopped_) arm();
}

void QuickCheck::arm() {
  const auto interval = config_.quick_check_interval;
  timer_.expires_after(interval.count() > 0 ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval)
                                            : kWhenOff);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    if (config_.quick_check_interval.count() > 0)
      run();
    else
      arm();
  });
}

void QuickCheck::run() {
  const auto database = config_.database;
  const auto busy = config_.busy_timeout;
  post_job<core::IntegrityResult>(
      worker_, io_, "quick-check", kLimit,
      [database, busy](core::Job& job) { return core::check_database(database, core::CheckDepth::quick, job, busy); },
      [this](const Outcome<core::IntegrityResult>& r) {
        if (stopped_) return;
        if (!r.value) {
          spdlog::warn("quick_check did not run: {}", r.error);
        } else {
          if (!r.value->ok)
            spdlog::critical("quick_check of {} found damage: {}", config_.database.string(), r.value->first_error);
          else if (state_.quick_check && !state_.quick_check->ok)
            spdlog::info("quick_check ok again");
          state_.quick_check = QuickCheckSummary{env_.now(), r.value->ok, r.value->first_error, r.value->duration};
          changed_();
        }
        arm();
      });
}

}  // namespace sqlkeeper::daemon
