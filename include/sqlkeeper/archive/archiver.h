#pragma once
// The continuous WAL archive: a thread of its own that copies every committed
// transaction out of the live -wal file into the archive (archive/chain.h)
// within archive-interval, and keeps the frames it has not copied yet in the
// -wal file with its pinned read transaction (archive/wal_pin.h), whoever
// checkpoints.
//
// It wakes on the file system's word (inotify on the database's folder: the
// -wal file written, the database file written by a checkpoint) and sleeps
// while nothing is written. After each wake it moves the pin a few times, more
// and more slowly, for about a second: a checkpoint that waits for readers (the
// applications' TRUNCATE or RESTART, or sqlkeeper's own) needs the pin to
// begin again once everything is copied, and gets that within milliseconds.
// Transactions read are held in memory and made durable (appended, fsynced)
// at most archive-interval/2 after they were read. A crash before that loses
// them from the archive only if the WAL is restarted before sqlkeeper starts
// again, and then the restart ends the chain with a recorded gap.
//
// Chains: a chain begins under a backup's write gate (mark()), so the backup is
// exactly the chain's first state, and each later backup records the chain's
// position at its own gate. When the archive cannot go on without losing a
// transaction (the WAL was restarted while the pin was not held, the archive
// cannot be written for too long, the chain on disk is damaged), the chain ends
// with its cause, a gap opens, and a new chain waits for the next backup
// (needs_base(): the daemon takes one at once).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sqlkeeper/archive/chain.h"
#include "sqlkeeper/archive/folder_lock.h"
#include "sqlkeeper/archive/wal_pin.h"
#include "sqlkeeper/archive/wal_reader.h"
#include "sqlkeeper/archive/wal_restart.h"
#include "sqlkeeper/env.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::archive {

struct ArchiverOptions {
  std::filesystem::path database;
  std::filesystem::path dir;      // archive-dir
  std::string database_identity;  // the sidecars' `database:` (backup/catalog.h)
  std::chrono::milliseconds interval{1000};
  std::uint64_t segment_size = kSealBytes;  // archive-segment-size
  // Read but not yet durable: past this the chain ends (memory is not the archive).
  std::uint64_t max_pending_bytes = 256ULL << 20;
  // A read of the WAL takes at most this much (whole transactions) into memory
  // before it is written to the archive.
  std::uint64_t read_bytes_per_step = 32ULL << 20;
  // The archive restarts the WAL itself once this much was written since it
  // last started (archive/wal_restart.h); 0: never.
  std::uint64_t restart_wal_bytes = 4ULL << 20;
  // Or once this many frames were, whichever comes first: before an
  // application's autocheckpoint (1000 frames, SQLite's and better-sqlite3's
  // default) finds the WAL long, after which it checkpoints, with two fsyncs,
  // after every commit of its own that the pin's last move let it copy more.
  // 0: by bytes alone.
  std::uint32_t restart_wal_frames = 800;
  // How long a restart may wait for the writer lock and readers (the writers
  // wait as long as it holds their lock).
  std::chrono::milliseconds restart_limit{20};
  // Archiving failing this long ends the chain (archive-max-lag).
  std::chrono::milliseconds max_lag{60000};
  // Called on the archive's thread whenever no chain runs any more (or none
  // did at start): a backup begins the next one. Must not block.
  std::function<void()> on_needs_base;
  // Called once on the archive's thread when its read transaction holds the WAL
  // (or it knows there is nothing to hold yet): only then may the daemon's
  // start-up open the database, whose connection closing last would otherwise
  // checkpoint and restart the WAL under a chain that is to go on.
  std::function<void()> on_pinned;
  // Called on the archive's thread for a chain reopened at start: does a
  // finished backup mark its place in it? A chain begun by a backup that never
  // finished (the daemon stopped or the backup failed) restores nothing until
  // one does, so the daemon takes one at once (needs_base()). None: assumed so.
  std::function<bool(const std::string& chain)> has_base;
};

struct ArchiveGap {
  std::int64_t since_ms = 0;  // the last moment known archived
  std::int64_t until_ms = 0;  // when a new chain began; 0: none yet
  std::string cause;
};

struct ArchiverStatus {
  bool running = false;
  std::string chain;  // empty: none; a chain waits for a backup to begin from
  bool chain_has_base = false;  // a finished backup marks its place in `chain`
  std::int64_t no_chain_since_ms = 0;  // while none runs, or the one running has no base yet
  std::uint64_t last_seq = 0;
  std::int64_t last_archived_ms = 0;   // the newest record made durable
  std::int64_t oldest_pending_ms = 0;  // when the oldest transaction not yet durable was read; 0: none
  std::uint64_t pending_bytes = 0;
  std::uint64_t pending_transactions = 0;
  std::uint64_t wal_bytes_read = 0;         // frames read since the daemon started
  std::uint64_t archive_bytes_written = 0;  // to the archive since then
  std::uint64_t transactions_archived = 0;
  std::uint64_t wal_restarts = 0;  // by the archive (restart_wal_bytes) since the daemon started
  std::string error;  // the last failure; empty while none
  std::int64_t failing_since_ms = 0;
  std::vector<ArchiveGap> gaps;  // opened since the daemon started
};

class Archiver {
 public:
  Archiver(ArchiverOptions options, Env& env);
  Archiver(const Archiver&) = delete;
  Archiver& operator=(const Archiver&) = delete;
  ~Archiver();

  // Starts the archive's thread, which reads the archive's folder first.
  void start();
  // Archives what is committed, records a clean stop and lets the WAL go.
  void stop();

  // Called under a backup's write gate (nothing can commit meanwhile): archives
  // everything committed, beginning a chain if none runs, and returns the
  // chain's position for the backup's sidecar ("<chain> <seq> <unix ms>"), or
  // "" when it cannot (the backup is then no point of any chain).
  std::string mark();
  // A backup whose mark() returned `mark` is finished: its chain has a base.
  void base_taken(const std::string& mark);

  // While the returned hold lives the archive restarts no WAL: sqlkeeper's own
  // checkpoints and backups take the checkpoint lock, which a restart holds,
  // and would find it taken (a backup's copy would then go page by page).
  [[nodiscard]] std::shared_ptr<void> hold_restarts();

  // No chain runs, or the one running has no finished backup yet.
  bool needs_base() const;
  ArchiverStatus status() const;

 private:
  void run();
  bool initialize();
  void finish();
  void compress_sealed();
  void publish();
  void apply_base_marks(ArchiverStatus& s) const;
  struct Publish {
    Archiver& a;
    ~Publish() { a.publish(); }
  };
  void hold_folder();
  void tell_pinned();
  void tell_needs_base();
  void resume_newest_chain();
  void step();
  void restart_wal_if_long();
  void flush(bool force);
  void end_chain(const std::string& cause);
  std::int64_t now_ms() const;
  std::optional<WalHeader> current_wal_header();
  void reopen_wal_if_replaced();

  ArchiverOptions options_;
  Env& env_;
  mutable std::mutex mutex_;  // everything below; held by a step, a flush, mark()
  std::optional<WalPin> pin_;
  std::optional<WalRestart> restart_;
  std::chrono::steady_clock::time_point next_restart_try_{};
  int restart_failures_ = 0;                   // in a row
  // The generation last let go and its length then: the next write starts
  // another, unless an application's reader came first.
  std::optional<WalHeader> restarted_header_;
  std::uint64_t restarted_written_ = 0;
  Fd wal_;
  std::uint64_t wal_inode_ = 0;
  std::optional<ChainWriter> writer_;
  WalPosition position_;
  bool pinned_throughout_ = false;  // the pin was held since position_ was reached
  bool first_step_ = true;
  bool told_pinned_ = false;
  std::optional<ChainTail> resumed_;  // a chain reopened at start, checked at the first step
  // Read, not yet durable: txn records whose time and seq the flush that writes them sets.
  std::vector<Record> pending_;
  ArchiverStatus status_;
  mutable std::mutex published_mutex_;  // the two below; never held long
  ArchiverStatus published_;            // status_ as of the end of the last locked section
  std::vector<std::string> base_marks_;  // base_taken() since then
  Fd wake_;  // eventfd: stop
  std::optional<FolderLock> lock_;  // held while it runs
  std::atomic<bool> stopping_{false};
  std::shared_ptr<std::atomic<int>> restart_holds_ = std::make_shared<std::atomic<int>>(0);
  std::thread thread_;
};

}  // namespace sqlkeeper::archive
