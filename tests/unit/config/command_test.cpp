#include "sqlkeeper/config/command.h"

#include <gtest/gtest.h>

namespace sqlkeeper::config {
namespace {

using Words = std::vector<std::string>;

TEST(SplitCommand, WordsQuotesAndEscapes) {
  EXPECT_EQ(split_command("/usr/bin/rclone copy %f remote:backups"),
            (Words{"/usr/bin/rclone", "copy", "%f", "remote:backups"}));
  EXPECT_EQ(split_command("  a \t b  "), (Words{"a", "b"}));
  EXPECT_EQ(split_command("restic --tag 'nightly db' backup"), (Words{"restic", "--tag", "nightly db", "backup"}));
  EXPECT_EQ(split_command(R"(say "a \"quoted\" \\ word" x)"), (Words{"say", R"(a "quoted" \ word)", "x"}));
  EXPECT_EQ(split_command(R"(a\ b c)"), (Words{"a b", "c"}));
  EXPECT_EQ(split_command("x''y \"\""), (Words{"xy", ""}));
  // Shell syntax is only text: no expansion of any kind.
  EXPECT_EQ(split_command("echo $HOME;rm *|x `y`"), (Words{"echo", "$HOME;rm", "*|x", "`y`"}));
  EXPECT_EQ(split_command(""), Words{});
}

TEST(SplitCommand, UnbalancedQuotesAndTrailingBackslashAreRefused) {
  EXPECT_FALSE(split_command("rclone 'copy"));
  EXPECT_FALSE(split_command("rclone \"copy"));
  EXPECT_FALSE(split_command("rclone copy\\"));
}

TEST(CommandForFile, PlaceholderOrLastArgument) {
  EXPECT_EQ(command_for_file({"rclone", "copy", "%f", "r:b"}, "/b/x.db"), (Words{"rclone", "copy", "/b/x.db", "r:b"}));
  EXPECT_EQ(command_for_file({"restic", "backup"}, "/b/x;rm -rf.db"), (Words{"restic", "backup", "/b/x;rm -rf.db"}));
  EXPECT_EQ(command_for_file({"cp", "%f.x", "/d"}, "/b/x.db"), (Words{"cp", "%f.x", "/d", "/b/x.db"}));
}

}  // namespace
}  // namespace sqlkeeper::config
