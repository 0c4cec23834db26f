#pragma once
// `sqlkeeper run`: the event loop that owns the database's lifecycle. It wires
// the parts (health server, notifier, worker, signals, timers) and decides what
// runs when; the worker does the long work.
#include <functional>

#include "sqlkeeper/config/config.h"

namespace sqlkeeper::daemon {

// Re-reads the configuration from the same sources; throws Error(config).
using ConfigReloader = std::function<config::Loaded()>;

// Runs until SIGTERM/SIGINT or a fatal start-up error; returns the exit status.
int run_daemon(const config::Loaded& loaded, ConfigReloader reload);

}  // namespace sqlkeeper::daemon
