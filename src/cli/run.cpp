#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/daemon/daemon.h"
#include "sqlkeeper/daemon/logging.h"

namespace sqlkeeper::cli {

int run_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  daemon::setup_logging(loaded.config.log_level, loaded.config.log_format);
  return daemon::run_daemon(loaded, [&inv] { return inv.load_config(); });
}

}  // namespace sqlkeeper::cli
