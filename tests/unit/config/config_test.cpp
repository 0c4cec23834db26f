#include "sqlkeeper/config/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sqlkeeper/error.h"

namespace sqlkeeper::config {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::config);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() /
            ("sqlkeeper-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".conf");
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(OptionTable, EveryDefaultPassesItsOwnValidation) {
  Config config;
  for (const auto& spec : option_table()) {
    EXPECT_FALSE(spec.apply(config, spec.default_value).has_value()) << spec.name;
    EXPECT_NE(std::string(spec.help), "") << spec.name;
  }
}

TEST(OptionTable, HasEveryOptionOfTheDesign) {
  for (const char* name : {"database", "migrations", "backup-dir", "backup-at", "retention-days", "retention-min-count",
                           "checkpoint-interval", "wal-max-bytes", "socket", "socket-mode", "admin-group", "file-mode",
                           "log-level", "post-backup-command", "migrate-on-start"})
    EXPECT_NE(find_option(name), nullptr) << name;
}

TEST(Load, TheApplicationsDatabasePathNamesTheDatabaseWhenNoOptionDoes) {
  auto loaded = load({}, std::nullopt, {"DATABASE_PATH=/srv/app/data/app.db"});
  EXPECT_EQ(loaded.config.database, "/srv/app/data/app.db");
  EXPECT_EQ(loaded.settings.at("database").source, "env DATABASE_PATH");
  EXPECT_NE(describe(loaded.settings).find("# env DATABASE_PATH"), std::string::npos);
  // Any sqlkeeper option wins over it.
  loaded = load({}, std::nullopt, {"DATABASE_PATH=/srv/app/data/app.db", "SQLKEEPER_DATABASE=/x/y.db"});
  EXPECT_EQ(loaded.config.database, "/x/y.db");
  loaded = load({{"database", "/z.db"}}, std::nullopt, {"DATABASE_PATH=/srv/app/data/app.db"});
  EXPECT_EQ(loaded.config.database, "/z.db");
  // An empty one is no setting at all.
  loaded = load({}, std::nullopt, {"DATABASE_PATH="});
  EXPECT_EQ(loaded.settings.at("database").source, "default");
}

TEST(Load, ScheduleRetentionAndPostBackupOptions) {
  auto loaded = load({{"backup-interval", "15min"},
                      {"keep-hourly", "24"},
                      {"keep-pre-migration", "3"},
                      {"post-backup-command", "/usr/bin/rclone copy %f 'remote:db backups'"}},
                     std::nullopt, {});
  EXPECT_EQ(loaded.config.backup_interval, std::chrono::minutes(15));
  EXPECT_EQ(loaded.config.keep_hourly, 24);
  EXPECT_EQ(loaded.config.keep_pre_migration, 3);
  EXPECT_EQ(loaded.config.post_backup_command,
            (std::vector<std::string>{"/usr/bin/rclone", "copy", "%f", "remote:db backups"}));
  loaded = load({}, std::nullopt, {});
  EXPECT_EQ(loaded.config.backup_interval, std::chrono::milliseconds(0));
  EXPECT_TRUE(loaded.config.post_backup_command.empty());
  EXPECT_NE(error_of([] { load({{"post-backup-command", "rclone 'copy"}}, std::nullopt, {}); })
                .find("option 'post-backup-command' from --post-backup-command: invalid value"),
            std::string::npos);
  EXPECT_NE(error_of([] { load({{"backup-interval", "100ms"}}, std::nullopt, {}); }).find("off, or a duration"),
            std::string::npos);
  EXPECT_NE(error_of([] { load({{"keep-pre-migration", "0"}}, std::nullopt, {}); }).find("from 1 to"),
            std::string::npos);
}

TEST(Load, ASyntaxErrorWithPlaceholderTextEndsInAnError) {
  // Found by fuzz_config: Boost's own message for this line never finished.
  TempFile file("[section]\nlog-leve006J\x01 %prefix% busy%invalid_line%-timeout\n");
  const auto error = error_of([&] { load({}, file.path(), {}); });
  EXPECT_NE(error.find("config file " + file.path().string() + ": a line that is not 'key = value'"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("\\x01"), std::string::npos) << error;
}

TEST(Load, DefaultsWhenNothingIsGiven) {
  const auto loaded = load({}, std::nullopt, {});
  EXPECT_EQ(loaded.config.database, "/var/lib/sqlkeeper/app.db");
  EXPECT_EQ(loaded.config.retention_days, 30);
  EXPECT_EQ(loaded.config.wal_max_bytes, 64ULL << 20);
  EXPECT_EQ(loaded.config.checkpoint_interval, std::chrono::minutes(5));
  EXPECT_EQ(loaded.config.file_mode, 0600u);
  EXPECT_EQ(loaded.config.socket_mode, 0660u);
  EXPECT_TRUE(loaded.config.migrate_on_start);
  EXPECT_EQ(loaded.settings.at("database").source, "default");
}

TEST(Load, PrecedenceIsDefaultsFileEnvFlags) {
  TempFile file("# comment\nretention-days = 10\nwal-max-bytes = 2MiB\nlog-level = debug\n");
  const auto loaded = load({{"log-level", "error"}}, file.path(),
                           {"SQLKEEPER_WAL_MAX_BYTES=8MiB", "SQLKEEPER_LOG_LEVEL=warning", "PATH=/bin"});
  EXPECT_EQ(loaded.config.retention_days, 10);
  EXPECT_EQ(loaded.settings.at("retention-days").source, file.path().string() + ":2");
  EXPECT_EQ(loaded.config.wal_max_bytes, 8ULL << 20);
  EXPECT_EQ(loaded.settings.at("wal-max-bytes").source, "env SQLKEEPER_WAL_MAX_BYTES");
  EXPECT_EQ(loaded.config.log_level, "error");
  EXPECT_EQ(loaded.settings.at("log-level").source, "--log-level");
}

TEST(Load, BadValueNamesOptionValueAndSource) {
  EXPECT_EQ(error_of([] {
              load({{"retention-days", "zero"}}, std::nullopt, {});
            }),
            "option 'retention-days' from --retention-days: invalid value 'zero', expected a whole number from 1 "
            "to 36500");
  EXPECT_NE(error_of([] {
              load({}, std::nullopt, {"SQLKEEPER_CHECKPOINT_INTERVAL=often"});
            }).find("from env SQLKEEPER_CHECKPOINT_INTERVAL: invalid value 'often'"),
            std::string::npos);
  TempFile file("\n\nfile-mode = 0444\n");
  EXPECT_NE(error_of([&] {
              load({}, file.path(), {});
            }).find("option 'file-mode' from " + file.path().string() + ":3: invalid value '0444'"),
            std::string::npos);
}

TEST(Load, UnknownKeysAreErrors) {
  TempFile file("database = /tmp/x.db\nretention = 5\n");
  EXPECT_EQ(error_of([&] { load({}, file.path(), {}); }), file.path().string() + ":2: unknown option 'retention'");
  EXPECT_EQ(error_of([] { load({}, std::nullopt, {"SQLKEEPER_RETENTION=5"}); }),
            "environment variable SQLKEEPER_RETENTION: unknown option 'retention'");
}

TEST(Load, MissingConfigFileIsAnError) {
  EXPECT_NE(error_of([] { load({}, std::filesystem::path("/nonexistent/sqlkeeper.conf"), {}); }).find("cannot be read"),
            std::string::npos);
}

TEST(Resolve, RejectsBadValuesOfEveryKind) {
  const std::pair<const char*, const char*> bad[] = {
      {"backup-at", "25:00"},        {"retention-days", "-1"},
      {"retention-min-count", "0"},  {"checkpoint-interval", "0s"},
      {"wal-max-bytes", "10kB"},     {"socket", ""},
      {"socket-mode", "0777x"},      {"admin-group", "wheel;rm"},
      {"file-mode", "0200"},         {"log-level", "loud"},
      {"migrate-on-start", "sure"},  {"busy-timeout", "1h"},
      {"max-connections", "100000"}, {"database", ""},
      {"app-group", "app group"},
  };
  for (const auto& [name, value] : bad) {
    Settings s{{name, {value, "test"}}};
    const auto message = error_of([&] { resolve(s); });
    EXPECT_NE(message.find(std::string("option '") + name + "'"), std::string::npos) << message;
  }
}

TEST(EnvNames, MapBothWays) {
  EXPECT_EQ(option_name_from_env("SQLKEEPER_BACKUP_DIR"), "backup-dir");
  EXPECT_EQ(option_name_from_env("HOME"), "");
  EXPECT_EQ(env_name_for_option("wal-max-bytes"), "SQLKEEPER_WAL_MAX_BYTES");
}

TEST(Reload, ReportsOnlyChangesThatNeedARestart) {
  Settings before{{"database", {"/a.db", "default"}}, {"log-level", {"info", "default"}}};
  Settings after{{"database", {"/b.db", "x"}}, {"log-level", {"debug", "x"}}};
  EXPECT_EQ(changes_needing_restart(before, after), std::vector<std::string>{"database"});
}

TEST(Describe, ListsEveryOptionWithItsSource) {
  const auto loaded = load({{"database", "/tmp/x.db"}}, std::nullopt, {});
  const auto text = describe(loaded.settings);
  EXPECT_NE(text.find("database = /tmp/x.db"), std::string::npos);
  EXPECT_NE(text.find("# --database"), std::string::npos);
  for (const auto& spec : option_table()) EXPECT_NE(text.find(std::string(spec.name) + " ="), std::string::npos);
}

}  // namespace
}  // namespace sqlkeeper::config

namespace sqlkeeper::config {
namespace {

TEST(SampleFile, CommittedSampleMatchesTheOptionTable) {
  std::ifstream in(std::filesystem::path(SQLKEEPER_SOURCE_DIR) / "etc" / "sqlkeeper.conf");
  const std::string committed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(committed, sample_file()) << "regenerate with: sqlkeeper check-config --sample > etc/sqlkeeper.conf";
}

TEST(SampleFile, UncommentedSampleLoadsToTheDefaults) {
  std::string text = sample_file();
  std::string uncommented;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    uncommented += (line.rfind("#", 0) == 0 && line.find(" = ") != std::string::npos ? line.substr(1) : line) + "\n";
  TempFile file(uncommented);
  const auto loaded = load({}, file.path(), {});
  EXPECT_EQ(loaded.config.database, load({}, std::nullopt, {}).config.database);
  EXPECT_EQ(loaded.settings.at("retention-days").source.rfind(file.path().string(), 0), 0u);
}

}  // namespace
}  // namespace sqlkeeper::config

namespace sqlkeeper::config {
namespace {

TEST(Reload, MergeTakesLiveOptionsAndKeepsTheRest) {
  const Settings running{{"database", {"/a.db", "--database"}}, {"log-level", {"info", "default"}}};
  const Settings fresh{{"database", {"/b.db", "f:1"}}, {"log-level", {"debug", "f:2"}}, {"socket", {"/s", "f:3"}}};
  const auto merged = merge_live(running, fresh);
  EXPECT_EQ(merged.at("database").value, "/a.db");
  EXPECT_EQ(merged.at("log-level").value, "debug");
  EXPECT_EQ(merged.count("socket"), 0u);  // not live, not set before: stays at its default
  EXPECT_EQ(changes_needing_restart(merged, fresh), (std::vector<std::string>{"database", "socket"}));
  EXPECT_EQ(resolve(merged).log_level, "debug");
}

}  // namespace
}  // namespace sqlkeeper::config

namespace sqlkeeper::config {
namespace {

TEST(Resolve, ModesArePermissionBitsWithin0666KeepingTheOwnersReadWrite) {
  for (const char* name : {"file-mode", "socket-mode"}) {
    for (const char* good : {"0600", "0640", "0660", "0666", "600"}) {
      Settings s{{name, {good, "test"}}};
      EXPECT_NO_THROW(resolve(s)) << name << " " << good;
    }
    for (const char* bad : {"7777", "0777", "0700", "0766", "2660", "4600", "1666", "0400", "0066"}) {
      Settings s{{name, {bad, "--" + std::string(name)}}};
      const auto message = error_of([&] { resolve(s); });
      EXPECT_EQ(message.rfind(std::string("option '") + name + "' from --" + name + ": invalid value '" + bad +
                                  "', expected an octal mode within 0666 that lets the owner read and write, such as ",
                              0),
                0u)
          << message;
    }
  }
  Settings s{{"file-mode", {"0666", "test"}}, {"socket-mode", {"0622", "test"}}};
  EXPECT_EQ(resolve(s).file_mode, 0666u);
  EXPECT_EQ(resolve(s).socket_mode, 0622u);
}

TEST(Load, QuotedFileValuesLoseTheirQuotes) {
  TempFile file(
      "database = \"/tmp/with space/app.db\"\n"
      "backup-dir = '/tmp/backups'\n"
      "log-level = \"debug\"\n"
      "admin-group = \"\"\n"
      "post-backup-command = \"rclone\" copy 'x'\n"
      "socket = \"/tmp/half.sock\n");
  const auto loaded = load({}, file.path(), {});
  EXPECT_EQ(loaded.config.database, "/tmp/with space/app.db");
  EXPECT_EQ(loaded.settings.at("database").value, "/tmp/with space/app.db");
  EXPECT_EQ(loaded.settings.at("database").source, file.path().string() + ":1");
  EXPECT_EQ(loaded.config.backup_dir, "/tmp/backups");
  EXPECT_EQ(loaded.config.log_level, "debug");
  EXPECT_EQ(loaded.config.admin_group, "");
  // Only quotes around the whole value are removed; a lone or inner quote stays.
  EXPECT_EQ(loaded.settings.at("post-backup-command").value, "\"rclone\" copy 'x'");
  EXPECT_EQ(loaded.config.socket, "\"/tmp/half.sock");
}

TEST(Load, EnvironmentAndFlagValuesKeepTheirQuotes) {
  // The shell and systemd already removed the quotes of these; what is left is meant.
  const auto loaded = load({{"socket", "'/tmp/s.sock'"}}, std::nullopt, {"SQLKEEPER_POST_BACKUP_COMMAND=\"x\""});
  EXPECT_EQ(loaded.config.socket, "'/tmp/s.sock'");
  EXPECT_EQ(loaded.settings.at("post-backup-command").value, "\"x\"");
}

TEST(Load, ConfigFileMustBeARegularFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("sqlkeeper-config-dir-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  EXPECT_EQ(error_of([&] { load({}, dir, {}); }), "config file " + dir.string() + ": is a directory, expected a file");
  std::filesystem::remove(dir);
  EXPECT_EQ(error_of([] { load({}, std::filesystem::path("/dev/null"), {}); }),
            "config file /dev/null: is not a regular file");
  EXPECT_EQ(error_of([] { load({}, std::filesystem::path("/nonexistent/sqlkeeper.conf"), {}); }),
            "config file /nonexistent/sqlkeeper.conf: cannot be read: No such file or directory");
}

}  // namespace
}  // namespace sqlkeeper::config
