#include "sqlkeeper/core/sql_text.h"

#include <gtest/gtest.h>

namespace sqlkeeper::core {
namespace {

TEST(SplitStatements, SplitsOnSemicolonsOutsideQuotesAndComments) {
  const auto s = split_statements(
      "CREATE TABLE a (x TEXT DEFAULT ';');\n"
      "-- a comment; with a semicolon\n"
      "INSERT INTO a VALUES ('it''s; fine');\n"
      "/* block; comment */ SELECT 1;");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].sql, "CREATE TABLE a (x TEXT DEFAULT ';');");
  EXPECT_EQ(s[0].line, 1);
  EXPECT_EQ(s[1].sql, "INSERT INTO a VALUES ('it''s; fine');");
  EXPECT_EQ(s[1].line, 3);
  EXPECT_EQ(s[2].line, 4);
}

TEST(SplitStatements, KeepsTriggerBodiesWhole) {
  const auto s = split_statements(
      "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  UPDATE a SET x = 2;\nEND;\nSELECT 2;");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NE(s[0].sql.find("END;"), std::string::npos);
  EXPECT_EQ(s[1].line, 5);
}

TEST(SplitStatements, FinalStatementWithoutSemicolonAndBlankTail) {
  EXPECT_EQ(split_statements("SELECT 1").size(), 1u);
  EXPECT_EQ(split_statements("SELECT 1;\n\n-- trailing comment\n").size(), 1u);
  EXPECT_TRUE(split_statements("  -- only a comment\n/* and this */\n").empty());
  EXPECT_TRUE(split_statements("").empty());
}

TEST(LeadingWords, SkipsCommentsAndPunctuation) {
  EXPECT_EQ(leading_words("-- x\n  pragma foreign_keys = off;", 3),
            (std::vector<std::string>{"PRAGMA", "FOREIGN_KEYS", "OFF"}));
  EXPECT_EQ(leading_words("PRAGMA foreign_keys=OFF;", 3), (std::vector<std::string>{"PRAGMA", "FOREIGN_KEYS", "OFF"}));
  EXPECT_EQ(leading_words("/* c */ vacuum", 2), (std::vector<std::string>{"VACUUM"}));
  EXPECT_TRUE(leading_words("", 2).empty());
}

TEST(Utf8, FindsTheFirstInvalidByte) {
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::string::npos);
  EXPECT_EQ(find_invalid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::string::npos);
  EXPECT_EQ(find_invalid_utf8("ab\xff"), 2u);
  EXPECT_EQ(find_invalid_utf8("a\xc3"), 1u);             // truncated
  EXPECT_EQ(find_invalid_utf8("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xed\xa0\x80"), 1u);     // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(find_invalid_utf8("caf\xe9"), 3u);           // Latin-1
}

TEST(QuoteIdentifier, DoublesQuotes) {
  EXPECT_EQ(quote_identifier("users"), "\"users\"");
  EXPECT_EQ(quote_identifier("we\"ird"), "\"we\"\"ird\"");
}

}  // namespace
}  // namespace sqlkeeper::core

namespace sqlkeeper::core {
namespace {

TEST(AsciiLower, LowersOnlyAsciiLetters) {
  EXPECT_EQ(ascii_lower("Expenses_\xC3\x89T\xC3\xA9"), "expenses_\xC3\x89t\xC3\xA9");
}

}  // namespace
}  // namespace sqlkeeper::core
