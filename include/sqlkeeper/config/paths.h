#pragma once
// Checks of the configured paths against the file system, apart from the pure
// resolve(): a command that uses the paths calls it after loading, so that a path
// of the wrong kind is a configuration error naming its option, not a failed open.
#include "sqlkeeper/config/config.h"

namespace sqlkeeper::config {

// Throws Error(config) naming the option, its value and its source when `database`
// exists and is not a regular file (or a parent of it is not a directory), or when
// `migrations` or `backup-dir` exists and is not a directory. Missing paths pass:
// they are created or reported by the code that uses them. Uses stat() only: a
// descriptor opened and closed on a live database would drop this process's locks.
void check_paths(const Loaded& loaded);

}  // namespace sqlkeeper::config
