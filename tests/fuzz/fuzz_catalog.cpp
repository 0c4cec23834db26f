// Backup names and sidecars, as read from a backup folder anyone may have
// written to: a name parses or is foreign; a sidecar parses or is ignored, and
// one that parses prints back to text that parses to the same sidecar.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sqlkeeper/backup/catalog.h"

using namespace sqlkeeper::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)parse_backup_name(text, "app");
  (void)parse_backup_name(text, "");
  const std::string name = "app-20261127T030000Z.db";
  if (const auto sidecar = parse_sidecar(text, name)) {
    const auto again = parse_sidecar(format_sidecar(*sidecar), name);
    if (!again || again->sha256 != sidecar->sha256 || again->file_name != sidecar->file_name) std::abort();
    (void)sidecar->verified();
  }
  return 0;
}
