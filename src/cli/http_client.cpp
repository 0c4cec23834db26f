#include "sqlkeeper/cli/http_client.h"

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "sqlkeeper/error.h"

namespace sqlkeeper::cli {

namespace http = boost::beast::http;
using local = boost::asio::local::stream_protocol;

ClientResponse http_get(const std::filesystem::path& socket_path, const std::string& target,
                        std::chrono::milliseconds timeout) {
  boost::asio::io_context io;
  local::socket socket(io);
  boost::system::error_code ec;
  socket.open(local(), ec);
  if (!ec) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    socket.connect(local::endpoint(socket_path.string()), ec);
  }
  if (ec) throw Error(ErrorCode::io, "cannot reach sqlkeeper on " + socket_path.string() + ": " + ec.message());
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::user_agent, "sqlkeeper-cli");
  req.keep_alive(false);
  http::write(socket, req, ec);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (!ec) http::read(socket, buffer, res, ec);
  if (ec) throw Error(ErrorCode::io, "no answer from sqlkeeper on " + socket_path.string() + ": " + ec.message());
  return {res.result_int(), res.body()};
}

}  // namespace sqlkeeper::cli
