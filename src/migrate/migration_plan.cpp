#include "sqlkeeper/migrate/migration_plan.h"

#include <algorithm>
#include <map>

namespace sqlkeeper::core {

const char* to_string(MigrationState s) {
  switch (s) {
    case MigrationState::applied: return "applied";
    case MigrationState::pending: return "pending";
    case MigrationState::drifted: return "drifted";
    case MigrationState::missing: return "missing";
    case MigrationState::out_of_order: return "out-of-order";
  }
  return "unknown";
}

MigrationPlan plan_migrations(const MigrationSet& set, const std::vector<AppliedRecord>& applied,
                              bool allow_out_of_order) {
  MigrationPlan plan;
  std::map<std::int64_t, const AppliedRecord*> records;
  std::int64_t newest_applied = 0;
  bool any_applied = false;
  for (const auto& r : applied) {
    records.emplace(r.key, &r);
    newest_applied = any_applied ? std::max(newest_applied, r.key) : r.key;
    any_applied = true;
  }
  const std::string what = set.format == MigrationFormat::drizzle ? "journal entry" : "migration";

  for (std::size_t i = 0; i < set.files.size(); ++i) {
    const auto& file = set.files[i];
    PlannedMigration item{MigrationState::pending, file.key, file.name, i, std::nullopt};
    if (const auto it = records.find(file.key); it != records.end()) {
      item.record = *it->second;
      if (it->second->hash == file.sha256) {
        item.state = MigrationState::applied;
      } else {
        item.state = MigrationState::drifted;
        plan.problems.push_back(what + " " + file.name + " was applied but its file has changed since (sha256 " +
                                file.sha256 + ", recorded " + it->second->hash +
                                "); restore the applied version and put the change in a new migration");
      }
      records.erase(it);
    } else if (any_applied && file.key < newest_applied) {
      item.state = MigrationState::out_of_order;
      if (allow_out_of_order) {
        plan.to_apply.push_back(i);
      } else {
        plan.problems.push_back(
            what + " " + file.name + " was never applied but is older than the newest applied one (" +
            std::to_string(newest_applied) + "), as after a late merge; review it, then run with --allow-out-of-order");
      }
    } else {
      plan.to_apply.push_back(i);
    }
    plan.items.push_back(std::move(item));
  }
  for (const auto& [key, record] : records) {
    plan.items.push_back({MigrationState::missing, key, record->name, std::nullopt, *record});
    plan.problems.push_back(what + " " + (record->name.empty() ? std::to_string(key) : record->name) +
                            " is recorded as applied but its file is gone; restore the file");
  }
  std::stable_sort(plan.items.begin(), plan.items.end(),
                   [](const PlannedMigration& a, const PlannedMigration& b) { return a.key < b.key; });
  // Out-of-order files are applied in file order like any other pending one.
  std::sort(plan.to_apply.begin(), plan.to_apply.end());
  return plan;
}

}  // namespace sqlkeeper::core
