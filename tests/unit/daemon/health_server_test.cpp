#include "sqlkeeper/daemon/health_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/post.hpp>

namespace sqlkeeper::daemon {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A HealthServer on a Unix socket in a temporary directory, its loop on a thread.
// Every request is answered 200 and counted.
class TestServer {
 public:
  explicit TestServer(HealthServerLimits limits) {
    std::string dir_template = (std::filesystem::temp_directory_path() / "sk-health-XXXXXX").string();
    if (!::mkdtemp(dir_template.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = dir_template;
    path_ = dir_ / "health.sock";
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const auto addr = address();
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0)
      throw std::runtime_error("cannot listen on " + path_.string());
    server_.emplace(
        io_, fd,
        [this](const HttpRequest&) {
          ++requests;
          return HttpResponse{200, "application/json", "{\"status\":\"ok\"}\n"};
        },
        limits);
    server_->start();
    loop_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    boost::asio::post(io_, [this] { server_->stop(); });
    loop_.join();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A blocking client connection; reads give up after 5 s.
  int connect() const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const auto addr = address();
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot connect to " + path_.string());
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }

  std::atomic<int> requests{0};

 private:
  sockaddr_un address() const {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    return addr;
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
  boost::asio::io_context io_;
  std::optional<HealthServer> server_;
  std::thread loop_;
};

// Sends as much of `data` as the peer takes; false once it has closed.
bool send_all(int fd, const std::string& data) {
  for (std::size_t sent = 0; sent < data.size();) {
    const auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// Everything the server sends until it closes (or the 5 s read timeout passes).
std::string read_until_closed(int fd) {
  std::string data;
  char chunk[4096];
  for (;;) {
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return data;
    data.append(chunk, static_cast<std::size_t>(n));
  }
}

// One response of a kept-alive connection: its head and Content-Length bytes of body.
std::string read_response(int fd) {
  std::string data;
  char c;
  while (data.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd, &c, 1, 0) != 1) return data;
    data += c;
  }
  const auto at = data.find("Content-Length: ");
  std::size_t length = at == std::string::npos ? 0 : std::stoul(data.substr(at + 16));
  for (; length > 0; --length) {
    if (::recv(fd, &c, 1, 0) != 1) return data;
    data += c;
  }
  return data;
}

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

// True when the server closes `fd` within `timeout`.
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

const std::string kKeepAliveGet = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(HealthServer, ShortHeaderLinesAreCountedAcrossReads) {
  TestServer server(HealthServerLimits{});
  const int fd = server.connect();
  std::string flood = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100000; ++i) flood += "X-A: b\r\n";
  flood += "\r\n";
  send_all(fd, flood);  // the server may stop reading before the end
  const auto response = read_until_closed(fd);
  ::close(fd);
  EXPECT_EQ(status_line(response), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(response.find("request header over 8192 bytes"), std::string::npos) << response;
  EXPECT_EQ(server.requests, 0);
}

TEST(HealthServer, TooManyHeaderFieldsGet431) {
  HealthServerLimits limits;
  limits.max_header_fields = 10;
  TestServer server(limits);
  const auto request_with = [](int fields) {
    std::string r = "GET /health HTTP/1.1\r\nConnection: close\r\n";
    for (int i = 1; i < fields; ++i) r += "X-A: b\r\n";
    return r + "\r\n";
  };
  int fd = server.connect();
  ASSERT_TRUE(send_all(fd, request_with(10)));
  EXPECT_EQ(status_line(read_until_closed(fd)), "HTTP/1.1 200 OK");
  ::close(fd);
  fd = server.connect();
  ASSERT_TRUE(send_all(fd, request_with(11)));
  const auto response = read_until_closed(fd);
  ::close(fd);
  EXPECT_EQ(status_line(response), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(response.find("more than 10 fields"), std::string::npos) << response;
  EXPECT_EQ(server.requests, 1);
}

TEST(HealthServer, AtTheCapTheLongestWaitingConnectionMakesRoom) {
  HealthServerLimits limits;
  limits.max_connections = 2;
  TestServer server(limits);
  const int a = server.connect();
  const int b = server.connect();
  // Both served, a first: a has waited longest for its next request.
  ASSERT_TRUE(send_all(a, kKeepAliveGet));
  ASSERT_EQ(status_line(read_response(a)), "HTTP/1.1 200 OK");
  ASSERT_TRUE(send_all(b, kKeepAliveGet));
  ASSERT_EQ(status_line(read_response(b)), "HTTP/1.1 200 OK");
  const int c = server.connect();
  ASSERT_TRUE(send_all(c, kKeepAliveGet));
  EXPECT_EQ(status_line(read_response(c)), "HTTP/1.1 200 OK");
  EXPECT_TRUE(closed_within(a, 5s));
  // b is now the longest waiting, but still under the cap with c: it keeps its connection.
  ASSERT_TRUE(send_all(b, kKeepAliveGet));
  EXPECT_EQ(status_line(read_response(b)), "HTTP/1.1 200 OK");
  for (int fd : {a, b, c}) ::close(fd);
}

TEST(HealthServer, ARequestMustBeCompleteWithinTheRequestTimeout) {
  HealthServerLimits limits;
  limits.request_timeout = 300ms;
  TestServer server(limits);
  const int fd = server.connect();
  const auto t0 = Clock::now();
  // A byte every 50 ms: never silent long, never done.
  ASSERT_TRUE(send_all(fd, "GET /health HTTP/1.1\r\nX-Slow: "));
  while (!closed_within(fd, 50ms)) {
    ASSERT_LT(Clock::now() - t0, 3s) << "the slow request was not cut off";
    if (!send_all(fd, "a")) break;
  }
  const auto waited = Clock::now() - t0;
  ::close(fd);
  EXPECT_GE(waited, 250ms);
  EXPECT_EQ(server.requests, 0);
}

TEST(HealthServer, BetweenRequestsTheIdleTimeoutApplies) {
  HealthServerLimits limits;
  limits.request_timeout = 200ms;
  limits.idle_timeout = 30s;
  TestServer server(limits);
  const int fd = server.connect();
  ASSERT_TRUE(send_all(fd, kKeepAliveGet));
  ASSERT_EQ(status_line(read_response(fd)), "HTTP/1.1 200 OK");
  // Silent for longer than a request may take: a kept-alive connection may.
  EXPECT_FALSE(closed_within(fd, 600ms));
  ASSERT_TRUE(send_all(fd, kKeepAliveGet));
  EXPECT_EQ(status_line(read_response(fd)), "HTTP/1.1 200 OK");
  ::close(fd);
}

TEST(HealthServer, PipelinedRequestsAreAnsweredInOrderAndGarbageEndsThem) {
  TestServer server(HealthServerLimits{});
  const int fd = server.connect();
  std::string pipeline;
  for (int i = 0; i < 20; ++i) pipeline += kKeepAliveGet;
  ASSERT_TRUE(send_all(fd, pipeline + "\x01\xff garbage\r\n\r\n"));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(status_line(read_response(fd)), "HTTP/1.1 200 OK") << i;
  EXPECT_EQ(status_line(read_until_closed(fd)), "HTTP/1.1 400 Bad Request");
  ::close(fd);
  EXPECT_EQ(server.requests, 20);
}

}  // namespace
}  // namespace sqlkeeper::daemon
