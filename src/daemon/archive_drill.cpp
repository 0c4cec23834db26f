#include "sqlkeeper/daemon/archive_drill.h"

#include <spdlog/spdlog.h>

#include "sqlkeeper/archive/timeline.h"
#include "sqlkeeper/base/background_priority.h"

namespace sqlkeeper::daemon {
namespace {

using namespace std::chrono_literals;

// Not at once after a start (the start's own backup and checks come first), and
// at least this often the timer looks again (the wall clock may jump).
constexpr auto kFirstDrillAfter = std::chrono::milliseconds(5min);
constexpr auto kRecheck = std::chrono::steady_clock::duration(1h);
// A restore of a few GiB at background priority; a stop ends it sooner.
constexpr auto kDrillLimit = std::chrono::milliseconds(6h);

}  // namespace

ArchiveDrill::ArchiveDrill(boost::asio::io_context& io, Worker& worker, DaemonState& state,
                           const config::Config& config, Env& env, std::function<void()> changed)
    : io_(io), worker_(worker), state_(state), config_(config), env_(env), changed_(std::move(changed)), timer_(io) {}

void ArchiveDrill::start() {
  if (!state_.archive.on || config_.archive_drill_interval.count() == 0) return;
  stopped_ = false;
  started_at_ = env_.now();
  run_pass();  // reads the last drill's record first
}

void ArchiveDrill::stop() {
  stopped_ = true;
  timer_.cancel();
}

Env::Clock::time_point ArchiveDrill::due() const {
  const auto interval = std::chrono::duration_cast<Env::Clock::duration>(config_.archive_drill_interval);
  const auto& last = state_.archive.drill;
  if (last) return Env::Clock::time_point(std::chrono::milliseconds(last->at_ms)) + interval;
  return started_at_ + std::min(interval, std::chrono::duration_cast<Env::Clock::duration>(kFirstDrillAfter));
}

void ArchiveDrill::arm(std::chrono::steady_clock::duration after) {
  timer_.expires_after(std::clamp(after, std::chrono::steady_clock::duration::zero(), kRecheck));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) run_pass();
  });
}

void ArchiveDrill::run_pass() {
  const core::DrillWhere where{config::archive_folder(config_), config_.backup_dir, config_.database,
                               // Well behind what the archive still writes.
                               std::max<std::chrono::milliseconds>(5s, 4 * config_.archive_interval)};
  const bool read_previous = !read_previous_;
  const bool is_due = read_previous_ && env_.now() >= due();
  Env* env = &env_;
  auto* random = &random_;
  post_job<Pass>(
      worker_, io_, "restore drill", kDrillLimit,
      [=](core::Job& job) {
        Pass pass;
        if (read_previous) pass.previous = core::read_drill_record(where.archive_dir);
        if (is_due)
          core::run_at_background_priority([&] {
            pass.ran = core::run_drill(where, *env, job, *random);
            if (pass.ran) core::write_drill_record(where.archive_dir, *pass.ran, *env);
          });
        return pass;
      },
      [this](const Outcome<Pass>& r) { on_pass(r); });
}

void ArchiveDrill::on_pass(const Outcome<Pass>& r) {
  if (stopped_) return;
  if (!r.value) {
    spdlog::warn("restore drill did not run: {}", r.error);
    arm(kRecheck);
    return;
  }
  if (!read_previous_) {
    read_previous_ = true;
    state_.archive.drill = r.value->previous;
  }
  if (const auto& d = r.value->ran) {
    state_.archive.drill = d;
    if (d->ok)
      spdlog::info("restore drill: {} restored from {} + {} transactions, checked ({} ms)",
                   archive::format_ms(d->target_ms), d->backup, d->transactions, d->duration_ms);
    else
      spdlog::error("restore drill: {} could not be restored: {}", archive::format_ms(d->target_ms), d->problem);
  }
  state_.archive.drill_next = due();
  changed_();
  // Nothing to drill on yet (no covered range): look again in an hour at most.
  const auto interval = std::chrono::duration_cast<Env::Clock::duration>(config_.archive_drill_interval);
  const auto wait = r.value->ran || env_.now() < due() ? due() - env_.now()
                                                       : std::min(interval, Env::Clock::duration(kRecheck));
  arm(std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait));
}

}  // namespace sqlkeeper::daemon
