#pragma once
// The backup schedule in the daemon: arms a timer from core::next_backup and
// starts the backup when it is due; after every backup (scheduled or asked for)
// it records the outcome for the schedule's back-off, and after a success it
// prunes the folder on the worker (backup/prune) and runs post-backup-command.
// The timer wakes at least once a minute, because it runs on the steady clock
// and the schedule is in wall-clock time, which can jump. Runs on the loop.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/backup/schedule.h"
#include "sqlkeeper/daemon/jobs.h"
#include "sqlkeeper/daemon/maintenance.h"
#include "sqlkeeper/daemon/post_backup.h"
#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::daemon {

class Scheduler {
 public:
  Scheduler(boost::asio::io_context& io, Worker& worker, Maintenance& maintenance, DaemonState& state,
            const config::Config& config, Env& env, std::function<void()> changed);

  // Once ready: a backup missed while the daemon was down runs now.
  void start();
  void stop();
  // The settings may have changed (reload): compute the next time again.
  void rearm();
  // A verified backup found in the folder (`sqlkeeper backup` beside the daemon):
  // when it is newer than what the schedule knows, the schedule counts from it.
  void saw_backup(std::chrono::system_clock::time_point at);

 private:
  boost::asio::awaitable<void> loop();
  void on_backup(const Outcome<core::BackupResult>& r);
  void prune();
  void run_post_backup(const std::string& file);

  boost::asio::io_context& io_;
  Worker& worker_;
  Maintenance& maintenance_;
  DaemonState& state_;
  const config::Config& config_;
  Env& env_;
  std::function<void()> changed_;
  boost::asio::steady_timer timer_;
  PostBackupRunner post_backup_;
  core::ScheduleHistory history_;
  // When this process saw its last success and failure, by the clock the timer uses:
  // what the schedule counts from when the wall clock is moved back behind them.
  std::optional<std::chrono::steady_clock::time_point> success_steady_;
  std::optional<std::chrono::steady_clock::time_point> failure_steady_;
  bool started_ = false;
  bool stopped_ = false;
  bool pruning_ = false;
};

}  // namespace sqlkeeper::daemon
