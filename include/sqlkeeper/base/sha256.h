#pragma once
// SHA-256 (OpenSSL's libcrypto) as lowercase hex, the form drizzle-kit and
// sha256sum print.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace sqlkeeper::core {

std::string sha256_hex(std::string_view data);
class Job;
// Streams the file; throws Error(io) naming it when it cannot be read, and
// Error(stopped) when `job` (checked between reads, from any thread) must stop.
std::string sha256_file(const std::filesystem::path& path, const Job* job = nullptr);

// A SHA-256 fed piece by piece, e.g. while a copy reads the data anyway.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, std::size_t size);
  std::string hex_digest();  // ends it

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

}  // namespace sqlkeeper::core
