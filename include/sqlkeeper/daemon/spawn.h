#pragma once
// Starting the loop's coroutines so that none ends unseen: asio::detached drops
// the exception that ends a coroutine, and a refresh or checkpoint loop that dies
// that way leaves the daemon answering with frozen figures. Runs on the loop.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <functional>
#include <string>

namespace sqlkeeper::daemon {

// What ended a coroutine, for the log.
std::string describe(const std::exception_ptr& e);

// Runs the coroutine that `make` returns; when an exception ends it, logs it and
// starts a new one. A loop that keeps failing (5 times within a minute) is not
// restarted: the exception leaves io_context::run(), and the daemon stops with a
// failure status (daemon.cpp), for systemd to restart it.
void spawn_loop(boost::asio::io_context& io, std::string name, std::function<boost::asio::awaitable<void>()> make);

// For a coroutine that serves one connection: an exception ends only it, logged.
void spawn_logged(const boost::asio::any_io_executor& executor, boost::asio::awaitable<void> work, std::string name);

}  // namespace sqlkeeper::daemon
