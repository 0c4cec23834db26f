#include <iostream>

#include "sqlkeeper/cli/cli.h"

namespace sqlkeeper::cli {

int check_config_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  std::cout << "# configuration is valid" << (loaded.file ? " (file " + loaded.file->string() + ")" : "") << "\n"
            << config::describe(loaded.settings);
  return 0;
}

}  // namespace sqlkeeper::cli
