#include "sqlkeeper/migrate/sql_text.h"

#include <algorithm>
#include <cctype>

namespace sqlkeeper::core {
namespace {

// Skips whitespace and comments from `i`; returns the next significant index.
std::size_t skip_space_and_comments(std::string_view s, std::size_t i) {
  while (i < s.size()) {
    if (std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    } else if (s.compare(i, 2, "--") == 0) {
      const auto nl = s.find('\n', i);
      i = nl == std::string_view::npos ? s.size() : nl + 1;
    } else if (s.compare(i, 2, "/*") == 0) {
      const auto end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else {
      break;
    }
  }
  return i;
}

int count_lines(std::string_view s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// What sqlite3_complete() tells apart in SQL text; every other token is `other`.
enum Token : unsigned char { semi, space, other, explain, create, temp, trigger, end };

// sqlite3_complete()'s states. A statement ends at a `;` that leads to `start`;
// inside CREATE [TEMP] TRIGGER ... BEGIN it takes `END ;` to get there.
enum State : unsigned char {
  initial,
  start,
  normal,
  after_explain,
  after_create,
  in_trigger,
  trigger_semi,
  trigger_end
};

// clang-format off
constexpr State kNext[8][8] = {
    //                 semi          space          other          explain        create        temp          trigger     end
    /* initial */      {start,        initial,       normal,        after_explain, after_create, normal,       normal,     normal},
    /* start */        {start,        start,         normal,        after_explain, after_create, normal,       normal,     normal},
    /* normal */       {start,        normal,        normal,        normal,        normal,       normal,       normal,     normal},
    /* after_explain */{start,        after_explain, after_explain, normal,        after_create, normal,       normal,     normal},
    /* after_create */ {start,        after_create,  normal,        normal,        normal,       after_create, in_trigger, normal},
    /* in_trigger */   {trigger_semi, in_trigger,    in_trigger,    in_trigger,    in_trigger,   in_trigger,   in_trigger, in_trigger},
    /* trigger_semi */ {trigger_semi, trigger_semi,  in_trigger,    in_trigger,    in_trigger,   in_trigger,   in_trigger, trigger_end},
    /* trigger_end */  {start,        trigger_end,   in_trigger,    in_trigger,    in_trigger,   in_trigger,   in_trigger, in_trigger},
};
// clang-format on

bool is_identifier_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' || u == '$' ||
         u >= 0x80;
}

bool is_keyword(std::string_view word, std::string_view keyword) {
  return word.size() == keyword.size() && ascii_lower(word) == keyword;
}

Token classify_word(std::string_view word) {
  if (is_keyword(word, "create")) return create;
  if (is_keyword(word, "trigger")) return trigger;
  if (is_keyword(word, "temp") || is_keyword(word, "temporary")) return temp;
  if (is_keyword(word, "end")) return end;
  if (is_keyword(word, "explain")) return explain;
  return other;
}

// Offsets just past each `;` where sqlite3_complete() would call the text since
// the previous such offset complete, found in one pass: quotes ('..' ".." `..`
// [..]) and comments hide semicolons, and a trigger body runs to its END. Text
// after an unterminated quote or comment ends no statement.
std::vector<std::size_t> statement_ends(std::string_view s) {
  std::vector<std::size_t> ends;
  State state = initial;
  std::size_t i = 0;
  // Moves i past `closing`, searched from `from`; false when it never comes.
  const auto skip_past = [&](std::string_view closing, std::size_t from) {
    const auto at = s.find(closing, from);
    if (at == std::string_view::npos) return false;
    i = at + closing.size();
    return true;
  };
  while (i < s.size()) {
    const char c = s[i];
    const char next = i + 1 < s.size() ? s[i + 1] : '\0';
    Token token = other;
    if (c == ';') {
      token = semi;
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      token = space;
      ++i;
    } else if (c == '/' && next == '*') {
      if (!skip_past("*/", i + 2)) break;
      token = space;
    } else if (c == '-' && next == '-') {
      if (!skip_past("\n", i + 2)) break;
      token = space;
    } else if (c == '\'' || c == '"' || c == '`') {
      if (!skip_past(std::string_view(&s[i], 1), i + 1)) break;
    } else if (c == '[') {
      if (!skip_past("]", i + 1)) break;
    } else if (is_identifier_char(c)) {
      auto j = i + 1;
      while (j < s.size() && is_identifier_char(s[j])) ++j;
      token = classify_word(s.substr(i, j - i));
      i = j;
    } else {
      ++i;
    }
    state = kNext[state][token];
    if (token == semi && state == start) {
      ends.push_back(i);
      state = initial;
    }
  }
  return ends;
}

}  // namespace

bool is_blank_sql(std::string_view text) {
  return skip_space_and_comments(text, 0) == text.size();
}

std::vector<SqlStatement> split_statements(std::string_view text, int first_line) {
  std::vector<SqlStatement> out;
  std::size_t start = 0;
  int start_line = first_line;
  const auto emit = [&](std::size_t end) {
    const auto piece = text.substr(start, end - start);
    const auto lead = skip_space_and_comments(piece, 0);
    if (lead < piece.size()) {
      out.push_back({std::string(piece.substr(lead)), start_line + count_lines(piece.substr(0, lead))});
    }
    start_line += count_lines(piece);
    start = end;
  };
  for (const auto end : statement_ends(text)) emit(end);
  emit(text.size());
  return out;
}

std::vector<std::string> leading_words(std::string_view sql, std::size_t count) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (words.size() < count) {
    i = skip_space_and_comments(sql, i);
    std::string word;
    while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_'))
      word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
    if (word.empty()) {
      // Punctuation such as '=' or '.' separates words; skip one character of it.
      if (i >= sql.size() || sql[i] == ';') break;
      ++i;
      continue;
    }
    words.push_back(std::move(word));
  }
  return words;
}

std::size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    std::size_t len = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are invalid.
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace sqlkeeper::core
