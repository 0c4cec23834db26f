#pragma once
// Test helpers: UTC moments written as text, and a time zone for one test.
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "sqlkeeper/base/local_time.h"

namespace sqlkeeper::core::testing {

// "2026-11-27T03:00:00Z" -> a time point.
inline TimePoint utc(const std::string& text) {
  std::tm tm{};
  if (!strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) std::abort();
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// Sets TZ for the test's lifetime (the schedule and retention read the process's zone).
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* zone) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::optional<std::string> old_;
};

}  // namespace sqlkeeper::core::testing
