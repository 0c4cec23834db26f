#pragma once
// The daemon's upkeep of the database once it is ready: WAL checkpoints every
// checkpoint-interval and whenever the WAL passes wal-max-bytes, and backups on
// request (POST /backup) — each as a job on the worker, with its outcome
// recorded in the daemon's state on the loop. Runs only on the loop's thread.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/db/checkpoint.h"
#include "sqlkeeper/restore/chain_check.h"
#include "sqlkeeper/daemon/jobs.h"
#include "sqlkeeper/daemon/state.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::daemon {

class Maintenance {
 public:
  // `config` is the daemon's running configuration (it changes on reload);
  // `changed` is called after the state changed, to refresh the status line.
  Maintenance(boost::asio::io_context& io, Worker& worker, DaemonState& state, const config::Config& config, Env& env,
              std::function<void()> changed);

  // Arms the checkpoint timer and tidies the backup folder; call once ready.
  void start();
  void stop();

  // From the loop's refresh: a WAL past its limit is checkpointed now.
  void on_wal_size(std::uint64_t wal_bytes);
  // Copies the running backup's progress into the state.
  void sync_progress();

  using CheckpointDone = std::function<void(const Outcome<core::CheckpointResult>&)>;
  // Runs a checkpoint now (joining one that runs); `done` gets its outcome on the loop.
  void checkpoint_now(const std::string& why, CheckpointDone done = {});

  struct Started {
    std::string id;
    bool joined = false;
  };
  // Starts a backup, or joins the one that runs.
  Started backup_now(const std::string& why);

  using BackupDone = std::function<void(const Outcome<core::BackupResult>&)>;
  // The WAL archive (archive/archiver.h): `mark` places each backup's snapshot
  // in its chain, and each backup with a place is then checked, in the same job,
  // against the chain's backup before it brought forward by the archive in
  // `dir` (restore/chain_check.h). Each checkpoint and backup job holds
  // `hold_restarts`'s token while it runs (the archive's own restarts of the WAL
  // would take the checkpoint lock from it). Not set: no archive.
  using HoldRestarts = std::function<std::shared_ptr<void>()>;
  void set_archive(std::function<std::string()> mark, std::filesystem::path dir, HoldRestarts hold_restarts) {
    archive_mark_ = std::move(mark);
    archive_dir_ = std::move(dir);
    hold_restarts_ = std::move(hold_restarts);
  }
  bool backup_running() const { return backup_job_ != nullptr; }

  // Each listener is called on the loop after every backup, once the state records it.
  void on_backup_done(BackupDone listener) { backup_done_.push_back(std::move(listener)); }

 private:
  boost::asio::awaitable<void> checkpoint_loop();
  void on_checkpoint(const Outcome<core::CheckpointResult>& r);
  void on_backup(const std::string& id, const Outcome<core::BackupResult>& r,
                 const std::optional<core::ChainStep>& chain_check);
  void record_chain_check(const core::ChainStep& step);

  boost::asio::io_context& io_;
  Worker& worker_;
  DaemonState& state_;
  const config::Config& config_;
  Env& env_;
  std::function<void()> changed_;
  boost::asio::steady_timer checkpoint_timer_;
  std::shared_ptr<core::Job> backup_job_;
  std::vector<BackupDone> backup_done_;
  std::function<std::string()> archive_mark_;
  std::filesystem::path archive_dir_;
  HoldRestarts hold_restarts_;
  bool checkpoint_pending_ = false;  // queued or running
  std::vector<CheckpointDone> checkpoint_waiters_;
  bool stopped_ = false;
};

}  // namespace sqlkeeper::daemon
