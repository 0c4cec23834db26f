#pragma once
// The effective configuration and the one table that describes every option:
// its name, default, meaning, whether it can change on reload, and how its text
// is validated and stored. Program_options, `check-config`, the sample file and
// the docs all come from that table.
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/config/units.h"

namespace sqlkeeper::config {

struct Config {
  std::filesystem::path database;
  std::filesystem::path migrations;
  std::filesystem::path backup_dir;
  TimeOfDay backup_at;
  Duration backup_interval{};  // 0: nightly only
  int retention_days = 0;
  int retention_min_count = 0;
  int keep_hourly = 0;
  int keep_daily = 0;
  int keep_weekly = 0;
  int keep_monthly = 0;
  int keep_pre_migration = 0;
  Duration checkpoint_interval{};
  std::uint64_t wal_max_bytes = 0;
  std::filesystem::path socket;
  unsigned socket_mode = 0;
  std::string admin_group;
  unsigned file_mode = 0;
  std::string log_level;
  std::string log_format;                        // text or json
  std::vector<std::string> post_backup_command;  // words; empty: none
  Duration post_backup_timeout{};
  bool migrate_on_start = true;
  bool allow_out_of_order = false;
  Duration busy_timeout{};
  Duration idle_timeout{};
  int max_connections = 0;
  Duration lock_timeout{};
  Duration quick_check_interval{};  // 0: off
  Duration verify_interval{};       // each kept backup re-hashed at least this often; 0: off
  Duration checkpoint_busy_wait{};
  std::string app_group;
  bool archive = true;                // the continuous WAL archive (archive/archiver.h)
  std::filesystem::path archive_dir;  // empty: <backup-dir>/wal (archive_folder())
  Duration archive_interval{};        // the longest a commit waits to be durable in the archive
  std::uint64_t archive_segment_size = 0;  // a segment is sealed past this
  Duration archive_drill_interval{};  // a restore drill of a random past second this often; 0: off
  Duration archive_max_lag{};         // archiving failing this long ends the chain: failing health
};

// Where the WAL archive goes: archive-dir, or "wal" in the backup folder.
std::filesystem::path archive_folder(const Config& config);

struct OptionSpec {
  const char* name;
  const char* default_value;
  const char* help;
  bool live;  // takes effect on reload without a restart
  // Stores `text` into the config; returns what was expected when it is invalid.
  std::function<std::optional<std::string>(Config&, const std::string& text)> apply;
};

const std::vector<OptionSpec>& option_table();
const OptionSpec* find_option(const std::string& name);

// Where a value came from, for error messages and `check-config`:
// "default", "/etc/sqlkeeper.conf:12", "env SQLKEEPER_DATABASE", "--database".
struct Setting {
  std::string value;
  std::string source;
};
using Settings = std::map<std::string, Setting>;

// Pure: turns layered settings into a Config. Throws Error(config) naming the
// option, its bad value and its source on the first invalid value.
Config resolve(const Settings& settings);

// "SQLKEEPER_BACKUP_DIR" -> "backup-dir"; empty when not ours.
std::string option_name_from_env(const std::string& variable);
std::string env_name_for_option(const std::string& name);

struct Loaded {
  Config config;
  Settings settings;
  std::optional<std::filesystem::path> file;
};

// Layers defaults < config file < environment < command-line flags. `flags` holds
// the options given on the command line (name -> text); `env` the process
// environment (NAME=value strings). Throws Error(config) with the source named.
Loaded load(const std::map<std::string, std::string>& flags, const std::optional<std::filesystem::path>& file,
            const std::vector<std::string>& env);

// Reads a config file into settings; unknown keys and syntax errors name file:line.
void read_config_file(const std::filesystem::path& file, Settings& into);

// Lines for `check-config`: "name = value    # source".
std::string describe(const Settings& settings);

// A commented configuration file with every option at its default (etc/sqlkeeper.conf).
std::string sample_file();

// The settings a running daemon adopts on reload: `fresh` for live options, and
// `running` for those that wait for a restart (so the next reload names them again).
Settings merge_live(const Settings& running, const Settings& fresh);

// Which of the options that differ between two configs need a restart.
std::vector<std::string> changes_needing_restart(const Settings& before, const Settings& after);

}  // namespace sqlkeeper::config
