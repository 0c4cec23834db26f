#include "sqlkeeper/config/config.h"

#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sqlkeeper/config/command.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/printable.h"

namespace po = boost::program_options;

namespace sqlkeeper::config {
namespace {

using Apply = std::function<std::optional<std::string>(Config&, const std::string&)>;

Apply path_option(std::filesystem::path Config::*field) {
  return [field](Config& c, const std::string& text) -> std::optional<std::string> {
    if (text.empty()) return "a path";
    if (text.find('\0') != std::string::npos) return "a path without NUL bytes";
    c.*field = std::filesystem::path(text);
    return std::nullopt;
  };
}

Apply optional_path_option(std::filesystem::path Config::*field) {
  return [field](Config& c, const std::string& text) -> std::optional<std::string> {
    if (text.find('\0') != std::string::npos) return "a path without NUL bytes";
    c.*field = std::filesystem::path(text);
    return std::nullopt;
  };
}

Apply socket_path_option(std::filesystem::path Config::*field) {
  return [field](Config& c, const std::string& text) -> std::optional<std::string> {
    // sockaddr_un.sun_path is 108 bytes including the terminating NUL.
    if (text.empty() || text.size() > 107) return "a socket path of 1 to 107 bytes";
    c.*field = std::filesystem::path(text);
    return std::nullopt;
  };
}

Apply int_option(int Config::*field, int min, int max) {
  return [=](Config& c, const std::string& text) -> std::optional<std::string> {
    const auto expected = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    std::size_t used = 0;
    long value = 0;
    try {
      value = std::stol(text, &used);
    } catch (const std::exception&) {
      return expected;
    }
    if (used != text.size() || value < min || value > max) return expected;
    c.*field = static_cast<int>(value);
    return std::nullopt;
  };
}

Apply duration_option(Duration Config::*field, Duration min, Duration max) {
  return [=](Config& c, const std::string& text) -> std::optional<std::string> {
    const auto d = parse_duration(text);
    if (!d || *d < min || *d > max)
      return "a duration from " + format_duration(min) + " to " + format_duration(max) +
             " such as 90s, 5min, 1h30min or 30d";
    c.*field = *d;
    return std::nullopt;
  };
}

// Permission bits within `widest`, always letting the owner (sqlkeeper) read and write.
Apply mode_option(unsigned Config::*field, unsigned widest, const char* example) {
  return [=](Config& c, const std::string& text) -> std::optional<std::string> {
    const auto m = parse_mode(text);
    if (!m || (*m & ~widest) != 0 || (*m & 0600) != 0600)
      return "an octal mode within " + format_mode(widest) + " that lets the owner read and write, such as " + example;
    c.*field = *m;
    return std::nullopt;
  };
}

Apply bool_option(bool Config::*field) {
  return [field](Config& c, const std::string& text) -> std::optional<std::string> {
    const auto b = parse_bool(text);
    if (!b) return "true or false";
    c.*field = *b;
    return std::nullopt;
  };
}

std::optional<std::string> apply_log_level(Config& c, const std::string& text) {
  static const char* const levels[] = {"trace", "debug", "info", "warning", "error", "critical", "off"};
  for (const char* level : levels) {
    if (text == level) {
      c.log_level = text;
      return std::nullopt;
    }
  }
  return "one of trace, debug, info, warning, error, critical, off";
}

std::optional<std::string> apply_log_format(Config& c, const std::string& text) {
  if (text != "text" && text != "json") return "text or json";
  c.log_format = text;
  return std::nullopt;
}

Apply group_option(std::string Config::*field) {
  return [field](Config& c, const std::string& text) -> std::optional<std::string> {
    for (char ch : text)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.'))
        return "a group name (letters, digits, '_', '-', '.') or empty";
    c.*field = text;
    return std::nullopt;
  };
}

std::optional<std::string> apply_backup_at(Config& c, const std::string& text) {
  const auto t = parse_time_of_day(text);
  if (!t) return "a local time of day HH:MM such as 03:30";
  c.backup_at = *t;
  return std::nullopt;
}

std::optional<std::string> apply_backup_interval(Config& c, const std::string& text) {
  if (text == "off" || text == "0") {
    c.backup_interval = Duration{0};
    return std::nullopt;
  }
  const auto d = parse_duration(text);
  if (!d || *d < std::chrono::seconds(1) || *d > std::chrono::days(7))
    return "off, or a duration from 1s to 7d such as 1h or 15min";
  c.backup_interval = *d;
  return std::nullopt;
}

std::optional<std::string> apply_post_backup_command(Config& c, const std::string& text) {
  const auto words = split_command(text);
  if (!words) return "a command line with balanced quotes, such as: /usr/bin/rclone copy %f remote:backups";
  c.post_backup_command = *words;
  return std::nullopt;
}

std::optional<std::string> apply_wal_max(Config& c, const std::string& text) {
  const auto s = parse_size(text);
  if (!s || *s < (1ULL << 20)) return "a size of at least 1MiB such as 64MiB or 1GB";
  c.wal_max_bytes = *s;
  return std::nullopt;
}

std::optional<std::string> apply_archive_segment_size(Config& c, const std::string& text) {
  const auto s = parse_size(text);
  if (!s || *s < (64ULL << 10) || *s > (1ULL << 30)) return "a size from 64KiB to 1GiB such as 16MiB";
  c.archive_segment_size = *s;
  return std::nullopt;
}

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

std::vector<OptionSpec> make_table() {
  return {
      {"database", "/var/lib/sqlkeeper/app.db", "the SQLite database file sqlkeeper keeps", false,
       path_option(&Config::database)},
      {"migrations", "/usr/share/sqlkeeper/migrations",
       "folder of NNNN_name.sql files, or a drizzle-kit folder with meta/_journal.json", false,
       path_option(&Config::migrations)},
      {"backup-dir", "/var/lib/sqlkeeper/backups", "where backups are written", false,
       path_option(&Config::backup_dir)},
      {"backup-at", "03:00", "local time of day of the nightly backup (HH:MM)", true, apply_backup_at},
      {"backup-interval", "off",
       "also back up this often between the nightly backups, e.g. 1h or 15min (off: nightly only)", true,
       apply_backup_interval},
      {"retention-days", "30",
       "backups older than this many days, counted from the newest verified backup, are pruned", true,
       int_option(&Config::retention_days, 1, 36500)},
      {"retention-min-count", "7", "the newest this many verified backups are never pruned", true,
       int_option(&Config::retention_min_count, 1, 10000)},
      {"keep-hourly", "0", "also keep the newest backup of each of the newest this many hours that have one", true,
       int_option(&Config::keep_hourly, 0, 100000)},
      {"keep-daily", "0", "also keep the newest backup of each of the newest this many days that have one", true,
       int_option(&Config::keep_daily, 0, 100000)},
      {"keep-weekly", "0", "also keep the newest backup of each of the newest this many weeks that have one", true,
       int_option(&Config::keep_weekly, 0, 100000)},
      {"keep-monthly", "0", "also keep the newest backup of each of the newest this many months that have one", true,
       int_option(&Config::keep_monthly, 0, 100000)},
      {"keep-pre-migration", "5", "pre-migration (and pre-restore) copies kept, the newest first", true,
       int_option(&Config::keep_pre_migration, 1, 10000)},
      {"checkpoint-interval", "5min", "how often the WAL is checkpointed", true,
       duration_option(&Config::checkpoint_interval, seconds(1), hours(24))},
      {"wal-max-bytes", "64MiB", "a WAL larger than this makes the health degraded", true, apply_wal_max},
      {"socket", "/run/sqlkeeper/sqlkeeper.sock", "the health socket (unless systemd passes one)", false,
       socket_path_option(&Config::socket)},
      {"socket-mode", "0660", "permissions of the health socket", false,
       // Connecting needs only write permission: execute bits mean nothing on a socket.
       mode_option(&Config::socket_mode, 0666, "0660")},
      {"admin-group", "", "members of this group may POST admin actions on the socket", true,
       group_option(&Config::admin_group)},
      {"file-mode", "0600", "permissions of a database file sqlkeeper creates", false,
       // SQLite gives -wal and -shm the database's mode: execute or setuid bits would spread.
       mode_option(&Config::file_mode, 0666, "0600")},
      {"log-level", "info", "trace, debug, info, warning, error, critical or off", true, apply_log_level},
      {"log-format", "text",
       "text: one readable line per event (with journald's priority prefixes under systemd); json: one JSON object "
       "per line for log collectors",
       false, apply_log_format},
      {"post-backup-command", "",
       "run after each new verified backup, without a shell; %f is the backup's path (else it comes last)", true,
       apply_post_backup_command},
      {"post-backup-timeout", "1h", "post-backup-command is stopped after this long and counts as failed", true,
       duration_option(&Config::post_backup_timeout, seconds(1), days(1))},
      {"migrate-on-start", "true", "apply pending migrations before reporting ready", false,
       bool_option(&Config::migrate_on_start)},
      {"allow-out-of-order", "false", "apply a pending migration older than the newest applied one instead of refusing",
       false, bool_option(&Config::allow_out_of_order)},
      {"busy-timeout", "5s", "how long a connection waits for a lock held by the application", false,
       duration_option(&Config::busy_timeout, milliseconds(0), minutes(10))},
      {"idle-timeout", "30s", "a health-socket connection silent this long is closed", false,
       duration_option(&Config::idle_timeout, milliseconds(100), hours(1))},
      {"max-connections", "64", "health-socket connections served at once", false,
       int_option(&Config::max_connections, 1, 10000)},
      {"lock-timeout", "2min", "how long to wait for another sqlkeeper migrating or backing up the same files", true,
       duration_option(&Config::lock_timeout, milliseconds(0), hours(24))},
      {"quick-check-interval", "1h",
       "how often PRAGMA quick_check reads the whole database to find damage early (0 turns it off)", true,
       duration_option(&Config::quick_check_interval, milliseconds(0), days(30))},
      {"verify-interval", "7d",
       "how often each kept backup is read again and compared with its checksum, one file at a time (0 turns it "
       "off)",
       true, duration_option(&Config::verify_interval, milliseconds(0), days(366))},
      {"checkpoint-busy-wait", "200ms",
       "how long a checkpoint may wait for readers while the applications' writers wait for it", true,
       duration_option(&Config::checkpoint_busy_wait, milliseconds(0), seconds(10))},
      {"app-group", "", "the application's group when it shares the database with sqlkeeper (check-config checks it)",
       true, group_option(&Config::app_group)},
      {"archive", "true",
       "archive every committed transaction continuously, for restore --at any second since the oldest kept backup",
       false, bool_option(&Config::archive)},
      {"archive-dir", "", "where the WAL archive goes (empty: the folder wal in backup-dir)", false,
       optional_path_option(&Config::archive_dir)},
      {"archive-interval", "1s", "the longest a committed transaction waits before it is on disk in the archive", false,
       duration_option(&Config::archive_interval, milliseconds(100), minutes(1))},
      {"archive-max-lag", "1min",
       "archiving that has failed this long ends the archive's chain and makes the health failing", false,
       duration_option(&Config::archive_max_lag, seconds(5), hours(24))},
      {"archive-segment-size", "16MiB",
       "an archive segment is sealed (and compressed) once the records it holds pass this size, uncompressed; "
       "retention inside a chain deletes whole segments",
       false, apply_archive_segment_size},
      {"archive-drill-interval", "1d",
       "how often the daemon restores a random past second of the archive into scratch space and checks it (0 "
       "turns it off)",
       false, duration_option(&Config::archive_drill_interval, milliseconds(0), days(366))},
  };
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Program_options does not report line numbers; find the line that sets `key`
// (the last one, since a later line overrides an earlier one).
std::map<std::string, int> key_lines(const std::string& text) {
  std::map<std::string, int> lines;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';' || t[0] == '[') continue;
    const auto eq = t.find('=');
    lines[trim(eq == std::string::npos ? t : t.substr(0, eq))] = n;
  }
  return lines;
}

// The file's text, read once. Checked first: a directory opens and reads as an
// empty file (which would pass for a valid configuration), and a FIFO would block.
std::string read_text(const std::filesystem::path& file) {
  const auto fail = [&](const std::string& why) {
    return Error(ErrorCode::config, "config file " + file.string() + ": " + why);
  };
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw fail(std::string("cannot be read: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw fail("is a directory, expected a file");
  if (!S_ISREG(st.st_mode)) throw fail("is not a regular file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw fail(std::string("cannot be read: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A value quoted as a whole, "..." or '...', loses its quotes, as in the shell and
// in systemd's EnvironmentFile=; nothing inside is unescaped.
std::string unquote(const std::string& value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
    return value.substr(1, value.size() - 2);
  return value;
}

std::string syntax_problem(po::invalid_syntax::kind_t kind) {
  switch (kind) {
    case po::invalid_syntax::unrecognized_line: return "a line that is not 'key = value', a [section] or a comment";
    case po::invalid_syntax::empty_adjacent_parameter: return "an empty key";
    default: return "invalid syntax";
  }
}

// At most 80 bytes, with control and non-ASCII bytes as \xNN: a message must not
// carry a terminal escape or a forged log line out of a hostile file.
std::string printable(const std::string& text) {
  std::string out;
  for (const char ch : text.substr(0, 80)) append_printable(out, ch);
  return out;
}

po::options_description file_description() {
  po::options_description desc;
  for (const auto& spec : option_table()) desc.add_options()(spec.name, po::value<std::string>());
  return desc;
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = make_table();
  return table;
}

const OptionSpec* find_option(const std::string& name) {
  for (const auto& spec : option_table())
    if (name == spec.name) return &spec;
  return nullptr;
}

Config resolve(const Settings& settings) {
  Config config;
  for (const auto& spec : option_table()) {
    const auto it = settings.find(spec.name);
    const Setting setting = it != settings.end() ? it->second : Setting{spec.default_value, "default"};
    if (auto expected = spec.apply(config, setting.value)) {
      throw Error(ErrorCode::config, "option '" + std::string(spec.name) + "' from " + setting.source +
                                         ": invalid value '" + setting.value + "', expected " + *expected);
    }
  }
  return config;
}

std::string option_name_from_env(const std::string& variable) {
  static const std::string prefix = "SQLKEEPER_";
  if (variable.rfind(prefix, 0) != 0) return {};
  std::string name = variable.substr(prefix.size());
  for (auto& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string env_name_for_option(const std::string& name) {
  std::string env = "SQLKEEPER_";
  for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

void read_config_file(const std::filesystem::path& file, Settings& into) {
  const auto text = read_text(file);
  const auto lines = key_lines(text);
  const auto where = [&](const std::string& key) {
    // Under an INI [section], Program_options names the key "section.key".
    auto it = lines.find(key);
    if (it == lines.end() && key.find('.') != std::string::npos) it = lines.find(key.substr(key.rfind('.') + 1));
    return file.string() + (it != lines.end() ? ":" + std::to_string(it->second) : "");
  };
  try {
    std::istringstream in(text);
    const auto parsed = po::parse_config_file(in, file_description(), false);
    for (const auto& option : parsed.options) {
      into[option.string_key] =
          Setting{option.value.empty() ? "" : unquote(option.value.front()), where(option.string_key)};
    }
  } catch (const po::unknown_option& e) {
    throw Error(ErrorCode::config, where(e.get_option_name()) + ": unknown option '" + e.get_option_name() + "'");
  } catch (const po::invalid_config_file_syntax& e) {
    // Never e.what(): Boost 1.81 substitutes "%...%" placeholders in a loop that
    // never ends when the file's own text holds one (found by fuzz_config).
    throw Error(ErrorCode::config, "config file " + file.string() + ": " + syntax_problem(e.kind()) + ": '" +
                                       printable(e.tokens()) + "'");
  } catch (const po::error&) {
    throw Error(ErrorCode::config, "config file " + file.string() + ": not a configuration file of key = value lines");
  }
}

Loaded load(const std::map<std::string, std::string>& flags, const std::optional<std::filesystem::path>& file,
            const std::vector<std::string>& env) {
  Loaded loaded;
  loaded.file = file;
  if (file) read_config_file(*file, loaded.settings);
  for (const auto& entry : env) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    const auto variable = entry.substr(0, eq);
    const auto name = option_name_from_env(variable);
    if (name.empty() || name == "config") continue;
    if (!find_option(name))
      throw Error(ErrorCode::config, "environment variable " + variable + ": unknown option '" + name + "'");
    loaded.settings[name] = Setting{entry.substr(eq + 1), "env " + variable};
  }
  for (const auto& [name, value] : flags) {
    if (!find_option(name)) throw Error(ErrorCode::config, "--" + name + ": unknown option");
    loaded.settings[name] = Setting{value, "--" + name};
  }
  // The application's own setting names the database when no sqlkeeper option
  // does, so one EnvironmentFile= serves both units.
  if (loaded.settings.count("database") == 0)
    for (const auto& entry : env)
      if (entry.rfind("DATABASE_PATH=", 0) == 0 && entry.size() > 14)
        loaded.settings["database"] = Setting{entry.substr(14), "env DATABASE_PATH"};
  for (const auto& spec : option_table())
    loaded.settings.try_emplace(spec.name, Setting{spec.default_value, "default"});
  loaded.config = resolve(loaded.settings);
  return loaded;
}

std::string describe(const Settings& settings) {
  std::ostringstream out;
  for (const auto& spec : option_table()) {
    const auto it = settings.find(spec.name);
    const Setting s = it != settings.end() ? it->second : Setting{spec.default_value, "default"};
    std::string line = std::string(spec.name) + " = " + s.value;
    if (line.size() < 48) line.resize(48, ' ');
    out << line << " # " << s.source << "\n";
  }
  return out.str();
}

std::string sample_file() {
  std::ostringstream out;
  out << "# sqlkeeper configuration (INI). Every option is shown at its default, commented out.\n"
         "# Precedence: built-in defaults < this file < SQLKEEPER_<OPTION> environment variables\n"
         "# < command-line flags. `sqlkeeper check-config --config FILE` validates a file and\n"
         "# prints the effective values with their sources. Durations: 90s, 5min, 1h30min, 30d.\n"
         "# Sizes: 64MiB, 1GB. Modes: octal, 0660. A value may be quoted as a whole, \"...\" or\n"
         "# '...', and the quotes are not part of it. '#' starts a comment anywhere on a line.\n";
  for (const auto& spec : option_table()) {
    out << "\n# " << spec.help << (spec.live ? "" : " (restart to change)") << "\n#" << spec.name << " = "
        << spec.default_value << "\n";
  }
  return out.str();
}

Settings merge_live(const Settings& running, const Settings& fresh) {
  Settings merged = fresh;
  for (const auto& spec : option_table()) {
    if (spec.live) continue;
    if (const auto it = running.find(spec.name); it != running.end())
      merged[spec.name] = it->second;
    else
      merged.erase(spec.name);
  }
  return merged;
}

std::vector<std::string> changes_needing_restart(const Settings& before, const Settings& after) {
  std::vector<std::string> names;
  for (const auto& spec : option_table()) {
    if (spec.live) continue;
    const auto a = before.find(spec.name);
    const auto b = after.find(spec.name);
    const std::string va = a != before.end() ? a->second.value : spec.default_value;
    const std::string vb = b != after.end() ? b->second.value : spec.default_value;
    if (va != vb) names.emplace_back(spec.name);
  }
  return names;
}

std::filesystem::path archive_folder(const Config& config) {
  return config.archive_dir.empty() ? config.backup_dir / "wal" : config.archive_dir;  // backup/catalog.h kArchiveFolderName
}

}  // namespace sqlkeeper::config
