// `sqlkeeper restore (--latest|FILE) [--to PATH] [--force] [--force-schema]`: a verified restore,
// loaded through SQLite so that applications with the database open see it.
#include <iostream>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/cli/root_hand_over.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/daemon/logging.h"
#include "sqlkeeper/cli/stop_on_signal.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/backup/latest_backup.h"
#include "sqlkeeper/restore/restore.h"
#include "sqlkeeper/error.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {

po::options_description restore_options() {
  po::options_description desc("Options");
  desc.add_options()("latest", "restore the newest backup that still matches its sidecar")(
      "to", po::value<std::string>(), "write a new database file here instead of replacing the configured one")(
      "force", "replace the configured database even though it holds data")(
      "force-schema",
      "load a backup whose migration ledger does not fit the migrations folder (it names migrations the folder "
      "lacks, or whose files changed) as it is");
  return desc;
}

int restore_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  const auto& c = loaded.config;
  daemon::setup_logging(c.log_level, c.log_format);
  const RootHandOver hand_over(c);  // the pre-restore backup goes into the folder
  std::filesystem::path backup;
  if (inv.vars.count("latest")) {
    if (!inv.positional.empty()) throw Error(ErrorCode::config, "give a FILE or --latest, not both");
    const auto catalog = core::read_catalog(c.backup_dir, c.database.stem().string());
    core::Job choosing("choose the latest backup");
    const StopOnSignal stop(choosing);
    const auto latest =
        core::choose_latest(catalog, core::database_identity(c.database), std::chrono::system_clock::now(), &choosing);
    for (const auto& w : latest.warnings) std::cerr << "warning: " << w << "\n";
    if (!latest.entry)
      throw Error(ErrorCode::io, "no backup of " + c.database.string() + " in " + c.backup_dir.string() +
                                     " matches its sidecar: nothing to restore");
    backup = latest.entry->file;
  } else {
    if (inv.positional.size() != 1) throw Error(ErrorCode::config, "name one backup FILE to restore, or give --latest");
    backup = inv.positional.front();
  }
  core::RestoreOptions options;
  options.database = c.database;
  options.backup_dir = c.backup_dir;
  if (inv.vars.count("to")) options.to = inv.vars["to"].as<std::string>();
  options.force = inv.vars.count("force") > 0;
  options.migrations = c.migrations;
  options.allow_out_of_order = c.allow_out_of_order;
  options.force_schema = inv.vars.count("force-schema") > 0;
  options.file_mode = c.file_mode;
  options.busy_timeout = c.busy_timeout;
  options.lock_timeout = c.lock_timeout;
  core::Job job("restore");
  const StopOnSignal stop(job);
  const auto r = core::restore_backup(backup, options, Env::real(), job);
  std::cout << "restored " << backup.string() << " into " << r.into.string() << " (" << r.pages << " pages, "
            << r.duration.count() << " ms";
  if (!options.to) std::cout << "; the applications' writers waited at most " << r.writers_held.count() << " ms";
  std::cout << ")\n";
  if (!r.migrated.empty()) {
    std::cout << "applied " << r.migrated.size() << " pending migration" << (r.migrated.size() == 1 ? "" : "s")
              << " to the restored copy before loading it:";
    for (const auto& m : r.migrated) std::cout << " " << m;
    std::cout << "\n";
  }
  if (r.pre_restore) std::cout << "the replaced content is kept as " << r.pre_restore->string() << "\n";
  // Committed and durable: the restore is done, only the reassurance is missing.
  if (!r.check_stopped.empty())
    std::cout << "the check after it was stopped (" << r.check_stopped << "): check it with `sqlite3 " << r.into.string() << " 'PRAGMA integrity_check'`\n";
  return 0;
}

}  // namespace sqlkeeper::cli
