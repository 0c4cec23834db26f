// `sqlkeeper backups [--json] [--no-checksum]`: what is in the backup folder.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/daemon/logging.h"
#include "sqlkeeper/config/units.h"
#include "sqlkeeper/backup/backup_state.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/restore/point_in_time.h"
#include "sqlkeeper/backup/scrub.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {
namespace {

// The state as `verify` and `restore` see it; "DAMAGED" stands out in a column.
std::string state_word(const std::string& state) {
  return state == core::to_string(core::BackupState::damaged) ? "DAMAGED" : state;
}

}  // namespace

po::options_description backups_options() {
  po::options_description desc("Options");
  desc.add_options()("json", "print a JSON object")("no-checksum", "do not read the files to check their checksums");
  return desc;
}

int backups_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  const auto& c = loaded.config;
  daemon::setup_logging(c.log_level, c.log_format);
  const auto catalog = core::read_catalog(c.backup_dir, c.database.stem().string());
  const auto database = core::database_identity(c.database);
  const bool compute = !inv.vars.count("no-checksum");
  const auto now = std::chrono::system_clock::now();
  bool all_good = true;
  // Which backups an archive chain continues from, and up to when (restore --at).
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto view = core::read_archive(config::archive_folder(c), c.backup_dir, c.database, now_ms);
  const auto continues = [&view](const core::CatalogEntry& e) -> nlohmann::json {
    const auto p = e.sidecar ? archive::parse_chain_point(e.sidecar->field("archive"), e.file) : std::nullopt;
    if (!p) return nullptr;
    std::int64_t to = -1;
    for (const auto& r : view.timeline.covered)
      if (r.chain == p->chain && r.to_ms >= p->ms) to = std::max(to, r.to_ms);
    return {{"chain", p->chain},
            {"transaction", p->seq},
            {"continues_to", to < 0 ? nlohmann::json(nullptr) : nlohmann::json(archive::format_ms(to))}};
  };
  nlohmann::json list = nlohmann::json::array();
  std::vector<std::string> verified_ago;  // the LAST VERIFIED column: "3d ago", or "-" without a sidecar
  for (const auto& e : catalog.backups) {
    verified_ago.push_back(
        e.sidecar ? config::format_duration(std::chrono::duration_cast<std::chrono::seconds>(now - core::last_checked(e)) /
                                            60 * 60) + " ago"
                  : "-");
    const auto check = compute ? core::check_backup(e, database, nullptr) : core::classify_backup(e, database);
    auto problem = check.problem;
    if (check.state == core::BackupState::ok && core::stamped_in_future(e, now)) problem = core::future_note(e);
    all_good = all_good && (check.state == core::BackupState::ok || check.state == core::BackupState::foreign);
    list.push_back({{"file", e.file.string()},
                    {"time", config::format_utc(e.name.at)},
                    {"age_seconds", std::chrono::duration_cast<std::chrono::seconds>(now - e.name.at).count()},
                    {"bytes", e.size},
                    {"label", e.name.label},
                    {"finished", e.finished()},
                    {"verified", check.state == core::BackupState::ok},
                    {"state", core::to_string(check.state)},
                    {"problem", problem},
                    // When the file was last read and found to match its sidecar (at its backup, or by the scrub).
                    {"last_verified", e.sidecar ? nlohmann::json(config::format_utc(core::last_checked(e)))
                                                : nlohmann::json(nullptr)},
                    {"checksum", !e.sidecar ? "no sidecar" : !check.content_checked ? "not checked"
                                 : check.state == core::BackupState::damaged ? "MISMATCH" : "ok"},
                    {"archive", continues(e)}});
  }
  if (inv.vars.count("json")) {
    nlohmann::json out = {{"dir", c.backup_dir.string()}, {"backups", list}, {"foreign", nlohmann::json::array()},
                          {"temporaries", nlohmann::json::array()}};
    for (const auto& f : catalog.foreign) out["foreign"].push_back(f.string());
    for (const auto& f : catalog.temporaries) out["temporaries"].push_back(f.string());
    std::cout << out.dump(2) << "\n";
    return all_good ? 0 : 1;
  }
  std::cout << "backups in " << c.backup_dir.string() << "\n";
  std::cout << std::left << std::setw(22) << "TIME" << std::setw(14) << "AGE" << std::setw(12) << "SIZE"
            << std::setw(15) << "LABEL" << std::setw(12) << "STATE" << std::setw(13) << "CHECKSUM"
            << std::setw(15) << "LAST VERIFIED" << std::setw(26) << "ARCHIVE CONTINUES TO" << "FILE\n";
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& j = list[i];
    const auto age = config::format_duration(std::chrono::seconds(j["age_seconds"].get<std::int64_t>() / 60 * 60));
    const auto problem = j["problem"].get<std::string>();
    const auto& verified = verified_ago[i];
    std::cout << std::setw(22) << j["time"].get<std::string>() << std::setw(14) << age << std::setw(12)
              << config::format_size(j["bytes"].get<std::uint64_t>()) << std::setw(15)
              << (j["label"].get<std::string>().empty() ? "-" : j["label"].get<std::string>()) << std::setw(12)
              << state_word(j["state"].get<std::string>())
              << std::setw(13) << j["checksum"].get<std::string>() << std::setw(15) << verified << std::setw(26)
              << (j["archive"].is_object() && j["archive"]["continues_to"].is_string()
                      ? j["archive"]["continues_to"].get<std::string>()
                      : "-")
              << std::filesystem::path(j["file"].get<std::string>()).filename().string()
              << (problem.empty() ? "" : "  (" + problem + ")") << "\n";
  }
  if (list.empty()) std::cout << "(none)\n";
  for (const auto& f : catalog.temporaries)
    std::cout << "unfinished (left by an interrupted backup, removed at the next one): " << f.filename().string() << "\n";
  for (const auto& f : catalog.foreign) std::cout << "not a backup (left alone): " << f.filename().string() << "\n";
  return all_good ? 0 : 1;
}

}  // namespace sqlkeeper::cli
