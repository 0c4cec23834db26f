#include "sqlkeeper/backup/prune.h"

#include <spdlog/spdlog.h>


#include "sqlkeeper/base/background_priority.h"
#include "sqlkeeper/base/file_lock.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {

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

PruneReport prune_backups(const std::filesystem::path& dir, const std::string& stem, const std::string& database,
                          const RetentionPolicy& policy, bool dry_run, Env& env, Job& job,
                          std::chrono::milliseconds lock_timeout) {
  PruneReport report;
  std::optional<FileLock> lock;
  if (!dry_run) lock = FileLock::acquire(dir / kBackupLockName, "the backup lock of " + dir.string(), job, lock_timeout);
  report.catalog = read_catalog(dir, stem);
  const auto now = env.now();
  std::vector<RetentionItem> items;
  for (const auto& e : report.catalog.backups) {
    const auto check = classify_backup(e, database);
    if (check.state == BackupState::foreign) {
      report.other_databases.emplace_back(e.file, e.sidecar->field(kDatabaseKey).empty() ? e.sidecar->field("source")
                                                                                         : e.sidecar->field(kDatabaseKey));
      continue;
    }
    report.backups.push_back(e);
    report.checks.push_back(check);
    const bool ok = check.state == BackupState::ok;
    items.push_back({e.file.filename().string(), e.name.at, e.name.label, ok,
                     ok ? "" : std::string(to_string(check.state)) + ": " + check.problem +
                                   " (kept: retention never deletes what it cannot vouch for)"});
  }
  // Plan, re-check what the plan counts on, and plan again without what failed.
  std::vector<bool> hashed(items.size(), false);
  for (;;) {
    report.plan = plan_retention(items, now, policy);
    std::vector<std::size_t> to_check;
    for (std::size_t i = items.size(); i-- > 0;)
      if (report.plan.decisions[i].counted && !hashed[i]) to_check.push_back(i);
    if (to_check.empty()) break;
    run_at_background_priority([&] {
      for (const auto i : to_check) {
        job.check("re-checking " + report.backups[i].file.string());
        hashed[i] = true;
        report.checks[i] = check_backup(report.backups[i], database, &job);
        if (report.checks[i].state == BackupState::ok) continue;
        items[i].verified = false;
        items[i].set_aside = "damaged: " + report.checks[i].problem + " (kept, not counted)";
      }
    });
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& e = report.backups[i];
    if (report.checks[i].state == BackupState::damaged)
      report.problems.push_back(e.file.filename().string() + " is damaged: " + report.checks[i].problem);
    else if (stamped_in_future(e, now))
      report.problems.push_back(e.file.filename().string() + " is " + future_note(e));
    else if (hashed[i] && e.name.label.empty() && report.checks[i].content_checked)
      report.newest_good = e;  // oldest first: the last one is the newest
  }
  for (const auto& p : report.problems) spdlog::warn("backup {}", p);
  if (dry_run) return report;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (report.plan.decisions[i].keep) continue;
    job.check("pruning backups");
    const auto& file = report.backups[i].file;
    env.remove_file(std::filesystem::path(file.string() + ".sha256"));
    env.remove_file(file);
    report.deleted.push_back(file);
    spdlog::info("pruned {} ({})", file.string(), report.plan.decisions[i].rule);
  }
  if (!report.deleted.empty()) env.fsync_dir(dir);
  return report;
}

}  // namespace sqlkeeper::core
