#pragma once
// The archive checked against the backups, not assumed: between two backups
// that mark their place in the same chain, the earlier one brought forward by
// the archive to the later one's place (restore/replay_backup.h) must be the
// later one, page for page. A chain's tail after its newest backup has nothing
// to be compared with; it is replayed and must pass integrity_check and have
// the page count its last transaction recorded.
//
// The daemon checks each new backup against the one before it in its chain
// (a mismatch is failing health); `sqlkeeper verify --archive` checks every
// pair and every tail of the kept chains.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "sqlkeeper/archive/timeline.h"
#include "sqlkeeper/base/job.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::core {

// Empty when the two database files hold the same pages; else what differs
// ("page 17 differs (and 3 more)", "a has 120 pages, b 121"). Page 1's header
// fields that a copy through SQLite rewrites are not compared: the journal mode
// (bytes 18-19: a page-by-page backup is written in rollback mode), the change
// counter (24-27) and schema cookie (40-43) the backup API bumps, and the
// version-valid-for number and SQLite version (92-99).
std::string compare_database_pages(const std::filesystem::path& a, const std::filesystem::path& b, Job& job);

struct ChainStep {
  std::filesystem::path chain_dir;
  archive::ChainPoint from;
  archive::ChainPoint to;  // to.backup empty: the chain's tail after `from`
  std::uint64_t transactions = 0;
  std::uint64_t frame_bytes = 0;
  std::uint64_t pages = 0;
  std::uint64_t last_seq = 0;  // the tail's last transaction
  std::int64_t last_ms = 0;
  bool ok = false;
  std::string problem;  // names the backup, segment or page
  std::chrono::milliseconds duration{};
};

struct StepWhere {
  std::filesystem::path backup_dir;  // scratch space
  std::string stem;
  std::string identity;  // the database the backups must be of
};

// Both backups are verified against their sidecars first, so a mismatch is
// the archive's (or a backup damaged since it was written, named as such).
ChainStep check_chain_step(const std::filesystem::path& chain_dir, const archive::ChainPoint& from,
                           const archive::ChainPoint& to, const StepWhere& where, Env& env, Job& job);

struct ArchiveCheck {
  std::vector<ChainStep> steps;
  std::vector<std::string> problems;  // chains that cannot be read, named
  std::size_t chains = 0;
  bool ok() const;
};

// Every kept chain (one with a verified backup of this database): each pair of
// successive backups in it, then its tail. `on_step` after each (progress).
ArchiveCheck verify_archive(const std::filesystem::path& archive_dir, const std::filesystem::path& backup_dir,
                            const std::filesystem::path& database, Env& env, Job& job,
                            const std::function<void(const ChainStep&)>& on_step);

// After a backup that marked its place at `point`: checks it against the
// chain's backup before it (the newest verified one with an earlier place).
// nullopt when there is none (the backup began the chain).
std::optional<ChainStep> check_new_backup(const std::filesystem::path& archive_dir,
                                          const std::filesystem::path& backup_dir,
                                          const std::filesystem::path& database, const archive::ChainPoint& point,
                                          Env& env, Job& job);

}  // namespace sqlkeeper::core
