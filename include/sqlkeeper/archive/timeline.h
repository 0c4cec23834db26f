#pragma once
// Which moments the backups and the archive can give back, and how.
//
// A chain covers the time from its first backup point (a backup whose sidecar
// records `archive: <chain> <seq> <ms>`) to its last record, less its pauses
// (sqlkeeper not running: commits then were archived only when it started
// again). The newest chain of a running daemon covers up to now. Everything
// else is a gap, named with its cause.
//
// Restoring to TIME takes the newest backup point at or before TIME in the
// chain that covers TIME, and applies the chain's transactions after that
// point that were archived at or before TIME. "Archived at" is when the
// transaction was durable in the archive: within archive-interval of its commit.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/archive/chain.h"

namespace sqlkeeper::archive {

struct ChainPoint {
  std::filesystem::path backup;
  std::string chain;
  std::uint64_t seq = 0;  // the chain's transactions up to this one are in the backup
  std::int64_t ms = 0;    // unix ms of the backup's snapshot
};

// nullopt unless `field` is "<chain> <seq> <ms>".
std::optional<ChainPoint> parse_chain_point(const std::string& field, const std::filesystem::path& backup);

struct Covered {
  std::string chain;
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
};

struct Gap {
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;  // 0: still open
  std::string cause;
};

struct Timeline {
  std::vector<Covered> covered;  // oldest first
  std::vector<Gap> gaps;         // between and inside covered ranges
};

// `live`: a daemon archives now, so its newest open chain covers up to `now_ms`.
Timeline build_timeline(const std::vector<ChainSummary>& chains, const std::vector<ChainPoint>& points, bool live,
                        std::int64_t now_ms);

struct RestorePlan {
  ChainPoint base;
  std::filesystem::path chain_dir;
  std::int64_t target_ms = 0;
};

// The plan for TIME, or Error(config) saying why there is none: TIME in a gap
// (named, with the nearest moments that can be restored), before the oldest point.
RestorePlan plan_restore(const Timeline& timeline, const std::vector<ChainSummary>& chains,
                         const std::vector<ChainPoint>& points, std::int64_t target_ms);

std::string format_ms(std::int64_t ms);  // RFC 3339 UTC with milliseconds

}  // namespace sqlkeeper::archive
