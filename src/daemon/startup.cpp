#include "sqlkeeper/daemon/startup.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sqlkeeper/core/database.h"
#include "sqlkeeper/core/migration_source.h"
#include "sqlkeeper/core/migrator.h"
#include "sqlkeeper/core/catalog.h"
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

StartupResult start_up(const config::Config& c, core::Job& job, Env& env,
                       const std::function<void(const std::string&)>& on_migration) {
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
  if (const auto* last = core::last_regular_backup(catalog))
    result.last_backup = BackupSummary{last->file.string(), last->name.at, last->size, last->verified()};
  return result;
}

}  // namespace sqlkeeper::daemon
