#include "sqlkeeper/backup/latest_backup.h"

#include "sqlkeeper/backup/backup_state.h"

namespace sqlkeeper::core {

LatestChoice choose_latest(const Catalog& catalog, const std::string& database,
                           std::chrono::system_clock::time_point now, const Job* job) {
  LatestChoice choice;
  const CatalogEntry* future = nullptr;
  for (auto it = catalog.backups.rbegin(); it != catalog.backups.rend(); ++it) {
    if (!it->name.label.empty()) continue;
    const auto check = job ? check_backup(*it, database, job) : classify_backup(*it, database);
    if (check.state == BackupState::foreign || check.state == BackupState::unfinished) continue;
    const auto name = it->file.filename().string();
    if (check.state == BackupState::damaged) {
      choice.warnings.push_back("passed over " + name + ": damaged: " + check.problem);
      continue;
    }
    if (stamped_in_future(*it, now)) {
      choice.warnings.push_back("passed over " + name + ": " + future_note(*it));
      if (!future) future = &*it;
      continue;
    }
    choice.entry = &*it;
    return choice;
  }
  if (future) {
    choice.entry = future;
    choice.warnings.push_back("no backup stamped before now will do: taking " + future->file.filename().string() +
                              ", stamped in the future");
  }
  return choice;
}

}  // namespace sqlkeeper::core
