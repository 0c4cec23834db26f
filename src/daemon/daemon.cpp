#include "sqlkeeper/daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <sysexits.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "sqlkeeper/base/file_lock.h"
#include "sqlkeeper/config/units.h"
#include "sqlkeeper/daemon/admin.h"
#include "sqlkeeper/daemon/backup_folder_watch.h"
#include "sqlkeeper/daemon/database_probe.h"
#include "sqlkeeper/daemon/health_server.h"
#include "sqlkeeper/daemon/jobs.h"
#include "sqlkeeper/daemon/listen_socket.h"
#include "sqlkeeper/daemon/logging.h"
#include "sqlkeeper/daemon/archive_drill.h"
#include "sqlkeeper/daemon/archive_keeper.h"
#include "sqlkeeper/daemon/maintenance.h"
#include "sqlkeeper/daemon/notifier.h"
#include "sqlkeeper/daemon/quick_check.h"
#include "sqlkeeper/daemon/routes.h"
#include "sqlkeeper/daemon/scheduler.h"
#include "sqlkeeper/daemon/scrubber.h"
#include "sqlkeeper/daemon/spawn.h"
#include "sqlkeeper/daemon/startup.h"
#include "sqlkeeper/daemon/watchdog_gate.h"
#include "sqlkeeper/daemon/worker.h"
#include "sqlkeeper/db/file_identity.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::daemon {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

constexpr auto kRefreshInterval = 5s;
constexpr auto kStartupExtension = 30s;  // asked of systemd at a time while migrating makes progress
constexpr auto kProbeTimeout = 250ms;
// A look at the backup folder that takes this long is a hung volume (a healthy
// one answers a stat and a directory read in milliseconds).
constexpr auto kFolderHang = 15s;
// Start-up may run a long migration; a hung one is ended sooner by systemd's
// start timeout, which is extended only while the migration makes progress.
constexpr auto kStartupLimit = std::chrono::milliseconds(6h);
// How long the stop waits for the worker's job to stop at its next step; a job
// stuck in an uninterruptible call is abandoned so the process still exits.
constexpr auto kStopGrace = std::chrono::milliseconds(10s);

// The folder `p` leads to now, links followed (as far as it exists yet). Backups go
// there for the daemon's life: a link swapped later is reported, not followed.
std::filesystem::path real_folder(const std::filesystem::path& p) {
  std::error_code ec;
  // Absolute first: a relative folder that does not exist yet would stay relative.
  auto real = std::filesystem::weakly_canonical(std::filesystem::absolute(p, ec), ec);
  return ec ? std::filesystem::absolute(p, ec) : real;
}

config::Loaded with_real_backup_dir(config::Loaded loaded) {
  loaded.config.backup_dir = real_folder(loaded.config.backup_dir);
  return loaded;
}

class Daemon {
 public:
  Daemon(const config::Loaded& loaded, ConfigReloader reload, Env& env)
      : loaded_(with_real_backup_dir(loaded)),
        backup_dir_configured_(loaded.config.backup_dir),
        reload_(std::move(reload)),
        env_(env),
        signals_(io_, SIGTERM, SIGINT, SIGHUP),
        refresh_(io_),
        watchdog_(io_),
        extend_(io_),
        maintenance_(io_, worker_, state_, loaded_.config, env, [this] { status_changed(); }),
        scheduler_(io_, worker_, maintenance_, state_, loaded_.config, env, [this] { status_changed(); }),
        scrubber_(io_, worker_, state_, loaded_.config, env, [this] { status_changed(); }),
        drill_(io_, worker_, state_, loaded_.config, env, [this] { status_changed(); }),
        quick_check_(io_, worker_, state_, loaded_.config, env, [this] { status_changed(); }),
        archive_(io_, state_, maintenance_, env),
        folder_watch_(io_, loaded_.config.backup_dir, backup_dir_configured_, database_dir(),
                      loaded_.config.database.stem().string(), env,
                      [this](const BackupFolderLook& look) { on_folder_look(look); }) {
    const auto& c = loaded_.config;
    admin_policy_ = admin_policy(c.admin_group);
    // A backup's outcome changes the folder: look at it again now.
    maintenance_.on_backup_done([this](const Outcome<core::BackupResult>&) { folder_watch_.look(true); });
    state_.started_at = env_.now();
    state_.database = c.database.string();
    state_.backup_dir = c.backup_dir.string();
    state_.backup_dir_configured = backup_dir_configured_.string();
    state_.sqlite = sqlite::linked_library();
    state_.wal_max_bytes = c.wal_max_bytes;
  }

  int run() {
    const auto& c = loaded_.config;
    spdlog::log(state_.sqlite.wal_reset_fix ? spdlog::level::info : spdlog::level::warn,
                "sqlkeeper {} starting: database {}, SQLite {}", SQLKEEPER_VERSION, c.database.string(),
                sqlite::describe(state_.sqlite));
    if (c.backup_dir != std::filesystem::absolute(backup_dir_configured_))
      spdlog::info("backup-dir {} leads to {}: backups go there", backup_dir_configured_.string(),
                   c.backup_dir.string());
    ListenSocket listener;
    try {
      instance_lock_.emplace(lock_instance(c.database, c.file_mode));
      listener = open_listen_socket(c.socket, c.socket_mode);
    } catch (const Error& e) {
      // Tell systemd why, as for any fatal start-up error; main() prints and exits.
      notifier_.fatal(e.sys_errno() != 0                ? e.sys_errno()
                      : e.code() == ErrorCode::conflict ? EADDRINUSE
                                                        : EIO,
                      "failed: " + std::string(e.what()).substr(0, 200));
      throw;
    }
    socket_path_ = listener.created;
    spdlog::info("health socket {}", listener.activated ? "passed by systemd" : c.socket.string());
    server_.emplace(
        io_, listener.fd.release(),
        [this](const HttpRequest& r) {
          ++state_.http_requests;
          if (auto answer = admin_route(r, maintenance_, admin_policy_)) return *answer;
          maintenance_.sync_progress();
          archive_.sync();
          return route(r, state_, env_.now());
        },
        HealthServerLimits{c.max_connections, c.idle_timeout, 8192, 4096});
    server_->start();
    spawn_loop(io_, "the signal handler", [this] { return handle_signals(); });
    if (notifier_.watchdog_interval()) spawn_loop(io_, "the watchdog loop", [this] { return watchdog_loop(); });
    spawn_loop(io_, "the start-up extension loop", [this] { return extend_while_starting(); });
    // Before the start-up opens the database: its connection, closing last,
    // would checkpoint and restart the WAL, and the archive could not go on
    // with its chain (the pinned read keeps the WAL as it is).
    archive_.start(c, [this] { start_up(); });

    run_loop();

    // The loop has ended: stop the worker's job at its next step and wait for it.
    const bool worker_stopped = worker_.stop("the daemon is stopping", kStopGrace);
    // Its last transactions made durable and a clean stop recorded, off the loop.
    archive_.stop();
    if (socket_path_) {
      std::error_code ec;
      std::filesystem::remove(*socket_path_, ec);
    }
    if (!worker_stopped) {
      // Its job still uses this object; exit without destroying anything. The
      // kernel drops the locks, and SQLite's journal makes the database whole.
      spdlog::error("sqlkeeper stopped with the worker's job still running");
      spdlog::shutdown();
      std::_Exit(exit_code_ == EXIT_SUCCESS ? EXIT_FAILURE : exit_code_);
    }
    spdlog::info("sqlkeeper stopped");
    return exit_code_;
  }

 private:
  // An exception out of a handler (a loop that kept failing, a completion that
  // threw) stops the daemon with a failure status instead of ending it unexplained.
  void run_loop() {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::critical("stopping after an error in the event loop: {}", e.what());
        exit_code_ = EXIT_FAILURE;
        notifier_.fatal(EIO, "failed: " + std::string(e.what()).substr(0, 200));
        shutdown();
      }
    }
  }

  // Opens and migrates the database on the worker, then reports back.
  void start_up() {
    if (stopping_) return;
    state_.phase = core::Phase::migrating;
    state_.phase_detail = "opening the database";
    notifier_.status(status_line(state_, env_.now()));
    const auto c = loaded_.config;
    const auto on_migration = [this](const std::string& name) {
      asio::post(io_, [this, name] {
        state_.phase_detail = name;
        notifier_.status(status_line(state_, env_.now()));
      });
    };
    startup_job_ = post_job<StartupResult>(
                       worker_, io_, "start-up", kStartupLimit,
                       [this, c, on_migration](core::Job& job) { return daemon::start_up(c, job, env_, on_migration); },
                       [this](const Outcome<StartupResult>& r) {
                         if (r.value)
                           on_started(*r.value);
                         else
                           on_start_failed(r.error, r.code, r.sys_errno);
                       })
                       .job;
  }

  void on_started(const StartupResult& result) {
    if (state_.phase == core::Phase::stopping) return;
    const auto& c = loaded_.config;
    try {
      const sqlite::Connection check(c.database, SQLITE_OPEN_READONLY, kProbeTimeout);
      probing_ = true;
      opened_as_ = core::identity_of(c.database);
    } catch (const Error& e) {
      on_start_failed(e.what(), e.code(), e.sys_errno());
      return;
    }
    state_.schema = result.schema;
    state_.last_backup = result.last_backup;
    state_.backup_count = result.backup_count;
    state_.backup_problems = result.backup_problems;
    state_.future_backup_at = result.future_backup_at;
    state_.phase = core::Phase::ready;
    state_.phase_detail.clear();
    extend_.cancel();
    startup_job_.reset();
    refresh();
    spdlog::info("ready: schema {} ({} migrations applied, {} this start, {} ms)", state_.schema.version,
                 state_.schema.applied.size(), state_.schema.applied_this_start, state_.schema.migration_time.count());
    notifier_.ready(status_line(state_, env_.now()));
    spawn_loop(io_, "the refresh loop", [this] { return refresh_loop(); });
    quick_check_.start();
    maintenance_.start();
    scheduler_.start();
    scrubber_.start();
    drill_.start();
    archive_.refresh();
  }

  void status_changed() { notifier_.status(status_line(state_, env_.now())); }

  void on_start_failed(const std::string& message, ErrorCode code, int err) {
    if (stopping_) {
      // SIGTERM interrupted the start-up on purpose: a clean stop, not a failure.
      spdlog::info("start-up stopped: {}", message.substr(0, message.find('\n')));
      return;
    }
    spdlog::critical("start-up failed: {}", message);
    state_.phase = core::Phase::failed;
    state_.phase_detail = message.substr(0, message.find('\n'));
    exit_code_ = code == ErrorCode::migration ? EX_DATAERR : code == ErrorCode::config ? EX_CONFIG : EXIT_FAILURE;
    notifier_.fatal(err != 0 ? err : EIO, "failed: " + state_.phase_detail.substr(0, 200));
    shutdown();
  }

  // daemon/database_probe.h; transitions are logged once.
  void probe() {
    if (!probing_) return;
    auto r = probe_database(loaded_.config.database, opened_as_, kProbeTimeout);
    if (!r.answered && state_.database_answered) spdlog::error("database stopped answering: {}", r.error);
    if (!r.replaced.empty() && state_.database_replaced.empty()) spdlog::critical("{}", r.replaced);
    state_.database_answered = r.answered;
    state_.database_error = std::move(r.error);
    if (r.answered) state_.database_replaced = std::move(r.replaced);
  }

  void refresh() {
    probe();
    const auto& c = loaded_.config;
    state_.sizes = core::file_sizes(c.database);
    folder_watch_.look();
    note_folder_hang();
    state_.database_free_bytes = free_bytes(database_dir());
    state_.worker_job = worker_.current();
    maintenance_.sync_progress();
    if (state_.phase == core::Phase::ready) {
      maintenance_.on_wal_size(state_.sizes.wal);
      archive_.refresh();
    }
    notifier_.status(status_line(state_, env_.now()));
  }

  // A look at the backup folder that has not come back: its volume hangs.
  void note_folder_hang() {
    const auto busy = folder_watch_.busy_for();
    if (!busy || *busy < kFolderHang) return;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*busy);
    if (!state_.backup_folder_hung)
      spdlog::critical("the backup folder {} does not answer: a look at it has not returned for {} s",
                       loaded_.config.backup_dir.string(), seconds.count());
    state_.backup_folder_hung = true;
    state_.backup_folder_problem = "backup folder " + loaded_.config.backup_dir.string() +
                                   " does not answer: a look at it has not returned for " +
                                   config::format_duration(seconds) + " (a hung or dead mount?)";
  }

  void on_folder_look(const BackupFolderLook& look) {
    if (look.error != state_.backup_folder_problem) {
      if (!look.error.empty()) spdlog::error("{}", look.error);
      else spdlog::info("the backup folder {} answers again", loaded_.config.backup_dir.string());
    }
    state_.backup_folder_hung = false;
    state_.backup_folder_problem = look.error;
    state_.backup_free_bytes = look.free_bytes;
    if (look.read_backups) {
      // What is on disk, whoever put it there: `sqlkeeper backup` beside the daemon, prune, a hand.
      state_.backup_count = look.backup_count;
      state_.last_backup = look.last_backup;
      if (look.last_backup && look.last_backup->verified) scheduler_.saw_backup(look.last_backup->at);
    }
    notifier_.status(status_line(state_, env_.now()));
  }

  std::filesystem::path database_dir() const {
    const auto dir = loaded_.config.database.parent_path();
    return dir.empty() ? "." : dir;
  }

  std::optional<std::uint64_t> free_bytes(const std::filesystem::path& where) const {
    try {
      return env_.free_bytes(where);
    } catch (const Error&) {
      return std::nullopt;
    }
  }

  asio::awaitable<void> refresh_loop() {
    for (;;) {
      refresh_.expires_after(kRefreshInterval);
      auto [ec] = co_await refresh_.async_wait(tuple_awaitable);
      if (ec || stopping_) co_return;
      refresh();
    }
  }

  // Pings only when the loop is turning on time, the worker is not stuck and
  // the database answered just now.
  asio::awaitable<void> watchdog_loop() {
    const auto period = std::chrono::duration_cast<Clock::duration>(*notifier_.watchdog_interval() / 2);
    auto expected = Clock::now();
    for (;;) {
      expected += period;
      watchdog_.expires_at(expected);
      auto [ec] = co_await watchdog_.async_wait(tuple_awaitable);
      if (ec || stopping_) co_return;
      const auto now = Clock::now();
      WatchdogSigns signs;
      signs.loop_on_time = now - expected < period;
      signs.worker_stuck = worker_.stuck(now);
      signs.worker_job = worker_.current();
      if (state_.phase == core::Phase::ready) {
        probe();
        signs.database_checked = true;
        signs.database_answered = state_.database_answered;
        signs.database_error = state_.database_error;
      }
      const auto verdict = watchdog_verdict(signs);
      if (verdict.ping) {
        notifier_.watchdog();
        ++state_.watchdog_pings;
      } else {
        spdlog::warn("withholding watchdog ping: {}", verdict.withheld_because);
      }
      const bool loop_on_time = signs.loop_on_time;
      if (!loop_on_time) expected = now;
    }
  }

  // Asks systemd for more start-up time only while the start-up job shows signs
  // of life: a start hung on a lock or a stuck call runs into TimeoutStartSec.
  asio::awaitable<void> extend_while_starting() {
    std::uint64_t seen = 0;
    while (state_.phase == core::Phase::migrating || state_.phase == core::Phase::starting) {
      extend_.expires_after(kStartupExtension / 3);
      auto [ec] = co_await extend_.async_wait(tuple_awaitable);
      if (ec || stopping_ || !startup_job_) co_return;
      const auto beats = startup_job_->beats();
      if (beats != seen)
        notifier_.extend_timeout(std::chrono::duration_cast<std::chrono::microseconds>(kStartupExtension));
      seen = beats;
    }
  }

  asio::awaitable<void> handle_signals() {
    for (;;) {
      auto [ec, signal] = co_await signals_.async_wait(tuple_awaitable);
      if (ec) co_return;
      if (signal == SIGHUP) {
        reload();
        continue;
      }
      spdlog::info("received {}, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
      shutdown();
      co_return;
    }
  }

  void reload() {
    notifier_.reloading();
    try {
      auto fresh = reload_();
      for (const auto& name : config::changes_needing_restart(loaded_.settings, fresh.settings))
        spdlog::warn("reload: option '{}' changed but takes effect only after a restart", name);
      loaded_.settings = config::merge_live(loaded_.settings, fresh.settings);
      loaded_.config = config::resolve(loaded_.settings);
      loaded_.config.backup_dir = state_.backup_dir;  // as resolved at start: a restart option
      set_log_level(loaded_.config.log_level);
      admin_policy_ = admin_policy(loaded_.config.admin_group);
      state_.wal_max_bytes = loaded_.config.wal_max_bytes;
      scheduler_.rearm();
      scrubber_.rearm();
      quick_check_.rearm();
      spdlog::info("configuration reloaded");
    } catch (const Error& e) {
      spdlog::error("reload failed, keeping the running configuration: {}", e.what());
    }
    const auto line = status_line(state_, env_.now());
    if (state_.phase == core::Phase::ready)
      notifier_.ready(line);
    else
      notifier_.status(line);
  }

  void shutdown() {
    if (stopping_) return;
    stopping_ = true;
    if (state_.phase != core::Phase::failed) {
      state_.phase = core::Phase::stopping;
      notifier_.stopping("stopping");
    }
    if (server_) server_->stop();
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    refresh_.cancel();
    watchdog_.cancel();
    extend_.cancel();
    quick_check_.stop();
    maintenance_.stop();
    scheduler_.stop();
    scrubber_.stop();
    drill_.stop();
    // The running job (a migration rolls back) stops at its next step.
    if (auto job = worker_.running()) job->request_stop("the daemon is stopping");
  }

  config::Loaded loaded_;  // backup-dir in it is the folder it led to at start
  std::filesystem::path backup_dir_configured_;  // as given, perhaps a symbolic link
  ConfigReloader reload_;
  Env& env_;
  std::optional<core::FileLock> instance_lock_;
  asio::io_context io_{1};
  asio::signal_set signals_;
  asio::steady_timer refresh_;
  asio::steady_timer watchdog_;
  asio::steady_timer extend_;
  Notifier notifier_;
  DaemonState state_;
  Maintenance maintenance_;
  Scheduler scheduler_;
  Scrubber scrubber_;
  ArchiveDrill drill_;
  QuickCheck quick_check_;
  ArchiveKeeper archive_;
  BackupFolderWatch folder_watch_;  // after io_: its destructor stops its posts to the loop
  AdminPolicy admin_policy_;
  std::optional<HealthServer> server_;
  std::optional<std::filesystem::path> socket_path_;
  bool probing_ = false;  // the loop probes the database once it is open
  std::optional<core::FileIdentity> opened_as_;  // the database file at READY
  std::shared_ptr<core::Job> startup_job_;
  bool stopping_ = false;
  int exit_code_ = EXIT_SUCCESS;
  // Declared last: destroyed (joined) first, while everything its jobs touch still exists.
  Worker worker_;
};

}  // namespace

int run_daemon(const config::Loaded& loaded, ConfigReloader reload) {
  Daemon daemon(loaded, std::move(reload), Env::real());
  return daemon.run();
}

}  // namespace sqlkeeper::daemon
