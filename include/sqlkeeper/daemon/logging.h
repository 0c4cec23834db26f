#pragma once
// Log set-up, on stderr. `log-format json`: one JSON object per event
// ({"time","level","message"}), for log collectors. `text`: under systemd
// (JOURNAL_STREAM names our stderr) every line, each continuation line of a
// multi-line message too, starts with the sd-daemon "<N>" priority prefix and
// carries no timestamp, so journald records the right priority; elsewhere (a
// terminal, a container's log) lines are readable with timestamps and no prefix.
#include <string>
#include <string_view>

namespace sqlkeeper::daemon {

void setup_logging(const std::string& level, const std::string& format);
void set_log_level(const std::string& level);
// `text` with "<priority>" at the start of each of its lines.
std::string journal_lines(char priority, std::string_view text);
// `text` as a quoted JSON string; invalid UTF-8 becomes U+FFFD.
std::string json_string(std::string_view text);
// True when stderr is the journal stream systemd connected.
bool stderr_is_journal();

}  // namespace sqlkeeper::daemon
