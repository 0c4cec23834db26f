#include <iostream>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/db/shared_access.h"

namespace sqlkeeper::cli {

boost::program_options::options_description check_config_options() {
  boost::program_options::options_description desc("Options");
  desc.add_options()("sample", "print a commented configuration file with every default");
  return desc;
}

int check_config_command(const Invocation& inv) {
  if (inv.vars.count("sample")) {
    std::cout << config::sample_file();
    return 0;
  }
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  std::cout << "# configuration is valid" << (loaded.file ? " (file " + loaded.file->string() + ")" : "") << "\n"
            << config::describe(loaded.settings);
  // Warnings, not errors: the set-up may be completed after this check (the
  // directory made setgid, the database's group changed), and nothing is unsafe.
  const auto& c = loaded.config;
  for (const auto& warning : core::shared_access_warnings(c.app_group, c.file_mode, c.database,
                                                          core::look_up_shared_access(c.app_group, c.database)))
    std::cerr << "sqlkeeper check-config: warning: " << warning << "\n";
  return 0;
}

}  // namespace sqlkeeper::cli
