#include "sqlkeeper/daemon/routes.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

namespace sqlkeeper::daemon {
namespace {

DaemonState ready_state() {
  DaemonState s;
  s.phase = core::Phase::ready;
  s.started_at = std::chrono::system_clock::now();
  s.database = "/var/lib/sqlkeeper/app.db";
  s.sqlite = {"3.53.2", "bundled", true};
  s.database_answered = true;
  s.wal_max_bytes = 1 << 20;
  s.schema.format = "plain";
  s.schema.version = 2;
  s.schema.applied = {"0001_a.sql", "0002_b.sql"};
  return s;
}

HttpResponse get(const DaemonState& s, const std::string& target, const std::string& method = "GET") {
  HttpRequest request;
  request.method = method;
  request.target = target;
  return route(request, s, s.started_at + std::chrono::minutes(1));
}

TEST(Route, HealthOkAndFailing) {
  auto s = ready_state();
  auto r = get(s, "/health");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(nlohmann::json::parse(r.body), nlohmann::json({{"status", "ok"}}));
  s.database_answered = false;
  s.database_error = "database is locked";
  r = get(s, "/health");
  EXPECT_EQ(r.status, 503u);
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["status"], "failing");
  EXPECT_EQ(body["checks"]["database"]["status"], "failing");
}

TEST(Route, DegradedIsStill200) {
  auto s = ready_state();
  s.backup.last_failure = "not enough space";
  const auto r = get(s, "/health");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(nlohmann::json::parse(r.body)["status"], "degraded");
}

TEST(Route, ReadyOnlyWhenMigrated) {
  auto s = ready_state();
  EXPECT_EQ(get(s, "/health/ready").status, 200u);
  s.phase = core::Phase::migrating;
  EXPECT_EQ(get(s, "/health/ready").status, 503u);
  EXPECT_EQ(get(s, "/health/live").status, 200u);
}

TEST(Route, StatusCarriesTheFacts) {
  const auto body = nlohmann::json::parse(get(ready_state(), "/status").body);
  EXPECT_EQ(body["sqlite_version"], "3.53.2");
  EXPECT_EQ(body["sqlite"], nlohmann::json({{"version", "3.53.2"}, {"source", "bundled"}, {"wal_reset_fix", true}}));
  EXPECT_EQ(body["schema"]["version"], 2);
  EXPECT_EQ(body["schema"]["applied"].size(), 2u);
  EXPECT_EQ(body["database"]["path"], "/var/lib/sqlkeeper/app.db");
  EXPECT_EQ(body["uptime_seconds"], 60);
}

TEST(Route, StatusAndMetricsNameTheLinkedSqlite) {
  auto s = ready_state();
  s.sqlite = {"3.40.1", "system", false};
  const auto status = nlohmann::json::parse(get(s, "/status").body);
  EXPECT_EQ(status["sqlite_version"], "3.40.1");
  EXPECT_EQ(status["sqlite"], nlohmann::json({{"version", "3.40.1"}, {"source", "system"}, {"wal_reset_fix", false}}));
  EXPECT_EQ(status["status"], "degraded");
  EXPECT_EQ(status["checks"]["sqlite"]["status"], "degraded");
  const auto metrics = get(s, "/metrics").body;
  EXPECT_NE(metrics.find("# TYPE sqlkeeper_sqlite_info gauge\n"
                         "sqlkeeper_sqlite_info{version=\"3.40.1\",source=\"system\",wal_reset_fix=\"false\"} 1\n"),
            std::string::npos)
      << metrics;
  const auto health = nlohmann::json::parse(get(s, "/health").body);
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_NE(health["checks"]["sqlite"]["detail"].get<std::string>().find("has the WAL-reset bug"), std::string::npos);
}

TEST(Route, MetricsAreTextWithHelpAndType) {
  const auto r = get(ready_state(), "/metrics");
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(r.body.find("# TYPE sqlkeeper_ready gauge\nsqlkeeper_ready 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("sqlkeeper_health_status{status=\"ok\"} 1"), std::string::npos);
}

TEST(Route, UnknownPathsAndMethods) {
  EXPECT_EQ(get(ready_state(), "/nope").status, 404u);
  EXPECT_EQ(get(ready_state(), "/health", "POST").status, 405u);
  EXPECT_EQ(get(ready_state(), "/health?verbose=1").status, 200u);
}

// `--database app.db` has no parent in its name; the volume check must still name a folder.
TEST(HealthInputs, ARelativeDatabaseNamesItsFolder) {
  auto s = ready_state();
  s.database = "app.db";
  const auto in = health_inputs(s, s.started_at);
  EXPECT_EQ(in.database_dir, std::filesystem::current_path().string());
}

TEST(StatusLine, ShortAndUseful) {
  auto s = ready_state();
  s.sizes.database = 4096 * 10;
  const auto line = status_line(s, s.started_at);
  EXPECT_NE(line.find("ok"), std::string::npos);
  EXPECT_NE(line.find("schema 2"), std::string::npos);
  EXPECT_NE(line.find("no backup yet"), std::string::npos);
  s.phase = core::Phase::migrating;
  s.phase_detail = "0003_x.sql";
  EXPECT_EQ(status_line(s, s.started_at), "migrating: 0003_x.sql");
}

}  // namespace
}  // namespace sqlkeeper::daemon
