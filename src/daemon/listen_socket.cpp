#include "sqlkeeper/daemon/listen_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sqlkeeper/error.h"

namespace sqlkeeper::daemon {
namespace {

sockaddr_un address_of(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof(addr.sun_path))
    throw Error(ErrorCode::config, "socket path " + path.string() + " is too long");
  std::memcpy(addr.sun_path, path.c_str(), path.native().size() + 1);
  return addr;
}

// True when something accepts connections on `path` right now.
bool someone_listens(const std::filesystem::path& path) {
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) throw system_error("socket", errno);
  const auto addr = address_of(path);
  return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

void remove_stale(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw system_error("stat socket path " + path.string(), errno);
  }
  if (!S_ISSOCK(st.st_mode))
    throw Error(ErrorCode::conflict,
                "socket path " + path.string() + " exists and is not a socket; refusing to replace it");
  if (someone_listens(path))
    throw Error(ErrorCode::conflict,
                "another sqlkeeper is already answering on " + path.string() + "; refusing to start a second one");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw system_error("remove stale socket " + path.string(), errno);
}

}  // namespace

ListenSocket open_listen_socket(const std::filesystem::path& path, unsigned mode) {
  ListenSocket result;
  const int passed = sd_listen_fds(1);
  if (passed > 1) throw Error(ErrorCode::config, "systemd passed " + std::to_string(passed) + " sockets, expected one");
  if (passed == 1) {
    if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, nullptr, 0) <= 0)
      throw Error(ErrorCode::config, "the socket systemd passed is not a listening Unix stream socket");
    result.fd.reset(SD_LISTEN_FDS_START);
    result.activated = true;
    return result;
  }

  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw Error(ErrorCode::io, "create socket directory " + path.parent_path().string() + ": " + ec.message());
  remove_stale(path);
  result.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!result.fd) throw system_error("socket", errno);
  // Bind and listen under a temporary name, then link it into place: the socket
  // appears at `path` already listening (no window where clients get ECONNREFUSED
  // and another instance would take it for stale), and link() fails if something
  // took `path` meanwhile, as bind() would. A path too long for a suffix is bound directly.
  auto temporary = path;
  temporary += ".new-" + std::to_string(::getpid());
  const bool via_temporary = temporary.native().size() < sizeof(sockaddr_un{}.sun_path);
  const auto& bind_path = via_temporary ? temporary : path;
  if (via_temporary) ::unlink(temporary.c_str());
  const auto addr = address_of(bind_path);
  // Bind under a umask that leaves no window where the socket is wider than asked.
  const mode_t old_mask = ::umask(static_cast<mode_t>(~mode & 0777));
  const int bound = ::bind(result.fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) throw system_error("bind health socket " + bind_path.string(), bind_errno);
  const auto fail = [&](const std::string& what, int err) {
    if (via_temporary) ::unlink(temporary.c_str());
    return system_error(what, err);
  };
  if (::chmod(bind_path.c_str(), mode) != 0) throw fail("chmod " + bind_path.string(), errno);
  if (::listen(result.fd.get(), SOMAXCONN) != 0) throw fail("listen on " + bind_path.string(), errno);
  if (via_temporary) {
    if (::link(temporary.c_str(), path.c_str()) != 0) {
      const int err = errno;
      ::unlink(temporary.c_str());
      if (err == EEXIST)
        throw Error(ErrorCode::conflict, "another process created " + path.string() +
                                             " while this one was starting; refusing to replace it");
      throw system_error("link health socket into place at " + path.string(), err);
    }
    ::unlink(temporary.c_str());
  }
  result.created = path;
  return result;
}

}  // namespace sqlkeeper::daemon
