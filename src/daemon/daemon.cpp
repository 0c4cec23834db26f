#include "sqlkeeper/daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <sysexits.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <optional>

#include "sqlkeeper/core/database.h"
#include "sqlkeeper/core/migration_source.h"
#include "sqlkeeper/core/migrator.h"
#include "sqlkeeper/core/snapshot.h"
#include "sqlkeeper/daemon/health_server.h"
#include "sqlkeeper/daemon/listen_socket.h"
#include "sqlkeeper/daemon/logging.h"
#include "sqlkeeper/daemon/notifier.h"
#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/daemon/worker.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::daemon {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

constexpr auto kRefreshInterval = 5s;
constexpr auto kStartupExtension = 30s;  // asked of systemd at a time while migrating
constexpr auto kProbeTimeout = 250ms;

struct StartupResult {
  SchemaSummary schema;
  std::optional<BackupSummary> last_backup;
  int backup_count = 0;
};

class Daemon {
 public:
  Daemon(const config::Loaded& loaded, ConfigReloader reload)
      : loaded_(loaded),
        reload_(std::move(reload)),
        signals_(io_, SIGTERM, SIGINT, SIGHUP),
        refresh_(io_),
        watchdog_(io_),
        extend_(io_) {
    const auto& c = loaded_.config;
    state_.started_at = std::chrono::system_clock::now();
    state_.database = c.database.string();
    state_.backup_dir = c.backup_dir.string();
    state_.sqlite = sqlite::linked_library();
    state_.wal_max_bytes = c.wal_max_bytes;
  }

  int run() {
    const auto& c = loaded_.config;
    spdlog::log(state_.sqlite.wal_reset_fix ? spdlog::level::info : spdlog::level::warn,
                "sqlkeeper {} starting: database {}, SQLite {}", SQLKEEPER_VERSION, c.database.string(),
                sqlite::describe(state_.sqlite));
    ListenSocket listener;
    try {
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
          return route(r, state_, std::chrono::system_clock::now());
        },
        HealthServerLimits{c.max_connections, c.idle_timeout, 8192, 4096});
    server_->start();
    asio::co_spawn(io_, handle_signals(), asio::detached);
    if (notifier_.watchdog_interval()) asio::co_spawn(io_, watchdog_loop(), asio::detached);
    asio::co_spawn(io_, extend_while_starting(), asio::detached);
    start_up();

    io_.run();

    // The loop has ended: stop the worker's job at its next step and wait for it.
    interrupt_worker();
    worker_.stop();
    worker_db_.reset();
    if (socket_path_) {
      std::error_code ec;
      std::filesystem::remove(*socket_path_, ec);
    }
    spdlog::info("sqlkeeper stopped");
    return exit_code_;
  }

 private:
  // Opens and migrates the database on the worker, then reports back.
  void start_up() {
    state_.phase = core::Phase::migrating;
    state_.phase_detail = "opening the database";
    notifier_.status(status_line(state_, std::chrono::system_clock::now()));
    const auto c = loaded_.config;
    worker_.post("start-up", 24h, [this, c] {
      try {
        auto result = start_up_on_worker(c);
        close_worker_db();
        asio::post(io_, [this, result = std::move(result)] { on_started(result); });
      } catch (const Error& e) {
        close_worker_db();
        asio::post(io_, [this, message = std::string(e.what()), code = e.code(), err = e.sys_errno()] {
          on_start_failed(message, code, err);
        });
      } catch (const std::exception& e) {
        close_worker_db();
        asio::post(io_, [this, message = std::string(e.what())] { on_start_failed(message, ErrorCode::internal, 0); });
      }
    });
  }

  StartupResult start_up_on_worker(const config::Config& c) {
    worker_db_.emplace(core::open_database({c.database, c.file_mode, c.busy_timeout}));
    {
      std::lock_guard lock(worker_db_mutex_);
      worker_db_handle_ = worker_db_->handle();
    }
    StartupResult result;
    const auto started = Clock::now();
    if (c.migrate_on_start) {
      const auto set = core::load_migrations(c.migrations);
      core::MigrateOptions options;
      options.allow_out_of_order = c.allow_out_of_order;
      options.backup_dir = c.backup_dir;
      options.on_start = [this](const std::string& name) {
        spdlog::info("applying migration {}", name);
        asio::post(io_, [this, name] {
          state_.phase_detail = name;
          notifier_.status(status_line(state_, std::chrono::system_clock::now()));
        });
      };
      const auto report = core::migrate_up(*worker_db_, set, options);
      result.schema.applied_this_start = static_cast<int>(report.applied.size());
      for (const auto& m : report.applied) spdlog::info("applied migration {} in {} ms", m.name, m.duration.count());
      result.schema.format = core::to_string(set.format);
      result.schema.folder = set.folder.string();
      for (const auto& r : core::read_applied(*worker_db_, set.format)) {
        result.schema.version = std::max(result.schema.version, r.key);
        for (const auto& f : set.files)
          if (f.key == r.key) result.schema.applied.push_back(f.name);
      }
    }
    result.schema.migration_time = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    const auto snapshots = core::list_snapshots(c.backup_dir, c.database.stem().string());
    result.backup_count = static_cast<int>(snapshots.size());
    if (!snapshots.empty())
      result.last_backup =
          BackupSummary{snapshots.back().file.string(), snapshots.back().at, snapshots.back().size, true};
    return result;
  }

  void on_started(const StartupResult& result) {
    if (state_.phase == core::Phase::stopping) return;
    const auto& c = loaded_.config;
    try {
      const sqlite::Connection check(c.database, SQLITE_OPEN_READONLY, kProbeTimeout);
      probing_ = true;
    } catch (const Error& e) {
      on_start_failed(e.what(), e.code(), e.sys_errno());
      return;
    }
    state_.schema = result.schema;
    state_.last_backup = result.last_backup;
    state_.backup_count = result.backup_count;
    state_.phase = core::Phase::ready;
    state_.phase_detail.clear();
    extend_.cancel();
    refresh();
    spdlog::info("ready: schema {} ({} migrations applied, {} this start, {} ms)", state_.schema.version,
                 state_.schema.applied.size(), state_.schema.applied_this_start, state_.schema.migration_time.count());
    notifier_.ready(status_line(state_, std::chrono::system_clock::now()));
    asio::co_spawn(io_, refresh_loop(), asio::detached);
  }

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

  // A cheap query on a fresh read-only connection: does the database answer a new
  // connection, as it must for the applications? A connection kept open would not
  // notice: in WAL mode it keeps its SHARED lock, and SQLite shares that lock with
  // every other connection of this process, so another process's lock stays unseen.
  void probe() {
    if (!probing_) return;
    try {
      sqlite::Connection db(loaded_.config.database, SQLITE_OPEN_READONLY, kProbeTimeout);
      // A read-only connection cannot checkpoint; closing it must not try (and lock).
      sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
      db.query_int64("SELECT count(*) FROM sqlite_schema");
      state_.database_answered = true;
      state_.database_error.clear();
    } catch (const Error& e) {
      if (state_.database_answered) spdlog::error("database stopped answering: {}", e.what());
      state_.database_answered = false;
      state_.database_error = e.what();
    }
  }

  void refresh() {
    probe();
    state_.sizes = core::file_sizes(loaded_.config.database);
    try {
      state_.backup_free_bytes = Env::real().free_bytes(std::filesystem::exists(loaded_.config.backup_dir)
                                                            ? loaded_.config.backup_dir
                                                            : loaded_.config.database.parent_path());
    } catch (const Error&) {
      state_.backup_free_bytes.reset();
    }
    state_.worker_job = worker_.current();
    notifier_.status(status_line(state_, std::chrono::system_clock::now()));
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
      const bool loop_on_time = now - expected < period;
      const bool worker_ok = !worker_.stuck(now);
      bool database_ok = true;
      if (state_.phase == core::Phase::ready) {
        probe();
        database_ok = state_.database_answered;
      }
      if (loop_on_time && worker_ok && database_ok) {
        notifier_.watchdog();
        ++state_.watchdog_pings;
      } else {
        spdlog::warn("withholding watchdog ping: loop {}, worker {}, database {}", loop_on_time ? "on time" : "late",
                     worker_ok ? "ok" : "stuck in " + worker_.current(),
                     database_ok ? "answering" : state_.database_error);
      }
      if (!loop_on_time) expected = now;
    }
  }

  asio::awaitable<void> extend_while_starting() {
    while (state_.phase == core::Phase::migrating || state_.phase == core::Phase::starting) {
      notifier_.extend_timeout(std::chrono::duration_cast<std::chrono::microseconds>(kStartupExtension));
      extend_.expires_after(kStartupExtension / 3);
      auto [ec] = co_await extend_.async_wait(tuple_awaitable);
      if (ec || stopping_) co_return;
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
      set_log_level(loaded_.config.log_level);
      state_.wal_max_bytes = loaded_.config.wal_max_bytes;
      spdlog::info("configuration reloaded");
    } catch (const Error& e) {
      spdlog::error("reload failed, keeping the running configuration: {}", e.what());
    }
    const auto line = status_line(state_, std::chrono::system_clock::now());
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
    // A running migration stops at its next step and rolls back.
    interrupt_worker();
  }

  void interrupt_worker() {
    std::lock_guard lock(worker_db_mutex_);
    if (worker_db_handle_) sqlite3_interrupt(worker_db_handle_);
  }

  // Worker thread: closes the start-up connection once its job is done, so that
  // between jobs the daemon holds no lock on the database (in WAL mode an open
  // connection keeps a SHARED lock, which would hide other processes' locks from
  // the probe and keep applications from ever taking an EXCLUSIVE one).
  void close_worker_db() {
    {
      std::lock_guard lock(worker_db_mutex_);
      worker_db_handle_ = nullptr;
    }
    worker_db_.reset();
  }

  config::Loaded loaded_;
  ConfigReloader reload_;
  asio::io_context io_{1};
  asio::signal_set signals_;
  asio::steady_timer refresh_;
  asio::steady_timer watchdog_;
  asio::steady_timer extend_;
  Notifier notifier_;
  DaemonState state_;
  std::optional<HealthServer> server_;
  std::optional<std::filesystem::path> socket_path_;
  bool probing_ = false;                         // the loop probes the database once it is open
  std::optional<sqlite::Connection> worker_db_;  // worker thread only
  std::mutex worker_db_mutex_;                   // guards worker_db_handle_ against close
  sqlite3* worker_db_handle_ = nullptr;          // for sqlite3_interrupt from the loop
  bool stopping_ = false;
  int exit_code_ = EXIT_SUCCESS;
  // Declared last: destroyed (joined) first, while everything its jobs touch still exists.
  Worker worker_;
};

}  // namespace

int run_daemon(const config::Loaded& loaded, ConfigReloader reload) {
  Daemon daemon(loaded, std::move(reload));
  return daemon.run();
}

}  // namespace sqlkeeper::daemon
