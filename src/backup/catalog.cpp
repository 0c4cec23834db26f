#include "sqlkeeper/backup/catalog.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "sqlkeeper/printable.h"

namespace sqlkeeper::core {
namespace {

// Text from a sidecar, safe in one line of a message.
std::string shown(const std::string& text) {
  std::string out;
  for (const char c : text) append_printable(out, c);
  return out;
}


constexpr std::size_t kStampLength = 16;  // yyyymmddThhmmssZ
constexpr std::uintmax_t kMaxSidecarBytes = 64 * 1024;

bool is_hex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// Fills the entry's sidecar fields from "<file>.sha256". A symlink there is not
// ours (never followed); a sidecar past the size limit or unreadable is damaged.
void read_sidecar_of(CatalogEntry& e) {
  const auto path = std::filesystem::path(e.file.string() + ".sha256");
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(path, ec);
  if (!std::filesystem::exists(status)) return;
  e.sidecar_exists = true;
  if (!std::filesystem::is_regular_file(status)) {
    e.sidecar_problem = "its sidecar " + path.filename().string() + " is not a regular file";
    return;
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxSidecarBytes) {
    e.sidecar_problem = "its sidecar " + path.filename().string() + " is " +
                        (ec ? "unreadable: " + ec.message() : "larger than a sidecar can be");
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    e.sidecar_problem = "its sidecar " + path.filename().string() + " could not be read";
    return;
  }
  auto parsed = read_sidecar_text(text.str(), e.file.filename().string());
  e.sidecar = std::move(parsed.sidecar);
  if (!e.sidecar) e.sidecar_problem = "its sidecar does not parse: " + parsed.problem;
}

bool is_our_temporary(const std::string& name, const std::string& stem) {
  // A backup or sidecar being written: "<backup>.tmp", "<backup>.tmp-journal",
  // "<backup>.sha256.tmp".
  for (const char* suffix : {".db.tmp", ".db.tmp-journal", ".db.tmp-wal", ".db.tmp-shm", ".db.sha256.tmp"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const auto base = name.substr(0, name.size() - s.size()) + ".db";
      return parse_backup_name(base, stem).has_value();
    }
  }
  return false;
}

}  // namespace

std::string Sidecar::field(const std::string& key) const {
  const auto it = fields.find(key);
  return it == fields.end() ? std::string() : it->second;
}

std::string format_sidecar(const Sidecar& sidecar) {
  std::string out = sidecar.sha256 + "  " + sidecar.file_name + "\n# sqlkeeper backup\n";
  for (const auto& [key, value] : sidecar.fields) {
    std::string clean = value;
    std::replace(clean.begin(), clean.end(), '\n', ' ');
    out += "# " + key + ": " + clean + "\n";
  }
  return out;
}

std::string database_identity(const std::filesystem::path& database) {
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(database, ec);
  return (ec ? database : absolute).lexically_normal().string();
}

std::optional<Sidecar> parse_sidecar(const std::string& text, const std::string& expected_file_name) {
  return read_sidecar_text(text, expected_file_name).sidecar;
}

ParsedSidecar read_sidecar_text(const std::string& text, const std::string& expected_file_name) {
  std::istringstream in(text);
  std::string first;
  if (!std::getline(in, first)) return {std::nullopt, "it is empty"};
  const auto gap = first.find("  ");
  if (gap == std::string::npos) return {std::nullopt, "its first line is not \"<sha256>  <file name>\""};
  Sidecar s;
  s.sha256 = first.substr(0, gap);
  s.file_name = first.substr(gap + 2);
  if (!is_hex64(s.sha256)) return {std::nullopt, "its checksum is not 64 lowercase hex digits"};
  if (s.file_name != expected_file_name)
    return {std::nullopt, "it names another file (" + shown(s.file_name) + ")"};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# ", 0) != 0) continue;
    const auto colon = line.find(": ", 2);
    if (colon == std::string::npos) continue;
    s.fields[line.substr(2, colon - 2)] = line.substr(colon + 2);
  }
  return {std::move(s), ""};
}

std::optional<BackupName> parse_backup_name(const std::string& name, const std::string& stem) {
  const std::string prefix = stem + "-";
  if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + kStampLength + 3) return std::nullopt;
  if (name.compare(name.size() - 3, 3, ".db") != 0) return std::nullopt;
  const auto stamp = name.substr(prefix.size(), kStampLength);
  // Exactly yyyymmddThhmmssZ: strptime alone would take blanks and longer years
  // (found by fuzz_catalog: "app-  261127T030000Z.db" read as the year 261127,
  // past what a time_point holds).
  for (std::size_t i = 0; i < stamp.size(); ++i) {
    const char c = stamp[i];
    if (i == 8 ? c != 'T' : i == 15 ? c != 'Z' : (c < '0' || c > '9')) return std::nullopt;
  }
  std::tm tm{};
  const char* end = strptime(stamp.c_str(), "%Y%m%dT%H%M%SZ", &tm);
  if (!end || *end != '\0') return std::nullopt;
  // A time_point of nanoseconds ends in 2262: years past 2200 are no backup of ours.
  if (tm.tm_year + 1900 < 1970 || tm.tm_year + 1900 > 2200) return std::nullopt;
  auto rest = name.substr(prefix.size() + kStampLength, name.size() - 3 - prefix.size() - kStampLength);
  BackupName out{std::chrono::system_clock::from_time_t(timegm(&tm)), ""};
  if (rest.empty()) return out;
  if (rest.front() != '-' || rest.size() < 2) return std::nullopt;
  rest.erase(0, 1);
  if (!std::all_of(rest.begin(), rest.end(), is_label_char)) return std::nullopt;
  // A trailing "-<n>" only tells apart two backups in one second; it is not part of the label.
  const auto dash = rest.rfind('-');
  const auto tail = dash == std::string::npos ? rest : rest.substr(dash + 1);
  if (!tail.empty() && std::all_of(tail.begin(), tail.end(), [](char c) { return c >= '0' && c <= '9'; }))
    rest = dash == std::string::npos ? "" : rest.substr(0, dash);
  out.label = rest;
  return out;
}

Catalog read_catalog(const std::filesystem::path& dir, const std::string& stem) {
  Catalog catalog;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return catalog;
  std::vector<std::string> names;
  for (const auto& entry : it) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const auto path = dir / name;
    if (name == kBackupLockName) continue;
    const auto status = std::filesystem::symlink_status(path, ec);
    const bool regular = std::filesystem::is_regular_file(status);
    // The WAL archive's folder by default (config::archive_folder): sqlkeeper's own.
    if (name == kArchiveFolderName && std::filesystem::is_directory(status)) continue;
    if (regular && is_our_temporary(name, stem)) {
      catalog.temporaries.push_back(path);
      continue;
    }
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".sha256") == 0 &&
        parse_backup_name(name.substr(0, name.size() - 7), stem) && regular &&
        std::find(names.begin(), names.end(), name.substr(0, name.size() - 7)) != names.end())
      continue;  // a sidecar, listed with its backup
    const auto parsed = regular ? parse_backup_name(name, stem) : std::nullopt;
    if (!parsed) {
      catalog.foreign.push_back(path);
      continue;
    }
    CatalogEntry e;
    e.file = path;
    e.name = *parsed;
    e.size = std::filesystem::file_size(path, ec);
    e.mtime = std::filesystem::last_write_time(path, ec);
    read_sidecar_of(e);
    catalog.backups.push_back(std::move(e));
  }
  // By time; within one second by the file's age ("-1" suffixes sort before the plain name).
  std::sort(catalog.backups.begin(), catalog.backups.end(), [](const CatalogEntry& a, const CatalogEntry& b) {
    if (a.name.at != b.name.at) return a.name.at < b.name.at;
    return a.mtime < b.mtime;
  });
  return catalog;
}

CatalogEntry describe_file(const std::filesystem::path& file) {
  CatalogEntry e;
  e.file = file;
  std::error_code ec;
  e.size = std::filesystem::file_size(file, ec);
  e.mtime = std::filesystem::last_write_time(file, ec);
  read_sidecar_of(e);
  return e;
}

const CatalogEntry* last_regular_backup(const Catalog& catalog) {
  for (auto it = catalog.backups.rbegin(); it != catalog.backups.rend(); ++it)
    if (it->name.label.empty() && it->verified()) return &*it;
  return nullptr;
}

}  // namespace sqlkeeper::core
