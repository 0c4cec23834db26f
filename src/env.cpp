#include "sqlkeeper/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper {

void Env::fsync_file(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw system_error("open " + path.string() + " to fsync", errno);
  if (::fsync(fd.get()) != 0) throw system_error("fsync " + path.string(), errno);
}

void Env::fsync_dir(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw system_error("open directory " + dir.string() + " to fsync", errno);
  if (::fsync(fd.get()) != 0) throw system_error("fsync directory " + dir.string(), errno);
}

void Env::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw system_error("rename " + from.string() + " to " + to.string(), errno);
}

void Env::rename_new(const std::filesystem::path& from, const std::filesystem::path& to) {
  int rc = ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && errno == EINVAL) {
    // A file system without RENAME_NOREPLACE: link() fails on an existing name as well.
    rc = ::link(from.c_str(), to.c_str());
    if (rc == 0) ::unlink(from.c_str());
  }
  if (rc == 0) return;
  if (errno == EEXIST)
    throw Error(ErrorCode::conflict, "refusing to rename " + from.string() + " to " + to.string() +
                                         ": something else took that name meanwhile");
  throw system_error("rename " + from.string() + " to " + to.string(), errno);
}

void Env::create_file(const std::filesystem::path& path, unsigned mode) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw system_error("create " + path.string(), errno);
  if (::fchmod(fd.get(), mode) != 0) throw system_error("chmod " + path.string(), errno);
}

void Env::create_directories(const std::filesystem::path& dir, unsigned mode) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::io, "create folder " + dir.string() + ": " + ec.message(), 0, ec.value());
  if (::chmod(dir.c_str(), mode) != 0) throw system_error("chmod folder " + dir.string(), errno);
}

bool Env::remove_file(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw system_error("delete " + path.string(), errno);
}

void Env::write_file_atomic(const std::filesystem::path& path, const std::string& data, unsigned mode) {
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    // A fresh file, never through a link someone planted at the temporary name.
    ::unlink(tmp.c_str());
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd) throw system_error("create " + tmp.string(), errno);
    std::size_t done = 0;
    while (done < data.size()) {
      const auto n = ::write(fd.get(), data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::unlink(tmp.c_str());
        throw system_error("write " + tmp.string(), err);
      }
      done += static_cast<std::size_t>(n);
    }
  }
  try {
    fsync_file(tmp);
    rename(tmp, path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(path.parent_path().empty() ? "." : path.parent_path());
}

std::uint64_t Env::free_bytes(const std::filesystem::path& path) const {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) throw system_error("statvfs " + path.string(), errno);
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

void Env::append(const std::filesystem::path& path, const void* data, std::size_t size) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw system_error("open " + path.string() + " to append", errno);
  const auto* p = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const auto n = ::write(fd.get(), p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error("write " + path.string(), errno);
    done += static_cast<std::size_t>(n);
  }
}

void Env::truncate(const std::filesystem::path& path, std::uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) throw system_error("truncate " + path.string(), errno);
}

Env& Env::real() {
  static Env env;
  return env;
}

}  // namespace sqlkeeper
