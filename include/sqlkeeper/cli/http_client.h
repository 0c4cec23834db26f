#pragma once
// A one-request HTTP client for the daemon's Unix socket, with a deadline.
#include <chrono>
#include <filesystem>
#include <string>

namespace sqlkeeper::cli {

struct ClientResponse {
  unsigned status = 0;
  std::string body;
};

// Throws Error(io) when the socket cannot be reached or does not answer in time.
ClientResponse http_get(const std::filesystem::path& socket, const std::string& target,
                        std::chrono::milliseconds timeout);

}  // namespace sqlkeeper::cli
