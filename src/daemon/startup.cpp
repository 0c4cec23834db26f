#include "sqlkeeper/daemon/startup.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "sqlkeeper/db/database.h"
#include "sqlkeeper/migrate/migration_source.h"
#include "sqlkeeper/migrate/migrator.h"
#include "sqlkeeper/backup/backup_state.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/backup/latest_backup.h"
#include "sqlkeeper/db/shared_access.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::daemon {

core::FileLock lock_instance(const std::filesystem::path& database, unsigned file_mode) {
  core::ensure_database_directory(database, file_mode);
  const auto path = std::filesystem::path(database.string() + ".sqlkeeper-lock");
  if (auto lock = core::FileLock::try_acquire(path)) return std::move(*lock);
  const auto holder = core::describe_lock_holders(path);
  throw Error(ErrorCode::conflict, "database " + database.string() + " is already kept by another sqlkeeper (" +
                                       (holder.empty() ? "see the lock " + path.string() : holder) + ")");
}

namespace {

// A database that is missing while backups of it lie in the folder was deleted,
// or its volume is not mounted yet. An empty one made in its place would take
// the applications' writes, and once retention-days of backups of it had piled
// up, pruning would delete the last good ones.
void refuse_a_new_database_beside_its_backups(const config::Config& c) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(c.database, ec))) return;
  const auto catalog = core::read_catalog(c.backup_dir, c.database.stem().string());
  const auto finished = std::count_if(catalog.backups.begin(), catalog.backups.end(),
                                      [](const core::CatalogEntry& b) { return b.finished(); });
  if (finished == 0) return;
  const auto* last = core::last_regular_backup(catalog);
  const auto newest = last != nullptr ? last->file : catalog.backups.back().file;
  throw Error(ErrorCode::io,
              "database " + c.database.string() + " does not exist, but " + std::to_string(finished) +
                  " backups of it are in " + c.backup_dir.string() +
                  ": it was deleted, or its volume is not mounted. sqlkeeper makes no empty database in its place; "
                  "put one back with `sqlkeeper restore " + newest.string() + "`, or move the backups away to start "
                  "afresh",
              0, ENOENT);
}

}  // namespace

StartupResult start_up(const config::Config& c, core::Job& job, Env& env,
                       const std::function<void(const std::string&)>& on_migration) {
  refuse_a_new_database_beside_its_backups(c);
  // Before the first connection: no lock of this process is on the files yet.
  for (const auto& change : core::bring_to_configured_access(c.database, c.file_mode)) {
    if (change.warning)
      spdlog::warn("{}", change.message);
    else
      spdlog::info("{}", change.message);
  }
  auto db = core::open_database({c.database, c.file_mode, c.busy_timeout});
  StartupResult result;
  const auto started = std::chrono::steady_clock::now();
  if (c.migrate_on_start) {
    const auto set = core::load_migrations(c.migrations);
    job.check("loading migrations");
    core::MigrateOptions options;
    options.allow_out_of_order = c.allow_out_of_order;
    options.backup_dir = c.backup_dir;
    options.env = &env;
    options.job = &job;
    options.lock_timeout = c.lock_timeout;
    options.busy_timeout = c.busy_timeout;
    options.on_start = [&](const std::string& name) {
      spdlog::info("applying migration {}", name);
      on_migration(name);
    };
    const auto report = core::migrate_up(db, set, options);
    result.schema.applied_this_start = static_cast<int>(report.applied.size());
    for (const auto& m : report.applied) spdlog::info("applied migration {} in {} ms", m.name, m.duration.count());
    result.schema.format = core::to_string(set.format);
    result.schema.folder = set.folder.string();
    for (const auto& r : core::read_applied(db, set.format)) {
      result.schema.version = std::max(result.schema.version, r.key);
      for (const auto& f : set.files)
        if (f.key == r.key) result.schema.applied.push_back(f.name);
    }
  }
  result.schema.migration_time =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  const auto catalog = core::read_catalog(c.backup_dir, c.database.stem().string());
  for (const auto& b : catalog.backups) result.backup_count += b.finished() ? 1 : 0;
  const auto database = core::database_identity(c.database);
  const auto now = env.now();
  const auto latest = core::choose_latest(catalog, database, now, nullptr);
  if (latest.entry && !core::stamped_in_future(*latest.entry, now))
    result.last_backup = BackupSummary{latest.entry->file.string(), latest.entry->name.at, latest.entry->size, true};
  for (const auto& b : catalog.backups) {
    const auto check = core::classify_backup(b, database);
    const auto name = b.file.filename().string();
    if (check.state == core::BackupState::damaged) {
      result.backup_problems.push_back(name + " is damaged: " + check.problem);
    } else if (check.state == core::BackupState::ok && core::stamped_in_future(b, now)) {
      result.backup_problems.push_back(name + " is " + core::future_note(b));
      if (b.name.label.empty()) result.future_backup_at = b.name.at;
    }
  }
  return result;
}

}  // namespace sqlkeeper::daemon
