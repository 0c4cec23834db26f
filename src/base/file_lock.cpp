#include "sqlkeeper/base/file_lock.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

Fd open_for_lock(const std::filesystem::path& path) {
  std::error_code ec;
  const bool directory = std::filesystem::is_directory(path, ec);
  Fd fd(directory ? ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                  : ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw system_error("open " + path.string() + " to lock it", errno);
  return fd;
}

bool try_flock(const Fd& fd, const std::filesystem::path& path) {
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return true;
  if (errno != EWOULDBLOCK) throw system_error("lock " + path.string(), errno);
  return false;
}

std::string process_name(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace

std::optional<FileLock> FileLock::try_acquire(const std::filesystem::path& path) {
  auto fd = open_for_lock(path);
  if (!try_flock(fd, path)) return std::nullopt;
  return FileLock(std::move(fd), path);
}

FileLock FileLock::acquire(const std::filesystem::path& path, const std::string& what, Job& job,
                           std::chrono::milliseconds timeout) {
  auto fd = open_for_lock(path);
  if (try_flock(fd, path)) return FileLock(std::move(fd), path);
  const auto holders = describe_lock_holders(path);
  spdlog::info("waiting up to {} ms for {} ({}), held by {}", timeout.count(), what, path.string(),
               holders.empty() ? "another process" : holders);
  const auto give_up = Job::Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(5);
  while (Job::Clock::now() < give_up) {
    if (!job.pause(pause)) job.check("waiting for " + what);
    if (try_flock(fd, path)) return FileLock(std::move(fd), path);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
  const auto now_holders = describe_lock_holders(path);
  throw Error(ErrorCode::conflict, "gave up after " + std::to_string(timeout.count()) + " ms waiting for " + what +
                                       " (" + path.string() + "), held by " +
                                       (now_holders.empty() ? "another process" : now_holders));
}

std::string describe_lock_holders(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  // /proc/locks lines: "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (device in hex);
  // a waiter's line reads "1: -> FLOCK ...".
  std::ifstream in("/proc/locks");
  std::string line;
  std::string out;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string index, kind, advisory, access, pid, id;
    fields >> index >> kind;
    if (kind != "FLOCK") continue;
    fields >> advisory >> access >> pid >> id;
    unsigned maj = 0, min = 0;
    unsigned long ino = 0;
    if (std::sscanf(id.c_str(), "%x:%x:%lu", &maj, &min, &ino) != 3) continue;
    if (maj != major(st.st_dev) || min != minor(st.st_dev) || ino != st.st_ino) continue;
    // A process can show twice (two open descriptions of the file, for a moment
    // one of them its own child's before exec): named once.
    if (!seen.insert(pid).second) continue;
    out += (out.empty() ? "" : ", ") + ("pid " + pid + " (" + process_name(pid) + ")");
  }
  return out;
}

}  // namespace sqlkeeper::core
