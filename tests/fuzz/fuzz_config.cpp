// The configuration file: INI text of any shape goes through the same path as
// `--config FILE` (Program_options, our quoting rules, every option's
// validation). It either loads or fails with Error(config); nothing else.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "sqlkeeper/config/config.h"
#include "sqlkeeper/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto file =
      std::filesystem::temp_directory_path() / ("sqlkeeper-fuzz-config-" + std::to_string(::getpid()) + ".conf");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const auto loaded = sqlkeeper::config::load({}, file, {});
    (void)sqlkeeper::config::describe(loaded.settings);
  } catch (const sqlkeeper::Error& e) {
    if (e.code() != sqlkeeper::ErrorCode::config) std::abort();
  }
  return 0;
}
