#include "sqlkeeper/daemon/health_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <iterator>

#include <optional>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "sqlkeeper/daemon/spawn.h"

namespace sqlkeeper::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;
using asio::use_awaitable;
constexpr auto tuple_awaitable = asio::as_tuple(use_awaitable);

struct HealthServer::Session {
  explicit Session(local::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}
  local::socket socket;
  // Closes the socket when it fires; re-armed for each request, answer and idle wait.
  asio::steady_timer deadline;
  // The server's list this session is in (served or refused), and its place there.
  std::list<std::shared_ptr<Session>>* list = nullptr;
  std::list<std::shared_ptr<Session>>::iterator position;
  // Its request is complete and being answered: it is never evicted.
  bool answering = false;
  void close() {
    boost::system::error_code ignored;
    socket.shutdown(local::socket::shutdown_both, ignored);
    socket.close(ignored);
    deadline.cancel();
  }
  void enlist(std::list<std::shared_ptr<Session>>& l, std::shared_ptr<Session> self) {
    position = l.insert(l.end(), std::move(self));
    list = &l;
  }
  void unlist() {
    if (list) list->erase(position);
    list = nullptr;
  }
};

namespace {

// Closes the session's socket once its deadline passes without being re-armed.
asio::awaitable<void> watch_deadline(std::shared_ptr<HealthServer::Session> s) {
  for (;;) {
    co_await s->deadline.async_wait(tuple_awaitable);
    if (!s->socket.is_open()) co_return;
    if (s->deadline.expiry() <= asio::steady_timer::clock_type::now()) {
      boost::system::error_code ignored;
      s->socket.close(ignored);
      co_return;
    }
  }
}

http::response<http::string_body> make_response(unsigned status, unsigned version, bool keep_alive,
                                                const std::string& content_type, std::string body) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::server, "sqlkeeper/" SQLKEEPER_VERSION);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// Beast's error texts are not ours; let the JSON library do the escaping.
std::string error_json(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

// After a refusal, how long and how much of what the client still sends is read and dropped.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = 1 << 20;
// One read from a client, so that no single client holds the loop for long.
constexpr std::size_t kReadChunk = 4096;

// Closing a socket with unread input resets the connection, and a client still
// sending (a flood of header lines, a refused body) then sees "broken pipe" instead
// of our answer: stop sending, read and drop what it still sends for a moment, close.
asio::awaitable<void> linger_close(HealthServer::Session& s) {
  boost::system::error_code ignored;
  s.socket.shutdown(local::socket::shutdown_send, ignored);
  s.deadline.expires_after(kLingerTime);
  std::array<char, kReadChunk> sink;
  for (std::size_t drained = 0; drained < kLingerBytes;) {
    auto [ec, n] = co_await s.socket.async_read_some(asio::buffer(sink), tuple_awaitable);
    if (ec) break;
    drained += n;
  }
  s.close();
}

// How reading one request ended: complete, refused (answer `status` and close), or
// neither: the client went away or its deadline closed the socket.
struct ReadResult {
  bool complete = false;
  unsigned status = 0;
  std::string reason;
};

ReadResult refusal(unsigned status, std::string reason) {
  return {false, status, std::move(reason)};
}

std::string_view front(const beast::flat_buffer& buffer) {
  return {static_cast<const char*>(buffer.data().data()), buffer.size()};
}

// Consumes the CRLF or LF line ends at the front of `buffer`; returns how many bytes.
std::size_t skip_empty_lines(beast::flat_buffer& buffer) {
  std::size_t skipped = 0;
  for (;;) {
    const auto text = front(buffer);
    const std::size_t n = text.starts_with("\r\n") ? 2 : text.starts_with('\n') ? 1 : 0;
    if (n == 0) return skipped;
    buffer.consume(n);
    skipped += n;
  }
}

// Reads one request, feeding the parser ourselves: Beast 1.81 checks header_limit
// within one put() only, and its async_read keeps reading while the parser wants
// more, so a stream of short header lines would grow the fields without bound.
// Here the header's bytes and fields are counted across reads.
asio::awaitable<ReadResult> read_request(HealthServer::Session& s, beast::flat_buffer& buffer,
                                         http::request_parser<http::string_body>& parser,
                                         const HealthServerLimits& limits, bool first) {
  // A first request's deadline runs from the accept; a later one's from its first byte.
  bool started = first;
  const auto start = [&] {
    if (started) return;
    started = true;
    s.deadline.expires_after(limits.request_timeout);
  };
  if (buffer.size() > 0) start();  // pipelined after the previous request
  std::uint64_t header_bytes = 0;
  bool need_more = buffer.size() == 0;
  while (!parser.is_done()) {
    if (need_more) {
      const auto room = std::min(buffer.max_size() - buffer.size(), kReadChunk);
      if (room == 0) {
        if (!parser.is_header_done())
          co_return refusal(431, "request header over " + std::to_string(limits.header_limit) + " bytes");
        co_return refusal(413, "request body over " + std::to_string(limits.body_limit) + " bytes");
      }
      auto [ec, n] = co_await s.socket.async_read_some(buffer.prepare(room), tuple_awaitable);
      buffer.commit(n);
      if (ec == asio::error::eof && parser.got_some()) {
        boost::system::error_code eof_ec;
        parser.put_eof(eof_ec);  // a body that runs to the end of the stream ends here
        if (eof_ec) co_return refusal(400, "bad request: " + eof_ec.message());
        break;
      }
      if (ec) co_return ReadResult{};
      start();
    }
    if (!parser.got_some()) {
      // Empty lines before a request line are skipped (RFC 9112 section 2.2): a client
      // that ends a request with an extra CRLF still gets its next one answered. They
      // count toward the header limit, so a stream of them ends like a long header.
      const auto skipped = skip_empty_lines(buffer);
      header_bytes += skipped;
      if (header_bytes > limits.header_limit)
        co_return refusal(431, "request header over " + std::to_string(limits.header_limit) + " bytes");
      if (buffer.size() == 0 || front(buffer) == "\r") {
        need_more = true;
        continue;
      }
    }
    boost::system::error_code ec;
    const bool in_header = !parser.is_header_done();
    const auto used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (in_header) {
      header_bytes += used;
      if (header_bytes > limits.header_limit || ec == http::error::header_limit)
        co_return refusal(431, "request header over " + std::to_string(limits.header_limit) + " bytes");
      if (parser.is_header_done()) {
        const auto& fields = parser.get();
        if (static_cast<std::uint64_t>(std::distance(fields.begin(), fields.end())) > limits.max_header_fields)
          co_return refusal(431,
                            "request header with more than " + std::to_string(limits.max_header_fields) + " fields");
      }
    }
    if (ec == http::error::body_limit)
      co_return refusal(413, "request body over " + std::to_string(limits.body_limit) + " bytes");
    if (ec && ec != http::error::need_more) co_return refusal(400, "bad request: " + ec.message());
    need_more = ec == http::error::need_more || buffer.size() == 0;
  }
  co_return ReadResult{true, 0, {}};
}

}  // namespace

HealthServer::HealthServer(asio::io_context& io, int listening_fd, Handler handler, HealthServerLimits limits)
    : io_(io), acceptor_(io, local(), listening_fd), handler_(std::move(handler)), limits_(limits) {}

HealthServer::~HealthServer() {
  stop();
}

void HealthServer::start() {
  asio::co_spawn(io_, accept_loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("health socket accept loop ended: {}", ex.what());
    }
  });
}

void HealthServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto* list : {&sessions_, &refused_}) {
    for (auto& s : *list) {
      s->list = nullptr;
      s->close();
    }
    list->clear();
  }
}

bool HealthServer::evict_longest_waiting() {
  const auto victim = std::find_if(sessions_.begin(), sessions_.end(), [](const auto& s) { return !s->answering; });
  if (victim == sessions_.end()) return false;
  auto session = *victim;
  session->unlist();
  session->close();
  return true;
}

void HealthServer::mark_waiting(Session& session) {
  if (session.list == &sessions_) sessions_.splice(sessions_.end(), sessions_, session.position);
}

asio::awaitable<void> HealthServer::accept_loop() {
  while (!stopped_) {
    auto [ec, socket] = co_await acceptor_.async_accept(tuple_awaitable);
    if (ec == asio::error::operation_aborted || stopped_) co_return;
    if (ec) {
      // EMFILE and friends: log, and keep serving the connections we have.
      spdlog::warn("health socket accept failed: {}", ec.message());
      asio::steady_timer backoff(io_, std::chrono::milliseconds(100));
      co_await backoff.async_wait(tuple_awaitable);
      continue;
    }
    auto session = std::make_shared<Session>(std::move(socket));
    if (static_cast<int>(sessions_.size()) >= limits_.max_connections && !evict_longest_waiting()) {
      // Every connection is being answered; those end within the request timeout.
      if (static_cast<int>(refused_.size()) < limits_.max_connections) {
        session->enlist(refused_, session);
        spawn_logged(io_.get_executor(), refuse(session), "a refused health socket connection");
      }
      continue;
    }
    session->enlist(sessions_, session);
    spawn_logged(io_.get_executor(), serve(session), "a health socket connection");
  }
}

asio::awaitable<void> HealthServer::refuse(std::shared_ptr<Session> session) {
  session->deadline.expires_after(kLingerTime);
  spawn_logged(session->socket.get_executor(), watch_deadline(session), "a health socket deadline");
  auto res = make_response(503, 11, false, "application/json", error_json("too many connections"));
  auto [ec, n] = co_await http::async_write(session->socket, res, tuple_awaitable);
  if (!ec) co_await linger_close(*session);
  session->close();
  session->unlist();
}

namespace {

// The peer's supplementary groups; empty when the kernel cannot say.
std::vector<unsigned> peer_groups(int fd) {
  std::vector<gid_t> groups(64);
  auto len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0) {
    if (errno != ERANGE) return {};
    groups.resize(len / sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0) return {};
  }
  groups.resize(len / sizeof(gid_t));
  return {groups.begin(), groups.end()};
}

// Waits on the loop for an answer that `later` delivers, or for `timeout`.
asio::awaitable<HttpResponse> wait_for_later(std::function<void(std::function<void(HttpResponse)>)> later,
                                             std::chrono::milliseconds timeout) {
  struct Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : wake(ex) {}
    asio::steady_timer wake;
    std::optional<HttpResponse> answer;
  };
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  waiter->wake.expires_after(timeout);
  later([waiter](HttpResponse r) {
    waiter->answer = std::move(r);
    waiter->wake.cancel();
  });
  if (!waiter->answer) co_await waiter->wake.async_wait(tuple_awaitable);
  if (waiter->answer) co_return std::move(*waiter->answer);
  co_return HttpResponse{504, "application/json", error_json("still running; follow it in GET /status")};
}

}  // namespace

asio::awaitable<void> HealthServer::serve(std::shared_ptr<Session> session) {
  ucred cred{};
  socklen_t len = sizeof cred;
  HttpRequest request;
  if (::getsockopt(session->socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    request.peer_uid = static_cast<int>(cred.uid);
    request.peer_gid = static_cast<int>(cred.gid);
  }
  request.peer_groups = peer_groups(session->socket.native_handle());
  // A client says what it wants when it connects: no idle allowance before the first request.
  session->deadline.expires_after(std::min(limits_.idle_timeout, limits_.request_timeout));
  spawn_logged(session->socket.get_executor(), watch_deadline(session), "a health socket deadline");
  beast::flat_buffer buffer(limits_.header_limit + limits_.body_limit);
  for (bool first = true; session->socket.is_open(); first = false) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits_.header_limit);
    parser.body_limit(limits_.body_limit);
    auto read = co_await read_request(*session, buffer, parser, limits_, first);
    if (!read.complete) {
      if (read.status != 0) {
        auto res = make_response(read.status, 11, false, "application/json", error_json(read.reason));
        session->deadline.expires_after(limits_.request_timeout);
        auto [wec, wn] = co_await http::async_write(session->socket, res, tuple_awaitable);
        if (!wec) co_await linger_close(*session);
      }
      break;
    }
    session->answering = true;
    const auto& req = parser.get();
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    HttpResponse answer;
    try {
      answer = handler_(request);
      if (answer.later) {
        session->deadline.expires_after(limits_.later_timeout + limits_.request_timeout);
        answer = co_await wait_for_later(std::move(answer.later), limits_.later_timeout);
      }
    } catch (const std::exception& e) {
      spdlog::error("health socket: {} {} failed: {}", request.method, request.target, e.what());
      answer = HttpResponse{500, "application/json", error_json("internal error")};
    }
    const bool keep_alive = req.keep_alive();
    auto res = make_response(answer.status, req.version(), keep_alive, answer.content_type, std::move(answer.body));
    if (req.method() == http::verb::head) res.body().clear();
    session->deadline.expires_after(limits_.request_timeout);
    auto [wec, wn] = co_await http::async_write(session->socket, res, tuple_awaitable);
    session->answering = false;
    if (wec || !keep_alive) break;
    mark_waiting(*session);
    session->deadline.expires_after(limits_.idle_timeout);
  }
  session->close();
  session->unlist();
}

}  // namespace sqlkeeper::daemon
