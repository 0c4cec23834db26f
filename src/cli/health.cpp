// `sqlkeeper health` (a Nagios/Icinga plugin) and `sqlkeeper status`: clients of
// the running daemon, never a second owner of the database.
#include <cstdint>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sqlkeeper/cli/cli.h"
#include "sqlkeeper/cli/http_client.h"
#include "sqlkeeper/config/units.h"
#include "sqlkeeper/error.h"

namespace po = boost::program_options;

namespace sqlkeeper::cli {
namespace {

constexpr int kUnreachable = 3;  // Nagios UNKNOWN
constexpr std::chrono::milliseconds kTimeout{5000};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

po::options_description health_options() {
  po::options_description desc("Options");
  desc.add_options()("json", "print the daemon's JSON answer");
  return desc;
}

int health_command(const Invocation& inv) {
  const auto config = inv.load_config().config;
  ClientResponse res;
  try {
    res = http_get(config.socket, "/health", kTimeout);
  } catch (const Error& e) {
    std::cout << "SQLKEEPER UNKNOWN - " << e.what() << "\n";
    return kUnreachable;
  }
  nlohmann::json body = nlohmann::json::parse(res.body, nullptr, false);
  if (body.is_discarded() || !body.contains("status") || !body["status"].is_string()) {
    std::cout << "SQLKEEPER UNKNOWN - unexpected answer (HTTP " << res.status << ")\n";
    return kUnreachable;
  }
  if (inv.vars.count("json")) std::cout << body.dump() << "\n";
  const auto status = body["status"].get<std::string>();
  std::string detail;
  if (body.contains("checks"))
    for (const auto& [name, check] : body["checks"].items())
      detail += (detail.empty() ? " - " : "; ") + name + ": " + check.value("detail", "");
  if (!inv.vars.count("json")) std::cout << "SQLKEEPER " << upper(status) << detail << "\n";
  if (status == "ok") return 0;
  if (status == "degraded") return 1;
  if (status == "failing") return 2;
  return kUnreachable;
}

int status_command(const Invocation& inv) {
  const auto config = inv.load_config().config;
  const auto res = http_get(config.socket, "/status", kTimeout);
  const auto body = nlohmann::json::parse(res.body, nullptr, false);
  if (body.is_discarded()) throw Error(ErrorCode::protocol, "sqlkeeper answered /status with invalid JSON");
  if (inv.vars.count("json")) {
    std::cout << body.dump(2) << "\n";
    return 0;
  }
  const auto& db = body["database"];
  const auto& schema = body["schema"];
  const auto& backups = body["backups"];
  // Sizes and drizzle keys (millisecond time stamps) pass 32 bits: an int default
  // would make value() truncate them.
  std::cout << "sqlkeeper " << body.value("version", "?") << " (SQLite " << body.value("sqlite_version", "?") << ")\n"
            << "  state:     " << body.value("phase", "?") << ", health " << body.value("status", "?") << "\n"
            << "  uptime:    " << config::format_duration(std::chrono::seconds(body.value("uptime_seconds", 0))) << "\n"
            << "  database:  " << db.value("path", "?") << ", "
            << config::format_bytes(db.value("size_bytes", std::uint64_t{0})) << ", WAL "
            << config::format_bytes(db.value("wal_bytes", std::uint64_t{0})) << "\n"
            << "  schema:    " << schema.value("format", "?") << " version " << schema.value("version", std::int64_t{0}) << ", "
            << schema["applied"].size() << " migrations applied\n"
            << "  backups:   " << backups.value("count", 0) << " in " << backups.value("dir", "?");
  if (backups["last"].is_object())
    std::cout << ", last " << backups["last"].value("time", "?") << " ("
              << config::format_bytes(backups["last"].value("size_bytes", std::uint64_t{0})) << ")";
  std::cout << "\n";
  for (const auto& [name, check] : body["checks"].items())
    std::cout << "  check " << name << ": " << check.value("status", "?") << " (" << check.value("detail", "") << ")\n";
  return 0;
}

}  // namespace sqlkeeper::cli
