#include "sqlkeeper/daemon/post_backup.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <cerrno>
#include <cstring>

#include "sqlkeeper/config/units.h"
#include "sqlkeeper/printable.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace sqlkeeper::daemon {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::size_t kTailBytes = 8192;
constexpr std::size_t kTailLines = 10;
constexpr std::size_t kLineWidth = 300;
// After SIGTERM at the timeout, this long before SIGKILL.
constexpr auto kKillGrace = 10s;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  sigabbrev_np(WTERMSIG(status)) + ")";
  return "ended with status " + std::to_string(status);
}

// posix_spawn's attributes and file actions, freed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

std::vector<std::string> last_lines(const std::string& text, std::size_t max_lines, std::size_t max_width) {
  std::vector<std::string> lines;
  std::string line;
  const auto flush = [&] {
    if (!line.empty()) lines.push_back(line);
    line.clear();
  };
  for (const char ch : text) {
    if (ch == '\n' || ch == '\r') {
      flush();
      continue;
    }
    if (line.size() >= max_width) continue;
    append_printable(line, ch);
  }
  flush();
  if (lines.size() > max_lines) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(max_lines));
  return lines;
}

PostBackupRunner::PostBackupRunner(asio::io_context& io) : io_(io), output_(io), pidfd_(io), timer_(io) {}

PostBackupRunner::~PostBackupRunner() { stop(); }

void PostBackupRunner::run(std::vector<std::string> argv, std::string file, std::chrono::milliseconds timeout,
                           Done done) {
  Pending p{std::move(argv), std::move(file), timeout, std::move(done)};
  if (running()) {
    if (waiting_) spdlog::info("post-backup-command: {} will not be run, a newer backup replaces it", waiting_->file);
    waiting_ = std::move(p);
    return;
  }
  start(std::move(p));
}

void PostBackupRunner::start(Pending p) {
  current_ = std::move(p);
  tail_.clear();
  timed_out_.clear();
  started_ = std::chrono::steady_clock::now();
  const auto fail = [this](const std::string& why) {
    auto done = std::move(current_.done);
    if (done) done(PostBackupResult{current_.file, false, why, {}, 0ms});
  };

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(std::string("could not start: pipe: ") + std::strerror(errno));
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&setup.actions, fds[1], 2);
  // Its own process group, so a timeout ends the tools it starts too; default
  // signal dispositions and an empty mask whatever the daemon's threads block.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (auto& a : current_.argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "SQLKEEPER_BACKUP_FILE=", 22) != 0) env_strings.emplace_back(*e);
  env_strings.push_back("SQLKEEPER_BACKUP_FILE=" + current_.file);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &setup.actions, &setup.attr, args.data(), envp.data());
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return fail("could not start " + current_.argv[0] + ": " + std::strerror(rc));
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    // Without a pidfd the exit could not be awaited on the loop; end it rather than lose track.
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(fds[0]);
    return fail(std::string("could not watch the child: pidfd_open: ") + std::strerror(errno));
  }
  pid_ = pid;
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  output_.assign(fds[0]);
  pidfd_.assign(pidfd);
  spdlog::info("post-backup-command started for {} (pid {})", current_.file, pid);
  read_output();
  pidfd_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (!ec) on_exit();
  });
  timer_.expires_after(current_.timeout);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running()) return;
    timed_out_ = "timed out after " + config::format_duration(current_.timeout);
    spdlog::warn("post-backup-command for {} {}; stopping it", current_.file, timed_out_);
    signal_group(SIGTERM);
    timer_.expires_after(kKillGrace);
    timer_.async_wait([this](const boost::system::error_code& ec2) {
      if (!ec2 && running()) signal_group(SIGKILL);
    });
  });
}

void PostBackupRunner::read_output() {
  output_.async_read_some(asio::buffer(buffer_), [this](const boost::system::error_code& ec, std::size_t n) {
    if (ec) return;  // EOF, or closed at exit
    tail_.append(buffer_.data(), n);
    if (tail_.size() > kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
    read_output();
  });
}

void PostBackupRunner::on_exit() {
  int status = 0;
  ::waitpid(pid_, &status, 0);  // it has exited: the pidfd is readable
  pid_ = 0;
  timer_.cancel();
  // What it wrote just before it ended; a grandchild still holding the pipe is not waited for.
  for (;;) {
    const auto n = ::read(output_.native_handle(), buffer_.data(), buffer_.size());
    if (n <= 0) break;
    tail_.append(buffer_.data(), static_cast<std::size_t>(n));
  }
  boost::system::error_code ignored;
  output_.close(ignored);
  pidfd_.close(ignored);
  PostBackupResult r;
  r.file = current_.file;
  r.ok = timed_out_.empty() && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  r.outcome = timed_out_.empty() ? describe_status(status) : timed_out_ + " (" + describe_status(status) + ")";
  r.output = last_lines(tail_.size() > kTailBytes ? tail_.substr(tail_.size() - kTailBytes) : tail_, kTailLines,
                        kLineWidth);
  r.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
  auto done = std::move(current_.done);
  if (done) done(r);
  if (waiting_ && !running()) {
    auto next = std::move(*waiting_);
    waiting_.reset();
    start(std::move(next));
  }
}

void PostBackupRunner::signal_group(int sig) {
  if (pid_ > 0) ::kill(-pid_, sig);
}

void PostBackupRunner::stop() {
  waiting_.reset();
  if (!running()) return;
  signal_group(SIGKILL);
  // Not waited for: a child stuck in the kernel (a hung network mount) must not
  // hold up the daemon's stop; systemd ends what is left of the unit's processes.
  ::waitpid(pid_, nullptr, WNOHANG);
  pid_ = 0;
  boost::system::error_code ignored;
  timer_.cancel();
  output_.close(ignored);
  pidfd_.close(ignored);
  current_.done = nullptr;
}

}  // namespace sqlkeeper::daemon
