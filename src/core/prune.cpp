#include "sqlkeeper/core/prune.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sqlkeeper/core/file_lock.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

void remove_file(const std::filesystem::path& path) {
  // unlink(2) removes a symlink planted in the folder, never what it points to.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw Error(ErrorCode::io, "cannot delete " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

RetentionPolicy retention_policy(const config::Config& c) {
  RetentionPolicy p;
  p.retention_days = c.retention_days;
  p.min_count = c.retention_min_count;
  p.keep_hourly = c.keep_hourly;
  p.keep_daily = c.keep_daily;
  p.keep_weekly = c.keep_weekly;
  p.keep_monthly = c.keep_monthly;
  p.keep_pre_migration = c.keep_pre_migration;
  return p;
}

PruneReport prune_backups(const std::filesystem::path& dir, const std::string& stem, const RetentionPolicy& policy,
                          bool dry_run, Env& env, Job& job, std::chrono::milliseconds lock_timeout) {
  PruneReport report;
  std::optional<FileLock> lock;
  if (!dry_run) lock = FileLock::acquire(dir / kBackupLockName, "the backup lock of " + dir.string(), job, lock_timeout);
  report.catalog = read_catalog(dir, stem);
  std::vector<RetentionItem> items;
  for (const auto& e : report.catalog.backups)
    items.push_back({e.file.filename().string(), e.name.at, e.name.label, e.verified()});
  report.plan = plan_retention(items, env.now(), policy);
  if (dry_run) return report;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (report.plan.decisions[i].keep) continue;
    job.check("pruning backups");
    const auto& file = report.catalog.backups[i].file;
    remove_file(std::filesystem::path(file.string() + ".sha256"));
    remove_file(file);
    report.deleted.push_back(file);
    spdlog::info("pruned {} ({})", file.string(), report.plan.decisions[i].rule);
  }
  if (!report.deleted.empty()) env.fsync_dir(dir);
  return report;
}

}  // namespace sqlkeeper::core
