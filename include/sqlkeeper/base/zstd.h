#pragma once
// One zstd frame in, one out: what the archive compresses (its batches, its
// sealed segments) and reads back.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sqlkeeper::core {

// Throws Error(internal) when zstd fails.
std::vector<std::uint8_t> zstd_compress(std::span<const std::uint8_t> bytes, int level);
// The bytes of `frame`, one whole zstd frame that says its size, at most
// `max_bytes` (checked before anything is allocated). Throws Error(io) saying
// why not, after `what` ("archive segment X").
std::vector<std::uint8_t> zstd_decompress(std::span<const std::uint8_t> frame, std::uint64_t max_bytes,
                                          const std::string& what);

}  // namespace sqlkeeper::core
