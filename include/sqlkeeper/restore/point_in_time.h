#pragma once
// `restore --at TIME`: the newest backup at or before TIME in the archive chain
// that covers TIME (archive/timeline.h), verified against its sidecar, copied
// to a scratch file, the chain's transactions after it that were archived at or
// before TIME applied in order (each checked again as it is read:
// archive/chain.h), the result checked (integrity_check, the page count the
// last transaction recorded, the schema), then loaded like any restore
// (restore/restore.h: in place under the write lock, or into a new file).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "sqlkeeper/archive/timeline.h"
#include "sqlkeeper/base/job.h"
#include "sqlkeeper/env.h"
#include "sqlkeeper/restore/restore.h"

namespace sqlkeeper::core {

// The archive's chains and this database's verified backup points.
struct ArchiveView {
  std::vector<archive::ChainSummary> chains;
  std::vector<archive::ChainPoint> points;
  bool live = false;  // a daemon archives now
  archive::Timeline timeline;
};
ArchiveView read_archive(const std::filesystem::path& archive_dir, const std::filesystem::path& backup_dir,
                         const std::filesystem::path& database, std::int64_t now_ms);

// Retention of the archive, after the backups' prune: a chain none of whose
// backups is kept any more goes (but the newest, which the running archive may
// write: archive::chain_dirs); in the others, the sealed segments before the
// oldest kept backup's place go. So the archive keeps exactly what a kept
// backup needs to reach the next one and now.
struct ArchivePruneReport {
  std::vector<std::filesystem::path> chains;    // deleted whole
  std::vector<std::filesystem::path> segments;  // deleted from kept chains
  std::uint64_t bytes = 0;
};
ArchivePruneReport prune_archive(const std::filesystem::path& archive_dir, const std::filesystem::path& backup_dir,
                                 const std::filesystem::path& database, bool dry_run, Env& env);

struct PointInTimeResult {
  archive::RestorePlan plan;
  std::uint64_t transactions = 0;     // applied after the backup
  std::uint64_t frame_bytes = 0;      // of WAL frames applied
  std::uint64_t last_seq = 0;         // the chain's last transaction applied (the backup's own when none)
  std::int64_t last_ms = 0;           // when it was archived (the backup's time when none)
  std::chrono::milliseconds replay{};
  RestoreResult restore;              // empty on a dry run
};

// Throws Error naming what failed: no plan for TIME (a gap, named), a damaged
// backup or archive segment (named), a result that fails its checks.
PointInTimeResult restore_at(std::int64_t target_ms, const std::filesystem::path& archive_dir,
                             const RestoreOptions& options, bool dry_run, Env& env, Job& job);

}  // namespace sqlkeeper::core

namespace sqlkeeper::core {

// TIME as `restore --at` takes it: RFC 3339 ("2026-12-06T14:05:30Z", with
// fractions of a second or an offset such as +01:00), or local wall time
// "2026-12-06 14:05[:30]". Unix ms; nullopt when it is neither.
std::optional<std::int64_t> parse_restore_time(const std::string& text);

}  // namespace sqlkeeper::core
