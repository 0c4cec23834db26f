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
