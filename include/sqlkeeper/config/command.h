#pragma once
// `post-backup-command` as words, the way systemd's ExecStart= reads a line: no
// shell, so a file name can never be interpolated into one. Words split at
// blanks; '...' and "..." quote (in "...", \" and \\ escape); a backslash outside
// quotes escapes the next character. The word %f becomes the new backup's path;
// without one, the path is the last argument.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sqlkeeper::config {

// nullopt for an unbalanced quote or a trailing backslash.
std::optional<std::vector<std::string>> split_command(std::string_view text);

std::vector<std::string> command_for_file(const std::vector<std::string>& words, const std::string& file);

}  // namespace sqlkeeper::config
