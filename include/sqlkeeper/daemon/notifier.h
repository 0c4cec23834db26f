#pragma once
// The daemon's side of the sd_notify protocol. Every call is a no-op when
// NOTIFY_SOCKET is unset, so the daemon runs the same outside systemd.
#include <chrono>
#include <optional>
#include <string>

namespace sqlkeeper::daemon {

class Notifier {
 public:
  Notifier();

  void ready(const std::string& status);
  void reloading();
  void stopping(const std::string& status);
  void status(const std::string& status);
  void extend_timeout(std::chrono::microseconds by);
  void watchdog();
  void fatal(int err, const std::string& status);

  // WATCHDOG_USEC when systemd asked for pings to this process.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  void send(const std::string& message);
  std::optional<std::chrono::microseconds> watchdog_;
  std::string last_status_;
};

}  // namespace sqlkeeper::daemon
