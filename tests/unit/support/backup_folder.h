#pragma once
// What every fault test asks of the backup folder afterwards: exactly these
// backups, each listed as verified and verifying again, and nothing else (no
// temporary, no foreign or half-made file).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/base/job.h"
#include "sqlkeeper/restore/restore.h"

namespace sqlkeeper::test_support {

inline void expect_only_backups(const std::filesystem::path& dir, const std::string& stem,
                                const std::vector<std::filesystem::path>& backups, const std::string& context) {
  const auto catalog = core::read_catalog(dir, stem);
  EXPECT_TRUE(catalog.temporaries.empty()) << context;
  EXPECT_TRUE(catalog.foreign.empty()) << context;
  ASSERT_EQ(catalog.backups.size(), backups.size()) << context;
  for (std::size_t i = 0; i < backups.size(); ++i) {
    EXPECT_EQ(catalog.backups[i].file, backups[i]) << context;
    EXPECT_TRUE(catalog.backups[i].verified()) << context;
    core::Job job("verify");
    const auto v = core::verify_backup(backups[i], job);
    EXPECT_TRUE(v.ok) << context << ": " << v.problem;
  }
}

}  // namespace sqlkeeper::test_support
