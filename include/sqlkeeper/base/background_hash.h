#pragma once
// SHA-256 on a thread of its own, fed chunk by chunk while the caller reads and
// writes the next ones: on two cores a whole-file copy then costs what the disk
// costs, not that plus the hash. A few buffers go round between the two threads,
// so memory stays at a few chunks whatever the file's size.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sqlkeeper/base/sha256.h"

namespace sqlkeeper::core {

class BackgroundSha256 {
 public:
  BackgroundSha256(std::size_t chunk_bytes, std::size_t buffers);
  ~BackgroundSha256();
  BackgroundSha256(const BackgroundSha256&) = delete;
  BackgroundSha256& operator=(const BackgroundSha256&) = delete;

  // A buffer of chunk_bytes to fill; waits until the hasher has one free.
  std::vector<unsigned char>& acquire();
  // Hashes the first `size` bytes of a buffer from acquire(), in order.
  void submit(std::vector<unsigned char>& buffer, std::size_t size);
  // Waits for every submitted chunk; the hex digest.
  std::string finish();

 private:
  void run();

  std::vector<std::vector<unsigned char>> pool_;
  std::deque<std::vector<unsigned char>*> free_;
  std::deque<std::pair<std::vector<unsigned char>*, std::size_t>> work_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool closing_ = false;
  Sha256 hash_;
  std::thread thread_;
};

}  // namespace sqlkeeper::core
