#pragma once
// SHA-256 (OpenSSL's libcrypto) as lowercase hex, the form drizzle-kit and
// sha256sum print.
#include <filesystem>
#include <string>
#include <string_view>

namespace sqlkeeper::core {

std::string sha256_hex(std::string_view data);
// Streams the file; throws Error(io) naming it when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace sqlkeeper::core
