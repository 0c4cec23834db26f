#include "sqlkeeper/daemon/health.h"

#include <gtest/gtest.h>

#include "sqlkeeper/db/file_identity.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;

HealthInputs healthy() {
  HealthInputs in;
  in.phase = Phase::ready;
  in.started_at = std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 50));
  in.now = in.started_at + 1h;
  in.database_answered = true;
  in.wal_bytes = 1000;
  in.wal_max_bytes = 64 << 20;
  in.backup_free_bytes = 1ULL << 30;
  in.database_bytes = 1 << 20;
  in.sqlite = {"3.53.2", "bundled", true};
  return in;
}

const HealthCheck& check(const HealthReport& r, const std::string& name) {
  for (const auto& c : r.checks)
    if (c.name == name) return c;
  throw std::runtime_error("no check " + name);
}

TEST(EvaluateHealth, AllGoodIsOk) {
  const auto r = evaluate_health(healthy());
  EXPECT_EQ(r.status, HealthStatus::ok);
  EXPECT_TRUE(r.failing_checks().empty());
}

TEST(EvaluateHealth, NotReadyIsFailing) {
  for (auto phase : {Phase::starting, Phase::migrating, Phase::failed, Phase::stopping}) {
    auto in = healthy();
    in.phase = phase;
    const auto r = evaluate_health(in);
    EXPECT_EQ(r.status, HealthStatus::failing) << to_string(phase);
    EXPECT_EQ(check(r, "schema").status, HealthStatus::failing);
  }
}

TEST(EvaluateHealth, DatabaseNotAnsweringIsFailing) {
  auto in = healthy();
  in.database_answered = false;
  in.database_error = "database is locked";
  const auto r = evaluate_health(in);
  EXPECT_EQ(r.status, HealthStatus::failing);
  EXPECT_NE(check(r, "database").detail.find("database is locked"), std::string::npos);
}

TEST(EvaluateHealth, ADatabaseFileReplacedUnderTheDaemonIsFailingWithTheReason) {
  auto in = healthy();
  const FileIdentity opened{1, 100};
  in.database_replaced = replaced_problem("/var/lib/app/app.db", opened, opened);
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::ok);
  in.database_replaced = replaced_problem("/var/lib/app/app.db", opened, std::nullopt);  // gone: the probe's to say
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::ok);
  in.database_replaced = replaced_problem("/var/lib/app/app.db", opened, FileIdentity{1, 200});
  const auto r = evaluate_health(in);
  EXPECT_EQ(r.status, HealthStatus::failing);
  EXPECT_EQ(check(r, "database").detail,
            "/var/lib/app/app.db was replaced while sqlkeeper ran (inode 100, now 200): connections opened before "
            "still use the old file; restart the applications and sqlkeeper");
}

TEST(EvaluateHealth, AWalPinnedFarPastItsLimitIsDegradedWithTheReason) {
  auto in = healthy();
  // Past the limit a checkpoint is due; that alone is normal.
  in.wal_bytes = in.wal_max_bytes + 1;
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::ok);
  in.wal_bytes = kWalStuckFactor * in.wal_max_bytes;
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::ok);
  in.wal_bytes += 1;
  in.checkpoint_note = "the WAL stayed in use for 200 ms";
  const auto r = evaluate_health(in);
  EXPECT_EQ(r.status, HealthStatus::degraded);
  EXPECT_NE(check(r, "wal").detail.find("a reader is holding it (last checkpoint: the WAL stayed in use"),
            std::string::npos);
}

TEST(EvaluateHealth, DamageFoundByQuickCheckIsFailing) {
  auto in = healthy();
  EXPECT_EQ(check(evaluate_health(in), "integrity").detail, "not checked yet");
  in.quick_check_ok = true;
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::ok);
  in.quick_check_ok = false;
  in.quick_check_error = "*** in database main ***\nPage 7: btreeInitPage() returns error code 11";
  const auto r = evaluate_health(in);
  EXPECT_EQ(r.status, HealthStatus::failing);
  EXPECT_EQ(check(r, "integrity").detail.rfind("quick_check found damage: *** in database main", 0), 0u);
}

TEST(EvaluateHealth, AFullDatabaseVolumeIsFailingAndNamed) {
  auto in = healthy();
  in.database_dir = "/var/lib/sqlkeeper";
  in.database_free_bytes = 1ULL << 30;
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::ok);
  in.database_free_bytes = in.wal_max_bytes - 1;
  EXPECT_EQ(check(evaluate_health(in), "database_disk").status, HealthStatus::degraded);
  in.database_free_bytes = kDatabaseVolumeMinFree - 1;
  const auto r = evaluate_health(in);
  EXPECT_EQ(r.status, HealthStatus::failing);
  EXPECT_NE(check(r, "database_disk").detail.find("free on the database volume (/var/lib/sqlkeeper)"),
            std::string::npos);
}

TEST(EvaluateHealth, AFailedBackupStaysDegradedUntilOneSucceeds) {
  auto in = healthy();
  in.last_backup_at = in.now - 1h;
  in.last_backup_verified = true;
  in.last_backup_failure = "not enough space for a backup in /b";
  const auto r = evaluate_health(in);
  EXPECT_EQ(r.status, HealthStatus::degraded);
  EXPECT_EQ(check(r, "backup").detail, "the last backup failed: not enough space for a backup in /b");
}

TEST(EvaluateHealth, DamagedAndFutureStampedBackupsAreDegradedAndNamed) {
  auto in = healthy();
  in.last_backup_at = in.now - 1h;
  in.last_backup_verified = true;
  in.backup_problems = {"app-20261126T030000Z.db is damaged: checksum mismatch",
                        "app-20311127T030000Z.db is stamped in the future (2031-11-27T03:00:00Z)"};
  const auto r = evaluate_health(in);
  EXPECT_EQ(r.status, HealthStatus::degraded);
  EXPECT_EQ(check(r, "backup").status, HealthStatus::ok);
  EXPECT_EQ(check(r, "backup_files").status, HealthStatus::degraded);
  EXPECT_EQ(check(r, "backup_files").detail,
            "app-20261126T030000Z.db is damaged: checksum mismatch; "
            "app-20311127T030000Z.db is stamped in the future (2031-11-27T03:00:00Z)");
}

TEST(EvaluateHealth, BackupAgeAndVerification) {
  auto in = healthy();
  // No backup within the first interval plus slack after start is fine...
  in.now = in.started_at + 26h;
  EXPECT_EQ(check(evaluate_health(in), "backup").status, HealthStatus::ok);
  // ...but not after it.
  in.now = in.started_at + 26h + 1s;
  EXPECT_EQ(check(evaluate_health(in), "backup").status, HealthStatus::degraded);

  in.last_backup_at = in.now - 1h;
  in.last_backup_verified = true;
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::ok);
  in.last_backup_verified = false;
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::degraded);
  in.last_backup_verified = true;
  in.last_backup_at = in.now - 27h;
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::degraded);
}

TEST(EvaluateHealth, ABackupJustTakenOrDatedAheadOfTheClockSaysSo) {
  auto in = healthy();
  in.last_backup_verified = true;
  in.last_backup_at = in.now;
  EXPECT_EQ(check(evaluate_health(in), "backup").detail, "last backup 0s ago");
  in.last_backup_at = in.now + 3s;
  const auto detail = check(evaluate_health(in), "backup").detail;
  EXPECT_NE(detail.find("3s ahead of the clock"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("  "), std::string::npos) << detail;
}

TEST(EvaluateHealth, SizesInTheChecksReadAsKibMibGib) {
  auto in = healthy();
  in.database_dir = "/var/lib/sqlkeeper";
  in.database_free_bytes = 5ULL << 30;
  in.backup_free_bytes = 3ULL << 29;
  in.wal_bytes = 3ULL << 19;
  const auto r = evaluate_health(in);
  EXPECT_EQ(check(r, "database_disk").detail, "5.0 GiB free on the database volume (/var/lib/sqlkeeper)");
  EXPECT_EQ(check(r, "disk").detail, "1.5 GiB free on the backup volume");
  EXPECT_EQ(check(r, "wal").detail, "1.5 MiB");
}

TEST(EvaluateHealth, LowDiskIsDegraded) {
  auto in = healthy();
  in.backup_free_bytes = in.database_bytes - 1;
  EXPECT_EQ(check(evaluate_health(in), "disk").status, HealthStatus::degraded);
  in.backup_free_bytes.reset();
  EXPECT_EQ(check(evaluate_health(in), "disk").status, HealthStatus::ok);
}

TEST(EvaluateHealth, SqliteWithoutTheWalResetFixIsDegraded) {
  const struct {
    sqlite::LibraryInfo library;
    HealthStatus status;
    std::string detail;
  } cases[] = {
      {{"3.53.2", "bundled", true}, HealthStatus::ok, "SQLite 3.53.2 (bundled) has the WAL-reset fix"},
      {{"3.50.7", "system", true}, HealthStatus::ok, "SQLite 3.50.7 (system) has the WAL-reset fix"},
      {{"3.40.1", "system", false},
       HealthStatus::degraded,
       "SQLite 3.40.1 (system) has the WAL-reset bug; sqlkeeper takes no checkpoints; see docs/operations.md"},
  };
  for (const auto& c : cases) {
    auto in = healthy();
    in.sqlite = c.library;
    const auto r = evaluate_health(in);
    EXPECT_EQ(r.status, c.status) << c.library.version;
    EXPECT_EQ(check(r, "sqlite").status, c.status) << c.library.version;
    EXPECT_EQ(check(r, "sqlite").detail, c.detail);
  }
}

TEST(EvaluateHealth, WorstCheckWins) {
  auto in = healthy();
  in.wal_bytes = in.wal_max_bytes * (kWalStuckFactor + 1);
  in.database_answered = false;
  EXPECT_EQ(evaluate_health(in).status, HealthStatus::failing);
  EXPECT_EQ(evaluate_health(in).failing_checks().size(), 2u);
}

TEST(NagiosExitCode, FollowsPluginConvention) {
  EXPECT_EQ(nagios_exit_code(HealthStatus::ok), 0);
  EXPECT_EQ(nagios_exit_code(HealthStatus::degraded), 1);
  EXPECT_EQ(nagios_exit_code(HealthStatus::failing), 2);
}

TEST(EvaluateHealth, AFailedPostBackupCommandIsDegradedWithWhy) {
  auto in = healthy();
  in.post_backup_failure = "exit status 3 for /b/app-x.db: rclone: no such remote";
  const auto r = evaluate_health(in);
  EXPECT_EQ(r.status, HealthStatus::degraded);
  EXPECT_EQ(check(r, "post_backup").detail,
            "post-backup-command failed: exit status 3 for /b/app-x.db: rclone: no such remote");
}

TEST(EvaluateHealth, TheArchiveIsDegradedWhenItLagsOrAGapOpenedAndFailingWhenItHasNotArchivedForLong) {
  auto in = healthy();
  in.archive = HealthInputs::Archive{};
  in.archive->chain = true;
  in.archive->lag = 800ms;
  EXPECT_EQ(check(evaluate_health(in), "archive").status, HealthStatus::ok);
  in.archive->lag = 11s;  // past 10 x archive-interval
  EXPECT_EQ(check(evaluate_health(in), "archive").status, HealthStatus::degraded);
  in.archive->lag = 0ms;
  in.archive->recent_gaps = {"archive gap from A to B: the WAL was restarted while sqlkeeper was not running"};
  const auto gap = check(evaluate_health(in), "archive");
  EXPECT_EQ(gap.status, HealthStatus::degraded);
  EXPECT_NE(gap.detail.find("restarted"), std::string::npos) << gap.detail;
  in.archive->recent_gaps.clear();
  in.archive->error = "write wal/c/00000001.open: No space left on device";
  in.archive->failing_for = 30s;
  EXPECT_EQ(check(evaluate_health(in), "archive").status, HealthStatus::degraded);
  in.archive->failing_for = 61s;  // past archive-max-lag
  const auto failing = check(evaluate_health(in), "archive");
  EXPECT_EQ(failing.status, HealthStatus::failing);
  EXPECT_NE(failing.detail.find("No space left"), std::string::npos) << failing.detail;
}

TEST(EvaluateHealth, ABackupTheArchiveDoesNotReproduceIsFailingAndNamed) {
  auto in = healthy();
  in.archive = HealthInputs::Archive{};
  in.archive->chain = true;
  in.archive->chain_mismatch = "app-20261206T030000Z.db: page 17 differs";
  const auto c = check(evaluate_health(in), "archive");
  EXPECT_EQ(c.status, HealthStatus::failing);
  EXPECT_NE(c.detail.find("app-20261206T030000Z.db: page 17 differs"), std::string::npos) << c.detail;
}

TEST(EvaluateHealth, NoArchiveChainIsOkWhileItsBackupIsTakenAndFailingAfterTheMaxLag) {
  auto in = healthy();
  in.archive = HealthInputs::Archive{};
  in.archive->chain = false;
  in.archive->no_chain_for = 2s;
  EXPECT_EQ(check(evaluate_health(in), "archive").status, HealthStatus::ok);
  in.archive->no_chain_for = 2min;
  EXPECT_EQ(check(evaluate_health(in), "archive").status, HealthStatus::failing);
}

}  // namespace
}  // namespace sqlkeeper::core
