#include "sqlkeeper/migrate/migration_plan.h"

#include <gtest/gtest.h>

namespace sqlkeeper::core {
namespace {

MigrationSet set_of(std::initializer_list<std::pair<std::int64_t, const char*>> files,
                    MigrationFormat format = MigrationFormat::plain) {
  MigrationSet set;
  set.format = format;
  for (const auto& [key, hash] : files) {
    MigrationFile f;
    f.key = key;
    f.name = std::to_string(key) + "_m.sql";
    f.sha256 = hash;
    set.files.push_back(f);
  }
  return set;
}

AppliedRecord rec(std::int64_t key, const char* hash) {
  return {key, hash, std::to_string(key) + "_m.sql", 1, 0};
}

std::vector<MigrationState> states(const MigrationPlan& p) {
  std::vector<MigrationState> out;
  for (const auto& i : p.items) out.push_back(i.state);
  return out;
}

TEST(PlanMigrations, FreshDatabaseAppliesEverythingInOrder) {
  const auto p = plan_migrations(set_of({{1, "a"}, {2, "b"}, {3, "c"}}), {}, false);
  EXPECT_TRUE(p.problems.empty());
  EXPECT_EQ(p.to_apply, (std::vector<std::size_t>{0, 1, 2}));
}

TEST(PlanMigrations, PartialAppliesOnlyTheRest) {
  const auto p = plan_migrations(set_of({{1, "a"}, {2, "b"}, {3, "c"}}), {rec(1, "a"), rec(2, "b")}, false);
  EXPECT_TRUE(p.problems.empty());
  EXPECT_EQ(p.to_apply, (std::vector<std::size_t>{2}));
  EXPECT_EQ(states(p),
            (std::vector<MigrationState>{MigrationState::applied, MigrationState::applied, MigrationState::pending}));
}

TEST(PlanMigrations, FullyAppliedDoesNothing) {
  const auto p = plan_migrations(set_of({{1, "a"}}), {rec(1, "a")}, false);
  EXPECT_TRUE(p.problems.empty());
  EXPECT_TRUE(p.to_apply.empty());
}

TEST(PlanMigrations, ChangedFileIsDrift) {
  const auto p = plan_migrations(set_of({{1, "a"}, {2, "B"}}), {rec(1, "a"), rec(2, "b")}, true);
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_NE(p.problems[0].find("2_m.sql"), std::string::npos);
  EXPECT_NE(p.problems[0].find("changed"), std::string::npos);
  EXPECT_EQ(p.items[1].state, MigrationState::drifted);
}

TEST(PlanMigrations, VanishedFileIsMissing) {
  const auto p = plan_migrations(set_of({{1, "a"}}), {rec(1, "a"), rec(2, "b")}, false);
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_NE(p.problems[0].find("2_m.sql"), std::string::npos);
  EXPECT_EQ(p.items.back().state, MigrationState::missing);
}

TEST(PlanMigrations, LateMergeIsRefusedUnlessAllowed) {
  const auto set = set_of({{1, "a"}, {2, "b"}, {3, "c"}});
  const std::vector<AppliedRecord> applied{rec(1, "a"), rec(3, "c")};
  const auto refused = plan_migrations(set, applied, false);
  ASSERT_EQ(refused.problems.size(), 1u);
  EXPECT_NE(refused.problems[0].find("2_m.sql"), std::string::npos);
  EXPECT_TRUE(refused.to_apply.empty());
  const auto allowed = plan_migrations(set, applied, true);
  EXPECT_TRUE(allowed.problems.empty());
  EXPECT_EQ(allowed.to_apply, (std::vector<std::size_t>{1}));
  EXPECT_EQ(allowed.items[1].state, MigrationState::out_of_order);
}

TEST(PlanMigrations, DrizzleKeysAreTimestamps) {
  const auto set = set_of({{1735689600000, "a"}, {1735776000000, "b"}}, MigrationFormat::drizzle);
  const auto p = plan_migrations(set, {{1735689600000, "a", "", 0, 0}}, false);
  EXPECT_TRUE(p.problems.empty());
  EXPECT_EQ(p.to_apply, (std::vector<std::size_t>{1}));
}

}  // namespace
}  // namespace sqlkeeper::core
