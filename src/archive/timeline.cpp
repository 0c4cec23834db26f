#include "sqlkeeper/archive/timeline.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <sstream>

#include "sqlkeeper/error.h"

namespace sqlkeeper::archive {

std::string format_ms(std::int64_t ms) {
  const std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

std::optional<ChainPoint> parse_chain_point(const std::string& field, const std::filesystem::path& backup) {
  std::istringstream in(field);
  ChainPoint p;
  p.backup = backup;
  if (!(in >> p.chain >> p.seq >> p.ms) || p.chain.empty()) return std::nullopt;
  std::string rest;
  if (in >> rest) return std::nullopt;
  return p;
}

Timeline build_timeline(const std::vector<ChainSummary>& chains, const std::vector<ChainPoint>& points, bool live,
                        std::int64_t now_ms) {
  Timeline t;
  const ChainSummary* previous = nullptr;
  for (std::size_t i = 0; i < chains.size(); ++i) {
    const auto& c = chains[i];
    std::int64_t first = std::numeric_limits<std::int64_t>::max();
    for (const auto& p : points)
      if (p.chain == c.id) first = std::min(first, p.ms);
    if (first == std::numeric_limits<std::int64_t>::max()) continue;  // no backup begins it: nothing to restore from
    const bool newest = i + 1 == chains.size();
    std::int64_t to = c.covered_ms;
    if (live && newest && !c.ended && c.problem.empty()) to = std::max(to, now_ms);
    if (previous) {
      t.gaps.push_back({previous->covered_ms, first,
                        previous->ended      ? previous->end_cause
                        : !previous->problem.empty() ? "the chain is damaged: " + previous->problem
                                                     : "the chain ended without a record of why (sqlkeeper stopped "
                                                       "and a new chain began)"});
    }
    std::int64_t from = first;
    for (const auto& pause : c.pauses) {
      if (pause.until_ms <= from) continue;
      if (pause.since_ms > from) t.covered.push_back({c.id, from, pause.since_ms});
      t.gaps.push_back({std::max(pause.since_ms, from), pause.until_ms, pause.cause});
      from = pause.until_ms;
    }
    if (to >= from) t.covered.push_back({c.id, from, to});
    previous = &c;
  }
  if (previous && (previous->ended || !previous->problem.empty()))
    t.gaps.push_back({previous->covered_ms, 0, previous->ended ? previous->end_cause : "the chain is damaged: " + previous->problem});
  else if (previous && !live)
    t.gaps.push_back({previous->covered_ms, 0,
                      previous->stopped ? "sqlkeeper was stopped: nothing after it was archived"
                                        : "sqlkeeper is not running: nothing after its last record was archived"});
  return t;
}

RestorePlan plan_restore(const Timeline& timeline, const std::vector<ChainSummary>& chains,
                         const std::vector<ChainPoint>& points, std::int64_t target_ms) {
  if (timeline.covered.empty())
    throw Error(ErrorCode::config, "the archive covers no time yet: no backup begins an archive chain");
  const Covered* hit = nullptr;
  for (const auto& c : timeline.covered)
    if (c.from_ms <= target_ms && target_ms <= c.to_ms) hit = &c;
  if (!hit) {
    std::string why = format_ms(target_ms) + " is not covered by the archive";
    for (const auto& g : timeline.gaps)
      if (g.since_ms <= target_ms && (g.until_ms == 0 || target_ms < g.until_ms))
        why += ": it falls in a gap from " + format_ms(g.since_ms) + (g.until_ms ? " to " + format_ms(g.until_ms) : "") +
               " (" + g.cause + ")";
    const Covered* before = nullptr;
    const Covered* after = nullptr;
    for (const auto& c : timeline.covered) {
      if (c.to_ms < target_ms) before = &c;
      if (!after && c.from_ms > target_ms) after = &c;
    }
    why += "; the nearest moments that can be restored are";
    if (before) why += " " + format_ms(before->to_ms);
    if (before && after) why += " and";
    if (after) why += " " + format_ms(after->from_ms);
    throw Error(ErrorCode::config, why);
  }
  RestorePlan plan;
  plan.target_ms = target_ms;
  bool found = false;
  for (const auto& p : points) {
    if (p.chain != hit->chain || p.ms > target_ms) continue;
    if (!found || p.ms > plan.base.ms || (p.ms == plan.base.ms && p.seq > plan.base.seq)) plan.base = p;
    found = true;
  }
  if (!found) throw Error(ErrorCode::config, "no backup of chain " + hit->chain + " is at or before " + format_ms(target_ms));
  for (const auto& c : chains)
    if (c.id == hit->chain) plan.chain_dir = c.dir;
  return plan;
}

}  // namespace sqlkeeper::archive
