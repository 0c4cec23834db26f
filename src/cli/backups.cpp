// `sqlkeeper backups [--json] [--no-checksum]`: what is in the backup folder.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/daemon/logging.h"
#include "sqlkeeper/config/units.h"
#include "sqlkeeper/core/catalog.h"
#include "sqlkeeper/core/sha256.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {
namespace {

// "ok", "MISMATCH", "no sidecar" or "not checked".
std::string checksum_state(const core::CatalogEntry& e, bool compute) {
  if (!e.sidecar) return "no sidecar";
  if (!compute) return "not checked";
  return core::sha256_file(e.file) == e.sidecar->sha256 ? "ok" : "MISMATCH";
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
  const bool compute = !inv.vars.count("no-checksum");
  const auto now = std::chrono::system_clock::now();
  bool all_good = true;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : catalog.backups) {
    const auto checksum = checksum_state(e, compute);
    all_good = all_good && e.verified() && checksum != "MISMATCH";
    list.push_back({{"file", e.file.string()},
                    {"time", config::format_utc(e.name.at)},
                    {"age_seconds", std::chrono::duration_cast<std::chrono::seconds>(now - e.name.at).count()},
                    {"bytes", e.size},
                    {"label", e.name.label},
                    {"finished", e.finished()},
                    {"verified", e.verified()},
                    {"checksum", checksum}});
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
            << std::setw(15) << "LABEL" << std::setw(10) << "VERIFIED" << std::setw(13) << "CHECKSUM"
            << "FILE\n";
  for (const auto& j : list) {
    const auto age = config::format_duration(std::chrono::seconds(j["age_seconds"].get<std::int64_t>() / 60 * 60));
    std::cout << std::setw(22) << j["time"].get<std::string>() << std::setw(14) << age << std::setw(12)
              << config::format_size(j["bytes"].get<std::uint64_t>()) << std::setw(15)
              << (j["label"].get<std::string>().empty() ? "-" : j["label"].get<std::string>()) << std::setw(10)
              << (!j["finished"].get<bool>() ? "UNFINISHED" : j["verified"].get<bool>() ? "yes" : "NO") << std::setw(13)
              << j["checksum"].get<std::string>() << std::filesystem::path(j["file"].get<std::string>()).filename().string()
              << "\n";
  }
  if (list.empty()) std::cout << "(none)\n";
  for (const auto& f : catalog.temporaries)
    std::cout << "unfinished (left by an interrupted backup, removed at the next one): " << f.filename().string() << "\n";
  for (const auto& f : catalog.foreign) std::cout << "not a backup (left alone): " << f.filename().string() << "\n";
  return all_good ? 0 : 1;
}

}  // namespace sqlkeeper::cli
