#include "sqlkeeper/daemon/health_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace sqlkeeper::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;
using asio::use_awaitable;
constexpr auto tuple_awaitable = asio::as_tuple(use_awaitable);

struct HealthServer::Session {
  explicit Session(local::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}
  local::socket socket;
  // Closes the socket when it fires; re-armed before every read and write.
  asio::steady_timer deadline;
  void close() {
    boost::system::error_code ignored;
    socket.shutdown(local::socket::shutdown_both, ignored);
    socket.close(ignored);
    deadline.cancel();
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
std::string error_json(const std::string& message) { return nlohmann::json{{"error", message}}.dump() + "\n"; }

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
  for (auto& weak : sessions_)
    if (auto s = weak.lock()) s->close();
  sessions_.clear();
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
    sessions_.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
    auto session = std::make_shared<Session>(std::move(socket));
    if (static_cast<int>(sessions_.size()) >= limits_.max_connections) {
      // Over the cap: answer 503 at once rather than queue behind slow clients.
      asio::co_spawn(
          io_,
          [session]() -> asio::awaitable<void> {
            auto res = make_response(503, 11, false, "application/json", error_json("too many connections"));
            session->deadline.expires_after(std::chrono::seconds(1));
            asio::co_spawn(session->socket.get_executor(), watch_deadline(session), asio::detached);
            co_await http::async_write(session->socket, res, tuple_awaitable);
            session->close();
          },
          asio::detached);
      continue;
    }
    sessions_.push_back(session);
    asio::co_spawn(io_, serve(session), asio::detached);
  }
}

asio::awaitable<void> HealthServer::serve(std::shared_ptr<Session> session) {
  ucred cred{};
  socklen_t len = sizeof cred;
  HttpRequest request;
  if (::getsockopt(session->socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    request.peer_uid = static_cast<int>(cred.uid);
    request.peer_gid = static_cast<int>(cred.gid);
  }
  session->deadline.expires_after(limits_.idle_timeout);
  asio::co_spawn(session->socket.get_executor(), watch_deadline(session), asio::detached);
  boost::beast::flat_buffer buffer(limits_.header_limit + limits_.body_limit);
  while (session->socket.is_open()) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits_.header_limit);
    parser.body_limit(limits_.body_limit);
    session->deadline.expires_after(limits_.idle_timeout);
    auto [ec, n] = co_await http::async_read(session->socket, buffer, parser, tuple_awaitable);
    if (ec == http::error::header_limit || ec == http::error::body_limit || ec == http::error::buffer_overflow) {
      const unsigned status = ec == http::error::body_limit ? 413 : 431;
      auto res = make_response(status, 11, false, "application/json", error_json(ec.message()));
      co_await http::async_write(session->socket, res, tuple_awaitable);
      break;
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted || ec == asio::error::eof ||
        ec == asio::error::bad_descriptor || ec == asio::error::connection_reset)
      break;
    if (ec) {
      auto res = make_response(400, 11, false, "application/json", error_json("bad request: " + ec.message()));
      co_await http::async_write(session->socket, res, tuple_awaitable);
      break;
    }
    const auto& req = parser.get();
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    HttpResponse answer;
    try {
      answer = handler_(request);
    } catch (const std::exception& e) {
      spdlog::error("health socket: {} {} failed: {}", request.method, request.target, e.what());
      answer = HttpResponse{500, "application/json", error_json("internal error")};
    }
    const bool keep_alive = req.keep_alive();
    auto res = make_response(answer.status, req.version(), keep_alive, answer.content_type, std::move(answer.body));
    if (req.method() == http::verb::head) res.body().clear();
    session->deadline.expires_after(limits_.idle_timeout);
    auto [wec, wn] = co_await http::async_write(session->socket, res, tuple_awaitable);
    if (wec || !keep_alive) break;
  }
  session->close();
}

}  // namespace sqlkeeper::daemon
