#pragma once
// Log set-up. Under systemd (JOURNAL_STREAM names our stderr) every line starts
// with the sd-daemon "<N>" priority prefix and carries no timestamp, so journald
// records the right priority; elsewhere lines are readable with timestamps.
#include <string>

namespace sqlkeeper::daemon {

void setup_logging(const std::string& level);
void set_log_level(const std::string& level);
// True when stderr is the journal stream systemd connected.
bool stderr_is_journal();

}  // namespace sqlkeeper::daemon
