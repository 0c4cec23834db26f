// `sqlkeeper verify --archive`: every kept archive chain checked against the
// backups (restore/chain_check.h): each backup brought forward by the archive
// to the next one's place must be that backup, page for page, and each chain's
// tail must replay into a database that passes integrity_check. Non-zero when
// anything is wrong, naming the chain, backup, segment or page.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sqlkeeper/archive/timeline.h"
#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/cli/stop_on_signal.h"
#include "sqlkeeper/config/units.h"
#include "sqlkeeper/restore/chain_check.h"

namespace sqlkeeper::cli {
namespace {

std::string seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

std::string describe(const core::ChainStep& s) {
  const auto from = s.from.backup.filename().string() + " (transaction " + std::to_string(s.from.seq) + ")";
  const auto applied = std::to_string(s.transactions) + " transactions (" + config::format_bytes(s.frame_bytes) +
                       " of WAL)";
  if (!s.ok) return "BAD: " + s.problem;
  if (!s.to.backup.empty())
    return from + " + " + applied + " = " + s.to.backup.filename().string() + " (transaction " +
           std::to_string(s.to.seq) + "): the same " + std::to_string(s.pages) + " pages";
  return from + " + " + applied + " to transaction " + std::to_string(s.last_seq) + " (" +
         archive::format_ms(s.last_ms) + "): integrity_check ok, " + std::to_string(s.pages) + " pages";
}

}  // namespace

int verify_archive_command(const Invocation& inv, const config::Config& c) {
  const auto dir = config::archive_folder(c);
  core::Job job("verify --archive");
  const StopOnSignal stop(job);
  const bool as_json = inv.vars.count("json") > 0;
  const auto started = std::chrono::steady_clock::now();
  const auto result = core::verify_archive(dir, c.backup_dir, c.database, Env::real(), job,
                                           [as_json](const core::ChainStep& s) {
                                             if (!as_json)
                                               std::cout << "chain " << s.from.chain << ": " << describe(s) << "  ["
                                                         << seconds(s.duration) << "]" << std::endl;
                                           });
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (as_json) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : result.steps)
      steps.push_back({{"chain", s.from.chain},
                       {"from", s.from.backup.string()},
                       {"from_transaction", s.from.seq},
                       {"to", s.to.backup.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.to.backup.string())},
                       {"to_transaction", s.to.backup.empty() ? s.last_seq : s.to.seq},
                       {"transactions", s.transactions},
                       {"frame_bytes", s.frame_bytes},
                       {"pages", s.pages},
                       {"ok", s.ok},
                       {"problem", s.problem.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.problem)},
                       {"ms", s.duration.count()}});
    std::cout << nlohmann::json{{"dir", dir.string()}, {"ok", result.ok()},        {"chains", result.chains},
                                {"steps", steps},      {"problems", result.problems}, {"ms", took.count()}}
                     .dump(2)
              << "\n";
    return result.ok() ? 0 : 1;
  }
  for (const auto& p : result.problems) std::cout << "BAD: " << p << "\n";
  if (result.steps.empty() && result.problems.empty()) {
    std::cout << "no archive chain in " << dir.string() << " begins from a kept backup: nothing to check\n";
    return 0;
  }
  const auto bad = std::count_if(result.steps.begin(), result.steps.end(), [](const auto& s) { return !s.ok; }) +
                   static_cast<std::ptrdiff_t>(result.problems.size());
  std::cout << (bad == 0 ? "ok: " : "BAD: ") << result.chains << " chains, " << result.steps.size() << " checks, "
            << (bad == 0 ? "every backup brought forward by the archive is the next backup, page for page"
                         : std::to_string(bad) + " failed")
            << " (" << seconds(took) << ")\n";
  return bad == 0 ? 0 : 1;
}

}  // namespace sqlkeeper::cli
