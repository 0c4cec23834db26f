// `sqlkeeper prune [--dry-run] [--json]`: apply the retention policy to the
// backup folder now, printing what it keeps and deletes and the rule behind each.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/restore/point_in_time.h"
#include "sqlkeeper/cli/stop_on_signal.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/config/units.h"
#include "sqlkeeper/backup/prune.h"
#include "sqlkeeper/daemon/logging.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {

po::options_description prune_options() {
  po::options_description desc("Options");
  desc.add_options()("dry-run", "only print what would be kept and deleted")("json", "print a JSON object");
  return desc;
}

int prune_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  const auto& c = loaded.config;
  daemon::setup_logging(c.log_level, c.log_format);
  const bool dry_run = inv.vars.count("dry-run") != 0;
  core::Job job("prune");
  const StopOnSignal stop(job);
  const auto report =
      core::prune_backups(c.backup_dir, c.database.stem().string(), core::database_identity(c.database),
                          core::retention_policy(c), dry_run, Env::real(), job, c.lock_timeout);
  const auto& backups = report.backups;
  std::optional<core::ArchivePruneReport> archive;
  if (c.archive) archive = core::prune_archive(config::archive_folder(c), c.backup_dir, c.database, dry_run, Env::real());
  if (inv.vars.count("json")) {
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < backups.size(); ++i) {
      const auto& d = report.plan.decisions[i];
      list.push_back({{"file", backups[i].file.string()},
                      {"time", config::format_utc(backups[i].name.at)},
                      {"label", backups[i].name.label},
                      {"verified", report.checks[i].state == core::BackupState::ok},
                      {"state", core::to_string(report.checks[i].state)},
                      {"problem", report.checks[i].problem},
                      {"keep", d.keep},
                      {"rule", d.rule}});
    }
    nlohmann::json out = {{"dir", c.backup_dir.string()}, {"dry_run", dry_run},     {"backups", list},
                          {"held", report.plan.held},      {"deleted", nlohmann::json::array()},
                          {"foreign", nlohmann::json::array()}, {"other_databases", nlohmann::json::array()},
                          {"problems", report.problems}};
    for (const auto& [file, of] : report.other_databases)
      out["other_databases"].push_back({{"file", file.string()}, {"database", of}});
    for (const auto& f : report.deleted) out["deleted"].push_back(f.string());
    for (const auto& f : report.catalog.foreign) out["foreign"].push_back(f.string());
    if (archive) {
      out["archive"] = {{"chains", nlohmann::json::array()}, {"segments", nlohmann::json::array()}, {"bytes", archive->bytes}};
      for (const auto& f : archive->chains) out["archive"]["chains"].push_back(f.string());
      for (const auto& f : archive->segments) out["archive"]["segments"].push_back(f.string());
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "backups in " << c.backup_dir.string() << (dry_run ? " (dry run: nothing is deleted)" : "") << "\n";
  int deleting = 0;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    const auto& d = report.plan.decisions[i];
    deleting += d.keep ? 0 : 1;
    std::cout << std::left << std::setw(8) << (d.keep ? "keep" : dry_run ? "would delete" : "deleted") << " "
              << std::setw(44) << backups[i].file.filename().string() << " " << d.rule << "\n";
  }
  if (backups.empty()) std::cout << "(no backups)\n";
  if (!report.plan.held.empty()) std::cout << "nothing deleted: " << report.plan.held << "\n";
  for (const auto& f : report.catalog.foreign) std::cout << "not a backup (left alone): " << f.filename().string() << "\n";
  for (const auto& [file, of] : report.other_databases)
    std::cout << "another database's backup (left alone): " << file.filename().string() << " (of " << of << ")\n";
  std::cout << (dry_run ? "would delete " : "deleted ") << deleting << (deleting == 1 ? " backup" : " backups")
            << ", keeping " << backups.size() - static_cast<std::size_t>(deleting) << "\n";
  if (archive && (!archive->chains.empty() || !archive->segments.empty()))
    std::cout << "archive: " << (dry_run ? "would delete " : "deleted ") << archive->chains.size() << " chains and "
              << archive->segments.size() << " segments (" << config::format_bytes(archive->bytes)
              << ") that only deleted backups needed\n";
  return 0;
}

}  // namespace sqlkeeper::cli
