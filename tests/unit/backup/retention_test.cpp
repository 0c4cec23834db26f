#include "sqlkeeper/backup/retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "support/local_clock.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;
using testing::ScopedTimeZone;
using testing::utc;

std::string name_at(TimePoint t, const std::string& label = "") {
  const auto tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string("app-") + buf + (label.empty() ? "" : "-" + label) + ".db";
}

// `count` verified backups `step` apart, the newest at `newest`.
std::vector<RetentionItem> series(TimePoint newest, int count, std::chrono::seconds step, const std::string& label = "") {
  std::vector<RetentionItem> out;
  for (int i = count - 1; i >= 0; --i) {
    const auto at = newest - step * i;
    out.push_back({name_at(at, label), at, label, true, ""});
  }
  return out;
}

std::set<std::string> deleted(const RetentionPlan& plan) {
  const auto v = plan.to_delete();
  return {v.begin(), v.end()};
}

std::set<std::string> names_between(const std::vector<RetentionItem>& items, TimePoint from, TimePoint to) {
  std::set<std::string> out;
  for (const auto& i : items)
    if (i.at >= from && i.at <= to) out.insert(i.name);
  return out;
}

const RetentionDecision& decision(const RetentionPlan& plan, const std::string& name) {
  for (const auto& d : plan.decisions)
    if (d.name == name) return d;
  throw std::runtime_error("no decision for " + name);
}

class Retention : public ::testing::Test {
  ScopedTimeZone zone_{"UTC"};
};

TEST_F(Retention, DefaultKeepsThirtyDaysOfNightlies) {
  const auto newest = utc("2026-11-27T03:00:00Z");
  const auto items = series(newest, 40, 24h);
  const auto plan = plan_retention(items, newest + 1h, RetentionPolicy{});
  EXPECT_TRUE(plan.held.empty());
  EXPECT_EQ(deleted(plan), names_between(items, newest - 39 * 24h, newest - 30 * 24h));
  EXPECT_EQ(deleted(plan).size(), 10U);
  EXPECT_EQ(decision(plan, name_at(newest - 35 * 24h)).rule, "older than retention-days and kept by no rule");
  EXPECT_EQ(decision(plan, name_at(newest)).rule.rfind("retention-min-count", 0), 0U);
  EXPECT_EQ(decision(plan, name_at(newest - 20 * 24h)).rule.rfind("retention-days", 0), 0U);
}

TEST_F(Retention, NothingIsDeletedWhileThereAreFewerThanTheMinimum) {
  const auto newest = utc("2026-11-27T03:00:00Z");
  const auto items = series(newest, 5, 24h * 90);  // one a quarter, well past 30 days
  EXPECT_TRUE(deleted(plan_retention(items, newest, RetentionPolicy{})).empty());
}

TEST_F(Retention, MinCountKeepsTheNewestVerifiedPastTheWindow) {
  RetentionPolicy p;
  p.retention_days = 1;
  p.min_count = 7;
  const auto newest = utc("2026-11-27T03:00:00Z");
  const auto items = series(newest, 10, 24h);
  EXPECT_EQ(deleted(plan_retention(items, newest, p)), names_between(items, newest - 9 * 24h, newest - 7 * 24h));
}

TEST_F(Retention, UnverifiedBackupsDoNotCountTowardTheMinimum) {
  RetentionPolicy p;
  p.retention_days = 1;
  p.min_count = 3;
  const auto newest = utc("2026-11-27T03:00:00Z");
  auto items = series(newest, 6, 24h);
  items[4].verified = false;  // the second newest
  const auto gone = deleted(plan_retention(items, newest, p));
  // Kept: the newest and the next two verified ones; the unverified one is old enough to go.
  EXPECT_EQ(gone, (std::set<std::string>{items[0].name, items[1].name, items[4].name}));
}

TEST_F(Retention, AFailedNewestBackupHoldsEverything) {
  const auto newest = utc("2026-11-27T03:00:00Z");
  auto items = series(newest, 40, 24h);
  items.back().verified = false;
  const auto plan = plan_retention(items, newest + 1h, RetentionPolicy{});
  EXPECT_NE(plan.held.find("not verified"), std::string::npos) << plan.held;
  EXPECT_NE(plan.held.find(items.back().name), std::string::npos) << plan.held;
  EXPECT_TRUE(plan.to_delete().empty());
  for (const auto& d : plan.decisions) EXPECT_TRUE(d.keep) << d.name;
}

TEST_F(Retention, AMonthOfFailuresDeletesNothingMore) {
  // The last good backup is 45 days old: ages count from it, not from today.
  const auto newest = utc("2026-10-13T03:00:00Z");
  const auto items = series(newest, 40, 24h);
  const auto plan = plan_retention(items, utc("2026-11-27T12:00:00Z"), RetentionPolicy{});
  EXPECT_EQ(deleted(plan).size(), 10U);
  EXPECT_EQ(deleted(plan), names_between(items, newest - 39 * 24h, newest - 30 * 24h));
}

TEST_F(Retention, ClockJumpedForwardAYearDeletesNoMoreThanADay) {
  const auto newest = utc("2026-11-27T03:00:00Z");
  auto items = series(newest, 30, 24h);
  // Nothing before a backup is taken at the new time...
  EXPECT_TRUE(deleted(plan_retention(items, newest + 365 * 24h, RetentionPolicy{})).empty());
  // ...and after it, only the oldest day leaves: the newest 30 days with backups stay.
  const auto jumped = newest + 365 * 24h;
  items.push_back({name_at(jumped), jumped, "", true, ""});
  EXPECT_EQ(deleted(plan_retention(items, jumped + 1min, RetentionPolicy{})),
            (std::set<std::string>{items.front().name}));
}

TEST_F(Retention, ABackupStampedInTheFutureIsKeptUncountedAndHoldsNothing) {
  // The clock ran five years ahead for one backup: it is kept and named, and the
  // rest is pruned as if it were not there (before, it held every deletion).
  const auto newest = utc("2026-11-27T03:00:00Z");
  auto items = series(newest, 40, 24h);
  const auto expected = deleted(plan_retention(items, newest + 1h, RetentionPolicy{}));
  ASSERT_EQ(expected.size(), 10U);
  const auto future = newest + 5 * 365 * 24h;
  items.push_back({name_at(future), future, "", true, ""});
  const auto plan = plan_retention(items, newest + 1h, RetentionPolicy{});
  EXPECT_TRUE(plan.held.empty()) << plan.held;
  EXPECT_EQ(deleted(plan), expected);
  const auto& d = decision(plan, items.back().name);
  EXPECT_TRUE(d.keep);
  EXPECT_FALSE(d.counted);
  EXPECT_NE(d.rule.find("stamped in the future"), std::string::npos) << d.rule;
}

TEST_F(Retention, AClockBehindEveryBackupDeletesNothing) {
  const auto newest = utc("2026-11-27T03:00:00Z");
  const auto items = series(newest, 40, 24h);
  EXPECT_TRUE(plan_retention(items, newest - 365 * 24h, RetentionPolicy{}).to_delete().empty());
}

TEST_F(Retention, ASetAsideBackupIsKeptAndNeverCounted) {
  // Three newer backups damaged: min-count takes the three good ones before them,
  // retention-days counts back from the newest good one, the damaged stay.
  RetentionPolicy p;
  p.retention_days = 1;
  p.min_count = 3;
  const auto newest = utc("2026-11-27T03:00:00Z");
  auto items = series(newest, 10, 24h);
  for (std::size_t i = 7; i < 10; ++i) items[i].set_aside = "damaged: checksum mismatch";
  const auto plan = plan_retention(items, newest + 1h, p);
  EXPECT_TRUE(plan.held.empty()) << plan.held;
  for (std::size_t i = 7; i < 10; ++i) {
    const auto& d = decision(plan, items[i].name);
    EXPECT_TRUE(d.keep);
    EXPECT_FALSE(d.counted);
    EXPECT_EQ(d.rule, "damaged: checksum mismatch");
  }
  for (std::size_t i = 4; i < 7; ++i) {
    const auto& d = decision(plan, items[i].name);
    EXPECT_TRUE(d.keep && d.counted) << d.rule;
    EXPECT_EQ(d.rule.rfind("retention-min-count", 0), 0U) << d.rule;
  }
  EXPECT_EQ(deleted(plan), names_between(items, newest - 9 * 24h, newest - 6 * 24h));
}

TEST_F(Retention, TiersKeepTheNewestOfEachPeriod) {
  RetentionPolicy p;
  p.retention_days = 1;
  p.min_count = 1;
  p.keep_hourly = 3;
  p.keep_daily = 3;
  p.keep_weekly = 2;
  p.keep_monthly = 2;
  const auto newest = utc("2026-11-27T18:00:00Z");  // a Friday, ISO week 48
  const auto items = series(newest, 160, 6h);        // back to 2026-10-19
  const auto plan = plan_retention(items, newest, p);
  std::set<std::string> kept;
  for (const auto& d : plan.decisions)
    if (d.keep) kept.insert(d.name);
  const std::set<std::string> expected = {
      name_at(utc("2026-11-27T18:00:00Z")), name_at(utc("2026-11-27T12:00:00Z")),
      name_at(utc("2026-11-27T06:00:00Z")), name_at(utc("2026-11-27T00:00:00Z")),  // within a day
      name_at(utc("2026-11-26T18:00:00Z")), name_at(utc("2026-11-25T18:00:00Z")),  // keep-daily
      name_at(utc("2026-11-22T18:00:00Z")),                                        // keep-weekly: W47
      name_at(utc("2026-10-31T18:00:00Z")),                                        // keep-monthly: October
  };
  EXPECT_EQ(kept, expected);
  EXPECT_EQ(decision(plan, name_at(utc("2026-11-22T18:00:00Z"))).rule, "keep-weekly: 2026-W47");
  EXPECT_EQ(decision(plan, name_at(utc("2026-10-31T18:00:00Z"))).rule, "keep-monthly: 2026-10");
  EXPECT_EQ(decision(plan, name_at(utc("2026-11-26T18:00:00Z"))).rule, "keep-daily: 2026-11-26");
}

TEST_F(Retention, TiersFollowLocalTime) {
  ScopedTimeZone berlin("Europe/Berlin");
  RetentionPolicy p;
  p.retention_days = 1;
  p.min_count = 1;
  p.keep_daily = 2;
  // 23:30Z on the 25th is already the 26th in Berlin: it, not 22:30Z, is the 26th's newest.
  const std::vector<RetentionItem> items = {
      {"a", utc("2026-11-25T22:30:00Z"), "", true, ""},
      {"b", utc("2026-11-25T23:30:00Z"), "", true, ""},
      {"c", utc("2026-11-26T22:00:00Z"), "", true, ""},
      {"d", utc("2026-11-27T22:00:00Z"), "", true, ""},
  };
  const auto plan = plan_retention(items, utc("2026-11-27T22:30:00Z"), p);
  EXPECT_EQ(deleted(plan), (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(decision(plan, "c").rule, "keep-daily: 2026-11-26");
}

TEST_F(Retention, PreMigrationAndPreRestoreCopiesKeepTheirOwnCount) {
  const auto newest = utc("2026-11-27T03:00:00Z");
  auto items = series(newest, 3, 24h);
  const auto pre_migration = series(newest - 1h, 8, 1h, "pre-migration");
  const auto pre_restore = series(newest - 30min, 2, 1h, "pre-restore");
  items.insert(items.end(), pre_migration.begin(), pre_migration.end());
  items.insert(items.end(), pre_restore.begin(), pre_restore.end());
  const auto plan = plan_retention(items, newest, RetentionPolicy{});
  // The three oldest pre-migration copies go, though they are hours old; all else stays.
  EXPECT_EQ(deleted(plan), (std::set<std::string>{pre_migration[0].name, pre_migration[1].name, pre_migration[2].name}));
  EXPECT_EQ(decision(plan, pre_migration[0].name).rule, "beyond keep-pre-migration (5 pre-migration copies)");
}

TEST_F(Retention, LabelledCopiesDoNotHoldRegularOnesOrCountAsThem) {
  RetentionPolicy p;
  p.retention_days = 1;
  p.min_count = 2;
  const auto newest = utc("2026-11-27T03:00:00Z");
  auto items = series(newest, 4, 24h);
  items.push_back({name_at(newest + 1h, "pre-migration"), newest + 1h, "pre-migration", false, ""});
  const auto gone = deleted(plan_retention(items, newest + 2h, p));
  EXPECT_EQ(gone, (std::set<std::string>{items[0].name, items[1].name}));
}

TEST_F(Retention, AnEmptyListDeletesNothing) {
  const auto plan = plan_retention({}, utc("2026-11-27T03:00:00Z"), RetentionPolicy{});
  EXPECT_TRUE(plan.decisions.empty());
  EXPECT_TRUE(plan.to_delete().empty());
}

TEST_F(Retention, EveryPolicyKeepsTheNewestMinCountVerified) {
  // A sweep over policies and histories: whatever else, the newest min-count
  // verified backups and the newest backup of all survive.
  const auto newest = utc("2026-11-27T03:00:00Z");
  for (int days : {0, 1, 7, 30})
    for (int min : {1, 3, 7})
      for (int hourly : {0, 5})
        for (int gap_hours : {1, 7, 24, 24 * 9}) {
          RetentionPolicy p;
          p.retention_days = days;
          p.min_count = min;
          p.keep_hourly = hourly;
          auto items = series(newest, 50, std::chrono::hours(gap_hours));
          for (std::size_t i = 0; i < items.size(); i += 5) items[i].verified = false;
          const auto gone = deleted(plan_retention(items, newest, p));
          int verified_seen = 0;
          for (auto it = items.rbegin(); it != items.rend(); ++it) {
            if (!it->verified) continue;
            if (++verified_seen > min) break;
            EXPECT_EQ(gone.count(it->name), 0U) << days << " " << min << " " << hourly << " " << gap_hours;
          }
          EXPECT_EQ(gone.count(items.back().name), 0U);
        }
}

}  // namespace
}  // namespace sqlkeeper::core
