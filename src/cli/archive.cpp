// `sqlkeeper archive [--json]`: the WAL archive as restore --at sees it — the
// time it covers, its gaps and why, its chains and their size — and, from a
// running daemon, how far archiving lags.
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/cli/http_client.h"
#include "sqlkeeper/config/units.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/restore/point_in_time.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {
namespace {

using nlohmann::json;
constexpr std::chrono::milliseconds kStatusTimeout{2000};

// The running daemon's /status "archive" section; null when none answers.
json daemon_archive(const config::Config& c) {
  try {
    const auto res = http_get(c.socket, "/status", kStatusTimeout);
    const auto body = json::parse(res.body, nullptr, false);
    if (body.is_discarded() || !body.contains("archive")) return nullptr;
    return body["archive"];
  } catch (const Error&) {
    return nullptr;
  }
}

}  // namespace

po::options_description archive_options() {
  po::options_description desc("Options");
  desc.add_options()("json", "print JSON");
  return desc;
}

int archive_command(const Invocation& inv) {
  const auto c = inv.load_config().config;
  const auto dir = config::archive_folder(c);
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto view = core::read_archive(dir, c.backup_dir, c.database, now_ms);
  const auto live = daemon_archive(c);
  std::uint64_t bytes = 0;
  std::uint64_t frame_bytes = 0;
  for (const auto& ch : view.chains) {
    bytes += ch.bytes_on_disk;
    frame_bytes += ch.frame_bytes;
  }
  json covered = json::array();
  for (const auto& r : view.timeline.covered)
    covered.push_back({{"chain", r.chain}, {"from", archive::format_ms(r.from_ms)}, {"to", archive::format_ms(r.to_ms)}});
  json gaps = json::array();
  for (const auto& g : view.timeline.gaps)
    gaps.push_back({{"since", archive::format_ms(g.since_ms)},
                    {"until", g.until_ms ? json(archive::format_ms(g.until_ms)) : json(nullptr)},
                    {"cause", g.cause}});
  json chains = json::array();
  for (const auto& ch : view.chains) {
    int points = 0;
    for (const auto& p : view.points)
      if (p.chain == ch.id) ++points;
    chains.push_back({{"id", ch.id},
                      {"started", archive::format_ms(ch.started_ms)},
                      {"last_record", archive::format_ms(ch.last_ms)},
                      {"transactions", ch.transactions},
                      {"wal_bytes", ch.frame_bytes},
                      {"bytes_on_disk", ch.bytes_on_disk},
                      {"segments", ch.segments},
                      {"backups", points},
                      {"state", !ch.problem.empty() ? "damaged" : ch.ended ? "ended" : ch.stopped ? "stopped" : "open"},
                      {"end_cause", ch.ended ? json(ch.end_cause) : json(nullptr)},
                      {"problem", ch.problem.empty() ? json(nullptr) : json(ch.problem)}});
  }
  const json out = {{"dir", dir.string()},
                    {"on", c.archive},
                    {"live", view.live},
                    {"covered", covered},
                    {"gaps", gaps},
                    {"chains", chains},
                    {"bytes_on_disk", bytes},
                    {"wal_bytes", frame_bytes},
                    {"daemon", live}};
  if (inv.vars.count("json")) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "archive " << dir.string() << (c.archive ? "" : " (archive = false: not archiving)")
            << (view.live ? ", a daemon archives now" : ", no daemon archives now") << "\n";
  if (live.is_object() && live.value("on", false)) {
    std::cout << "  lag: " << live.value("lag_ms", 0) << " ms, " << live.value("lag_bytes", 0)
              << " bytes read and not yet on disk; last archived "
              << (live["last_archived"].is_string() ? live["last_archived"].get<std::string>() : std::string("never"))
              << "\n";
    if (live["error"].is_string()) std::cout << "  failing: " << live["error"].get<std::string>() << "\n";
  }
  if (view.timeline.covered.empty()) std::cout << "  covers no time yet: no backup begins a chain\n";
  for (const auto& r : view.timeline.covered)
    std::cout << "  you can restore to any second from " << archive::format_ms(r.from_ms) << " to "
              << archive::format_ms(r.to_ms) << (view.live && &r == &view.timeline.covered.back() ? " (now)" : "")
              << "\n";
  for (const auto& g : view.timeline.gaps)
    std::cout << "  gap from " << archive::format_ms(g.since_ms) << " to "
              << (g.until_ms ? archive::format_ms(g.until_ms) : std::string("now")) << ": " << g.cause << "\n";
  std::cout << "  size: " << config::format_bytes(bytes) << " in " << view.chains.size() << " chain"
            << (view.chains.size() == 1 ? "" : "s") << " for " << config::format_bytes(frame_bytes) << " of WAL";
  if (frame_bytes > 0) std::cout << " (" << std::fixed << std::setprecision(2) << double(bytes) / double(frame_bytes) << " bytes per WAL byte)";
  std::cout << "\n";
  if (!view.chains.empty()) {
    std::cout << "\n" << std::left << std::setw(26) << "CHAIN" << std::setw(26) << "LAST RECORD" << std::setw(14)
              << "TRANSACTIONS" << std::setw(10) << "BACKUPS" << std::setw(12) << "SIZE" << "STATE\n";
    for (const auto& ch : chains)
      std::cout << std::left << std::setw(26) << ch["id"].get<std::string>() << std::setw(26)
                << ch["last_record"].get<std::string>() << std::setw(14) << ch["transactions"].get<std::uint64_t>()
                << std::setw(10) << ch["backups"].get<int>() << std::setw(12)
                << config::format_bytes(ch["bytes_on_disk"].get<std::uint64_t>()) << ch["state"].get<std::string>()
                << (ch["end_cause"].is_string() ? ": " + ch["end_cause"].get<std::string>() : "")
                << (ch["problem"].is_string() ? ": " + ch["problem"].get<std::string>() : "") << "\n";
  }
  for (const auto& ch : view.chains)
    if (!ch.problem.empty()) return 1;
  return 0;
}

}  // namespace sqlkeeper::cli
