#pragma once
// Runs `post-backup-command` for each new backup: a child process, no shell (the
// backup's path is one argument), stdin from /dev/null, stdout and stderr into one
// pipe whose last lines are kept for the log and /status. It runs on the loop,
// asynchronously (a pidfd tells when it exits), so an hour-long upload never holds
// the worker that checkpoints the database. At its timeout, and when the daemon
// stops, its process group gets SIGTERM and, if still there, SIGKILL. A backup
// finished while the command still runs for an older one is run next (only the
// newest waits).
#include <sys/types.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sqlkeeper::daemon {

struct PostBackupResult {
  std::string file;
  bool ok = false;
  std::string outcome;             // "exit status 0", "exit status 3", "killed by signal 9", "timed out after 1h", ...
  std::vector<std::string> output;  // its last lines, control characters escaped
  std::chrono::milliseconds duration{};
};

class PostBackupRunner {
 public:
  using Done = std::function<void(const PostBackupResult&)>;
  explicit PostBackupRunner(boost::asio::io_context& io);
  ~PostBackupRunner();
  PostBackupRunner(const PostBackupRunner&) = delete;
  PostBackupRunner& operator=(const PostBackupRunner&) = delete;

  // `argv` is the command with the file already placed (config::command_for_file).
  void run(std::vector<std::string> argv, std::string file, std::chrono::milliseconds timeout, Done done);
  bool running() const { return pid_ > 0; }
  // Ends a running command (SIGKILL to its group) and forgets a waiting one.
  void stop();

 private:
  struct Pending {
    std::vector<std::string> argv;
    std::string file;
    std::chrono::milliseconds timeout;
    Done done;
  };
  void start(Pending p);
  void read_output();
  void on_exit();
  void signal_group(int sig);

  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor output_;
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::steady_timer timer_;
  pid_t pid_ = 0;
  Pending current_;
  std::optional<Pending> waiting_;
  std::chrono::steady_clock::time_point started_;
  std::string tail_;
  std::string timed_out_;  // non-empty once the timeout fired
  std::array<char, 4096> buffer_{};
};

// Pure: the last `max_lines` lines of `text`, each at most `max_width` bytes,
// with control characters and non-ASCII bytes shown as \xNN.
std::vector<std::string> last_lines(const std::string& text, std::size_t max_lines, std::size_t max_width);

}  // namespace sqlkeeper::daemon
