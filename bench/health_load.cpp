// A load client for the health socket: C connections, each a thread that sends
// GET requests back to back on one keep-alive connection for S seconds and times
// each answer. Prints one JSON line: requests, requests per second, and latency
// percentiles in microseconds. Python cannot drive 20,000 requests a second, so
// the benchmark uses this.
//   sqlkeeper_health_load SOCKET [CONNECTIONS=32] [SECONDS=5] [TARGET=/health]
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int connect_to(const char* path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    std::exit(2);
  }
  return fd;
}

// Reads one response (headers, then Content-Length bytes of body); false when the
// server closed the connection.
bool read_response(int fd, std::string& buffer) {
  for (;;) {
    const auto end = buffer.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::size_t length = 0;
      const auto at = buffer.find("Content-Length: ");
      if (at != std::string::npos && at < end) length = std::strtoul(buffer.c_str() + at + 16, nullptr, 10);
      if (buffer.size() >= end + 4 + length) {
        buffer.erase(0, end + 4 + length);
        return true;
      }
    }
    char chunk[8192];
    const auto n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SOCKET [CONNECTIONS] [SECONDS] [TARGET]\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];
  const int connections = argc > 2 ? std::atoi(argv[2]) : 32;
  const double seconds = argc > 3 ? std::atof(argv[3]) : 5.0;
  const std::string target = argc > 4 ? argv[4] : "/health";
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::mutex mutex;
  std::vector<std::uint32_t> all;  // microseconds
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const auto started = Clock::now();
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      const int fd = connect_to(path);
      std::vector<std::uint32_t> mine;
      mine.reserve(1 << 16);
      std::string buffer;
      while (Clock::now() < end) {
        const auto t0 = Clock::now();
        if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()) ||
            !read_response(fd, buffer)) {
          ++failures;
          break;
        }
        mine.push_back(static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
      }
      ::close(fd);
      const std::lock_guard lock(mutex);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) {
    return all.empty() ? 0u : all[std::min(all.size() - 1, static_cast<std::size_t>(static_cast<double>(all.size()) * p))];
  };
  std::printf(
      "{\"requests\": %zu, \"rps\": %.0f, \"p50_us\": %u, \"p99_us\": %u, \"max_us\": %u, \"failures\": %d, "
      "\"connections\": %d}\n",
      all.size(), static_cast<double>(all.size()) / elapsed, pct(0.5), pct(0.99), all.empty() ? 0u : all.back(),
      failures.load(), connections);
  return failures.load() == 0 ? 0 : 1;
}
