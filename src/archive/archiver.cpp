#include "sqlkeeper/archive/archiver.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "sqlkeeper/archive/timeline.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::archive {
namespace {

namespace fs = std::filesystem;
using Ms = std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// After a wake the pin moves again at these delays, then the archive sleeps
// until the next write: enough for a waiting checkpoint to see everything copied.
constexpr Ms kFollowUps[] = {Ms(5), Ms(10), Ms(20), Ms(40), Ms(80), Ms(160), Ms(320), Ms(640)};
// After a restart of the WAL that gave up (past ArchiverOptions::restart_limit)
// the next waits 100 ms, doubling while they fail, up to 1.6 s. It gives up for
// an application's reader on an older snapshot (then each try holds the writers
// 20 ms for nothing), but also when the writer lock
// stayed busy (that costs the writers nothing, and a writer that never pauses is
// what the restarts are for): so the waits stay short.
constexpr Ms kRestartBackoff{100};
constexpr int kRestartBackoffDoublings = 4;
// Another checkpoint held the checkpoint lock (an application's autocheckpoint
// takes it after each commit): soon again, not at every step.
constexpr Ms kAfterAnotherCheckpoint{20};
// Steps at most this often under a stream of writes.
constexpr Ms kMinStepGap{5};

// The frames of the position's WAL generation before it, in bytes.
std::uint64_t frame_bytes_before(const WalPosition& p) {
  if (!p.header) return 0;
  return std::uint64_t{p.next_frame - 1} * (kWalFrameHeaderBytes + p.header->page_size);
}

// Asked of SQLite, not of the file: never a descriptor of ours on the live database.
bool in_wal_mode(const fs::path& database) {
  sqlite::Connection c(database, SQLITE_OPEN_READONLY, Ms(250));
  sqlite3_db_config(c.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  return c.query_text("PRAGMA journal_mode").value_or("") == "wal";
}

}  // namespace

Archiver::Archiver(ArchiverOptions options, Env& env) : options_(std::move(options)), env_(env) {
  wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) throw system_error("eventfd for the archive", errno);
}

Archiver::~Archiver() {
  try {
    stop();
  } catch (...) {  // stop() logs; a destructor never throws
  }
}

std::int64_t Archiver::now_ms() const {
  return std::chrono::duration_cast<Ms>(env_.now().time_since_epoch()).count();
}

void Archiver::start() {
  thread_ = std::thread([this] { run(); });
}

// On the archive's thread: the folder, the pin, the chain to go on with. The
// archive may be large, so this never runs on the daemon's loop.
bool Archiver::initialize() {
  const std::lock_guard lock(mutex_);
  const Publish publish_at_exit{*this};
  if (status_.running) return true;
  try {
    // A folder not there yet is made by the first chain, after the backup that
    // begins it made the backup folder (owner-only, the database owner's).
    // Not before the start-up made the database, nor while it is not in WAL mode
    // yet: a read held in rollback mode would keep every writer out.
    const bool can_pin = std::filesystem::exists(options_.database) && in_wal_mode(options_.database);
    if (can_pin && !pin_) {
      pin_.emplace(options_.database);
      pin_->begin_next();
    }
    // The pin first, the rest after: from here on the WAL stays as the last chain
    // left it, whatever the daemon's start-up does with the database.
    tell_pinned();
    if (!can_pin) return false;
    std::error_code ec;
    if (std::filesystem::is_directory(options_.dir, ec)) hold_folder();
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw Error(ErrorCode::io, "cannot look at the archive folder " + options_.dir.string() + ": " + ec.message());
    resume_newest_chain();
    status_.running = true;
    status_.error.clear();
    status_.failing_since_ms = 0;
    if (!writer_) status_.no_chain_since_ms = now_ms();
    if (!writer_ || !status_.chain_has_base) {
      tell_needs_base();
    }
    return true;
  } catch (const std::exception& e) {
    if (status_.error.empty()) status_.failing_since_ms = now_ms();
    const auto error = std::string("cannot start: ") + e.what();
    if (error != status_.error) spdlog::error("archive: {}", error);  // once, not at every retry
    status_.error = error;
    // A pin no archive follows would only keep checkpoints from the WAL.
    if (pin_) pin_->release_all();
    tell_pinned();  // the daemon's start-up waits for no archive that cannot start
    return false;
  }
}

// Outside mutex_: compressing a 16 MiB segment must not hold up a backup's
// mark (taken under the applications' write gate) or a step.
void Archiver::compress_sealed() {
  std::vector<fs::path> sealed;
  {
    const std::lock_guard lock(mutex_);
    if (writer_) sealed = writer_->take_sealed();
  }
  for (const auto& path : sealed) compress_segment(path, env_);
}

// The daemon asks needs_base() at once: what it reads must already say so.
void Archiver::tell_needs_base() {
  publish();
  if (options_.on_needs_base) options_.on_needs_base();
}

void Archiver::tell_pinned() {
  if (told_pinned_) return;
  told_pinned_ = true;
  if (options_.on_pinned) options_.on_pinned();
}

void Archiver::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  thread_.join();
  {
    const std::lock_guard lock(mutex_);
    const Publish publish_at_exit{*this};
    if (status_.running) finish();
  }
  compress_sealed();
  const std::lock_guard lock(mutex_);
  // The folder is free for the next archiver (a restart in the same process) once this returns.
  writer_.reset();
  lock_.reset();
}

// The last step and flush, and a `stop` record: the next start goes on from here.
void Archiver::finish() {
  try {
    step();
    flush(true);
    if (writer_ && status_.error.empty()) {
      Record stop;
      stop.type = RecordType::stop;
      stop.at_ms = std::max(now_ms(), status_.last_archived_ms);
      stop.seq = status_.last_seq;
      writer_->append({stop});
    }
  } catch (const std::exception& e) {
    spdlog::error("archive: stopping: {}", e.what());
  }
  if (pin_) pin_->release_all();
  status_.running = false;
}

void Archiver::hold_folder() {
  if (!lock_) lock_.emplace(FolderLock::take(options_.dir, env_));
}

// The newest chain of this database that did not end goes on, if its last
// position is still in the WAL; the first step decides (resumed_).
void Archiver::resume_newest_chain() {
  const auto chains = list_chains(options_.dir);
  for (auto it = chains.rbegin(); it != chains.rend(); ++it) {
    if (it->database != options_.database_identity) continue;
    if (it->ended) return;
    if (!it->problem.empty()) {
      status_.gaps.push_back({it->last_ms, 0, "the archive chain " + it->id + " could not be read: " + it->problem});
      spdlog::error("archive: chain {} cannot be continued: {}", it->id, it->problem);
      return;
    }
    try {
      ChainTail tail;
      hold_folder();
      lock_->name_chain(it->id);
      writer_.emplace(ChainWriter::reopen(it->dir, env_, tail, options_.segment_size));
      resumed_ = tail;
      position_ = tail.position;
      status_.chain = writer_->id();
      status_.last_seq = tail.last_seq;
      status_.last_archived_ms = tail.last_ms;
      status_.chain_has_base = !options_.has_base || options_.has_base(writer_->id());
      if (!status_.chain_has_base) {
        status_.no_chain_since_ms = now_ms();
        spdlog::warn("archive: chain {} has no finished backup yet; one is taken at once", writer_->id());
      }
    } catch (const Error& e) {
      writer_.reset();
      status_.gaps.push_back({it->last_ms, 0, "the archive chain " + it->id + " could not be reopened: " + e.what()});
    }
    return;
  }
}

std::optional<WalHeader> Archiver::current_wal_header() {
  if (!wal_) return std::nullopt;
  std::uint8_t raw[kWalHeaderBytes];
  const auto n = ::pread(wal_.get(), raw, sizeof raw, 0);
  if (n != static_cast<ssize_t>(sizeof raw)) return std::nullopt;
  return parse_wal_header(raw);
}

// The -wal file may be deleted and made again (the last connection to close
// removes it); a descriptor on the old one would read nothing new.
void Archiver::reopen_wal_if_replaced() {
  const auto path = fs::path(options_.database.string() + "-wal");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    wal_.reset();
    wal_inode_ = 0;
    return;
  }
  if (wal_ && st.st_ino == wal_inode_) return;
  wal_ = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!wal_) throw system_error("open " + path.string(), errno);
  wal_inode_ = st.st_ino;
}

void Archiver::end_chain(const std::string& cause) {
  const auto now = now_ms();
  const auto since = std::max(status_.last_archived_ms, std::int64_t{0});
  if (writer_) {
    Record end;
    end.type = RecordType::end;
    end.at_ms = std::max(now, status_.last_archived_ms);
    end.seq = status_.last_seq;
    end.cause = cause;
    try {
      writer_->append({end});
    } catch (const std::exception& e) {
      spdlog::error("archive: cannot record the end of chain {}: {}", writer_->id(), e.what());
    }
    spdlog::error("archive: chain {} ends: {}; a new chain begins with the next backup", writer_->id(), cause);
  }
  writer_.reset();
  status_.chain.clear();
  status_.chain_has_base = false;
  pending_.clear();
  status_.pending_bytes = 0;
  status_.pending_transactions = 0;
  status_.oldest_pending_ms = 0;
  status_.gaps.push_back({since, 0, cause});
  status_.no_chain_since_ms = now;
  tell_needs_base();
}

void Archiver::step() {
  // Until this step ends well, the pin may not hold everything since position_
  // (a step that failed, in mark() or finish() as in the loop).
  const bool was_pinned = pinned_throughout_;
  pinned_throughout_ = false;
  pin_->begin_next();
  reopen_wal_if_replaced();
  if (first_step_) {
    first_step_ = false;
    if (resumed_) {
      const auto header = current_wal_header();
      if (header != position_.header) {
        end_chain("the WAL was restarted while sqlkeeper was not running (the last transaction archived at " +
                  format_ms(resumed_->last_ms) + "); what was committed in between was not archived");
        position_ = {};
      } else if (writer_) {
        Record resume;
        resume.type = RecordType::resume;
        resume.at_ms = std::max(now_ms(), resumed_->last_ms);
        resume.since_ms = resumed_->last_ms;
        resume.seq = resumed_->last_seq;
        resume.cause = resumed_->last && resumed_->last->type == RecordType::stop ? "sqlkeeper was stopped"
                                                                                 : "sqlkeeper was not running";
        writer_->append({resume});
        status_.last_archived_ms = resume.at_ms;
        spdlog::info("archive: chain {} goes on after transaction {}", writer_->id(), resumed_->last_seq);
      }
      resumed_.reset();
    } else {
      // No chain to go on with: whatever the WAL holds is in the next backup.
      position_ = {};
    }
  }
  if (wal_) {
    // Everything the new pin holds is read before the older pin goes: the new
    // one may hold read mark 0 (everything was backfilled), which keeps no
    // writer from restarting the WAL over frames not read yet. Its frames lie
    // within the file's size now; the older pin keeps them there meanwhile.
    struct stat st {};
    if (::fstat(wal_.get(), &st) != 0) throw system_error("fstat " + options_.database.string() + "-wal", errno);
    const auto held_to = static_cast<std::uint64_t>(st.st_size);
    for (;;) {
      auto r = read_wal(wal_, position_, options_.read_bytes_per_step);
      if (r.new_generation && position_.header && !was_pinned && writer_)
        end_chain("the WAL was restarted while its frames were not held");
      const auto read = now_ms();
      for (auto& txn : r.transactions) {
        status_.pending_bytes += txn.frames.size();
        Record& p = pending_.emplace_back();
        p.type = RecordType::txn;
        p.wal_header = encode_wal_header(*r.next.header);
        p.first_frame = txn.first_frame;
        p.seed = txn.seed;
        p.frames = std::move(txn.frames);
      }
      status_.wal_bytes_read += r.bytes_read;
      if (!r.transactions.empty() && status_.oldest_pending_ms == 0) status_.oldest_pending_ms = read;
      status_.pending_transactions = pending_.size();
      position_ = r.next;
      if (!r.stopped_at_limit || kWalHeaderBytes + frame_bytes_before(position_) >= held_to) break;
      // Written out between reads: memory holds about one read's worth.
      flush(true);
      if (status_.pending_bytes > options_.max_pending_bytes && writer_)
        end_chain("more than " + std::to_string(options_.max_pending_bytes >> 20) +
                  " MiB read from the WAL could not be written to the archive (" + status_.error + ")");
    }
  }
  pin_->release_previous();
  pinned_throughout_ = true;
  if (status_.pending_bytes > options_.max_pending_bytes && writer_)
    end_chain("more than " + std::to_string(options_.max_pending_bytes >> 20) +
              " MiB read from the WAL could not be written to the archive" +
              (status_.error.empty() ? "" : " (" + status_.error + ")"));
}

// With mutex_ held, after a step: the WAL's current generation has grown past
// restart_wal_bytes or restart_wal_frames, all of it read.
void Archiver::restart_wal_if_long() {
  if (options_.restart_wal_bytes == 0 || !wal_ || !position_.header || !pin_) return;
  const auto written = frame_bytes_before(position_);
  const auto frame_bytes = kWalFrameHeaderBytes + position_.header->page_size;
  const auto limit = options_.restart_wal_frames == 0
                         ? options_.restart_wal_bytes
                         : std::min<std::uint64_t>(options_.restart_wal_bytes,
                                                   std::uint64_t{options_.restart_wal_frames} * frame_bytes);
  if (written < limit || SteadyClock::now() < next_restart_try_ ||
      (position_.header == restarted_header_ && written < restarted_written_ + limit) ||
      restart_holds_->load() > 0 || !status_.error.empty())
    return;
  // What the WAL lets go is on disk in the archive first, but for what the
  // last steps read while the writers waited, written just after.
  flush(true);
  if (!pending_.empty()) return;
  auto outcome = WalRestart::Outcome::held;
  bool step_failed = false;
  try {
    if (!restart_) restart_.emplace(options_.database);
    outcome = restart_->run(options_.restart_limit, [this, &step_failed] {
      try {
        step();
      } catch (...) {
        step_failed = true;
        throw;
      }
    });
  } catch (const std::exception& e) {
    if (step_failed) throw;  // archiving's failure
    // Not archiving's: the WAL just grows until a checkpoint.
    spdlog::debug("archive: could not restart the WAL: {}", e.what());
    restart_.reset();
  }
  if (outcome == WalRestart::Outcome::restarted) {
    flush(true);
    ++status_.wal_restarts;
    // Where the steps it waited for left the position: the end of the generation.
    restarted_header_ = position_.header;
    restarted_written_ = frame_bytes_before(position_);
    restart_failures_ = 0;
    next_restart_try_ = {};
  } else if (outcome == WalRestart::Outcome::held) {
    next_restart_try_ = SteadyClock::now() + kRestartBackoff * (1 << std::min(restart_failures_, kRestartBackoffDoublings));
    ++restart_failures_;
  } else {
    next_restart_try_ = SteadyClock::now() + kAfterAnotherCheckpoint;
  }
}

std::shared_ptr<void> Archiver::hold_restarts() {
  ++*restart_holds_;
  // The count, not the archiver: a hold may outlive it (a job at shut-down).
  return {nullptr, [holds = restart_holds_](void*) { --*holds; }};
}

void Archiver::flush(bool force) {
  if (pending_.empty()) return;
  const auto now = now_ms();
  if (!writer_) {
    // No chain: the next backup holds these.
    pending_.clear();
    status_.pending_bytes = status_.pending_transactions = 0;
    status_.oldest_pending_ms = 0;
    return;
  }
  if (!force && now < status_.oldest_pending_ms + options_.interval.count() / 2) return;
  const auto at = std::max(now, status_.last_archived_ms);
  // Set again at the next try if this one fails.
  auto seq = status_.last_seq;
  for (auto& p : pending_) {
    p.at_ms = at;
    p.seq = ++seq;
  }
  try {
    const auto before = writer_->bytes_written();
    writer_->append(pending_);
    status_.archive_bytes_written += writer_->bytes_written() - before;
  } catch (const std::exception& e) {
    if (status_.error.empty()) status_.failing_since_ms = now;
    status_.error = e.what();
    spdlog::error("archive: cannot write to chain {}: {}", writer_->id(), e.what());
    if (!writer_->broken().empty())
      end_chain(writer_->broken());
    else if (now - status_.failing_since_ms > options_.max_lag.count())
      end_chain("the archive could not be written for " + std::to_string((now - status_.failing_since_ms) / 1000) +
                " s: " + status_.error);
    return;
  }
  if (!status_.error.empty()) spdlog::info("archive: writing to chain {} again", writer_->id());
  status_.error.clear();
  status_.failing_since_ms = 0;
  status_.last_seq = seq;
  status_.last_archived_ms = at;
  status_.transactions_archived += pending_.size();
  pending_.clear();
  status_.pending_bytes = status_.pending_transactions = 0;
  status_.oldest_pending_ms = 0;
}

std::string Archiver::mark() {
  const std::lock_guard lock(mutex_);
  const Publish publish_at_exit{*this};
  if (!status_.running) return "";
  try {
    step();
    const auto now = now_ms();
    if (!writer_) {
      // Everything committed so far is in the backup whose gate is held now.
      pending_.clear();
      status_.pending_bytes = status_.pending_transactions = 0;
      status_.oldest_pending_ms = 0;
      const auto id = new_chain_id(now);
      hold_folder();
      lock_->name_chain(id);
      writer_.emplace(ChainWriter::create(options_.dir, id, options_.database_identity, start_record(position_, now), env_,
                                          options_.segment_size));
      status_.chain = id;
      status_.chain_has_base = false;  // until this backup finishes (base_taken)
      status_.last_seq = 0;
      status_.last_archived_ms = now;
      status_.error.clear();
      for (auto& g : status_.gaps)
        if (g.until_ms == 0) g.until_ms = now;
      spdlog::info("archive: chain {} begins", id);
      return id + " 0 " + std::to_string(now);
    }
    flush(true);
    if (!status_.error.empty() || !writer_) return "";
    return writer_->id() + " " + std::to_string(status_.last_seq) + " " + std::to_string(status_.last_archived_ms);
  } catch (const std::exception& e) {
    spdlog::error("archive: cannot mark a backup's place: {}", e.what());
    return "";
  }
}

// The daemon's loop asks and tells through the published copy only: mutex_ is
// held for a step, a flush with its fsync, a mark; the loop never waits on it.
void Archiver::base_taken(const std::string& mark) {
  const std::lock_guard lock(published_mutex_);
  base_marks_.push_back(mark);
  apply_base_marks(published_);
}

void Archiver::apply_base_marks(ArchiverStatus& s) const {
  for (const auto& mark : base_marks_) {
    if (s.chain.empty() || !mark.starts_with(s.chain + " ")) continue;
    s.chain_has_base = true;
    s.no_chain_since_ms = 0;
  }
}

// With mutex_ held: the state as the loop may see it.
void Archiver::publish() {
  const std::lock_guard lock(published_mutex_);
  apply_base_marks(status_);
  base_marks_.clear();
  published_ = status_;
}

bool Archiver::needs_base() const {
  const std::lock_guard lock(published_mutex_);
  return published_.running && (published_.chain.empty() || !published_.chain_has_base);
}

ArchiverStatus Archiver::status() const {
  const std::lock_guard lock(published_mutex_);
  return published_;
}

void Archiver::run() {
  Fd notify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  const auto folder = options_.database.has_parent_path() ? options_.database.parent_path() : fs::path(".");
  const auto db_name = options_.database.filename().string();
  const auto wal_name = db_name + "-wal";
  if (!notify || ::inotify_add_watch(notify.get(), folder.c_str(),
                                     IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM) < 0)
    spdlog::warn("archive: cannot watch {} ({}); looking every {} ms instead", folder.string(), std::strerror(errno),
                 options_.interval.count() / 2);
  std::size_t follow_up = 0;  // index into kFollowUps; == size: asleep
  auto last_wake = SteadyClock::now();
  auto last_step = SteadyClock::time_point{};
  bool wake_now = true;
  alignas(inotify_event) char events[4096];
  while (!stopping_) {
    if (!initialize()) {
      pollfd stop_fd{wake_.get(), POLLIN, 0};
      ::poll(&stop_fd, 1, static_cast<int>(options_.interval.count()));
      continue;
    }
    if (wake_now) {
      const auto since = SteadyClock::now() - last_step;
      if (since < kMinStepGap) std::this_thread::sleep_for(kMinStepGap - since);
      const std::lock_guard lock(mutex_);
      const Publish publish_at_exit{*this};
      try {
        step();
        flush(false);
        restart_wal_if_long();
      } catch (const std::exception& e) {
        if (status_.error.empty()) status_.failing_since_ms = now_ms();
        status_.error = e.what();
        spdlog::error("archive: {}", e.what());
        if (writer_ && now_ms() - status_.failing_since_ms > options_.max_lag.count())
          end_chain("the WAL could not be read for " + std::to_string(options_.max_lag.count() / 1000) + " s: " + status_.error);
      }
      last_step = SteadyClock::now();
    }
    compress_sealed();
    // How long to sleep: until the next follow-up, the pending transactions' flush, a retry; or until woken.
    int timeout = -1;
    const auto now = SteadyClock::now();
    if (follow_up < std::size(kFollowUps)) {
      const auto due = last_wake + kFollowUps[follow_up];
      timeout = static_cast<int>(std::max<std::int64_t>(0, std::chrono::duration_cast<Ms>(due - now).count()));
    }
    {
      const std::lock_guard lock(mutex_);
      const bool retry = !status_.error.empty() || !notify;
      if (!pending_.empty() || retry) {
        const auto flush_in = retry ? options_.interval.count() / 2
                                    : std::max<std::int64_t>(0, status_.oldest_pending_ms + options_.interval.count() / 2 - now_ms());
        timeout = timeout < 0 ? static_cast<int>(flush_in) : std::min(timeout, static_cast<int>(flush_in));
      }
    }
    pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {notify.get(), POLLIN, 0}};
    const int n = ::poll(fds, notify ? 2 : 1, timeout);
    if (n < 0 && errno != EINTR) {
      spdlog::error("archive: poll: {}", std::strerror(errno));
      std::this_thread::sleep_for(options_.interval);
    }
    if (stopping_) break;
    bool written = false;
    if (notify && (fds[1].revents & POLLIN)) {
      ssize_t len = 0;
      while ((len = ::read(notify.get(), events, sizeof events)) > 0) {
        for (char* p = events; p < events + len;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(p);
          if (ev->len > 0 && (db_name == ev->name || wal_name == ev->name)) written = true;
          p += sizeof(inotify_event) + ev->len;
        }
      }
    }
    if (written) {
      last_wake = SteadyClock::now();
      follow_up = 0;
      wake_now = true;
    } else if (n == 0 || !notify) {
      // A timeout: a follow-up, a flush or a retry is due.
      if (follow_up < std::size(kFollowUps) && SteadyClock::now() >= last_wake + kFollowUps[follow_up]) ++follow_up;
      wake_now = true;
    } else {
      wake_now = false;
    }
  }
}

}  // namespace sqlkeeper::archive
