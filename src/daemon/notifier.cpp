#include "sqlkeeper/daemon/notifier.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "sqlkeeper/fd.h"

namespace sqlkeeper::daemon {
namespace {

std::uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000ULL + static_cast<std::uint64_t>(ts.tv_nsec) / 1000ULL;
}

// sd_notify(3) sends on a blocking socket: when the receiver does not drain its
// queue (10 datagrams on Linux), the event loop would stop with it. This sends
// the same datagram without waiting; a full queue drops the message and says so.
int send_without_waiting(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return 0;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || length >= sizeof(addr.sun_path)) return -EINVAL;
  std::memcpy(addr.sun_path, path, length);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // an abstract socket
  const Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return -errno;
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  if (::sendto(fd.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&addr), size) < 0)
    return -errno;
  return 1;
}

}  // namespace

Notifier::Notifier() {
  std::uint64_t usec = 0;
  // unset_environment=0: children need not see it, but a re-read on reload must.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec);
}

void Notifier::send(const std::string& message) {
  const int rc = send_without_waiting(message);
  if (rc < 0) spdlog::warn("sd_notify({}) failed: {}", message.substr(0, message.find('\n')), std::strerror(-rc));
}

void Notifier::ready(const std::string& status) {
  last_status_ = status;
  send("READY=1\nSTATUS=" + status);
}

void Notifier::reloading() {
  // systemd 253+ wants MONOTONIC_USEC with RELOADING=1; older ones ignore it.
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()));
}

void Notifier::stopping(const std::string& status) {
  send("STOPPING=1\nSTATUS=" + status);
}

void Notifier::status(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  send("STATUS=" + status);
}

void Notifier::extend_timeout(std::chrono::microseconds by) {
  send("EXTEND_TIMEOUT_USEC=" + std::to_string(by.count()));
}

void Notifier::watchdog() {
  send("WATCHDOG=1");
}

void Notifier::fatal(int err, const std::string& status) {
  send("STATUS=" + status + "\nERRNO=" + std::to_string(err));
}

}  // namespace sqlkeeper::daemon
