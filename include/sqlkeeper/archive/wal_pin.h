#pragma once
// The read transaction that keeps not-yet-archived frames in the -wal file.
//
// What SQLite guarantees (wal.c): a checkpoint copies frames into the database
// file only up to the lowest read mark in use, and copies nothing while a
// reader holds read lock 0; a writer starts the WAL again from frame 1 only
// when every frame is in the database file and no reader holds a read mark
// other than 0. So while a read transaction begun at frame F is open, every
// frame after F stays in the -wal file, whoever checkpoints and however.
//
// Moving the pin forward without a window: begin a read transaction on the
// second connection (its snapshot is at least as new as every commit so far),
// archive every committed frame up to the end of the WAL, and only then end the
// first. At every moment one of the two holds everything not yet archived.
// "Every frame" is meant: a pin begun when everything was backfilled holds read
// mark 0, which keeps nothing from a writer's restart of the WAL, so a reader
// that reads in pieces reads them all before the older pin ends (a bug once:
// ArchiverHold).
//
// Two read-only connections of their own; they never checkpoint on close.
#include <array>
#include <filesystem>
#include <optional>

#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::archive {

class WalPin {
 public:
  explicit WalPin(const std::filesystem::path& database);
  WalPin(const WalPin&) = delete;
  WalPin& operator=(const WalPin&) = delete;

  // Begins a read transaction on the connection that holds none; the one
  // already held stays. Throws Error when the database cannot be read.
  void begin_next();
  // Ends every read transaction but the newest.
  void release_previous();
  // Ends them all (stopping, or giving the WAL up on purpose).
  void release_all();
  bool held() const;

 private:
  std::array<std::optional<sqlite::Connection>, 2> connections_;
  int newest_ = -1;  // index of the newest open read transaction; -1: none
};

}  // namespace sqlkeeper::archive
