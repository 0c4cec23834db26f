#include "sqlkeeper/base/background_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace sqlkeeper::core {
namespace {

constexpr int kNice = 10;
// ioprio_set(2): the idle class (3), for this thread. mq-deadline and BFQ then
// dispatch the applications' writes (an fsync per commit) before the copy's; both
// age waiting requests, so the copy is slowed under load, never starved.
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassIdle = 3;
constexpr int kIoprioClassShift = 13;

void lower_this_thread() {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  // Best effort: a failure leaves the thread at its normal priority, which is only slower for others.
  // SCHED_IDLE: the CPU only when no normal thread wants it (the nice value stays
  // for kernels that refuse it).
  const sched_param idle{};
  (void)::sched_setscheduler(static_cast<pid_t>(tid), SCHED_IDLE, &idle);
  (void)::setpriority(PRIO_PROCESS, tid, kNice);
  (void)::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, kIoprioClassIdle << kIoprioClassShift);
}

}  // namespace

void run_at_background_priority(const std::function<void()>& work) {
  std::exception_ptr error;
  std::thread thread([&] {
    lower_this_thread();
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
  });
  thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace sqlkeeper::core
