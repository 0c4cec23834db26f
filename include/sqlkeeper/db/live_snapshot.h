#pragma once
// The snapshot protocol: how every copy of the live database (a backup, a
// restore's pre-restore copy) gets one consistent view of it, and what that
// holds and blocks. One type owns it, so its pieces are not spread over callers.
//
// take(): a checkpoint first (TRUNCATE, bounded by busy_wait: db/checkpoint.h)
// on a connection of the snapshot's own; then, for a moment, a second connection
// (the write gate) holds the write lock while a passive checkpoint copies what was
// committed since and the snapshot's read transaction begins. With every frame
// of the WAL in the database file and no commit possible in between, the
// snapshot is the file itself and is copied whole, at the speed of the disk;
// otherwise (a reader held the WAL) page by page through SQLite. The
// applications' writers wait for the gate's moment (about a millisecond) in
// their busy handlers, never for the copy.
//
// of(reader): the committed state a caller's own connection sees when it begins
// reading, with no checkpoint and no gate: for a caller that holds the write lock
// itself (a restore), so that nothing can commit in between.
//
// Held from take()/of() until copy_to() returns or the snapshot is destroyed:
// one read transaction, which keeps checkpoints from copying past it (the WAL
// grows meanwhile, it does not block writers).
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "sqlkeeper/base/job.h"
#include "sqlkeeper/db/snapshot.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {

class LiveSnapshot {
 public:
  struct Options {
    std::chrono::milliseconds busy_wait{200};  // checkpoint-busy-wait: the checkpoint's and the gate's bound
    std::uint64_t journal_size_limit = 64ULL << 20;
    // Called while the write gate is held, before the WAL is copied into the
    // file (nothing commits meanwhile): the WAL archive's place for this
    // snapshot (archive/archiver.h mark()). What it returns is kept only when
    // the snapshot is taken at that moment (archive_mark()).
    std::function<std::string()> under_gate;
  };

  static LiveSnapshot take(const std::filesystem::path& database, Job& job, const Options& options);
  static LiveSnapshot of(sqlite::Connection& reader);

  LiveSnapshot(LiveSnapshot&& other) noexcept;
  LiveSnapshot(const LiveSnapshot&) = delete;
  LiveSnapshot& operator=(const LiveSnapshot&) = delete;
  ~LiveSnapshot();

  // Copies the snapshot to `target` (db/snapshot.h's copy_database) and ends the read transaction.
  CopyInfo copy_to(const std::filesystem::path& target, Env& env, Job& job);

  // What Options::under_gate returned when the snapshot began under the gate; else empty.
  const std::string& archive_mark() const { return archive_mark_; }

  // Why the checkpoint before it did not complete; empty when it did or none ran.
  const std::string& checkpoint_note() const { return checkpoint_note_; }

 private:
  explicit LiveSnapshot(sqlite::Connection& reader) : callers_(&reader) {}
  LiveSnapshot() = default;
  sqlite::Connection& reader() { return own_ ? *own_ : *callers_; }
  void end();

  std::optional<sqlite::Connection> own_;  // take(): the checkpoint's connection, which then reads
  sqlite::Connection* callers_ = nullptr;  // of(): the caller's connection
  bool whole_file_ = false;
  std::string checkpoint_note_;
  std::string archive_mark_;
};

}  // namespace sqlkeeper::core
