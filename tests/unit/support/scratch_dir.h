#pragma once
// A folder of the test's own under the temporary directory, named by the test,
// made empty before it runs and removed after it (kept when the test failed, to
// look at).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace sqlkeeper::test_support {

inline std::filesystem::path fresh_scratch_dir() {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sqlkeeper-test-" + std::to_string(::getpid()) + "-" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_scratch_dir(); }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

}  // namespace sqlkeeper::test_support
