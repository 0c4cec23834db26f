#include "sqlkeeper/daemon/scrubber.h"

#include <spdlog/spdlog.h>

#include "sqlkeeper/base/background_priority.h"
#include "sqlkeeper/backup/scrub.h"

namespace sqlkeeper::daemon {
namespace {

using namespace std::chrono_literals;

// The longest the timer sleeps before reading the folder again.
constexpr auto kRecheck = std::chrono::steady_clock::duration(1h);
// A file of a few GiB at background priority on a busy disk; a stop ends it sooner.
constexpr auto kScrubLimit = std::chrono::milliseconds(6h);

}  // namespace

struct Scrubber::Pass {
  std::optional<std::string> file;           // the backup checked in this pass
  std::optional<core::ScrubRecord> record;   // nullopt: none was due, or it was pruned meanwhile
  std::map<std::string, std::string> damaged;
  std::optional<Env::Clock::time_point> next;  // when the next one is due; nullopt: none to check
};

Scrubber::Scrubber(boost::asio::io_context& io, Worker& worker, DaemonState& state, const config::Config& config,
                   Env& env, std::function<void()> changed)
    : io_(io), worker_(worker), state_(state), config_(config), env_(env), changed_(std::move(changed)), timer_(io) {}

void Scrubber::start() {
  started_ = true;
  run_pass();
}

void Scrubber::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Scrubber::rearm() {
  if (started_ && !stopped_) arm(0s);
}

void Scrubber::arm(std::chrono::steady_clock::duration after) {
  // A backup made since the last pass (by the CLI too) is seen within an interval.
  auto longest = kRecheck;
  if (config_.verify_interval.count() > 0)
    longest = std::min(longest, std::chrono::duration_cast<std::chrono::steady_clock::duration>(config_.verify_interval));
  timer_.expires_after(std::min(after, longest));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) run_pass();
  });
}

void Scrubber::run_pass() {
  const auto interval = std::chrono::duration_cast<std::chrono::seconds>(config_.verify_interval);
  const auto dir = config_.backup_dir;
  const auto stem = config_.database.stem().string();
  const auto lock_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_.lock_timeout);
  const auto last_ended = last_ended_;
  Env* env = &env_;
  post_job<Pass>(
      worker_, io_, "scrub", kScrubLimit,
      [=](core::Job& job) {
        Pass pass;
        auto catalog = core::read_catalog(dir, stem);
        const auto plan = core::plan_scrub(catalog, last_ended, interval);
        if (interval.count() > 0 && plan.next && plan.when <= env->now()) {
          pass.file = plan.next->file.string();
          core::run_at_background_priority(
              [&] { pass.record = core::scrub_backup(*plan.next, *env, job, lock_timeout); });
          catalog = core::read_catalog(dir, stem);
        }
        for (const auto& e : catalog.backups)
          if (const auto r = e.sidecar ? core::last_scrub(*e.sidecar) : std::nullopt; r && !r->ok)
            pass.damaged[e.file.filename().string()] = r->problem;
        if (const auto next = core::plan_scrub(catalog, env->now(), interval); interval.count() > 0 && next.next)
          pass.next = next.when;
        return pass;
      },
      [this](const Outcome<Pass>& r) { on_pass(r); });
}

void Scrubber::on_pass(const Outcome<Pass>& r) {
  if (stopped_) return;
  if (!r.value) {
    spdlog::warn("scrub of the backups in {} did not run: {}", config_.backup_dir.string(), r.error);
    arm(kRecheck);
    return;
  }
  const auto& pass = *r.value;
  if (pass.file && pass.record) {
    last_ended_ = env_.now();
    ++state_.scrub.checked_total;
    state_.scrub.last = ScrubSummary::Last{*pass.file, pass.record->at, pass.record->ok, pass.record->problem};
    if (pass.record->ok)
      spdlog::info("scrub: {} still matches its checksum", *pass.file);
    else
      spdlog::error("scrub: {} no longer matches its checksum: {}", *pass.file, pass.record->problem);
  }
  state_.scrub.damaged = pass.damaged;
  state_.scrub.next = pass.next;
  changed_();
  const auto wait = pass.next ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::max(Env::Clock::duration::zero(), *pass.next - env_.now()))
                              : kRecheck;
  arm(wait);
}

}  // namespace sqlkeeper::daemon
