#pragma once
// HTTP/1.1 over the Unix health socket (Boost.Beast), one coroutine per
// connection on the event loop. Limits keep one bad client from hurting the
// others: a cap on connections, on header size (431), and an idle deadline.
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace sqlkeeper::daemon {

struct HttpRequest {
  std::string method;
  std::string target;
  // SO_PEERCRED of the connection.
  int peer_uid = -1;
  int peer_gid = -1;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct HealthServerLimits {
  int max_connections = 64;
  std::chrono::milliseconds idle_timeout{30000};
  std::uint32_t header_limit = 8192;
  std::uint64_t body_limit = 4096;
};

class HealthServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Takes ownership of `listening_fd`. The handler runs on the loop and must be fast.
  HealthServer(boost::asio::io_context& io, int listening_fd, Handler handler, HealthServerLimits limits);
  ~HealthServer();

  void start();
  // Stops accepting and closes every open connection.
  void stop();

  struct Session;  // one connection; defined in the .cpp

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(std::shared_ptr<Session> session);

  boost::asio::io_context& io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  Handler handler_;
  HealthServerLimits limits_;
  std::list<std::weak_ptr<Session>> sessions_;
  bool stopped_ = false;
};

}  // namespace sqlkeeper::daemon
