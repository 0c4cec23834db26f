#pragma once
// The health socket's listening descriptor: the one systemd passed (socket
// activation), or one created at the configured path. A stale socket file left
// by a crash is replaced; a live daemon answering on it is an Error(conflict).
#include <filesystem>
#include <optional>

#include "sqlkeeper/fd.h"

namespace sqlkeeper::daemon {

struct ListenSocket {
  Fd fd;
  // The path this process bound and must remove on exit; empty when systemd owns it.
  std::optional<std::filesystem::path> created;
  bool activated = false;
};

ListenSocket open_listen_socket(const std::filesystem::path& path, unsigned mode);

}  // namespace sqlkeeper::daemon
