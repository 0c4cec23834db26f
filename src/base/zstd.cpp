#include "sqlkeeper/base/zstd.h"

#include <zstd.h>

#include "sqlkeeper/error.h"

namespace sqlkeeper::core {

std::vector<std::uint8_t> zstd_compress(std::span<const std::uint8_t> bytes, int level) {
  std::vector<std::uint8_t> out(ZSTD_compressBound(bytes.size()));
  const auto n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), level);
  if (ZSTD_isError(n)) throw Error(ErrorCode::internal, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::vector<std::uint8_t> zstd_decompress(std::span<const std::uint8_t> frame, std::uint64_t max_bytes,
                                          const std::string& what) {
  const auto size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_bytes)
    throw Error(ErrorCode::io, what + ": not a whole zstd frame of at most " + std::to_string(max_bytes) + " bytes");
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size));
  const auto n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != out.size())
    throw Error(ErrorCode::io,
                what + ": does not decompress: " + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short"));
  return out;
}

}  // namespace sqlkeeper::core
