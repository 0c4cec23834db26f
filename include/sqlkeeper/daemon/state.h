#pragma once
// What the daemon knows about itself, owned by the event loop. Its renderings
// (the health socket's answers, STATUS=) are in daemon/routes.h.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/archive/archiver.h"
#include "sqlkeeper/restore/drill.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/daemon/health.h"
#include "sqlkeeper/sqlite/library.h"

namespace sqlkeeper::daemon {

struct SchemaSummary {
  std::string format;  // "plain" or "drizzle"
  std::string folder;
  std::vector<std::string> applied;  // file names, oldest first
  std::int64_t version = 0;          // newest applied key
  int applied_this_start = 0;
  std::chrono::milliseconds migration_time{};
};

struct BackupSummary {
  std::string file;
  std::chrono::system_clock::time_point at;
  std::uint64_t size = 0;
  bool verified = false;
};

struct CheckpointSummary {
  std::optional<std::chrono::system_clock::time_point> last_complete;
  std::optional<std::chrono::system_clock::time_point> last_attempt;
  int last_frames = 0;
  int last_checkpointed = 0;
  std::chrono::milliseconds last_duration{};
  std::string last_failure;  // empty when the last one completed
  std::uint64_t total = 0;
  std::uint64_t incomplete_total = 0;
  std::uint64_t frames_total = 0;
  // Why sqlkeeper takes none (an affected SQLite); empty when it does.
  std::string disabled_reason;
};

// The backup job while it runs, and how the last ones ended.
struct BackupActivity {
  std::string running_id;     // empty when none runs
  std::uint64_t pages_done = 0;
  std::uint64_t pages_total = 0;
  std::optional<std::chrono::system_clock::time_point> last_failure_at;
  std::string last_failure;   // cleared by the next success
  std::chrono::milliseconds last_copy{};
  std::chrono::milliseconds last_verify{};
  std::chrono::milliseconds last_total{};
  std::uint64_t failures_total = 0;
  std::uint64_t successes_total = 0;
  std::uint64_t next_id = 1;
};

// The next scheduled backup (backup/schedule) and the failures it backs off from.
struct ScheduleSummary {
  std::optional<std::chrono::system_clock::time_point> next_at;
  std::string next_why;
  int failures_since_success = 0;
  // How often a backup is expected: backup-interval, else a day (health's "too old").
  std::chrono::seconds expected_interval{std::chrono::hours(24)};
};

struct PruneSummary {
  std::optional<std::chrono::system_clock::time_point> last_run;
  std::size_t deleted = 0;
  std::size_t kept = 0;
  std::string held;   // why the last run deleted nothing on purpose
  std::string error;  // why the last run failed
  std::uint64_t deleted_total = 0;
};

struct PostBackupSummary {
  bool configured = false;
  bool running = false;
  std::string file;
  std::optional<std::chrono::system_clock::time_point> last_finished;
  bool last_ok = true;
  std::string last_outcome;
  std::vector<std::string> last_output;
  std::chrono::milliseconds last_duration{};
  std::uint64_t runs_total = 0;
  std::uint64_t failures_total = 0;
};

struct QuickCheckSummary {
  std::chrono::system_clock::time_point at;
  bool ok = false;
  std::string first_error;
  std::chrono::milliseconds duration{};
};

// The scrub of kept backups (daemon/scrubber.h).
struct ScrubSummary {
  struct Last {
    std::string file;
    std::chrono::system_clock::time_point at;
    bool ok = false;
    std::string problem;
  };
  std::optional<Last> last;
  std::map<std::string, std::string> damaged;  // backup file name -> what no longer matches
  std::optional<std::chrono::system_clock::time_point> next;
  std::uint64_t checked_total = 0;
};

// The WAL archive as the loop last saw it (archive/archiver.h).
struct ArchiveSummary {
  bool on = false;
  std::string off_reason;  // why it is off when archive=true asked for it
  std::string dir;
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds max_lag{60000};
  archive::ArchiverStatus status;
  // Each new backup checked against the chain's backup before it (restore/chain_check.h).
  struct ChainCheck {
    struct Last {
      std::string backup;  // the new backup's file name
      std::chrono::system_clock::time_point at;
      bool ok = false;
      std::string text;  // what matched, or what did not
      std::chrono::milliseconds duration{};
    };
    std::optional<Last> last;
    std::optional<Last> mismatch;  // the newest that failed (health fails while it is the last)
    std::uint64_t total = 0;
    std::uint64_t mismatches_total = 0;
  };
  ChainCheck chain_check;
  std::optional<core::DrillRecord> drill;  // the last restore drill (daemon/archive_drill.h)
  std::optional<std::chrono::system_clock::time_point> drill_next;
};

struct DaemonState {
  ArchiveSummary archive;
  core::Phase phase = core::Phase::starting;
  std::string phase_detail;  // e.g. the migration being applied, or the start-up error
  std::chrono::system_clock::time_point started_at;
  std::string database;
  std::string backup_dir;             // the folder backup-dir led to at start, links followed
  std::string backup_dir_configured;  // as given
  sqlite::LibraryInfo sqlite;
  core::FileSizes sizes;
  bool database_answered = false;
  std::string database_error;
  std::string database_replaced;  // why the file at the path is not the one opened at start
  std::uint64_t wal_max_bytes = 0;
  std::optional<std::uint64_t> backup_free_bytes;
  // Why the backup folder cannot be looked at; with `hung`, a look has not come back.
  std::string backup_folder_problem;
  bool backup_folder_hung = false;
  std::optional<std::uint64_t> database_free_bytes;  // on the database's own volume
  std::optional<QuickCheckSummary> quick_check;
  ScrubSummary scrub;
  CheckpointSummary checkpoint;
  BackupActivity backup;
  std::optional<BackupSummary> last_backup;
  int backup_count = 0;
  std::vector<std::string> backup_problems;  // damaged or future-stamped backups, named (daemon/health)
  std::optional<std::chrono::system_clock::time_point> future_backup_at;  // the newest stamped in the future
  ScheduleSummary schedule;
  PruneSummary prune;
  PostBackupSummary post_backup;
  SchemaSummary schema;
  std::string worker_job;
  std::uint64_t watchdog_pings = 0;
  std::uint64_t http_requests = 0;
};

}  // namespace sqlkeeper::daemon
