#include "sqlkeeper/daemon/health.h"

#include <algorithm>

#include "sqlkeeper/config/units.h"

namespace sqlkeeper::core {

const char* to_string(HealthStatus s) {
  switch (s) {
    case HealthStatus::ok: return "ok";
    case HealthStatus::degraded: return "degraded";
    case HealthStatus::failing: return "failing";
  }
  return "failing";
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::starting: return "starting";
    case Phase::migrating: return "migrating";
    case Phase::ready: return "ready";
    case Phase::stopping: return "stopping";
    case Phase::failed: return "failed";
  }
  return "failed";
}

std::vector<HealthCheck> HealthReport::failing_checks() const {
  std::vector<HealthCheck> out;
  std::copy_if(checks.begin(), checks.end(), std::back_inserter(out),
               [](const HealthCheck& c) { return c.status != HealthStatus::ok; });
  return out;
}

namespace {

HealthCheck check_schema(const HealthInputs& in) {
  switch (in.phase) {
    case Phase::ready: return {"schema", HealthStatus::ok, "migrated"};
    case Phase::starting:
    case Phase::migrating:
      return {"schema", HealthStatus::failing, "not migrated yet (" + std::string(to_string(in.phase)) + ")"};
    case Phase::failed: return {"schema", HealthStatus::failing, "start-up failed"};
    case Phase::stopping: return {"schema", HealthStatus::failing, "stopping"};
  }
  return {"schema", HealthStatus::failing, "unknown phase"};
}

HealthCheck check_database(const HealthInputs& in) {
  if (in.phase != Phase::ready) return {"database", HealthStatus::failing, "not open"};
  if (!in.database_answered) return {"database", HealthStatus::failing, "not answering: " + in.database_error};
  if (!in.database_replaced.empty()) return {"database", HealthStatus::failing, in.database_replaced};
  return {"database", HealthStatus::ok, "answering"};
}

HealthCheck check_integrity(const HealthInputs& in) {
  if (!in.quick_check_ok) return {"integrity", HealthStatus::ok, "not checked yet"};
  if (!*in.quick_check_ok) return {"integrity", HealthStatus::failing, "quick_check found damage: " + in.quick_check_error};
  return {"integrity", HealthStatus::ok, "quick_check ok"};
}

// The database's own volume: when it is full the applications' writes already
// fail, so this is failing, not degraded. Below the WAL limit it is degraded:
// the WAL may not be able to grow as far as sqlkeeper lets it.
HealthCheck check_database_volume(const HealthInputs& in) {
  if (!in.database_free_bytes) return {"database_disk", HealthStatus::ok, "not checked"};
  const auto free = *in.database_free_bytes;
  const auto where = " free on the database volume (" + in.database_dir + ")";
  if (free < kDatabaseVolumeMinFree)
    return {"database_disk", HealthStatus::failing,
            "only " + config::format_bytes(free) + where + "; the applications' writes fail when it is full"};
  if (in.wal_max_bytes > 0 && free < in.wal_max_bytes)
    return {"database_disk", HealthStatus::degraded,
            config::format_bytes(free) + where + ", less than the WAL limit of " + config::format_size(in.wal_max_bytes)};
  return {"database_disk", HealthStatus::ok, config::format_bytes(free) + where};
}

HealthCheck check_wal(const HealthInputs& in) {
  using config::format_bytes;
  using config::format_size;
  if (in.wal_max_bytes > 0 && in.wal_bytes > kWalStuckFactor * in.wal_max_bytes)
    return {"wal", HealthStatus::degraded,
            "WAL is " + format_bytes(in.wal_bytes) + ", over " + std::to_string(kWalStuckFactor) +
                "x the limit of " + format_size(in.wal_max_bytes) + ": a reader is holding it" +
                (in.checkpoint_note.empty() ? "" : " (last checkpoint: " + in.checkpoint_note + ")")};
  if (in.wal_max_bytes > 0 && in.wal_bytes > in.wal_max_bytes)
    return {"wal", HealthStatus::ok,
            format_bytes(in.wal_bytes) + ", over the limit of " + format_size(in.wal_max_bytes) +
                ": a checkpoint is due"};
  return {"wal", HealthStatus::ok, format_bytes(in.wal_bytes)};
}

HealthCheck check_backup(const HealthInputs& in) {
  if (!in.last_backup_failure.empty())
    return {"backup", HealthStatus::degraded, "the last backup failed: " + in.last_backup_failure};
  const auto allowed = in.backup_interval + in.backup_slack;
  if (!in.last_backup_at) {
    // A fresh install has had no night yet; only then is "no backup" fine.
    if (in.now - in.started_at <= allowed) return {"backup", HealthStatus::ok, "no backup yet"};
    return {"backup", HealthStatus::degraded, "no backup taken since start"};
  }
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(in.now - *in.last_backup_at);
  if (age.count() < 0)
    return {"backup", HealthStatus::ok,
            "last backup is dated " + config::format_duration(-age) + " ahead of the clock"};
  if (age > allowed)
    return {"backup", HealthStatus::degraded, "last backup is " + config::format_duration(age) + " old"};
  if (!in.last_backup_verified) return {"backup", HealthStatus::degraded, "last backup is not verified"};
  return {"backup", HealthStatus::ok, "last backup " + config::format_duration(age) + " ago"};
}

HealthCheck check_backup_files(const HealthInputs& in) {
  if (in.backup_problems.empty()) return {"backup_files", HealthStatus::ok, "no damaged or future-stamped backup seen"};
  std::string detail;
  for (const auto& p : in.backup_problems) detail += (detail.empty() ? "" : "; ") + p;
  return {"backup_files", HealthStatus::degraded, detail};
}

HealthCheck check_post_backup(const HealthInputs& in) {
  if (!in.post_backup_failure.empty())
    return {"post_backup", HealthStatus::degraded, "post-backup-command failed: " + in.post_backup_failure};
  return {"post_backup", HealthStatus::ok, "no failure"};
}

HealthCheck check_disk(const HealthInputs& in) {
  if (!in.backup_free_bytes) return {"disk", HealthStatus::ok, "backup volume not checked"};
  // The next backup needs room for a full copy of the database.
  if (*in.backup_free_bytes < in.database_bytes)
    return {"disk", HealthStatus::degraded,
            config::format_bytes(*in.backup_free_bytes) + " free on the backup volume, the next backup needs " +
                config::format_bytes(in.database_bytes)};
  return {"disk", HealthStatus::ok, config::format_bytes(*in.backup_free_bytes) + " free on the backup volume"};
}

HealthCheck check_backup_folder(const HealthInputs& in) {
  if (in.backup_folder_hung) return {"backup_dir", HealthStatus::failing, in.backup_folder_problem};
  if (!in.backup_folder_problem.empty()) return {"backup_dir", HealthStatus::degraded, in.backup_folder_problem};
  return {"backup_dir", HealthStatus::ok, "answering"};
}

HealthCheck check_sqlite(const HealthInputs& in) {
  const auto library = "SQLite " + in.sqlite.version + " (" + in.sqlite.source + ")";
  if (!in.sqlite.wal_reset_fix)
    return {"sqlite", HealthStatus::degraded,
            library + " has the WAL-reset bug; sqlkeeper takes no checkpoints; see docs/operations.md"};
  return {"sqlite", HealthStatus::ok, library + " has the WAL-reset fix"};
}

}  // namespace

HealthCheck check_archive(const HealthInputs& in) {
  if (!in.archive) return {"archive", HealthStatus::ok, "off"};
  const auto& a = *in.archive;
  if (!a.error.empty() && a.failing_for > a.max_lag)
    return {"archive", HealthStatus::failing,
            "archiving has failed for " + config::format_duration(std::chrono::duration_cast<std::chrono::seconds>(a.failing_for)) +
                ": " + a.error};
  // The archive and the backups disagree: a restore --at between them cannot be trusted.
  if (!a.chain_mismatch.empty())
    return {"archive", HealthStatus::failing, "the archive does not reproduce the last backup: " + a.chain_mismatch};
  if (!a.drill_failed.empty())
    return {"archive", HealthStatus::failing, "the last restore drill failed: " + a.drill_failed};
  std::string gaps;
  for (const auto& g : a.recent_gaps) gaps += (gaps.empty() ? "" : "; ") + g;
  if (!a.chain) {
    // A chain begins with a backup, taken at once: a start or a gap is a moment
    // without one; longer than archive-max-lag is lost protection.
    const auto why = gaps.empty() ? std::string() : " (" + gaps + ")";
    if (a.no_chain_for > a.max_lag)
      return {"archive", HealthStatus::failing,
              "nothing has been archived for " +
                  config::format_duration(std::chrono::duration_cast<std::chrono::seconds>(a.no_chain_for)) +
                  ": no archive chain runs, and the backup that begins one has not succeeded" + why};
    return {"archive", gaps.empty() ? HealthStatus::ok : HealthStatus::degraded,
            "an archive chain begins with the backup being taken" + why};
  }
  if (!a.error.empty()) return {"archive", HealthStatus::degraded, "archiving fails: " + a.error};
  if (a.lag > 10 * a.interval)
    return {"archive", HealthStatus::degraded,
            "archiving lags " + std::to_string(a.lag.count()) + " ms behind the WAL (archive-interval " +
                std::to_string(a.interval.count()) + " ms)"};
  if (!gaps.empty()) return {"archive", HealthStatus::degraded, gaps};
  return {"archive", HealthStatus::ok, "lag " + std::to_string(a.lag.count()) + " ms"};
}

HealthReport evaluate_health(const HealthInputs& in) {
  HealthReport report;
  report.checks = {check_schema(in),  check_database(in), check_integrity(in), check_database_volume(in),
                   check_wal(in),     check_backup(in),   check_backup_files(in), check_post_backup(in), check_disk(in),
                   check_backup_folder(in), check_sqlite(in), check_archive(in)};
  for (const auto& c : report.checks) report.status = std::max(report.status, c.status);
  return report;
}

int nagios_exit_code(HealthStatus s) {
  return static_cast<int>(s);
}

}  // namespace sqlkeeper::core
