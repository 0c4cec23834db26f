#pragma once
// A consistent, verified copy of a live database (SQLite's online backup API),
// published the safe way: written under a temporary name, checked with
// PRAGMA integrity_check, fsynced, renamed into place, the directory fsynced,
// and its SHA-256 written beside it. A file without its checksum, or with the
// temporary name, is never a finished copy.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/env.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {

struct SnapshotResult {
  std::filesystem::path file;
  std::filesystem::path checksum_file;
  std::uint64_t size = 0;
  std::string sha256;
  std::chrono::milliseconds duration{};
};

// "<stem>-<UTC yyyymmddThhmmssZ>[-<label>].db", e.g. "app-20261124T030000Z-pre-migration.db".
std::string snapshot_name(const std::string& stem, std::chrono::system_clock::time_point at, const std::string& label);

// Copies `source` (any connection to the live database) into `dir`.
SnapshotResult write_snapshot(sqlite::Connection& source, const std::filesystem::path& dir, const std::string& stem,
                              const std::string& label, Env& env);

// Copies `source` to `target` (an unpublished scratch file) without verifying.
void copy_database(sqlite::Connection& source, const std::filesystem::path& target);

// Runs PRAGMA integrity_check; throws Error naming the file unless it says ok.
void check_integrity(const std::filesystem::path& file);

}  // namespace sqlkeeper::core

namespace sqlkeeper::core {

struct SnapshotEntry {
  std::filesystem::path file;
  std::chrono::system_clock::time_point at;
  std::uint64_t size = 0;
};

// Parses the UTC time out of a snapshot_name(); nullopt for other names.
std::optional<std::chrono::system_clock::time_point> parse_snapshot_time(const std::string& name,
                                                                         const std::string& stem);

// Finished snapshots of `stem` in `dir` (a .db with its .sha256 beside it), oldest first.
std::vector<SnapshotEntry> list_snapshots(const std::filesystem::path& dir, const std::string& stem);

}  // namespace sqlkeeper::core
