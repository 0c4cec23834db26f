#include "sqlkeeper/daemon/archive_keeper.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/checkpoint.h"

namespace sqlkeeper::daemon {
namespace {

// A chain whose backup did not begin it (the backup failed) is tried again this often.
constexpr std::chrono::minutes kBaseRetry{1};

}  // namespace

void ArchiveKeeper::start(const config::Config& config, std::function<void()> then) {
  auto& a = state_.archive;
  a.dir = config::archive_folder(config).string();
  a.interval = config.archive_interval;
  a.max_lag = config.archive_max_lag;
  if (!config.archive || !core::checkpoints_allowed()) {
    // An affected SQLite: no backup may checkpoint, so none can mark its place
    // in a chain under the write gate (db/live_snapshot.h).
    a.off_reason = config.archive ? "the linked SQLite has the WAL-reset bug, so sqlkeeper takes no checkpoints and "
                                    "no backup can begin an archive chain"
                                  : "archive is false in the configuration";
    then();
    return;
  }
  archive::ArchiverOptions options;
  options.database = config.database;
  options.dir = config::archive_folder(config);
  options.database_identity = core::database_identity(config.database);
  options.interval = config.archive_interval;
  options.segment_size = config.archive_segment_size;
  options.max_lag = config.archive_max_lag;
  // From the archive's thread to the loop: a backup at once begins the next chain.
  options.on_needs_base = [this] { boost::asio::post(io_, [this] { refresh(); }); };
  options.on_pinned = [this, then = std::move(then)] { boost::asio::post(io_, then); };
  options.has_base = [dir = config.backup_dir, stem = config.database.stem().string()](const std::string& chain) {
    for (const auto& b : core::read_catalog(dir, stem).backups)
      if (b.sidecar && b.sidecar->field("archive").starts_with(chain + " ")) return true;
    return false;
  };
  archiver_ = std::make_unique<archive::Archiver>(options, env_);
  maintenance_.set_archive([archiver = archiver_.get()] { return archiver->mark(); }, options.dir,
                           [archiver = archiver_.get()] { return archiver->hold_restarts(); });
  maintenance_.on_backup_done([this](const Outcome<core::BackupResult>& r) {
    if (r.value && !r.value->archive_mark.empty()) archiver_->base_taken(r.value->archive_mark);
    refresh();
  });
  archiver_->start();
  a.on = true;
  spdlog::info("WAL archive in {} (archive-interval {} ms)", a.dir, a.interval.count());
}

void ArchiveKeeper::sync() {
  if (archiver_) state_.archive.status = archiver_->status();
}

void ArchiveKeeper::refresh() {
  if (!archiver_) return;
  sync();
  // A backup only once the database is migrated and ready.
  if (state_.phase != core::Phase::ready) return;
  if (!archiver_->needs_base()) {
    last_base_request_.reset();
    return;
  }
  if (maintenance_.backup_running()) return;
  const auto now = std::chrono::steady_clock::now();
  if (last_base_request_ && now - *last_base_request_ < kBaseRetry) return;
  last_base_request_ = now;
  maintenance_.backup_now("the WAL archive begins a chain with a backup");
}

void ArchiveKeeper::stop() {
  if (!archiver_) return;
  archiver_->stop();
  state_.archive.status = archiver_->status();
}

}  // namespace sqlkeeper::daemon
