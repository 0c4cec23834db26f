// `sqlkeeper verify FILE...|--all` (and --archive: cli/verify_archive.cpp): the checksum (when a sidecar exists) and
// PRAGMA integrity_check of backups; non-zero when any is bad, naming it and why.
#include <iostream>
#include <nlohmann/json.hpp>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/daemon/logging.h"
#include "sqlkeeper/cli/stop_on_signal.h"
#include "sqlkeeper/backup/backup_state.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/backup/verify.h"
#include "sqlkeeper/error.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {

po::options_description verify_options() {
  po::options_description desc("Options");
  desc.add_options()("all", "verify every backup in the backup folder")(
      "archive", "check every kept WAL archive chain against the backups (page by page) and replay its tail")(
      "json", "print JSON");
  return desc;
}

int verify_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  const auto& c = loaded.config;
  daemon::setup_logging(c.log_level, c.log_format);
  if (inv.vars.count("archive")) {
    if (!inv.positional.empty() || inv.vars.count("all"))
      throw Error(ErrorCode::config, "--archive checks the archive: give no FILE and no --all with it");
    return verify_archive_command(inv, c);
  }
  const auto database = core::database_identity(c.database);
  std::vector<std::filesystem::path> files;
  if (inv.vars.count("all")) {
    if (!inv.positional.empty()) throw Error(ErrorCode::config, "give FILE arguments or --all, not both");
    // This database's backups: another database's sharing the folder are its own to verify.
    for (const auto& e : core::read_catalog(c.backup_dir, c.database.stem().string()).backups)
      if (core::classify_backup(e, database).state != core::BackupState::foreign) files.push_back(e.file);
    if (files.empty()) std::cerr << "no backups in " << c.backup_dir.string() << "\n";
  } else {
    if (inv.positional.empty()) throw Error(ErrorCode::config, "name the backup files to verify, or give --all");
    for (const auto& p : inv.positional) files.emplace_back(p);
  }
  core::Job job("verify");
  const StopOnSignal stop(job);
  int bad = 0;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& file : files) {
    const auto r = core::verify_backup(file, job, database);
    bad += r.ok ? 0 : 1;
    out.push_back({{"file", file.string()}, {"ok", r.ok}, {"state", r.ok ? core::to_string(r.state) : "damaged"},
                   {"checksum_checked", r.checksum_checked}, {"problem", r.problem}, {"note", r.note},
                   {"ms", r.duration.count()}});
    const auto note = r.note + (r.checksum_checked || r.note.empty() ? "" : ", checksum not checked");
    if (!inv.vars.count("json"))
      std::cout << file.string() << ": " << (r.ok ? "ok" + (note.empty() ? "" : " (" + note + ")") : "BAD: " + r.problem)
                << "\n";
  }
  if (inv.vars.count("json")) std::cout << out.dump(2) << "\n";
  return bad == 0 ? 0 : 1;
}

}  // namespace sqlkeeper::cli
