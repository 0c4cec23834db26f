#pragma once
// The restore drill: a point-in-time restore of a random past second of the
// archive into scratch space, with every check a real restore makes
// (restore/point_in_time.h), then deleted. The daemon runs one every
// archive-drill-interval and reports it; its record is kept beside the
// archive (kDrillFile), so a restart neither forgets nor repeats it.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include "sqlkeeper/archive/timeline.h"
#include "sqlkeeper/base/job.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::core {

inline constexpr const char* kDrillFile = "drill.json";

struct DrillRecord {
  std::int64_t at_ms = 0;      // when it ran
  std::int64_t target_ms = 0;  // the second restored
  std::string backup;          // the backup it began from
  std::string chain;
  std::uint64_t transactions = 0;  // applied after the backup
  std::uint64_t last_seq = 0;
  std::int64_t last_ms = 0;  // the last transaction applied, archived at
  std::int64_t pages = 0;
  bool ok = false;
  std::string problem;
  std::int64_t duration_ms = 0;
};

// A moment inside the covered ranges, chosen uniformly over their length;
// nothing newer than `newest_ms` (a live chain's last moments are still being
// written). nullopt when nothing is covered.
std::optional<std::int64_t> pick_drill_target(const archive::Timeline& timeline, std::int64_t newest_ms,
                                              std::mt19937_64& random);

struct DrillWhere {
  std::filesystem::path archive_dir;
  std::filesystem::path backup_dir;  // the scratch space
  std::filesystem::path database;
  std::chrono::milliseconds margin{};  // how far from now the newest target may be
};

// nullopt when there is nothing to drill on (no covered range yet); a failed
// restore is a record with ok false and the problem named. Stopping the job
// throws Error(stopped).
std::optional<DrillRecord> run_drill(const DrillWhere& where, Env& env, Job& job, std::mt19937_64& random);

std::optional<DrillRecord> read_drill_record(const std::filesystem::path& archive_dir);
void write_drill_record(const std::filesystem::path& archive_dir, const DrillRecord& record, Env& env);

}  // namespace sqlkeeper::core
