#pragma once
// The health socket's routes and the systemd STATUS= line: pure renderings of
// the daemon's state (daemon/state.h) at a given time, so tests and the fuzzer
// reach every answer without a running daemon.
#include <chrono>
#include <string>

#include "sqlkeeper/daemon/health.h"
#include "sqlkeeper/daemon/health_server.h"
#include "sqlkeeper/daemon/state.h"

namespace sqlkeeper::daemon {

core::HealthInputs health_inputs(const DaemonState& state, std::chrono::system_clock::time_point now);

// Answers one request on the health socket from the state alone.
HttpResponse route(const HttpRequest& request, const DaemonState& state, std::chrono::system_clock::time_point now);

// The one-line STATUS= for `systemctl status`.
std::string status_line(const DaemonState& state, std::chrono::system_clock::time_point now);

}  // namespace sqlkeeper::daemon
