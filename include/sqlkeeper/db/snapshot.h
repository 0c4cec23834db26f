#pragma once
// The building blocks of every copy sqlkeeper makes of the live database: its
// name, a consistent copy through SQLite's online backup API, and the check of
// the copy. backup/backup.h puts them together into a published backup.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "sqlkeeper/base/job.h"
#include "sqlkeeper/env.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {

// "<stem>-<UTC yyyymmddThhmmssZ>[-<label>].db", e.g. "app-20261124T030000Z-pre-migration.db".
std::string snapshot_name(const std::string& stem, std::chrono::system_clock::time_point at, const std::string& label);

// What was copied: the source's snapshot as the copy began.
struct CopyInfo {
  std::int64_t pages = 0;
  std::int64_t page_size = 0;
  std::int64_t schema_version = 0;  // the source's schema cookie (a copy gets its own)
  std::string schema_digest;        // SHA-256 of the schema's text: equal in a faithful copy
  // How: "file" (the database file's bytes, read once through SQLite's own
  // descriptor, hashed on the way) or "pages" (SQLite's online backup API).
  std::string method;
  std::string sha256;  // of the copy as written; empty when not hashed on the way ("pages")
};

// SHA-256 over every sqlite_schema row (type, name, table, SQL), in name order.
std::string schema_digest(sqlite::Connection& db);

// Copies `source` to `target` (a new, unpublished scratch file, created owner-only
// and never through a symlink) without verifying, as one consistent snapshot,
// stopping between steps when `job` must stop. When the snapshot is the database
// file alone (its WAL is empty), the file is copied whole at the speed of the
// disk; otherwise page by page through SQLite, which merges the WAL's pages in.
// `snapshot_is_file`: the caller began `source`'s read transaction at a moment
// when the WAL held nothing the file did not (db/live_snapshot.h); otherwise
// this finds out from the WAL's size.
CopyInfo copy_database(sqlite::Connection& source, const std::filesystem::path& target, Env& env, Job& job,
                       bool snapshot_is_file = false);

}  // namespace sqlkeeper::core
