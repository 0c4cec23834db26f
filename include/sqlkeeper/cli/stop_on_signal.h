#pragma once
// For a command that runs a long job in the foreground (backup, verify,
// restore): SIGINT, SIGTERM and SIGHUP ask the job to stop at its next step, so
// it cleans up its temporary files, instead of killing the process mid-write.
#include <atomic>
#include <thread>

#include "sqlkeeper/base/job.h"

namespace sqlkeeper::cli {

class StopOnSignal {
 public:
  explicit StopOnSignal(core::Job& job);
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  ~StopOnSignal();

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace sqlkeeper::cli
