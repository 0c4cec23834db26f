#include "sqlkeeper/daemon/backup_folder_watch.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/file_identity.h"

namespace sqlkeeper::daemon {
namespace {

using SteadyClock = std::chrono::steady_clock;
// A change that kept the folder's mtime is seen at the latest this long after.
constexpr auto kRereadEvery = std::chrono::minutes(1);
// The folder's mtime has the kernel's coarse clock: a read within this long of
// the last change may have missed a second change in the same tick (a sidecar
// renamed in just after its backup), so it counts as not read (racy git's rule).
constexpr auto kRacyChange = std::chrono::seconds(2);

}  // namespace

struct BackupFolderWatch::Shared {
  Shared(boost::asio::io_context& i, std::filesystem::path d, std::filesystem::path c, std::filesystem::path f,
         std::string s, Env& e, Seen cb)
      : io(i),
        dir(std::move(d)),
        configured(std::move(c)),
        fallback(std::move(f)),
        stem(std::move(s)),
        env(e),
        seen(std::move(cb)) {}
  boost::asio::io_context& io;
  const std::filesystem::path dir;
  const std::filesystem::path configured;
  const std::filesystem::path fallback;
  const std::string stem;
  Env& env;
  const Seen seen;

  std::mutex mutex;
  std::condition_variable wake;
  bool asked = false;
  bool reread = false;
  bool stopped = false;
  std::optional<SteadyClock::time_point> busy_since;

  // The looking thread's own: the folder's identity once seen (it may be made
  // after start), and what it was when its backups were last read.
  std::optional<core::FileIdentity> identity;
  std::optional<std::filesystem::file_time_type> read_at_mtime;
  SteadyClock::time_point read_at;

  BackupFolderLook look_now(bool reread_now) {
    BackupFolderLook out;
    try {
      std::error_code ec;
      const auto st = std::filesystem::status(dir, ec);
      if (ec && ec != std::errc::no_such_file_or_directory) {
        out.error = "cannot look at backup folder " + dir.string() + ": " + ec.message();
        return out;
      }
      const bool there = !ec && std::filesystem::exists(st);
      if (there && !identity) identity = core::identity_of(dir);
      out.error = swapped();
      out.free_bytes = env.free_bytes(there ? dir : fallback);
      const auto mtime = there ? std::filesystem::last_write_time(dir) : std::filesystem::file_time_type::min();
      const auto now = SteadyClock::now();
      if (!reread_now && read_at_mtime == mtime && now - read_at < kRereadEvery) return out;
      const auto catalog = core::read_catalog(dir, stem);
      out.read_backups = true;
      out.backup_count = static_cast<int>(
          std::count_if(catalog.backups.begin(), catalog.backups.end(), [](const auto& e) { return e.finished(); }));
      if (const auto* last = core::last_regular_backup(catalog))
        out.last_backup = BackupSummary{last->file.string(), last->name.at, last->size, last->verified()};
      const bool settled = !there || std::filesystem::file_time_type::clock::now() - mtime > kRacyChange;
      read_at_mtime = settled ? std::optional(mtime) : std::nullopt;
      read_at = now;
    } catch (const std::exception& e) {
      out.error = "cannot look at backup folder " + dir.string() + ": " + e.what();
    }
    return out;
  }

  // Why `configured` no longer leads to `dir`: a link pointed elsewhere, or the
  // folder replaced by another one (or by a link) at the same path.
  std::string swapped() const {
    std::error_code ec;
    const auto now = std::filesystem::weakly_canonical(configured, ec);
    const auto now_identity = core::identity_of(configured);
    const bool moved = (!ec && now != dir) || (identity && now_identity && *now_identity != *identity);
    if (!moved) return {};
    return "backup-dir " + configured.string() + " leads to " + (ec ? std::string("nowhere") : now.string()) +
           " since sqlkeeper started, not to " + dir.string() +
           "; backups go on there until a restart (put it back, or restart sqlkeeper to follow it)";
  }

  void run() {
    for (;;) {
      bool reread_now = false;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return asked || stopped; });
        if (stopped) return;
        asked = false;
        reread_now = std::exchange(reread, false);
        busy_since = SteadyClock::now();
      }
      auto look = look_now(reread_now);
      std::lock_guard lock(mutex);
      busy_since.reset();
      // Under the lock: once the owner has said stop, nothing reaches the loop.
      if (stopped) return;
      boost::asio::post(io, [cb = seen, look = std::move(look)] { cb(look); });
    }
  }
};

BackupFolderWatch::BackupFolderWatch(boost::asio::io_context& io, std::filesystem::path dir,
                                     std::filesystem::path configured, std::filesystem::path fallback, std::string stem,
                                     Env& env, Seen seen)
    : shared_(std::make_shared<Shared>(io, std::move(dir), std::move(configured), std::move(fallback), std::move(stem),
                                       env, std::move(seen))),
      thread_([shared = shared_] { shared->run(); }) {}

BackupFolderWatch::~BackupFolderWatch() {
  bool busy = false;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopped = true;
    busy = shared_->busy_since.has_value();
  }
  shared_->wake.notify_all();
  // A look stuck in a system call on a dead mount may never return: waiting for
  // it would hang the daemon's stop. It keeps `shared_` alive and posts nothing.
  if (busy)
    thread_.detach();
  else
    thread_.join();
}

void BackupFolderWatch::look(bool reread) {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->asked = true;
    shared_->reread = shared_->reread || reread;
  }
  shared_->wake.notify_all();
}

std::optional<std::chrono::steady_clock::duration> BackupFolderWatch::busy_for() const {
  std::lock_guard lock(shared_->mutex);
  if (!shared_->busy_since) return std::nullopt;
  return SteadyClock::now() - *shared_->busy_since;
}

}  // namespace sqlkeeper::daemon
