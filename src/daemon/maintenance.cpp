#include "sqlkeeper/daemon/maintenance.h"

#include <spdlog/spdlog.h>

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/daemon/ownership_hint.h"
#include "sqlkeeper/daemon/spawn.h"
#include "sqlkeeper/sqlite/library.h"

namespace sqlkeeper::daemon {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A checkpoint's work grows with the WAL, which is bounded; a backup's with the database.
constexpr auto kCheckpointLimit = std::chrono::milliseconds(10min);
constexpr auto kBackupLimit = std::chrono::milliseconds(6h);

// On the worker, after a backup that has a place in an archive chain: the
// chain's backup before it brought forward by the archive must be this one.
// A problem is recorded, never thrown: the backup itself is good and published.
std::optional<core::ChainStep> check_against_chain(const core::BackupResult& backup,
                                                   const std::filesystem::path& archive_dir,
                                                   const std::filesystem::path& database, Env& env, core::Job& job) {
  if (archive_dir.empty() || backup.archive_mark.empty()) return std::nullopt;
  const auto point = archive::parse_chain_point(backup.archive_mark, backup.file);
  if (!point) return std::nullopt;
  try {
    return core::check_new_backup(archive_dir, backup.file.parent_path(), database, *point, env, job);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::stopped) return std::nullopt;  // the daemon stops: checked next time
    core::ChainStep failed;
    failed.from = failed.to = *point;
    failed.problem = std::string("cannot check ") + backup.file.filename().string() + " against its chain: " + e.what();
    return failed;
  }
}

}  // namespace

Maintenance::Maintenance(asio::io_context& io, Worker& worker, DaemonState& state, const config::Config& config,
                         Env& env, std::function<void()> changed)
    : io_(io),
      worker_(worker),
      state_(state),
      config_(config),
      env_(env),
      changed_(std::move(changed)),
      checkpoint_timer_(io) {
  if (!core::checkpoints_allowed())
    state_.checkpoint.disabled_reason = "SQLite " + sqlite::describe(sqlite::linked_library()) +
                                        ": sqlkeeper takes no checkpoints (see docs/operations.md)";
}

void Maintenance::start() {
  if (state_.checkpoint.disabled_reason.empty()) {
    spawn_loop(io_, "the checkpoint loop", [this] { return checkpoint_loop(); });
  } else {
    spdlog::warn("{}", state_.checkpoint.disabled_reason);
  }
  const auto dir = config_.backup_dir;
  const auto stem = config_.database.stem().string();
  const auto lock_timeout = config_.lock_timeout;
  post_job<int>(
      worker_, io_, "tidy backups", 1min,
      [dir, stem, lock_timeout, &env = env_](core::Job& job) {
        return core::remove_stale_temporaries(dir, stem, env, job, lock_timeout);
      },
      [](const Outcome<int>& r) {
        if (!r.value) spdlog::warn("could not tidy the backup folder: {}", r.error);
      });
}

void Maintenance::stop() {
  stopped_ = true;
  checkpoint_timer_.cancel();
}

asio::awaitable<void> Maintenance::checkpoint_loop() {
  for (;;) {
    checkpoint_timer_.expires_after(config_.checkpoint_interval);
    auto [ec] = co_await checkpoint_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopped_) co_return;
    checkpoint_now("interval");
  }
}

void Maintenance::on_wal_size(std::uint64_t wal_bytes) {
  if (wal_bytes > config_.wal_max_bytes && !checkpoint_pending_ && state_.checkpoint.disabled_reason.empty())
    checkpoint_now("the WAL passed wal-max-bytes");
}

void Maintenance::checkpoint_now(const std::string& why, CheckpointDone done) {
  if (!state_.checkpoint.disabled_reason.empty()) {
    if (done) done(Outcome<core::CheckpointResult>{std::nullopt, state_.checkpoint.disabled_reason, ErrorCode::conflict, 0});
    return;
  }
  // A request while one is queued or running joins it and gets its outcome.
  if (done) checkpoint_waiters_.push_back(std::move(done));
  if (checkpoint_pending_) return;
  spdlog::debug("checkpoint ({})", why);
  checkpoint_pending_ = true;
  const auto database = config_.database;
  const auto wait = config_.checkpoint_busy_wait;
  const auto limit = config_.wal_max_bytes;
  post_job<core::CheckpointResult>(
      worker_, io_, "checkpoint", kCheckpointLimit,
      [database, wait, limit, hold = hold_restarts_](core::Job& job) {
        const auto held = hold ? hold() : nullptr;
        return core::checkpoint_database(database, job, wait, limit);
      },
      [this](const Outcome<core::CheckpointResult>& r) {
        on_checkpoint(r);
        auto waiters = std::move(checkpoint_waiters_);
        checkpoint_waiters_.clear();
        for (auto& waiter : waiters) waiter(r);
      },
      /*join=*/false);
}

void Maintenance::on_checkpoint(const Outcome<core::CheckpointResult>& r) {
  checkpoint_pending_ = false;
  auto& c = state_.checkpoint;
  c.last_attempt = env_.now();
  ++c.total;
  if (!r.value) {
    ++c.incomplete_total;
    c.last_failure = r.error;
    if (!stopped_) spdlog::warn("checkpoint failed: {}", r.error);
  } else {
    const auto& v = *r.value;
    c.last_frames = v.wal_frames;
    c.last_checkpointed = v.checkpointed_frames;
    c.last_duration = v.duration;
    c.frames_total += static_cast<std::uint64_t>(std::max(0, v.checkpointed_frames));
    if (v.complete) {
      c.last_complete = c.last_attempt;
      c.last_failure.clear();
    } else {
      ++c.incomplete_total;
      c.last_failure = v.note;
      spdlog::info("checkpoint incomplete: {}", v.note);
    }
  }
  state_.sizes = core::file_sizes(config_.database);
  changed_();
}

Maintenance::Started Maintenance::backup_now(const std::string& why) {
  // One backup at a time: a request while one is queued or running joins it.
  if (backup_job_) return {state_.backup.running_id, true};
  const auto id = std::to_string(state_.backup.next_id);
  auto options = core::backup_options(config_);
  options.checkpoint_first = options.checkpoint_first && state_.checkpoint.disabled_reason.empty();
  options.archive_mark = archive_mark_;
  const auto database = config_.database;
  const auto busy = config_.busy_timeout;
  auto& env = env_;
  // Written by the job before its outcome is posted to the loop, read there.
  auto chain_check = std::make_shared<std::optional<core::ChainStep>>();
  const auto posted = post_job<core::BackupResult>(
      worker_, io_, "backup", kBackupLimit,
      [database, busy, options, &env, archive_dir = archive_dir_, chain_check, hold = hold_restarts_](core::Job& job) {
        const auto held = hold ? hold() : nullptr;
        auto source = core::open_database_readonly(database, busy);
        core::BackupResult result;
        try {
          result = core::take_backup(source, options, env, job);
        } catch (const Error& e) {
          if (e.sys_errno() != EACCES && e.sys_errno() != EPERM) throw;
          throw Error(e.code(), e.what() + ownership_hint(options.dir), e.sqlite_code(), e.sys_errno());
        }
        *chain_check = check_against_chain(result, archive_dir, database, env, job);
        return result;
      },
      [this, id, chain_check](const Outcome<core::BackupResult>& r) { on_backup(id, r, *chain_check); },
      /*join=*/false);
  ++state_.backup.next_id;
  backup_job_ = posted.job;
  state_.backup.running_id = id;
  state_.backup.pages_done = state_.backup.pages_total = 0;
  spdlog::info("backup {} started ({})", id, why);
  changed_();
  return {id, false};
}

void Maintenance::sync_progress() {
  if (!backup_job_) return;
  state_.backup.pages_done = backup_job_->done();
  state_.backup.pages_total = backup_job_->total();
}

void Maintenance::on_backup(const std::string& id, const Outcome<core::BackupResult>& r,
                            const std::optional<core::ChainStep>& chain_check) {
  backup_job_.reset();
  auto& b = state_.backup;
  b.running_id.clear();
  if (!r.value) {
    ++b.failures_total;
    b.last_failure_at = env_.now();
    b.last_failure = r.error;
    if (!stopped_) spdlog::error("backup {} failed: {}", id, r.error);
  } else {
    const auto& v = *r.value;
    ++b.successes_total;
    b.last_failure.clear();
    b.last_copy = v.copy;
    b.last_verify = v.verify;
    b.last_total = v.total;
    state_.last_backup = BackupSummary{v.file.string(), v.at, v.bytes, v.verified};
    spdlog::info("backup {} done: {} ({} bytes, copy {} ms, verification {} ms, total {} ms{})", id, v.file.string(),
                 v.bytes, v.copy.count(), v.verify.count(), v.total.count(),
                 v.checkpoint_note.empty() ? "" : "; " + v.checkpoint_note);
  }
  if (chain_check) record_chain_check(*chain_check);
  // Counted here at once; the folder watch reads the folder itself next (daemon.cpp).
  if (r.value) ++state_.backup_count;
  changed_();
  for (const auto& listener : backup_done_) listener(r);
}

void Maintenance::record_chain_check(const core::ChainStep& step) {
  auto& c = state_.archive.chain_check;
  ++c.total;
  const auto text = step.ok ? step.from.backup.filename().string() + " + " + std::to_string(step.transactions) +
                                  " archived transactions = " + step.to.backup.filename().string() + " (" +
                                  std::to_string(step.pages) + " pages)"
                            : step.problem;
  c.last = ArchiveSummary::ChainCheck::Last{step.to.backup.filename().string(), env_.now(), step.ok, text,
                                           step.duration};
  if (step.ok) {
    spdlog::info("archive: chain check of {}: {} ({} ms)", c.last->backup, text, step.duration.count());
  } else {
    ++c.mismatches_total;
    c.mismatch = *c.last;
    spdlog::critical("archive: chain check of {} FAILED: {}", c.last->backup, text);
  }
}

}  // namespace sqlkeeper::daemon
