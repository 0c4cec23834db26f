#include "sqlkeeper/config/paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sqlkeeper/error.h"

namespace sqlkeeper::config {
namespace {

namespace fs = std::filesystem;

class CheckPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sqlkeeper-paths-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "migrations");
    fs::create_directories(dir_ / "backups");
    std::ofstream(dir_ / "file") << "not a folder";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Loads with `database`, `migrations` and `backup-dir` in the temporary folder,
  // `overrides` given as flags on top.
  Loaded load_with(std::map<std::string, std::string> overrides) {
    std::map<std::string, std::string> flags{{"database", (dir_ / "data" / "app.db").string()},
                                             {"migrations", (dir_ / "migrations").string()},
                                             {"backup-dir", (dir_ / "backups").string()}};
    for (auto& [name, value] : overrides) flags[name] = value;
    return load(flags, std::nullopt, {});
  }

  std::string error_of(std::map<std::string, std::string> overrides) {
    const auto loaded = load_with(std::move(overrides));
    try {
      check_paths(loaded);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::config);
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
  }

  fs::path dir_;
};

TEST_F(CheckPaths, MissingPathsAndPathsOfTheRightKindPass) {
  EXPECT_NO_THROW(check_paths(load_with({})));
  EXPECT_NO_THROW(check_paths(
      load_with({{"migrations", (dir_ / "none").string()}, {"backup-dir", (dir_ / "none" / "deeper").string()}})));
  std::ofstream(dir_ / "app.db") << "";
  EXPECT_NO_THROW(check_paths(load_with({{"database", (dir_ / "app.db").string()}})));
  fs::create_symlink(dir_ / "app.db", dir_ / "link.db");
  EXPECT_NO_THROW(check_paths(load_with({{"database", (dir_ / "link.db").string()}})));
}

TEST_F(CheckPaths, DatabaseThatIsADirectoryNamesTheOptionValueAndSource) {
  const auto value = (dir_ / "migrations").string();
  EXPECT_EQ(error_of({{"database", value}}),
            "option 'database' from --database: '" + value + "' is a directory, expected a database file");
}

TEST_F(CheckPaths, DatabaseThatIsADeviceIsRefused) {
  EXPECT_EQ(error_of({{"database", "/dev/null"}}),
            "option 'database' from --database: '/dev/null' is a character device, expected a database file");
}

TEST_F(CheckPaths, DatabaseUnderAFileIsRefused) {
  const auto value = (dir_ / "file" / "app.db").string();
  EXPECT_EQ(error_of({{"database", value}}),
            "option 'database' from --database: '" + value + "' has a parent that is not a directory");
}

TEST_F(CheckPaths, MigrationsAndBackupDirMustBeDirectories) {
  const auto file = (dir_ / "file").string();
  EXPECT_EQ(error_of({{"migrations", file}}),
            "option 'migrations' from --migrations: '" + file + "' is a regular file, expected a directory");
  EXPECT_EQ(error_of({{"backup-dir", file}}),
            "option 'backup-dir' from --backup-dir: '" + file + "' is a regular file, expected a directory");
  EXPECT_EQ(error_of({{"backup-dir", "/dev/null"}}),
            "option 'backup-dir' from --backup-dir: '/dev/null' is a character device, expected a directory");
}

TEST_F(CheckPaths, SourceIsTheOneTheValueCameFrom) {
  const auto loaded =
      load({{"migrations", (dir_ / "migrations").string()}, {"backup-dir", (dir_ / "backups").string()}}, std::nullopt,
           {"SQLKEEPER_DATABASE=" + dir_.string()});
  try {
    check_paths(loaded);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("option 'database' from env SQLKEEPER_DATABASE: '" + dir_.string() + "'", 0),
              0u)
        << e.what();
  }
}

}  // namespace
}  // namespace sqlkeeper::config
