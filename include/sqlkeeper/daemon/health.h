#pragma once
// Health evaluation: plain values in, a verdict out. No I/O, so every branch is
// covered by table tests; the daemon gathers the inputs and serves the result.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/sqlite/library.h"

namespace sqlkeeper::core {

enum class HealthStatus { ok = 0, degraded = 1, failing = 2 };
const char* to_string(HealthStatus s);

enum class Phase { starting, migrating, ready, stopping, failed };
const char* to_string(Phase p);

struct HealthInputs {
  using TimePoint = std::chrono::system_clock::time_point;
  Phase phase = Phase::starting;
  TimePoint now;
  TimePoint started_at;
  // The last liveness query on the database: did it answer, and if not, why.
  bool database_answered = false;
  std::string database_error;
  // Set when the file at the database's path is no longer the one opened at start.
  std::string database_replaced;
  std::uint64_t wal_bytes = 0;
  std::uint64_t wal_max_bytes = 0;
  std::optional<TimePoint> last_backup_at;
  bool last_backup_verified = false;
  std::chrono::seconds backup_interval{std::chrono::hours(24)};
  std::chrono::seconds backup_slack{std::chrono::hours(2)};
  std::optional<std::uint64_t> backup_free_bytes;
  // Why the backup folder cannot be looked at (EACCES, ESTALE, EIO); with `hung`,
  // a look at it has not returned (a dead mount): no backup can be taken there.
  std::string backup_folder_problem;
  bool backup_folder_hung = false;
  std::uint64_t database_bytes = 0;
  // Free space where the database and its WAL live; the WAL grows there.
  std::optional<std::uint64_t> database_free_bytes;
  std::string database_dir;
  // The last PRAGMA quick_check: nullopt before the first one.
  std::optional<bool> quick_check_ok;
  std::string quick_check_error;
  // The last backup attempt's error, kept until a backup succeeds.
  std::string last_backup_failure;
  // Backups in the folder that cannot be relied on, each named with why: damaged
  // (found by prune's re-check) or stamped in the future.
  std::vector<std::string> backup_problems;
  // Why the last post-backup-command failed; empty when it succeeded or is not set.
  std::string post_backup_failure;
  // Why the last checkpoint did not complete (e.g. a reader holds the WAL).
  std::string checkpoint_note;
  // The linked SQLite: without the WAL-reset fix sqlkeeper takes no checkpoints.
  sqlite::LibraryInfo sqlite;
  // The WAL archive; nullopt when it is off.
  struct Archive {
    std::chrono::milliseconds interval{1000};
    std::chrono::milliseconds max_lag{60000};
    std::chrono::milliseconds lag{};        // the oldest transaction read and not yet durable
    std::string error;                      // the last failure; empty while none
    std::chrono::milliseconds failing_for{};
    bool chain = false;                     // a chain runs
    std::chrono::milliseconds no_chain_for{};  // how long none has run
    std::vector<std::string> recent_gaps;   // gaps of the last day, each with when and why
    std::string chain_mismatch;             // the last backup's chain check failed: which, and how
    std::string drill_failed;               // the last restore drill failed: when, and why
  };
  std::optional<Archive> archive;
};

// A gap in the archive stays in the health this long after it opened.
constexpr std::chrono::hours kArchiveGapShown{24};

// Checkpoints keep the WAL near wal-max-bytes; one this many times past it is
// pinned by a reader that never lets go.
constexpr std::uint64_t kWalStuckFactor = 4;

// Below this much free space on the database's volume, the applications' next
// writes (which grow the WAL) fail with "database or disk is full".
constexpr std::uint64_t kDatabaseVolumeMinFree = 8ULL << 20;

struct HealthCheck {
  std::string name;
  HealthStatus status = HealthStatus::ok;
  std::string detail;
};

struct HealthReport {
  HealthStatus status = HealthStatus::ok;
  std::vector<HealthCheck> checks;
  // Only the checks that are not ok.
  std::vector<HealthCheck> failing_checks() const;
};

HealthReport evaluate_health(const HealthInputs& in);

// Nagios plugin convention: 0 ok, 1 warning (degraded), 2 critical (failing).
int nagios_exit_code(HealthStatus s);

}  // namespace sqlkeeper::core
