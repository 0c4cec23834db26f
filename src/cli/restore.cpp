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
#include "sqlkeeper/restore/point_in_time.h"
#include "sqlkeeper/restore/restore.h"
#include "sqlkeeper/error.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {

po::options_description restore_options() {
  po::options_description desc("Options");
  desc.add_options()("latest", "restore the newest backup that still matches its sidecar")(
      "at", po::value<std::string>(),
      "restore the database as it was at TIME: RFC 3339 (2026-12-06T14:05:30Z, or with an offset), local "
      "\"YYYY-MM-DD HH:MM[:SS]\", or latest (everything archived), from a backup and the WAL archive")(
      "dry-run", "with --at: print the plan (backup, transactions, bytes, the last one's time) and change nothing")(
      "to", po::value<std::string>(), "write a new database file here instead of replacing the configured one")(
      "force", "replace the configured database even though it holds data")(
      "force-schema",
      "load a backup whose migration ledger does not fit the migrations folder (it names migrations the folder "
      "lacks, or whose files changed) as it is");
  return desc;
}

namespace {

core::RestoreOptions restore_options_of(const Invocation& inv, const config::Config& c) {
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
  return options;
}

// What else a restore did; `writers`: say how long the applications' writers waited.
void print_restored(const core::RestoreResult& r, bool writers) {
  if (writers) std::cout << "the applications' writers waited at most " << r.writers_held.count() << " ms\n";
  if (!r.migrated.empty()) {
    std::cout << "applied " << r.migrated.size() << " pending migration" << (r.migrated.size() == 1 ? "" : "s")
              << " to the restored copy before loading it:";
    for (const auto& m : r.migrated) std::cout << " " << m;
    std::cout << "\n";
  }
  if (r.pre_restore) std::cout << "the replaced content is kept as " << r.pre_restore->string() << "\n";
  if (!r.check_stopped.empty())
    std::cout << "the check after it was stopped (" << r.check_stopped << "): check it with `sqlite3 "
              << r.into.string() << " 'PRAGMA integrity_check'`\n";
}

int restore_at_command(const Invocation& inv, const config::Config& c) {
  if (inv.vars.count("latest") || !inv.positional.empty())
    throw Error(ErrorCode::config, "give --at TIME, or a FILE, or --latest: one of them");
  const auto text = inv.vars["at"].as<std::string>();
  const auto archive_dir = config::archive_folder(c);
  std::int64_t target = 0;
  if (text == "latest") {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const auto view = core::read_archive(archive_dir, c.backup_dir, c.database, now_ms);
    if (!view.chains.empty() && !view.chains.back().problem.empty())
      throw Error(ErrorCode::io, "the newest archive chain " + view.chains.back().id +
                                     " is damaged, so its latest moment cannot be restored: " +
                                     view.chains.back().problem + "; give --at a moment before the damage");
    if (view.timeline.covered.empty())
      throw Error(ErrorCode::config, "the archive in " + archive_dir.string() + " covers no time yet");
    target = view.timeline.covered.back().to_ms;
  } else {
    const auto parsed = core::parse_restore_time(text);
    if (!parsed)
      throw Error(ErrorCode::config, "--at " + text +
                                         ": expected RFC 3339 (2026-12-06T14:05:30Z), local \"2026-12-06 "
                                         "14:05[:30]\" or latest");
    target = *parsed;
  }
  const auto options = restore_options_of(inv, c);
  const bool dry_run = inv.vars.count("dry-run") > 0;
  core::Job job("restore --at");
  const StopOnSignal stop(job);
  const auto r = core::restore_at(target, archive_dir, options, dry_run, Env::real(), job);
  std::cout << (dry_run ? "would restore " : "restored ") << archive::format_ms(target) << " from "
            << r.plan.base.backup.string() << " (chain " << r.plan.base.chain << ", transaction " << r.plan.base.seq
            << ", " << archive::format_ms(r.plan.base.ms) << ")\n";
  std::cout << (dry_run ? "would apply " : "applied ") << r.transactions << " archived transaction"
            << (r.transactions == 1 ? "" : "s") << " (" << r.frame_bytes << " bytes of WAL frames";
  if (!dry_run) std::cout << ", " << r.replay.count() << " ms";
  std::cout << ")\n";
  std::cout << "the last one " << (dry_run ? "would be" : "was") << " transaction " << r.last_seq
            << " of the chain, archived at " << archive::format_ms(r.last_ms) << "\n";
  if (dry_run) return 0;
  std::cout << "into " << r.restore.into.string() << " (" << r.restore.pages << " pages, " << r.restore.duration.count()
            << " ms)\n";
  print_restored(r.restore, !options.to);
  return 0;
}

}  // namespace

int restore_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  const auto& c = loaded.config;
  daemon::setup_logging(c.log_level, c.log_format);
  const RootHandOver hand_over(c);  // the pre-restore backup goes into the folder
  if (inv.vars.count("at")) return restore_at_command(inv, c);
  if (inv.vars.count("dry-run")) throw Error(ErrorCode::config, "--dry-run goes with --at");
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
  const auto options = restore_options_of(inv, c);
  core::Job job("restore");
  const StopOnSignal stop(job);
  const auto r = core::restore_backup(backup, options, Env::real(), job);
  std::cout << "restored " << backup.string() << " into " << r.into.string() << " (" << r.pages << " pages, "
            << r.duration.count() << " ms";
  if (!options.to) std::cout << "; the applications' writers waited at most " << r.writers_held.count() << " ms";
  std::cout << ")\n";
  print_restored(r, /*writers=*/false);
  return 0;
}

}  // namespace sqlkeeper::cli
