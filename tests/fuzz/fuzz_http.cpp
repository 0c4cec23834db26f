// HTTP request handling as it runs in the daemon: the real HealthServer (Beast's
// parser fed under our header, field and body limits, the connection's
// deadlines) on a real Unix socket, routing to the real endpoints. Each input is
// sent on a fresh connection, which is then half-closed; whatever comes back must
// be HTTP responses (1.0 to a 1.0 request), and the server must close the connection within a bound.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "sqlkeeper/daemon/health_server.h"
#include "sqlkeeper/daemon/listen_socket.h"
#include "sqlkeeper/daemon/routes.h"

using namespace sqlkeeper::daemon;
using namespace std::chrono_literals;

namespace {

struct Server {
  boost::asio::io_context io;
  DaemonState state;
  std::filesystem::path path;
  std::optional<HealthServer> server;

  Server() {
    path = std::filesystem::temp_directory_path() / ("sqlkeeper-fuzz-http-" + std::to_string(::getpid()) + ".sock");
    auto listener = open_listen_socket(path, 0600);
    state.phase = sqlkeeper::core::Phase::ready;
    state.started_at = std::chrono::system_clock::now();
    HealthServerLimits limits;
    limits.request_timeout = 500ms;
    limits.idle_timeout = 500ms;
    server.emplace(
        io, listener.fd.release(),
        [this](const HttpRequest& r) { return route(r, state, std::chrono::system_clock::now()); }, limits);
    server->start();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Server s;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, s.path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect to the server");
    std::abort();
  }
  std::size_t sent = 0;
  bool shut = false;
  std::string received;
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  for (;;) {
    if (sent < size) {
      const auto n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN) sent = size;  // the server closed on us: fine
    } else if (!shut) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    s.io.run_for(1ms);
    char buf[65536];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) received.append(buf, static_cast<std::size_t>(n));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) break;
    // Every request must be answered or refused, and the connection closed, in bounded time.
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "the connection was not closed within 3 s\n");
      std::abort();
    }
  }
  ::close(fd);
  if (!received.empty() && received.rfind("HTTP/1.", 0) != 0) {
    std::fprintf(stderr, "not an HTTP response: %s\n", received.substr(0, 200).c_str());
    std::abort();
  }
  return 0;
}
