#include "sqlkeeper/daemon/logging.h"

#include <gtest/gtest.h>

namespace sqlkeeper::daemon {
namespace {

TEST(JournalLines, EveryLineCarriesThePriority) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  const Case cases[] = {
      {"one line", "<3>one line"},
      {"", "<3>"},
      {"start-up failed: migration 0002_x.sql\nCREATE TABLE t (\n  id INTEGER\n)",
       "<3>start-up failed: migration 0002_x.sql\n<3>CREATE TABLE t (\n<3>  id INTEGER\n<3>)"},
      // A trailing newline ends the last line; it does not start an empty one.
      {"ends\n", "<3>ends\n"},
      {"a\n\nb", "<3>a\n<3>\n<3>b"},
  };
  for (const auto& c : cases) EXPECT_EQ(journal_lines('3', c.text), c.expected) << c.text;
}

TEST(JsonString, EscapesWhatWouldBreakTheLine) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  const Case cases[] = {
      {"plain", R"("plain")"},
      {"", R"("")"},
      {"say \"hi\" \\ bye", R"("say \"hi\" \\ bye")"},
      {"two\nlines\r\n", R"("two\nlines\r\n")"},
      {std::string_view("\x1b[31mred\0", 9), R"("\u001b[31mred\u0000")"},
      // Not UTF-8: a hostile file name must not make the line invalid JSON.
      {"bad \xff byte", "\"bad \xef\xbf\xbd byte\""},
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
  };
  for (const auto& c : cases) EXPECT_EQ(json_string(c.text), c.expected) << c.text;
}

}  // namespace
}  // namespace sqlkeeper::daemon
