#include "sqlkeeper/archive/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string_view>
#include <thread>

#include "sqlkeeper/error.h"

namespace sqlkeeper::archive {

namespace fs = std::filesystem;

FolderLock FolderLock::take(const fs::path& archive_dir, Env& env) {
  env.create_directories(archive_dir, 0700);
  auto path = archive_dir / kArchivingLock;
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw system_error("open " + path.string(), errno);
  // A command that asks whether an archive is live holds a shared lock for a
  // moment (archive_is_live): a few tries tell that from a daemon that holds it.
  for (int tries = 1; ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0; ++tries) {
    if (errno != EWOULDBLOCK) throw system_error("lock " + path.string(), errno);
    if (tries == 20) throw Error(ErrorCode::conflict, "another sqlkeeper archives into " + archive_dir.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return FolderLock(std::move(fd), std::move(path));
}

void FolderLock::name_chain(const std::string& id) {
  const auto text = id + "\n";
  if (::pwrite(fd_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      ::ftruncate(fd_.get(), static_cast<off_t>(text.size())) != 0)
    throw system_error("name the chain written in " + path_.string(), errno);
}

bool archive_is_live(const fs::path& archive_dir) {
  Fd fd(::open((archive_dir / kArchivingLock).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;
  return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

std::string last_chain_written(const fs::path& archive_dir) {
  // Read without the lock: a reader's shared lock, however brief, could make a
  // starting archive's exclusive one fail.
  Fd fd(::open((archive_dir / kArchivingLock).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return "";
  char text[64];
  const auto n = ::pread(fd.get(), text, sizeof text, 0);
  if (n <= 0) return "";
  const std::string_view read(text, static_cast<std::size_t>(n));
  const auto end = read.find('\n');
  return end == std::string_view::npos ? "" : std::string(read.substr(0, end));
}

}  // namespace sqlkeeper::archive
