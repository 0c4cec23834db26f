#include "sqlkeeper/base/zstd.h"

#include <zstd.h>

#include <memory>

#include "sqlkeeper/error.h"

namespace sqlkeeper::core {

namespace {

struct FreeContext {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

}  // namespace

std::vector<std::uint8_t> zstd_compress(std::span<const std::uint8_t> bytes, int level) {
  // One per thread, kept: ZSTD_compress would allocate and clear its tables at
  // every call, and the archive compresses a batch at every flush.
  thread_local const std::unique_ptr<ZSTD_CCtx, FreeContext> context(ZSTD_createCCtx());
  if (!context) throw Error(ErrorCode::internal, "zstd: no memory for a compression context");
  std::vector<std::uint8_t> out(ZSTD_compressBound(bytes.size()));
  const auto n = ZSTD_compressCCtx(context.get(), out.data(), out.size(), bytes.data(), bytes.size(), level);
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
