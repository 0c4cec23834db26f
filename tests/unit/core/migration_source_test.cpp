#include "sqlkeeper/core/migration_source.h"

#include <gtest/gtest.h>

#include "sqlkeeper/core/sha256.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

TEST(ParseDirectives, ReadsMarkersAnywhere) {
  const auto d = parse_directives(
      "-- sqlkeeper: foreign-keys-off\nCREATE TABLE x (a);\n  -- sqlkeeper: allow-row-loss=sessions,expenses\n", "f");
  EXPECT_TRUE(d.foreign_keys_off);
  EXPECT_FALSE(d.no_transaction);
  EXPECT_FALSE(d.allow_row_loss_all);
  EXPECT_EQ(d.allow_row_loss, (std::set<std::string>{"sessions", "expenses"}));
  EXPECT_TRUE(parse_directives("-- sqlkeeper: allow-row-loss no-transaction", "f").allow_row_loss_all);
  EXPECT_TRUE(parse_directives("-- sqlkeeper: allow-row-loss no-transaction", "f").no_transaction);
}

TEST(ParseDirectives, UnknownMarkerIsAnErrorWithFileAndLine) {
  try {
    parse_directives("SELECT 1;\n-- sqlkeeper: yolo\n", "m/0001_x.sql");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m/0001_x.sql:2: unknown sqlkeeper directive 'yolo'"), std::string::npos);
  }
}

TEST(SplitDrizzle, SplitsOnBreakpointsAndDropsEmptyChunks) {
  const auto s = split_drizzle(
      "CREATE TABLE `a` (`x` integer);\n--> statement-breakpoint\nCREATE INDEX `i` ON `a` (`x`);"
      "--> statement-breakpoint\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].sql, "CREATE TABLE `a` (`x` integer);");
  EXPECT_EQ(s[1].line, 3);
}

TEST(Sha256, MatchesKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(LoadMigrations, BundledSchemaLoads) {
  const auto set = load_migrations(std::filesystem::path(SQLKEEPER_SOURCE_DIR) / "migrations");
  EXPECT_EQ(set.format, MigrationFormat::plain);
  ASSERT_GE(set.files.size(), 2u);
  EXPECT_EQ(set.files[0].key, 1);
}

TEST(LoadMigrations, DrizzleFixtureLoadsInJournalOrder) {
  const auto set = load_migrations(std::filesystem::path(SQLKEEPER_SOURCE_DIR) / "tests/fixtures/drizzle-basic");
  EXPECT_EQ(set.format, MigrationFormat::drizzle);
  ASSERT_EQ(set.files.size(), 3u);
  EXPECT_EQ(set.files[0].key, 1735689600000);
  EXPECT_EQ(set.files[2].name, "0002_rebuild_categories.sql");
}

}  // namespace
}  // namespace sqlkeeper::core

namespace sqlkeeper::core {
namespace {

TEST(ParseDirectives, MarkerIsCaseInsensitive) {
  EXPECT_TRUE(parse_directives("-- SQLKeeper: foreign-keys-off\n", "f").foreign_keys_off);
}

}  // namespace
}  // namespace sqlkeeper::core
