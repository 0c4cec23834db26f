#include <sysexits.h>

#include <algorithm>
#include <boost/make_shared.hpp>
#include <cstdint>
#include <iostream>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/sqlite/library.h"

extern char** environ;

namespace po = boost::program_options;

namespace sqlkeeper::cli {
namespace {

// A command's own option of the same name wins (`verify --archive` checks the
// archive; the configuration's `archive` is then given by file or variable).
bool shadowed(const po::options_description& own, const char* name) {
  return own.find_nothrow(name, false) != nullptr;
}

po::options_description config_options(const po::options_description& own) {
  po::options_description desc("Configuration (also SQLKEEPER_<NAME> variables and --config file keys)");
  desc.add_options()("config", po::value<std::string>(), "INI configuration file");
  for (const auto& spec : config::option_table()) {
    if (shadowed(own, spec.name)) continue;
    const std::string help = std::string(spec.help) + " [" + spec.default_value + "]";
    auto* value = po::value<std::string>();
    // Boolean options may be given bare: `--allow-out-of-order` means true.
    if (std::string_view(spec.default_value) == "true" || std::string_view(spec.default_value) == "false")
      value->implicit_value("true");
    desc.add(boost::make_shared<po::option_description>(spec.name, value, help.c_str()));
  }
  return desc;
}

void print_usage(std::ostream& out) {
  out << "usage: sqlkeeper COMMAND [options]\n\ncommands:\n";
  // The summaries line up two spaces after the longest usage, whichever that is.
  std::size_t width = 0;
  for (const auto& c : commands()) width = std::max(width, std::string_view(c.usage).size());
  for (const auto& c : commands()) {
    std::string line = std::string("  ") + c.usage;
    line.resize(2 + width + 2, ' ');
    out << line << c.summary << "\n";
  }
  out << "\n`sqlkeeper COMMAND --help` lists a command's options.\n";
}

std::vector<std::string> environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

}  // namespace

config::Loaded Invocation::load_config() const {
  return config::load(config_flags, config_file, env);
}


po::options_description no_options() {
  return po::options_description("Options");
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"run", "run", "the daemon: migrate, report ready, keep the database", no_options, run_command},
      {"migrate", "migrate [status|up|new NAME|baseline]", "show, apply or adopt migrations without the daemon",
       migrate_options, migrate_command, 2},
      {"health", "health", "ask the running daemon; exit 0 ok, 1 degraded, 2 failing, 3 unreachable", health_options,
       health_command},
      {"status", "status [--json]", "the running daemon's status", health_options, status_command},
      {"check-config", "check-config [--sample]", "validate the configuration and print the effective values",
       check_config_options, check_config_command},
      {"backup", "backup [--json]", "take a verified backup now (with or without a running daemon)", backup_options,
       backup_command},
      {"backups", "backups [--json]", "list the backups: time, size, label, verified, checksum", backups_options,
       backups_command},
      {"verify", "verify FILE...|--all|--archive", "check backups' checksums and integrity", verify_options, verify_command,
       SIZE_MAX},
      {"restore", "restore (--latest|FILE|--at TIME [--dry-run]) [--to PATH] [--force] [--force-schema]",
       "verified restore, safe while the app has it open; --at: to any second the WAL archive covers",
       restore_options, restore_command, 1},
      {"prune", "prune [--dry-run] [--json]", "delete the backups the retention policy no longer keeps, saying why",
       prune_options, prune_command},
      {"archive", "archive [--json]", "the WAL archive: the time it covers, its gaps, chains, size and lag",
       archive_options, archive_command},
  };
  return table;
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(args.empty() ? std::cerr : std::cout);
    return args.empty() ? EX_USAGE : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << "sqlkeeper " << SQLKEEPER_VERSION << "\nSQLite " << sqlite::describe(sqlite::linked_library()) << "\n";
    return 0;
  }
  const Command* command = nullptr;
  for (const auto& c : commands())
    if (args[0] == c.name) command = &c;
  if (!command) {
    std::cerr << "sqlkeeper: unknown command '" << args[0] << "'\n";
    print_usage(std::cerr);
    return EX_USAGE;
  }
  auto own = command->options();
  const auto config_desc = config_options(own);
  own.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(own).add(config_desc);
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>());
  po::options_description parse_desc;
  parse_desc.add(all).add(hidden);
  po::positional_options_description positional;
  positional.add("args", -1);

  Invocation inv;
  inv.env = environment();
  try {
    // No abbreviations: a guessed `--data` would silently mean `--database`, and an
    // abbreviation that works today breaks when a new option shares its prefix.
    const auto parsed = po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
                            .options(parse_desc)
                            .positional(positional)
                            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
                            .run();
    po::store(parsed, inv.vars);
    po::notify(inv.vars);
  } catch (const po::error& e) {
    std::cerr << "sqlkeeper " << command->name << ": " << e.what() << "\n";
    return EX_CONFIG;
  }
  if (inv.vars.count("help")) {
    std::cout << "usage: sqlkeeper " << command->usage << "\n" << command->summary << "\n\n" << all << "\n";
    return 0;
  }
  if (inv.vars.count("args")) inv.positional = inv.vars["args"].as<std::vector<std::string>>();
  if (inv.positional.size() > command->max_arguments) {
    std::cerr << "sqlkeeper " << command->name << ": unexpected argument '" << inv.positional[command->max_arguments]
              << "' (usage: sqlkeeper " << command->usage << ")\n";
    return EX_CONFIG;
  }
  for (const auto& spec : config::option_table())
    if (!shadowed(own, spec.name) && inv.vars.count(spec.name)) inv.config_flags[spec.name] = inv.vars[spec.name].as<std::string>();
  if (inv.vars.count("config")) {
    inv.config_file = inv.vars["config"].as<std::string>();
  } else {
    for (const auto& e : inv.env)
      if (e.rfind("SQLKEEPER_CONFIG=", 0) == 0) inv.config_file = e.substr(17);
  }
  try {
    return command->run(inv);
  } catch (const Error& e) {
    std::cerr << "sqlkeeper " << command->name << ": " << e.what() << "\n";
    if (e.code() == ErrorCode::config) return EX_CONFIG;
    if (e.code() == ErrorCode::migration) return EX_DATAERR;
    return EXIT_FAILURE;
  } catch (const std::exception& e) {
    std::cerr << "sqlkeeper " << command->name << ": " << e.what() << "\n";
    return EXIT_FAILURE;
  }
}

}  // namespace sqlkeeper::cli
