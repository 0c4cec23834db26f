#pragma once
// Re-checking kept backups. A backup was verified on the day it was written;
// disks rot and files get truncated after that. The scrub re-hashes each kept
// backup at least once per `verify-interval`, one file at a time, and records
// the result and its time in the backup's sidecar ("# checked:" and "# check:"
// lines, which sha256sum -c ignores), so `backups`, `/health` and the next
// decision that deletes data see what the file on disk is now.
//
// Paced: after a check the next waits at least interval / (number of kept
// backups), so a month of backups that are all due (after an upgrade, or a
// long stop) is spread over the interval instead of read at once.
#include <chrono>
#include <optional>
#include <string>

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/base/job.h"
#include "sqlkeeper/env.h"

namespace sqlkeeper::core {

struct ScrubRecord {
  Env::Clock::time_point at;
  bool ok = false;
  std::string problem;  // when not ok: what differs, e.g. "size 1000 bytes, the sidecar says 4096"
};

// The last scrub recorded in a sidecar; nullopt when it was never scrubbed.
std::optional<ScrubRecord> last_scrub(const Sidecar& sidecar);
// When `entry` was last known to match its sidecar: the last scrub that found it
// so, or else the time it was written and verified.
Env::Clock::time_point last_checked(const CatalogEntry& entry);

struct ScrubPlan {
  const CatalogEntry* next = nullptr;  // nullptr: nothing to check
  Env::Clock::time_point when{};       // not before this
};

// Pure: the finished backup checked longest ago, and when it is due: at
// last_checked + interval, and not before `last_scrub_ended` + the pace.
ScrubPlan plan_scrub(const Catalog& catalog, Env::Clock::time_point last_scrub_ended,
                     std::chrono::seconds interval);

// Re-hashes `entry` (size and SHA-256 against its sidecar) and records the result
// in its sidecar, under the backup folder's lock. A backup that is gone by then
// (pruned meanwhile) returns nullopt. Throws Error when the record cannot be written.
std::optional<ScrubRecord> scrub_backup(const CatalogEntry& entry, Env& env, Job& job,
                                        std::chrono::milliseconds lock_timeout);

}  // namespace sqlkeeper::core
