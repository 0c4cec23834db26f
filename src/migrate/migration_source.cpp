#include "sqlkeeper/migrate/migration_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"
#include "sqlkeeper/printable.h"

namespace sqlkeeper::core {
namespace {

constexpr std::string_view kBreakpoint = "--> statement-breakpoint";
constexpr std::string_view kDirectivePrefix = "-- sqlkeeper:";

Error migration_error(const std::string& message) {
  return Error(ErrorCode::migration, message);
}

const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Reads a regular file (symlinks followed) of at most kMaxMigrationFileBytes.
// `what` names it in errors ("migration /m/0001_a.sql"). O_NONBLOCK keeps open()
// from waiting for a FIFO's writer; the type check then refuses the FIFO, a
// device such as /dev/zero, or a directory before anything is read.
std::string read_file(const std::filesystem::path& path, const std::string& what) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    const int err = errno;
    throw Error(ErrorCode::migration,
                what + ": cannot open: " + (err == ELOOP ? "symbolic link loop" : std::strerror(err)), 0, err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw Error(ErrorCode::migration, what + ": " + std::strerror(errno), 0, errno);
  if (!S_ISREG(st.st_mode))
    throw Error(ErrorCode::migration,
                what + " is " + file_type_name(st.st_mode) + "; only regular files (or links to them) are read");
  const auto too_big = [&] {
    return Error(ErrorCode::migration, what + " is larger than " + std::to_string(kMaxMigrationFileBytes >> 20) +
                                           " MiB; sqlkeeper does not read files that big");
  };
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxMigrationFileBytes) throw too_big();
  // The size can change between fstat and read (and is 0 for some special
  // "regular" files), so the limit holds for the bytes actually read.
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t used = 0;
  for (;;) {
    if (used == text.size()) {
      if (text.size() > kMaxMigrationFileBytes) throw too_big();
      text.resize(std::min<std::size_t>(std::max<std::size_t>(text.size() * 2, 4096), kMaxMigrationFileBytes + 1));
    }
    const auto n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::migration, what + ": read failed: " + std::strerror(errno), 0, errno);
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  text.resize(used);
  return text;
}

// A file name as it can be shown in one log line: printable ASCII kept, every
// other byte escaped, so a name cannot forge or break a line.
std::string escaped_name(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      append_printable(out, c);
    }
  }
  return out + "\"";
}

int line_of(std::string_view text, std::size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

// Reads one file into a MigrationFile, checking what holds for both formats.
MigrationFile read_migration(const std::filesystem::path& path, std::int64_t key, MigrationFormat format) {
  MigrationFile file;
  file.key = key;
  file.name = path.filename().string();
  file.path = path;
  const std::string text = read_file(path, "migration " + path.string());
  if (const auto bad = find_invalid_utf8(text); bad != std::string::npos)
    throw migration_error("migration " + path.string() + ": not valid UTF-8 at byte " + std::to_string(bad) +
                          " (line " + std::to_string(line_of(text, bad)) + "); save it as UTF-8");
  if (text.find('\0') != std::string::npos)
    throw migration_error("migration " + path.string() + ": contains a NUL byte");
  file.sha256 = sha256_hex(text);
  file.directives = parse_directives(text, path.string());
  file.statements = format == MigrationFormat::drizzle ? split_drizzle(text) : split_statements(text);
  if (file.statements.empty())
    throw migration_error("migration " + path.string() + ": empty (no SQL statement); delete it or add SQL");
  return file;
}

MigrationSet load_plain(const std::filesystem::path& folder) {
  // Names end up in logs and in the bookkeeping table: a strict pattern keeps
  // a newline or a terminal escape out of both.
  static const std::regex name_re(R"(^([0-9]+)_([A-Za-z0-9_.-]+)\.sql$)");
  MigrationSet set{MigrationFormat::plain, folder, {}};
  std::map<std::int64_t, std::filesystem::path> by_version;
  std::vector<std::filesystem::path> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".sql") continue;
    names.push_back(entry.path());
  }
  std::sort(names.begin(), names.end());
  for (const auto& path : names) {
    const auto name = path.filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, name_re))
      throw migration_error("migration " + escaped_name(name) + " in " + folder.string() +
                            ": name must be NNNN_name.sql (a number, an underscore, a name of letters, digits, "
                            "'_', '.' and '-')");
    if (m[1].length() > 18) throw migration_error("migration " + path.string() + ": number too large");
    const std::int64_t version = std::stoll(m[1].str());
    if (auto [it, inserted] = by_version.emplace(version, path); !inserted)
      throw migration_error("migrations " + it->second.filename().string() + " and " + name + " have the same number " +
                            std::to_string(version));
  }
  for (const auto& [version, path] : by_version)
    set.files.push_back(read_migration(path, version, MigrationFormat::plain));
  return set;
}

MigrationSet load_drizzle(const std::filesystem::path& folder) {
  const auto journal_path = folder / "meta" / "_journal.json";
  MigrationSet set{MigrationFormat::drizzle, folder, {}};
  nlohmann::json journal;
  try {
    journal = nlohmann::json::parse(read_file(journal_path, "drizzle journal " + journal_path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw migration_error("drizzle journal " + journal_path.string() + ": not valid JSON: " + e.what());
  }
  const auto where = "drizzle journal " + journal_path.string();
  if (!journal.is_object() || !journal.contains("entries") || !journal["entries"].is_array())
    throw migration_error(where + ": has no \"entries\" array");
  if (journal.contains("dialect") && journal["dialect"] != "sqlite")
    throw migration_error(where + ": dialect is " + journal["dialect"].dump() + ", sqlkeeper needs \"sqlite\"");
  std::map<std::int64_t, std::string> seen_when;
  std::size_t index = 0;
  for (const auto& entry : journal["entries"]) {
    const auto entry_where = where + ": entry " + std::to_string(index++);
    if (!entry.is_object() || !entry.contains("tag") || !entry["tag"].is_string() || !entry.contains("when") ||
        !entry["when"].is_number_integer())
      throw migration_error(entry_where + " needs a string \"tag\" and an integer \"when\"");
    const auto tag = entry["tag"].get<std::string>();
    const auto when = entry["when"].get<std::int64_t>();
    // As strict as plain names (drizzle-kit's tags are like 0003_pink_sentinel),
    // and never a path: no '/', no "..".
    static const std::regex tag_re(R"(^[A-Za-z0-9_][A-Za-z0-9_.-]*$)");
    if (!std::regex_match(tag, tag_re) || tag.find("..") != std::string::npos)
      throw migration_error(entry_where + ": tag " + escaped_name(tag) +
                            " is not a plain file name (letters, digits, '_', '.' and '-')");
    if (auto [it, inserted] = seen_when.emplace(when, tag); !inserted)
      throw migration_error(where + ": entries " + it->second + " and " + tag + " have the same \"when\" " +
                            std::to_string(when));
    const auto path = folder / (tag + ".sql");
    // Only absence is checked here; read_migration refuses what is there but not a regular file.
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
      throw migration_error(where + ": entry " + tag + " has no file " + path.string());
    set.files.push_back(read_migration(path, when, MigrationFormat::drizzle));
  }
  // A late merge can leave an entry after a newer one in the journal (git puts
  // both branches' entries one after the other). Order by `when`, the key the
  // plan reasons with, so such an entry is reported as out-of-order (and can be
  // applied with --allow-out-of-order) instead of making the folder unreadable.
  std::stable_sort(set.files.begin(), set.files.end(),
                   [](const MigrationFile& a, const MigrationFile& b) { return a.key < b.key; });
  return set;
}

}  // namespace

const char* to_string(MigrationFormat f) {
  return f == MigrationFormat::drizzle ? "drizzle" : "plain";
}

MigrationDirectives parse_directives(std::string_view text, const std::string& file) {
  MigrationDirectives d;
  std::size_t pos = 0;
  int line = 0;
  while (pos <= text.size()) {
    ++line;
    const auto nl = text.find('\n', pos);
    auto l = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    // Case-insensitive, like SQL itself: "-- SQLKeeper: ..." must not be silently ignored.
    if (ascii_lower(l.substr(0, kDirectivePrefix.size())) != kDirectivePrefix) continue;
    std::istringstream words{std::string(l.substr(kDirectivePrefix.size()))};
    for (std::string word; words >> word;) {
      const auto eq = word.find('=');
      const auto name = word.substr(0, eq);
      if (name == "no-transaction") {
        d.no_transaction = true;
      } else if (name == "foreign-keys-off") {
        d.foreign_keys_off = true;
      } else if (name == "allow-row-loss") {
        if (eq == std::string::npos) {
          d.allow_row_loss_all = true;
        } else {
          std::istringstream tables(word.substr(eq + 1));
          for (std::string t; std::getline(tables, t, ',');)
            if (!t.empty()) d.allow_row_loss.insert(ascii_lower(t));
        }
      } else {
        throw migration_error("migration " + file + ":" + std::to_string(line) + ": unknown sqlkeeper directive '" +
                              name + "' (known: no-transaction, foreign-keys-off, allow-row-loss[=t1,t2])");
      }
    }
  }
  return d;
}

std::vector<SqlStatement> split_drizzle(std::string_view text) {
  // drizzle splits on the literal marker, not on SQL syntax; do the same, then
  // let each chunk hold one or more complete statements.
  std::vector<SqlStatement> out;
  std::size_t start = 0;
  int line = 1;  // of text[start]; counted chunk by chunk to keep this one pass
  for (;;) {
    const auto at = text.find(kBreakpoint, start);
    const auto chunk = text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start);
    for (auto& s : split_statements(chunk, line)) out.push_back(std::move(s));
    if (at == std::string_view::npos) break;
    line += static_cast<int>(std::count(chunk.begin(), chunk.end(), '\n'));
    start = at + kBreakpoint.size();
  }
  return out;
}

MigrationSet load_migrations(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    throw migration_error("migrations folder " + folder.string() + " does not exist or is not a directory");
  try {
    // Anything named _journal.json makes a drizzle folder; its reader then says
    // what is wrong with it (a dangling link, a FIFO...).
    if (std::filesystem::exists(std::filesystem::symlink_status(folder / "meta" / "_journal.json", ec)))
      return load_drizzle(folder);
    return load_plain(folder);
  } catch (const std::filesystem::filesystem_error& e) {
    throw Error(ErrorCode::io, "reading migrations folder " + folder.string() + ": " + e.what());
  }
}

}  // namespace sqlkeeper::core
