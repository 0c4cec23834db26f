#pragma once
// One error type for the whole library: what failed, on what, and the low-level
// cause (SQLite's result code or errno) when there is one. Thrown by the I/O
// layers, caught at a command's entry or the top of a coroutine.
#include <stdexcept>
#include <string>

namespace sqlkeeper {

enum class ErrorCode {
  config,     // a bad option value or configuration file
  io,         // a file system or socket call failed
  sqlite,     // an sqlite3_* call failed
  migration,  // a migration folder, file or plan is unacceptable
  protocol,   // a peer spoke badly on the health socket
  conflict,   // another live instance holds the resource
  stopped,    // a job stopped on request or at its deadline
  internal,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, int sqlite_code = 0, int sys_errno = 0)
      : std::runtime_error(message), code_(code), sqlite_code_(sqlite_code), errno_(sys_errno) {}

  ErrorCode code() const noexcept { return code_; }
  int sqlite_code() const noexcept { return sqlite_code_; }
  int sys_errno() const noexcept { return errno_; }

 private:
  ErrorCode code_;
  int sqlite_code_;
  int errno_;
};

// An Error for a failed system call: "<what>: <strerror(errno)>".
Error system_error(const std::string& what, int err);

}  // namespace sqlkeeper
