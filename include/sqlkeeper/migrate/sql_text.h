#pragma once
// Reading SQL text without running it: statement boundaries (as the sqlite3
// shell finds them, so triggers with BEGIN..END stay whole), leading keywords,
// and UTF-8 validity. Pure functions.
#include <string>
#include <string_view>
#include <vector>

namespace sqlkeeper::core {

struct SqlStatement {
  std::string sql;
  int line = 1;  // 1-based line of the statement's first character in its file
};

// Splits `text` into complete statements; `first_line` is the line number of
// text[0] in its file. Whitespace- and comment-only remainders are dropped.
std::vector<SqlStatement> split_statements(std::string_view text, int first_line = 1);

// The first `count` keywords of a statement, upper-cased, comments skipped:
// "pragma foreign_keys = off" -> {"PRAGMA", "FOREIGN_KEYS"}.
std::vector<std::string> leading_words(std::string_view sql, std::size_t count);

// True when `text` holds nothing but whitespace and comments.
bool is_blank_sql(std::string_view text);

// Byte offset of the first invalid UTF-8 sequence, or npos when valid.
std::size_t find_invalid_utf8(std::string_view text);

// ASCII-only lower case, as SQLite compares identifiers and keywords.
std::string ascii_lower(std::string_view text);

// Quotes an identifier for SQL: foo"bar -> "foo""bar".
std::string quote_identifier(std::string_view name);

}  // namespace sqlkeeper::core
