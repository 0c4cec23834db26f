#include <iostream>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/config/paths.h"

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
  return 0;
}

}  // namespace sqlkeeper::cli
