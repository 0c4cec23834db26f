#pragma once
// Runs work whose time grows with the database (a backup's copy and its
// verification) on a thread of its own at background priority: SCHED_IDLE (nice +10 where
// that is refused) and the idle I/O class, which the threads it starts inherit. On two
// cores the application's own processes then get the CPU and the disk first.
// A thread of its own, because an unprivileged thread cannot raise its priority
// back, and the caller's next job may be a checkpoint that the applications'
// writers wait for (at a low priority that wait would grow).
#include <exception>
#include <functional>

namespace sqlkeeper::core {

// Runs `work` to its end on the background thread; rethrows what it threw.
void run_at_background_priority(const std::function<void()>& work);

}  // namespace sqlkeeper::core
