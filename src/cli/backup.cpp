// `sqlkeeper backup [--json]`: a verified backup now, in this process, with or
// without a running daemon (the folder's lock keeps it to one at a time).
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/cli/root_hand_over.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/daemon/logging.h"
#include "sqlkeeper/cli/stop_on_signal.h"
#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/db/database.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {

po::options_description backup_options() {
  po::options_description desc("Options");
  desc.add_options()("json", "print the result as a JSON object");
  return desc;
}

namespace {

// This process's peak resident size (VmHWM), for benchmarks: the copy must not
// grow with the database.
std::uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

nlohmann::json backup_json(const core::BackupResult& r) {
  return {{"file", r.file.string()},
          {"sidecar", r.sidecar.string()},
          {"bytes", r.bytes},
          {"sha256", r.sha256},
          {"pages", r.pages},
          {"page_size", r.page_size},
          {"schema_version", r.schema_version},
          {"verified", r.verified},
          {"copy_method", r.copy_method},
          {"copy_ms", r.copy.count()},
          {"verify_ms", r.verify.count()},
          {"total_ms", r.total.count()},
          {"checkpoint_note", r.checkpoint_note},
          {"peak_rss_bytes", peak_rss_bytes()}};
}

}  // namespace

int backup_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  const auto& c = loaded.config;
  daemon::setup_logging(c.log_level, c.log_format);
  const RootHandOver hand_over(c);
  auto db = core::open_database_readonly(c.database, c.busy_timeout);
  core::Job job("backup");
  const StopOnSignal stop(job);
  const auto r = core::take_backup(db, core::backup_options(c), Env::real(), job);
  if (inv.vars.count("json")) {
    std::cout << backup_json(r).dump() << "\n";
  } else {
    std::cout << r.file.string() << "\n";
    std::cerr << "verified backup: " << r.bytes << " bytes, copy " << r.copy.count() << " ms, verification "
              << r.verify.count() << " ms, total " << r.total.count() << " ms"
              << (r.checkpoint_note.empty() ? "" : "; " + r.checkpoint_note) << "\n";
  }
  return 0;
}

}  // namespace sqlkeeper::cli
