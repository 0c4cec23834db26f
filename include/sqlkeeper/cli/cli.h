#pragma once
// The command line: `sqlkeeper COMMAND [options]`, dispatched from a table of
// subcommands, one source file each.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "sqlkeeper/config/config.h"

namespace sqlkeeper::cli {

// What a subcommand receives: its own options, positional words, and the means
// to load the layered configuration.
struct Invocation {
  boost::program_options::variables_map vars;
  std::vector<std::string> positional;
  std::map<std::string, std::string> config_flags;  // config options given as flags
  std::optional<std::filesystem::path> config_file;
  std::vector<std::string> env;

  // Loads defaults < file < env < flags; throws Error(config).
  config::Loaded load_config() const;
};

struct Command {
  const char* name;
  const char* usage;
  const char* summary;
  // Options of this command beyond the configuration options.
  boost::program_options::options_description (*options)();
  int (*run)(const Invocation&);
  // Positional words the command takes at most; more are refused, never ignored.
  std::size_t max_arguments = 0;
};

const std::vector<Command>& commands();
int main(int argc, char** argv);

// Subcommands.
boost::program_options::options_description no_options();
int run_command(const Invocation&);
boost::program_options::options_description migrate_options();
int migrate_command(const Invocation&);
boost::program_options::options_description health_options();
int health_command(const Invocation&);
int status_command(const Invocation&);
boost::program_options::options_description check_config_options();
int check_config_command(const Invocation&);
boost::program_options::options_description backup_options();
int backup_command(const Invocation&);
boost::program_options::options_description backups_options();
int backups_command(const Invocation&);
boost::program_options::options_description verify_options();
int verify_command(const Invocation&);
int verify_archive_command(const Invocation&, const config::Config&);  // verify --archive
boost::program_options::options_description restore_options();
int restore_command(const Invocation&);
boost::program_options::options_description prune_options();
int prune_command(const Invocation&);
boost::program_options::options_description archive_options();
int archive_command(const Invocation&);

}  // namespace sqlkeeper::cli
