#include "sqlkeeper/restore/point_in_time.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace sqlkeeper::core {
namespace {

TEST(ParseRestoreTime, Rfc3339WithZoneOffsetAndFractions) {
  EXPECT_EQ(parse_restore_time("2026-12-06T14:05:30Z"), 1796565930000);
  EXPECT_EQ(parse_restore_time("2026-12-06T14:05:30.25Z"), 1796565930250);
  EXPECT_EQ(parse_restore_time("2026-12-06T15:05:30+01:00"), 1796565930000);
  EXPECT_EQ(parse_restore_time("2026-12-06T09:05:30-05:00"), 1796565930000);
}

TEST(ParseRestoreTime, LocalWallTimeInTheProcesssZone) {
  ::setenv("TZ", "Europe/Berlin", 1);
  ::tzset();
  EXPECT_EQ(parse_restore_time("2026-12-06 15:05:30"), 1796565930000);
  EXPECT_EQ(parse_restore_time("2026-12-06 15:05"), 1796565900000);
  ::unsetenv("TZ");
  ::tzset();
}

TEST(ParseRestoreTime, AnythingElseIsRefused) {
  for (const char* bad : {"", "yesterday", "2026-13-06T14:05:30Z", "2026-12-06T24:00:00Z", "2026-12-06T14:05:30",
                          "14:05", "2026-12-06T14:05:30+0100"})
    EXPECT_EQ(parse_restore_time(bad), std::nullopt) << bad;
}

}  // namespace
}  // namespace sqlkeeper::core
