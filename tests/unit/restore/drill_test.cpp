#include "sqlkeeper/restore/drill.h"

#include <gtest/gtest.h>

namespace sqlkeeper::core {
namespace {

TEST(PickDrillTarget, OnlyInsideTheCoveredRangesAndNotNewerThanAllowed) {
  archive::Timeline t;
  t.covered = {{"a", 1000, 2000}, {"b", 5000, 5500}};
  std::mt19937_64 random(7);
  int in_first = 0, in_second = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto target = pick_drill_target(t, 5200, random);
    ASSERT_TRUE(target);
    if (*target >= 1000 && *target < 2000) ++in_first;
    else if (*target >= 5000 && *target < 5200) ++in_second;
    else FAIL() << *target << " is outside the covered ranges";
  }
  // Uniform over the covered length: 1000 ms against 200 ms.
  EXPECT_GT(in_first, 3 * in_second);
  EXPECT_GT(in_second, 0);
}

TEST(PickDrillTarget, NothingCoveredNothingPicked) {
  std::mt19937_64 random(7);
  EXPECT_EQ(pick_drill_target({}, 5000, random), std::nullopt);
  archive::Timeline t;
  t.covered = {{"a", 6000, 7000}};
  EXPECT_EQ(pick_drill_target(t, 5000, random), std::nullopt) << "only newer than allowed";
}

}  // namespace
}  // namespace sqlkeeper::core
