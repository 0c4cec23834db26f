// `sqlkeeper migrate [status|up|new NAME|baseline] [--dry-run] [--json] [--to N]`
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sysexits.h>
#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/cli/root_hand_over.h"
#include "sqlkeeper/config/paths.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/migrate/migration_plan.h"
#include "sqlkeeper/migrate/migration_source.h"
#include "sqlkeeper/migrate/migrator.h"
#include "sqlkeeper/daemon/logging.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {
namespace {

std::string iso_ms(std::int64_t ms) {
  if (ms == 0) return "";
  const std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int migrate_status(const config::Config& c, bool json) {
  const auto set = core::load_migrations(c.migrations);
  std::vector<core::AppliedRecord> applied;
  std::optional<std::string> unmanaged;
  if (std::filesystem::exists(c.database)) {
    auto db = core::open_database_readonly(c.database, c.busy_timeout);
    applied = core::read_applied(db, set.format);
    unmanaged = core::unmanaged_database_problem(db, set.format);
  }
  auto plan = core::plan_migrations(set, applied, c.allow_out_of_order);
  // As `up` would refuse it: only pending migrations make an unmanaged database a problem.
  if (unmanaged && !plan.to_apply.empty())
    plan.problems.push_back("database " + c.database.string() + ": " + *unmanaged);
  if (json) {
    nlohmann::json out = {{"format", core::to_string(set.format)},
                          {"folder", set.folder.string()},
                          {"database", c.database.string()},
                          {"migrations", nlohmann::json::array()},
                          {"problems", plan.problems}};
    for (const auto& item : plan.items) {
      nlohmann::json m = {{"key", item.key}, {"name", item.name}, {"state", core::to_string(item.state)}};
      if (item.record && item.record->applied_at_ms) m["applied_at"] = iso_ms(item.record->applied_at_ms);
      if (item.file) m["sha256"] = set.files[*item.file].sha256;
      out["migrations"].push_back(m);
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << core::to_string(set.format) << " migrations in " << set.folder.string() << " for "
              << c.database.string() << "\n";
    std::cout << std::left << std::setw(14) << "STATE" << std::setw(22) << "APPLIED AT"
              << "MIGRATION\n";
    for (const auto& item : plan.items) {
      std::cout << std::setw(14) << core::to_string(item.state) << std::setw(22)
                << (item.record ? (item.record->applied_at_ms ? iso_ms(item.record->applied_at_ms) : "yes") : "-")
                << (item.name.empty() ? std::to_string(item.key) : item.name) << "\n";
    }
    for (const auto& p : plan.problems) std::cout << "problem: " << p << "\n";
  }
  return plan.problems.empty() ? 0 : EX_DATAERR;
}

void print_report(const core::MigrateReport& report, bool dry_run) {
  if (report.backup) std::cout << "pre-migration backup: " << report.backup->string() << "\n";
  if (report.applied.empty()) std::cout << "nothing to apply\n";
  for (const auto& m : report.applied) {
    std::cout << (dry_run ? "would apply " : "applied ") << m.name << " in " << m.duration.count() << " ms";
    if (m.skipped) std::cout << " (already applied by another migrator)";
    std::cout << "\n";
    for (const auto& [table, change] : m.row_changes)
      std::cout << "  rows in " << table << ": " << change.before << " -> "
                << (change.after < 0 ? std::string("dropped") : std::to_string(change.after)) << "\n";
    if (m.foreign_key_violations) std::cout << "  foreign key violations: " << m.foreign_key_violations << "\n";
  }
}

int migrate_up(const config::Config& c, bool dry_run) {
  daemon::setup_logging(c.log_level, c.log_format);
  const auto set = core::load_migrations(c.migrations);
  core::MigrateOptions options;
  options.allow_out_of_order = c.allow_out_of_order;
  options.backup_dir = c.backup_dir;
  options.lock_timeout = c.lock_timeout;
  options.busy_timeout = c.busy_timeout;
  options.on_start = [](const std::string& name) { spdlog::info("applying migration {}", name); };
  if (dry_run) {
    if (!std::filesystem::exists(c.database)) {
      // Nothing to copy: the dry run starts from an empty scratch database.
      std::cout << "database " << c.database.string() << " does not exist yet; dry run on an empty database\n";
    }
    auto db = std::filesystem::exists(c.database)
                  ? core::open_database_readonly(c.database, c.busy_timeout)
                  : sqlite::Connection(":memory:", SQLITE_OPEN_READWRITE, c.busy_timeout);
    print_report(core::migrate_dry_run(db, set, options), true);
    return 0;
  }
  auto db = core::open_database({c.database, c.file_mode, c.busy_timeout});
  print_report(core::migrate_up(db, set, options), false);
  return 0;
}

// Adopts an existing database: records migrations as applied without running them.
int migrate_baseline(const config::Config& c, const std::optional<std::string>& to) {
  daemon::setup_logging(c.log_level, c.log_format);
  const auto set = core::load_migrations(c.migrations);
  // open_database would create a missing file; there is nothing to adopt then.
  if (!std::filesystem::exists(c.database))
    throw Error(ErrorCode::migration,
                "database " + c.database.string() + " does not exist; `migrate baseline` adopts an existing database");
  auto db = core::open_database({c.database, c.file_mode, c.busy_timeout});
  const auto recorded = core::migrate_baseline(db, set, to);
  std::cout << "recorded " << recorded.size() << " migration" << (recorded.size() == 1 ? "" : "s") << " as applied to "
            << c.database.string() << " without running them:\n";
  for (const auto& name : recorded) std::cout << "  " << name << "\n";
  return 0;
}

// Creates the next numbered file in a plain folder, keeping the folder's width.
int migrate_new(const config::Config& c, const std::string& name) {
  static const std::regex valid(R"(^[A-Za-z0-9_]+$)");
  if (!std::regex_match(name, valid))
    throw Error(ErrorCode::config, "migration name '" + name + "' may hold only letters, digits and '_'");
  std::error_code ec;
  std::filesystem::create_directories(c.migrations, ec);
  if (std::filesystem::exists(c.migrations / "meta" / "_journal.json"))
    throw Error(ErrorCode::migration, c.migrations.string() +
                                          " is a drizzle-kit folder; create migrations with "
                                          "`drizzle-kit generate` there");
  // Only the names matter here: the files' contents are checked by status/up, and
  // the previous `new` (still just a comment header) must not block the next one.
  // Keep the width of the newest file's number (001_ -> 3 digits); 4 in a new folder.
  static const std::regex numbered(R"(^([0-9]{1,18})_.*\.sql$)");
  std::int64_t next = 1;
  std::size_t width = 4;
  for (const auto& entry : std::filesystem::directory_iterator(c.migrations)) {
    const auto file = entry.path().filename().string();
    std::smatch m;
    if (!std::regex_match(file, m, numbered)) continue;
    const auto number = std::stoll(m[1].str());
    if (number + 1 < next) continue;
    next = number + 1;
    width = static_cast<std::size_t>(m[1].length());
  }
  std::ostringstream file_name;
  file_name << std::setw(static_cast<int>(width)) << std::setfill('0') << next << "_" << name << ".sql";
  const auto path = c.migrations / file_name.str();
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw system_error("create " + path.string(), errno);
  const std::string header =
      "-- " + file_name.str() + "\n-- Applied once, in its own transaction, by `sqlkeeper migrate up` or on start.\n\n";
  if (::write(fd.get(), header.data(), header.size()) != static_cast<ssize_t>(header.size()))
    throw system_error("write " + path.string(), errno);
  std::cout << path.string() << "\n";
  return 0;
}

}  // namespace

po::options_description migrate_options() {
  po::options_description desc("Options");
  desc.add_options()("dry-run", "apply to a scratch copy and report, leaving the database untouched")(
      "json", "status as JSON")("to", po::value<std::string>(),
                                "baseline: record the migrations up to this number (drizzle: \"when\") or file "
                                "name; all without it");
  return desc;
}

int migrate_command(const Invocation& inv) {
  const auto loaded = inv.load_config();
  config::check_paths(loaded);
  const auto& c = loaded.config;
  const auto action = inv.positional.empty() ? std::string("status") : inv.positional[0];
  if ((action == "status" || action == "up") && inv.positional.size() > 1)
    throw Error(ErrorCode::config, "unexpected argument '" + inv.positional[1] + "' after '" + action + "'");
  if (inv.vars.count("to") && action != "baseline")
    throw Error(ErrorCode::config, "--to belongs to `sqlkeeper migrate baseline`");
  if (action == "status") return migrate_status(c, inv.vars.count("json") > 0);
  if (action == "baseline") {
    if (inv.positional.size() != 1) throw Error(ErrorCode::config, "usage: sqlkeeper migrate baseline [--to N]");
    return migrate_baseline(c, inv.vars.count("to") ? std::optional(inv.vars["to"].as<std::string>()) : std::nullopt);
  }
  if (action == "up") {
    const RootHandOver hand_over(c);  // a pre-migration backup may go into the folder
    return migrate_up(c, inv.vars.count("dry-run") > 0);
  }
  if (action == "new") {
    if (inv.positional.size() != 2) throw Error(ErrorCode::config, "usage: sqlkeeper migrate new NAME");
    return migrate_new(c, inv.positional[1]);
  }
  throw Error(ErrorCode::config, "unknown migrate action '" + action + "' (status, up, new NAME, baseline)");
}

}  // namespace sqlkeeper::cli
