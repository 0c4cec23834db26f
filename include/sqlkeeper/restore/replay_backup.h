#pragma once
// A backup brought forward by the archive: the backup copied to a scratch file
// of sqlkeeper's own, then the chain's transactions after the backup's place
// applied in order, each checked again as it is read (archive/chain.h). What
// `restore --at` loads, and what the chain check (restore/chain_check.h)
// compares with a later backup.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "sqlkeeper/archive/record.h"
#include "sqlkeeper/base/job.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::core {

// A file in the backup folder under a temporary's name of ours (a killed run's
// leftover is removed by the next backup), removed with its -wal and -shm when
// this goes.
class ScratchFile {
 public:
  ScratchFile(const std::filesystem::path& backup_dir, const std::string& stem, const std::string& label, Env& env);
  // Exactly at `path`, which must not exist yet.
  ScratchFile(std::filesystem::path path, Env& env);
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  Env& env_;
};

struct Replayed {
  std::uint64_t transactions = 0;  // applied after the backup
  std::uint64_t frame_bytes = 0;   // of WAL frames applied
  std::uint64_t last_seq = 0;      // the chain's last transaction applied (the backup's own when none)
  std::int64_t last_ms = 0;        // when it was archived (the backup's time when none)
  std::uint32_t db_pages = 0;      // the size the last one recorded (0 when none)
  std::uint32_t page_size = 0;
  std::chrono::milliseconds replay{};
};

struct ReplayRequest {
  std::filesystem::path backup;  // verified by the caller
  std::uint64_t backup_seq = 0;  // the chain's transactions up to this one are in it
  std::int64_t backup_ms = 0;
  std::filesystem::path chain_dir;
  // Each transaction after the backup's place is applied while this says so;
  // the first it refuses ends the replay.
  std::function<bool(const archive::Record&)> take;
};

// Applies to `target` (a copy of the backup; nullopt: only counts, as a dry
// run does). Not fsynced: the copy is scratch, read back through SQLite (a
// check, a load) and deleted, and what is made of it is fsynced where it lands;
// an fsync here wrote a whole database to disk for nothing. Throws Error naming
// the segment and transaction that cannot be applied.
Replayed replay_backup(const ReplayRequest& request, const std::optional<std::filesystem::path>& target, Job& job);

// The page size in a database file's header, read without a connection (one
// could leave a -wal beside a file being written).
std::uint32_t header_page_size(const std::filesystem::path& file);

}  // namespace sqlkeeper::core
