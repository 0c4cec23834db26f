#include "sqlkeeper/db/shared_access.h"

#include <gtest/gtest.h>

namespace sqlkeeper::core {
namespace {

const std::filesystem::path kDatabase = "/var/lib/sqlkeeper/app.db";

FileFacts in_group(unsigned mode, unsigned gid = 500) {
  return FileFacts{mode, gid, gid == 500 ? "app" : "other"};
}

// Every warning, joined, to look for the words that must be there.
std::string joined(const std::vector<std::string>& warnings) {
  std::string all;
  for (const auto& w : warnings) all += w + "\n";
  return all;
}

TEST(SharedAccess, NothingToSayWithoutAnAppGroup) {
  EXPECT_TRUE(shared_access_warnings("", 0600, kDatabase, {}).empty());
}

TEST(SharedAccess, TheSharedGroupSetUpIsQuiet) {
  const SharedAccessFacts facts{500, in_group(02770), in_group(0660)};
  EXPECT_TRUE(shared_access_warnings("app", 0660, kDatabase, facts).empty());
  // Before the first start neither the directory nor the database exists yet.
  EXPECT_TRUE(shared_access_warnings("app", 0660, kDatabase, {500, std::nullopt, std::nullopt}).empty());
}

TEST(SharedAccess, EachObstacleIsNamedWithItsRemedy) {
  struct Case {
    const char* what;
    unsigned file_mode;
    SharedAccessFacts facts;
    std::vector<std::string> expected;  // words of the one warning
  };
  const Case cases[] = {
      {"owner-only file-mode", 0600, {500, std::nullopt, std::nullopt}, {"file-mode 0600", "file-mode = 0660"}},
      {"unknown group", 0660, {std::nullopt, std::nullopt, std::nullopt}, {"app-group 'app' is not a group"}},
      {"directory of another group",
       0660,
       {500, in_group(02770, 600), std::nullopt},
       {"belongs to group 'other'", "chgrp app /var/lib/sqlkeeper"}},
      {"directory closed to the group",
       0660,
       {500, in_group(02750), std::nullopt},
       {"mode 2750", "chmod 2770 /var/lib/sqlkeeper"}},
      {"directory not setgid", 0660, {500, in_group(0770), std::nullopt}, {"not setgid", "chmod g+s"}},
      {"existing owner-only database",
       0660,
       {500, in_group(02770), in_group(0600)},
       {"database /var/lib/sqlkeeper/app.db is mode 0600", "sqlkeeper brings it to file-mode and the directory's group when it next starts: restart it"}},
      {"existing database of another group",
       0660,
       {500, in_group(02770), in_group(0660, 600)},
       {"group 'other'", "the directory's group when it next starts"}},
  };
  for (const auto& c : cases) {
    const auto warnings = shared_access_warnings("app", c.file_mode, kDatabase, c.facts);
    ASSERT_EQ(warnings.size(), 1U) << c.what << ":\n" << joined(warnings);
    for (const auto& word : c.expected) EXPECT_NE(warnings[0].find(word), std::string::npos) << c.what << ": " << word;
  }
}

TEST(SharedAccess, LooksUpTheRealFiles) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "shared_access_lookup";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto facts = look_up_shared_access("sqlkeeper-no-such-group", dir / "app.db");
  EXPECT_FALSE(facts.app_gid);
  ASSERT_TRUE(facts.directory);
  EXPECT_FALSE(facts.database);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sqlkeeper::core
