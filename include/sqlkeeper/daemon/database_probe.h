#pragma once
// The loop's liveness probe of the database: a cheap query on a fresh read-only
// connection (does the database answer a new connection, as it must for the
// applications?) and whether the file at the path is still the one opened at
// start. A connection kept open would not notice a lock: in WAL mode it keeps its
// SHARED lock, and SQLite shares that lock with every other connection of this
// process, so another process's lock stays unseen. Bounded by `timeout`; runs on
// the loop, which is why it reads the schema only.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "sqlkeeper/db/file_identity.h"

namespace sqlkeeper::daemon {

struct ProbeResult {
  bool answered = false;
  std::string error;     // why it did not answer
  std::string replaced;  // non-empty: the file at the path is not the one opened at start, and how
};

ProbeResult probe_database(const std::filesystem::path& database, const std::optional<core::FileIdentity>& opened_as,
                           std::chrono::milliseconds timeout);

}  // namespace sqlkeeper::daemon
