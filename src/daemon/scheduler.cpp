#include "sqlkeeper/daemon/scheduler.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sqlkeeper/config/command.h"
#include "sqlkeeper/config/units.h"
#include "sqlkeeper/backup/prune.h"
#include "sqlkeeper/daemon/spawn.h"
#include "sqlkeeper/restore/point_in_time.h"

namespace sqlkeeper::daemon {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The longest the timer sleeps before looking at the wall clock again.
constexpr auto kRecheck = std::chrono::milliseconds(1min);
constexpr auto kPruneLimit = std::chrono::milliseconds(10min);

}  // namespace

Scheduler::Scheduler(asio::io_context& io, Worker& worker, Maintenance& maintenance, DaemonState& state,
                     const config::Config& config, Env& env, std::function<void()> changed)
    : io_(io),
      worker_(worker),
      maintenance_(maintenance),
      state_(state),
      config_(config),
      env_(env),
      changed_(std::move(changed)),
      timer_(io),
      post_backup_(io) {
  maintenance_.on_backup_done([this](const Outcome<core::BackupResult>& r) { on_backup(r); });
}

void Scheduler::start() {
  history_.started_at = state_.started_at;
  if (state_.last_backup && state_.last_backup->verified) history_.last_success = state_.last_backup->at;
  // Only backups stamped in the future: their real age is unknown, and the
  // schedule takes one now (backup/schedule).
  else if (state_.future_backup_at) history_.last_success = state_.future_backup_at;
  started_ = true;
  spawn_loop(io_, "the backup schedule", [this] { return loop(); });
}

void Scheduler::stop() {
  stopped_ = true;
  timer_.cancel();
  post_backup_.stop();
}

void Scheduler::rearm() {
  if (started_) timer_.cancel();
}

asio::awaitable<void> Scheduler::loop() {
  while (!stopped_) {
    const auto now = env_.now();
    const auto steady_now = std::chrono::steady_clock::now();
    const auto ago = [&](const std::optional<std::chrono::steady_clock::time_point>& t) {
      return t ? std::optional(std::chrono::duration_cast<std::chrono::milliseconds>(steady_now - *t)) : std::nullopt;
    };
    history_.since_last_success = ago(success_steady_);
    history_.since_last_failure = ago(failure_steady_);
    const core::ScheduleSettings settings{config_.backup_at, config_.backup_interval};
    const auto next = core::next_backup(now, history_, settings);
    state_.schedule.next_at = next.at;
    state_.schedule.next_why = next.why;
    state_.schedule.failures_since_success = history_.failures_since_success;
    state_.schedule.expected_interval = std::chrono::duration_cast<std::chrono::seconds>(
        config_.backup_interval > 0ms ? config_.backup_interval : std::chrono::milliseconds(24h));
    state_.post_backup.configured = !config_.post_backup_command.empty();
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next.at - now);
    if (wait <= 0ms) {
      // Due. One that runs already (asked for on the socket) is joined, not doubled;
      // its outcome re-arms the timer.
      maintenance_.backup_now(next.why);
      wait = kRecheck;
    }
    changed_();
    timer_.expires_after(std::min(wait, kRecheck));
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled: look again
  }
}

void Scheduler::saw_backup(std::chrono::system_clock::time_point at) {
  if (!started_ || stopped_ || (history_.last_success && *history_.last_success >= at)) return;
  spdlog::info("the schedule counts from the backup of {} found in the folder", config::format_utc(at));
  const auto now = env_.now();
  history_.last_success = at;
  const auto age = at <= now ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(now - at)
                             : std::chrono::steady_clock::duration::zero();
  success_steady_ = std::chrono::steady_clock::now() - age;
  // A failure after this backup still backs off; one before it is over.
  if (!history_.last_failure || *history_.last_failure <= at) history_.failures_since_success = 0;
  rearm();
}

void Scheduler::on_backup(const Outcome<core::BackupResult>& r) {
  if (stopped_) return;
  if (r.value) {
    history_.last_success = r.value->at;
    success_steady_ = std::chrono::steady_clock::now();
    history_.failures_since_success = 0;
    prune();
    if (!config_.post_backup_command.empty()) run_post_backup(r.value->file.string());
  } else {
    history_.last_failure = env_.now();
    failure_steady_ = std::chrono::steady_clock::now();
    ++history_.failures_since_success;
  }
  rearm();
}

void Scheduler::prune() {
  // Only after a success: a run whose backup failed deletes nothing.
  if (pruning_) return;
  pruning_ = true;
  const auto dir = config_.backup_dir;
  const auto stem = config_.database.stem().string();
  const auto database = core::database_identity(config_.database);
  const auto policy = core::retention_policy(config_);
  const auto lock_timeout = config_.lock_timeout;
  auto& env = env_;
  // The archive keeps what the kept backups need (restore/point_in_time.h).
  const auto archive_dir = config_.archive ? std::optional(config::archive_folder(config_)) : std::nullopt;
  const auto database_path = config_.database;
  post_job<core::PruneReport>(
      worker_, io_, "prune", kPruneLimit,
      [dir, stem, database, policy, lock_timeout, archive_dir, database_path, &env](core::Job& job) {
        auto report = core::prune_backups(dir, stem, database, policy, /*dry_run=*/false, env, job, lock_timeout);
        if (archive_dir) {
          const auto a = core::prune_archive(*archive_dir, dir, database_path, /*dry_run=*/false, env);
          if (!a.chains.empty() || !a.segments.empty())
            spdlog::info("pruned the archive: {} chains and {} segments ({} bytes) only deleted backups needed",
                         a.chains.size(), a.segments.size(), a.bytes);
        }
        return report;
      },
      [this](const Outcome<core::PruneReport>& r) {
        pruning_ = false;
        auto& p = state_.prune;
        p.last_run = env_.now();
        if (!r.value) {
          p.error = r.error;
          if (!stopped_) spdlog::error("pruning backups failed: {}", r.error);
        } else {
          p.error.clear();
          p.deleted = r.value->deleted.size();
          p.kept = r.value->backups.size() - p.deleted;
          // What prune found on disk is what health reports: the damaged and
          // future-stamped files by name, and as the last backup the newest
          // one that still matched its sidecar.
          state_.backup_problems = r.value->problems;
          if (const auto& good = r.value->newest_good)
            state_.last_backup = BackupSummary{good->file.string(), good->name.at, good->size, true};
          else if (state_.last_backup)
            state_.last_backup->verified = false;
          p.held = r.value->plan.held;
          p.deleted_total += p.deleted;
          if (!p.held.empty()) spdlog::warn("pruning held: {}", p.held);
          state_.backup_count -= static_cast<int>(p.deleted);
        }
        changed_();
      });
}

void Scheduler::run_post_backup(const std::string& file) {
  auto& pb = state_.post_backup;
  pb.configured = true;
  pb.running = true;
  pb.file = file;
  post_backup_.run(config::command_for_file(config_.post_backup_command, file), file, config_.post_backup_timeout,
                   [this](const PostBackupResult& r) {
                     auto& s = state_.post_backup;
                     s.running = post_backup_.running();
                     s.file = r.file;
                     s.last_finished = env_.now();
                     s.last_ok = r.ok;
                     s.last_outcome = r.outcome;
                     s.last_output = r.output;
                     s.last_duration = r.duration;
                     ++s.runs_total;
                     if (!r.ok) ++s.failures_total;
                     const auto last = r.output.empty() ? std::string() : ": " + r.output.back();
                     if (r.ok) {
                       spdlog::info("post-backup-command for {}: {} in {} ms", r.file, r.outcome, r.duration.count());
                     } else {
                       spdlog::error("post-backup-command for {} failed: {}{}", r.file, r.outcome, last);
                       for (const auto& line : r.output) spdlog::error("  | {}", line);
                     }
                     changed_();
                   });
}

}  // namespace sqlkeeper::daemon
