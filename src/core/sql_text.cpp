#include "sqlkeeper/core/sql_text.h"

#include <sqlite3.h>

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
  for (std::size_t i = text.find(';'); i != std::string_view::npos; i = text.find(';', i + 1)) {
    const std::string candidate(text.substr(start, i + 1 - start));
    // sqlite3_complete knows about quotes, comments and CREATE TRIGGER bodies.
    if (sqlite3_complete(candidate.c_str())) emit(i + 1);
  }
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
