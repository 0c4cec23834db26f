#include "sqlkeeper/base/background_hash.h"

namespace sqlkeeper::core {

BackgroundSha256::BackgroundSha256(std::size_t chunk_bytes, std::size_t buffers)
    : pool_(buffers, std::vector<unsigned char>(chunk_bytes)) {
  for (auto& b : pool_) free_.push_back(&b);
  thread_ = std::thread([this] { run(); });
}

BackgroundSha256::~BackgroundSha256() {
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<unsigned char>& BackgroundSha256::acquire() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return !free_.empty(); });
  auto* b = free_.front();
  free_.pop_front();
  return *b;
}

void BackgroundSha256::submit(std::vector<unsigned char>& buffer, std::size_t size) {
  {
    const std::lock_guard lock(mutex_);
    work_.emplace_back(&buffer, size);
  }
  changed_.notify_all();
}

std::string BackgroundSha256::finish() {
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
  return hash_.hex_digest();
}

void BackgroundSha256::run() {
  for (;;) {
    std::pair<std::vector<unsigned char>*, std::size_t> item;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return !work_.empty() || closing_; });
      if (work_.empty()) return;  // closing, and everything submitted is hashed
      item = work_.front();
      work_.pop_front();
    }
    hash_.update(item.first->data(), item.second);
    {
      const std::lock_guard lock(mutex_);
      free_.push_back(item.first);
    }
    changed_.notify_all();
  }
}

}  // namespace sqlkeeper::core
