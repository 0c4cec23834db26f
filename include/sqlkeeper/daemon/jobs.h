#pragma once
// Running work on the worker and bringing its outcome back to the event loop:
// the work runs under its job (stop token, deadline, progress), and its result,
// or the error that ended it, is handed to `done` on the loop's thread, so the
// loop's state is only ever touched there.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>
#include <functional>
#include <optional>
#include <string>

#include "sqlkeeper/daemon/worker.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::daemon {

template <class Result>
struct Outcome {
  std::optional<Result> value;  // set on success
  std::string error;            // what ended it otherwise
  ErrorCode code = ErrorCode::internal;
  int sys_errno = 0;
};

// Posts `work` to the worker under `name` (with `join`, a job of that name that
// is already queued or running is joined instead, and `done` is dropped); `done`
// runs on `loop` with the outcome.
template <class Result>
Worker::Posted post_job(Worker& worker, boost::asio::io_context& loop, const std::string& name,
                        std::chrono::milliseconds limit, std::function<Result(core::Job&)> work,
                        std::function<void(Outcome<Result>)> done, bool join = true) {
  return worker.post(name, limit, [&loop, work = std::move(work), done = std::move(done)](core::Job& job) {
    Outcome<Result> outcome;
    try {
      outcome.value = work(job);
    } catch (const Error& e) {
      outcome.error = e.what();
      outcome.code = e.code();
      outcome.sys_errno = e.sys_errno();
      // Said here: on a stop the loop may have ended before the outcome reaches it.
      if (e.code() == ErrorCode::stopped) spdlog::info("{}", e.what());
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
    boost::asio::post(loop, [done, outcome = std::move(outcome)] { done(outcome); });
  }, join);
}

}  // namespace sqlkeeper::daemon
