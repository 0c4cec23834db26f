#include "sqlkeeper/cli/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "sqlkeeper/error.h"

namespace sqlkeeper::cli {

namespace http = boost::beast::http;
using local = boost::asio::local::stream_protocol;

// Asynchronous operations run for at most `timeout` in all: SO_RCVTIMEO does not
// bound Asio's synchronous reads (on EAGAIN it polls without a timeout), so a daemon
// that accepts but never answers (stopped, wedged) would hang a monitoring check.
ClientResponse http_get(const std::filesystem::path& socket_path, const std::string& target,
                        std::chrono::milliseconds timeout) {
  boost::asio::io_context io;
  local::socket socket(io);
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::user_agent, "sqlkeeper-cli");
  req.keep_alive(false);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;

  boost::system::error_code ec = boost::asio::error::timed_out;
  bool connected = false;
  bool done = false;
  socket.async_connect(local::endpoint(socket_path.string()), [&](boost::system::error_code cec) {
    if (cec) {
      ec = cec;
      done = true;
      return;
    }
    connected = true;
    http::async_write(socket, req, [&](boost::system::error_code wec, std::size_t) {
      if (wec) {
        ec = wec;
        done = true;
        return;
      }
      http::async_read(socket, buffer, res, [&](boost::system::error_code rec, std::size_t) {
        ec = rec;
        done = true;
      });
    });
  });
  io.run_for(timeout);
  if (!done) {
    boost::system::error_code ignored;
    socket.close(ignored);
    throw Error(ErrorCode::io, "no answer from sqlkeeper on " + socket_path.string() + " within " +
                                   std::to_string(timeout.count()) + " ms");
  }
  if (ec && !connected)
    throw Error(ErrorCode::io, "cannot reach sqlkeeper on " + socket_path.string() + ": " + ec.message());
  if (ec) throw Error(ErrorCode::io, "no answer from sqlkeeper on " + socket_path.string() + ": " + ec.message());
  return {res.result_int(), res.body()};
}

}  // namespace sqlkeeper::cli
