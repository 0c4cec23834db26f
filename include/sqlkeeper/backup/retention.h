#pragma once
// Which backups to delete: a pure function of the backups (time, label,
// verified), the time now and the policy, so every rule is covered by table tests.
//
// Regular backups are kept by any of these rules (the first that applies is
// reported), and deleted only when none does:
//   retention-min-count   the newest N verified backups, whatever their age;
//   retention-days        younger than N days, counted back from the newest
//                         verified backup (not from the wall clock); and, so that a
//                         clock jump or a stretch of downtime or failures never
//                         deletes more than a day's worth at a time, every backup
//                         on one of the newest N days that have a verified backup;
//   keep-hourly/-daily/-weekly/-monthly
//                         like restic's `forget --keep-*`: the newest verified
//                         backup of each of the newest N hours (days, ISO weeks,
//                         months, in local time) that have one.
// Labelled copies (pre-migration, pre-restore) are kept by count alone: the newest
// `keep-pre-migration` of each label.
// Nothing at all is deleted when the newest regular backup is not verified (a
// backup failed: the older ones may be all there is).
// Set aside, kept and never counted by any rule: a backup that is not a whole one
// of this database (no sidecar, damaged: `set_aside` says why; retention never
// deletes what it cannot vouch for), and one stamped in the future (the clock was
// ahead when it was made). A future stamp holds nothing: were it counted, its age
// would keep every older backup, or none, until the clock caught up with it.
#include <chrono>
#include <string>
#include <vector>

#include "sqlkeeper/base/local_time.h"

namespace sqlkeeper::core {

struct RetentionPolicy {
  int retention_days = 30;
  int min_count = 7;
  int keep_hourly = 0;
  int keep_daily = 0;
  int keep_weekly = 0;
  int keep_monthly = 0;
  int keep_pre_migration = 5;
};

struct RetentionItem {
  std::string name;
  TimePoint at;
  std::string label;  // "" for a regular backup
  bool verified = false;
  std::string set_aside;  // non-empty: kept, never counted, and why
};

struct RetentionDecision {
  std::string name;
  bool keep = true;
  std::string rule;  // why it is kept or deleted
  // The rule relied on the backup being good: retention-min-count, a keep-* tier,
  // or the newest verified backup that retention-days counts back from. Prune
  // re-checks these files before it deletes anything.
  bool counted = false;
};

struct RetentionPlan {
  std::vector<RetentionDecision> decisions;  // one per item, in the items' order
  std::string held;                          // non-empty: why nothing is deleted
  std::vector<std::string> to_delete() const;
};

RetentionPlan plan_retention(const std::vector<RetentionItem>& items, TimePoint now, const RetentionPolicy& policy);

}  // namespace sqlkeeper::core
