#pragma once
// HTTP/1.1 over the Unix health socket (Boost.Beast), one coroutine per
// connection on the event loop. Limits keep one bad client from hurting the
// others: a cap on connections, on a request's header bytes and fields (431),
// a deadline for each request and an idle deadline between requests.
//
// At the cap a new connection is still served: the connection that has waited
// longest for a request (idle, or sending one too slowly) is closed to make room.
// A connection whose request is complete is never the one closed, so a flood of
// idle or slow clients cannot keep a fresh `/health` waiting.
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace sqlkeeper::daemon {

struct HttpRequest {
  std::string method;
  std::string target;
  // SO_PEERCRED and SO_PEERGROUPS of the connection: the kernel's word, not the client's.
  int peer_uid = -1;
  int peer_gid = -1;
  std::vector<unsigned> peer_groups;
};

struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(unsigned s, std::string type, std::string b)
      : status(s), content_type(std::move(type)), body(std::move(b)) {}

  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Set when the answer comes later (the result of a job): the server calls it
  // with a function that takes the answer, and waits for it on the loop within
  // HealthServerLimits::later_timeout (then 504).
  std::function<void(std::function<void(HttpResponse)>)> later;
};

struct HealthServerLimits {
  int max_connections = 64;
  // Between requests: how long a kept-alive connection may stay silent.
  std::chrono::milliseconds idle_timeout{30000};
  // The request line and all fields of one request together.
  std::uint32_t header_limit = 8192;
  std::uint64_t body_limit = 4096;
  // From a request's first byte (from the accept, for a connection's first
  // request) until it is complete, and for writing its answer.
  std::chrono::milliseconds request_timeout{5000};
  std::uint32_t max_header_fields = 100;
  // How long an answer that comes later may take.
  std::chrono::milliseconds later_timeout{60000};
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
  boost::asio::awaitable<void> refuse(std::shared_ptr<Session> session);
  // Makes room for one more connection; false when every connection has a complete request.
  bool evict_longest_waiting();
  // The session now waits for its next request: it becomes the last to be evicted.
  void mark_waiting(Session& session);

  boost::asio::io_context& io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  Handler handler_;
  HealthServerLimits limits_;
  // Open sessions, the one waiting longest for a request first.
  std::list<std::shared_ptr<Session>> sessions_;
  // Connections over the cap being answered 503; as many at most as served ones.
  std::list<std::shared_ptr<Session>> refused_;
  bool stopped_ = false;
};

}  // namespace sqlkeeper::daemon
