#include "sqlkeeper/cli/stop_on_signal.h"

#include <signal.h>

#include <ctime>
#include <string>

namespace sqlkeeper::cli {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

// The signals are blocked in every thread and taken with sigtimedwait by one
// watcher thread, which may then do what a signal handler may not (lock a mutex).
StopOnSignal::StopOnSignal(core::Job& job) {
  const auto set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this, &job, set] {
    const timespec tick{0, 100'000'000};
    while (!done_) {
      const int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig > 0) job.request_stop(std::string("signal ") + sigabbrev_np(sig));
    }
  });
}

StopOnSignal::~StopOnSignal() {
  done_ = true;
  thread_.join();
  const auto set = stop_signals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace sqlkeeper::cli
