#include "sqlkeeper/backup/retention.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;

// A backup stamped this far past now was made by a clock that was ahead.
constexpr auto kClockSlack = std::chrono::minutes(5);

struct Tier {
  const char* name;
  int count;
  std::function<std::string(const LocalTime&)> bucket;
};

std::string two(int n) { return (n < 10 ? "0" : "") + std::to_string(n); }
std::string day_of(const LocalTime& t) {
  return std::to_string(t.date.year) + "-" + two(t.date.month) + "-" + two(t.date.day);
}

std::string plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::vector<std::string> RetentionPlan::to_delete() const {
  std::vector<std::string> out;
  for (const auto& d : decisions)
    if (!d.keep) out.push_back(d.name);
  return out;
}

RetentionPlan plan_retention(const std::vector<RetentionItem>& items, TimePoint now, const RetentionPolicy& policy) {
  RetentionPlan plan;
  plan.decisions.resize(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) plan.decisions[i].name = items[i].name;

  // Newest first, each group apart.
  std::vector<std::size_t> order(items.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return items[a].at > items[b].at; });

  std::map<std::string, int> labelled_seen;
  std::vector<std::size_t> regular;
  for (const auto i : order) {
    const auto& item = items[i];
    auto& d = plan.decisions[i];
    if (!item.set_aside.empty()) {
      d.rule = item.set_aside;
      continue;
    }
    if (item.at > now + kClockSlack) {
      d.rule = "stamped in the future (" + format_local(item.at) + "): kept, not counted until the clock reaches it";
      continue;
    }
    if (item.label.empty()) {
      regular.push_back(i);
      continue;
    }
    const int n = ++labelled_seen[item.label];
    d.keep = n <= policy.keep_pre_migration;
    d.rule = d.keep ? "keep-pre-migration: " + item.label + " copy " + std::to_string(n) + " of " +
                          std::to_string(policy.keep_pre_migration)
                    : "beyond keep-pre-migration (" + std::to_string(policy.keep_pre_migration) + " " + item.label +
                          " copies)";
  }

  std::optional<TimePoint> newest_verified;
  for (const auto i : regular)
    if (items[i].verified) {
      newest_verified = items[i].at;
      break;
    }

  if (!regular.empty() && !items[regular.front()].verified)
    plan.held = "the newest backup, " + items[regular.front()].name +
                ", is not verified: nothing is deleted until a backup succeeds";

  // The newest `retention-days` days that have a verified backup.
  std::set<LocalDate> recent_days;
  for (const auto i : regular) {
    if (!items[i].verified) continue;
    const auto day = to_local(items[i].at).date;
    if (recent_days.count(day) == 0 && static_cast<int>(recent_days.size()) >= policy.retention_days) break;
    recent_days.insert(day);
  }

  const std::vector<Tier> tiers = {
      {"keep-hourly", policy.keep_hourly, [](const LocalTime& t) { return day_of(t) + " " + two(t.hour) + "h"; }},
      {"keep-daily", policy.keep_daily, [](const LocalTime& t) { return day_of(t); }},
      {"keep-weekly", policy.keep_weekly,
       [](const LocalTime& t) { return std::to_string(t.iso_year) + "-W" + two(t.iso_week); }},
      {"keep-monthly", policy.keep_monthly,
       [](const LocalTime& t) { return std::to_string(t.date.year) + "-" + two(t.date.month); }},
  };
  std::vector<std::set<std::string>> tier_buckets(tiers.size());

  int verified_seen = 0;
  for (const auto i : regular) {
    const auto& item = items[i];
    auto& d = plan.decisions[i];
    const auto local = to_local(item.at);
    std::vector<std::string> rules;
    d.counted = item.verified && newest_verified && item.at == *newest_verified;
    if (item.verified && ++verified_seen <= policy.min_count) {
      d.counted = true;
      rules.push_back("retention-min-count: verified backup " + std::to_string(verified_seen) + " of the newest " +
                      std::to_string(policy.min_count));
    }
    if (newest_verified && item.at > *newest_verified - std::chrono::days(policy.retention_days))
      rules.push_back("retention-days: within " + plural(policy.retention_days, "day", "days") +
                      " of the newest verified backup");
    else if (item.verified && recent_days.count(local.date) != 0)
      rules.push_back("retention-days: on one of the newest " + plural(policy.retention_days, "day", "days") +
                      " with a verified backup");
    if (item.verified)
      for (std::size_t t = 0; t < tiers.size(); ++t) {
        const auto bucket = tiers[t].bucket(local);
        if (tier_buckets[t].count(bucket) != 0 || static_cast<int>(tier_buckets[t].size()) >= tiers[t].count) continue;
        tier_buckets[t].insert(bucket);
        d.counted = true;
        rules.push_back(std::string(tiers[t].name) + ": " + bucket);
      }
    d.keep = !rules.empty();
    d.rule = d.keep ? rules.front() : (item.verified ? "older than retention-days and kept by no rule"
                                                     : "not verified, and older than retention-days");
  }
  if (!plan.held.empty())
    for (auto& d : plan.decisions)
      if (!d.keep) {
        d.keep = true;
        d.rule = "held (" + d.rule + ")";
      }
  return plan;
}

}  // namespace sqlkeeper::core
