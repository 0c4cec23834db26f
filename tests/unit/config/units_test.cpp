#include "sqlkeeper/config/units.h"

#include <gtest/gtest.h>

namespace sqlkeeper::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsWhatPeopleWrite) {
  const std::pair<const char*, std::int64_t> cases[] = {
      {"30d", 30LL * 86400000},   {"5min", 300000}, {"90s", 90000},          {"90", 90000},     {"1h30min", 5400000},
      {"1h 30min", 5400000},      {"250ms", 250},   {"2w", 2LL * 604800000}, {" 10 s ", 10000}, {"0", 0},
      {"3 days", 3LL * 86400000}, {"1H", 3600000},
  };
  for (const auto& [text, ms] : cases) {
    const auto d = parse_duration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->count(), ms) << text;
  }
}

TEST(ParseDuration, RejectsNonsense) {
  for (const char* text : {"", "-5s", "5 parsecs", "s", "5s5", "1.5h", "99999999999999999999s", "10 s x"})
    EXPECT_FALSE(parse_duration(text).has_value()) << text;
}

TEST(FormatDuration, RoundTrips) {
  for (std::int64_t ms : {0LL, 250LL, 90000LL, 5400000LL, 30LL * 86400000, 86400000LL + 1}) {
    const auto text = format_duration(milliseconds(ms));
    EXPECT_EQ(parse_duration(text)->count(), ms) << text;
  }
}

// An age computed from a stamp ahead of the clock is negative: it must still read
// as a duration ("-3s"), never as nothing ("last backup  ago").
TEST(FormatDuration, ZeroAndNegativeDurationsPrint) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(-3000)), "-3s");
  EXPECT_EQ(format_duration(milliseconds(-90061001)), "-1d1h1min1s1ms");
}

TEST(FormatBytes, ReadsLikeTheRestOfTheStatus) {
  const std::pair<std::uint64_t, const char*> cases[] = {
      {0, "0 B"},
      {1023, "1023 B"},
      {1024, "1.0 KiB"},
      {1536, "1.5 KiB"},
      {(64ULL << 20) + (1ULL << 19), "64.5 MiB"},
      {(3ULL << 30), "3.0 GiB"},
      {(2ULL << 40), "2.0 TiB"},
      {~0ULL, "16777215.9 TiB"},
  };
  for (const auto& [bytes, text] : cases) EXPECT_EQ(format_bytes(bytes), text) << bytes;
}

TEST(ParseSize, BinaryAndDecimalUnits) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"4096", 4096},  {"64MiB", 64ULL << 20}, {"64M", 64ULL << 20}, {"1GB", 1000000000ULL},
      {"2 KiB", 2048}, {"1kb", 1000},          {"1TiB", 1ULL << 40}, {"7B", 7},
  };
  for (const auto& [text, bytes] : cases) {
    const auto s = parse_size(text);
    ASSERT_TRUE(s.has_value()) << text;
    EXPECT_EQ(*s, bytes) << text;
  }
  for (const char* text : {"", "MiB", "-1", "1.5GiB", "12 bananas", "99999999999TiB"})
    EXPECT_FALSE(parse_size(text).has_value()) << text;
  EXPECT_EQ(format_size(64ULL << 20), "64MiB");
  EXPECT_EQ(format_size(1000), "1000B");
}

TEST(ParseMode, OctalOnly) {
  EXPECT_EQ(parse_mode("0660"), 0660u);
  EXPECT_EQ(parse_mode("600"), 0600u);
  for (const char* text : {"", "0980", "rw-r--r--", "077777", "-1"}) EXPECT_FALSE(parse_mode(text).has_value()) << text;
  EXPECT_EQ(format_mode(0660), "0660");
}

TEST(ParseMode, PermissionBitsOnly) {
  EXPECT_EQ(parse_mode("0777"), 0777u);
  EXPECT_EQ(parse_mode("00640"), 0640u);
  for (const char* text : {"7777", "2770", "4600", "1666", "01000"}) EXPECT_FALSE(parse_mode(text).has_value()) << text;
}

TEST(ParseTimeOfDay, TwentyFourHourClock) {
  EXPECT_EQ(parse_time_of_day("03:30"), (TimeOfDay{3, 30}));
  EXPECT_EQ(parse_time_of_day("23:59"), (TimeOfDay{23, 59}));
  for (const char* text : {"24:00", "3:5", "03:60", "0330", "", "ab:cd"})
    EXPECT_FALSE(parse_time_of_day(text).has_value()) << text;
  EXPECT_EQ(format_time_of_day({3, 5}), "03:05");
}

TEST(ParseBool, CommonSpellings) {
  for (const char* t : {"true", "yes", "on", "1", "TRUE"}) EXPECT_EQ(parse_bool(t), true) << t;
  for (const char* t : {"false", "no", "off", "0"}) EXPECT_EQ(parse_bool(t), false) << t;
  EXPECT_FALSE(parse_bool("maybe").has_value());
}

}  // namespace
}  // namespace sqlkeeper::config
