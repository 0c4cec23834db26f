#include "sqlkeeper/migrate/migration_source.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sqlkeeper/base/sha256.h"
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

namespace sqlkeeper::core {
namespace {

// A fresh migrations folder under the test's temporary directory.
class MigrationFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::path(::testing::TempDir()) /
              ("sqlkeeper-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(folder_ / name, std::ios::binary) << text;
  }

  // The migration error load_migrations throws for the folder, or "" when it loads.
  std::string load_error() {
    try {
      load_migrations(folder_);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::migration) << e.what();
      return e.what();
    }
    return "";
  }

  std::filesystem::path folder_;
};

TEST_F(MigrationFolder, SymlinkLoopIsAMigrationErrorNamingTheFile) {
  write("0001_a.sql", "CREATE TABLE a (x);\n");
  std::filesystem::create_symlink("0002_b.sql", folder_ / "0002_b.sql");
  const auto error = load_error();
  EXPECT_NE(error.find("0002_b.sql"), std::string::npos) << error;
  EXPECT_NE(error.find("symbolic link loop"), std::string::npos) << error;
}

TEST_F(MigrationFolder, DirectoryAndDeviceAreRefusedByType) {
  std::filesystem::create_directory(folder_ / "0001_dir.sql");
  EXPECT_NE(load_error().find("0001_dir.sql is a directory"), std::string::npos);
  std::filesystem::remove(folder_ / "0001_dir.sql");
  std::filesystem::create_symlink("/dev/null", folder_ / "0001_null.sql");
  EXPECT_NE(load_error().find("0001_null.sql is a character device"), std::string::npos);
}

TEST_F(MigrationFolder, FileOverTheLimitIsRefusedUnread) {
  // Sparse: the size is what counts, and nothing of it is read.
  write("0001_big.sql", "");
  std::filesystem::resize_file(folder_ / "0001_big.sql", kMaxMigrationFileBytes + 1);
  const auto error = load_error();
  EXPECT_NE(error.find("0001_big.sql is larger than 64 MiB"), std::string::npos) << error;
}

TEST_F(MigrationFolder, SymlinkToARegularFileIsRead) {
  write("shared.txt", "CREATE TABLE a (x);\n");
  std::filesystem::create_symlink("shared.txt", folder_ / "0001_a.sql");
  EXPECT_EQ(load_error(), "");
}

TEST_F(MigrationFolder, NameWithANewlineIsRefusedAndShownEscaped) {
  write("0003_evil\n\xe2\x80\xa6 critical FAKE LOG LINE.sql", "SELECT 1;\n");
  const auto error = load_error();
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  EXPECT_NE(error.find(R"("0003_evil\n\xe2\x80\xa6 critical FAKE LOG LINE.sql")"), std::string::npos) << error;
}

TEST_F(MigrationFolder, NamesOutsideTheStrictPatternAreRefused) {
  for (const std::string bad : {"0001_a b.sql", "0001_\x1b[31mred.sql", "0001_caf\xc3\xa9.sql", "0001_a;b.sql"}) {
    write(bad, "SELECT 1;\n");
    EXPECT_NE(load_error().find("name must be NNNN_name.sql"), std::string::npos) << bad;
    std::filesystem::remove(folder_ / bad);
  }
  write("0001_add-users.v2.sql", "SELECT 1;\n");
  EXPECT_EQ(load_error(), "");
}

TEST_F(MigrationFolder, DrizzleTagWithANewlineIsRefusedEscaped) {
  std::filesystem::create_directories(folder_ / "meta");
  write("meta/_journal.json",
        R"({"dialect":"sqlite","entries":[{"idx":0,"when":1,"tag":"0000_x\nFAKE","breakpoints":true}]})");
  write("0000_x\nFAKE.sql", "SELECT 1;\n");
  const auto error = load_error();
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  EXPECT_NE(error.find(R"(tag "0000_x\nFAKE" is not a plain file name)"), std::string::npos) << error;
}

TEST_F(MigrationFolder, DrizzleJournalThatIsNotARegularFileIsRefused) {
  std::filesystem::create_directories(folder_ / "meta");
  std::filesystem::create_symlink("_journal.json", folder_ / "meta" / "_journal.json");
  const auto error = load_error();
  EXPECT_NE(error.find("_journal.json: cannot open: symbolic link loop"), std::string::npos) << error;
}

}  // namespace
}  // namespace sqlkeeper::core
