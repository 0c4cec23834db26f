#include "sqlkeeper/daemon/routes.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sqlkeeper/config/units.h"
#include "sqlkeeper/base/local_time.h"

namespace sqlkeeper::daemon {
namespace {

using nlohmann::json;

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::int64_t unix_millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string format_millis(std::int64_t ms) {
  return config::format_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

std::string archive_gap_text(const archive::ArchiveGap& g) {
  return "archive gap from " + format_millis(g.since_ms) + (g.until_ms ? " to " + format_millis(g.until_ms) : "") +
         ": " + g.cause;
}

json checks_json(const std::vector<core::HealthCheck>& checks) {
  json out = json::object();
  for (const auto& c : checks) out[c.name] = {{"status", core::to_string(c.status)}, {"detail", c.detail}};
  return out;
}

json quick_check_json(const DaemonState& state) {
  if (!state.quick_check) return nullptr;
  const auto& q = *state.quick_check;
  json out = {{"time", config::format_utc(q.at)}, {"ok", q.ok}, {"duration_ms", q.duration.count()}};
  if (!q.ok) out["first_error"] = q.first_error;
  return out;
}

json optional_time(const std::optional<std::chrono::system_clock::time_point>& t) {
  return t ? json(config::format_utc(*t)) : json(nullptr);
}

json checkpoint_json(const CheckpointSummary& c) {
  json out = {{"last_complete", optional_time(c.last_complete)},
              {"last_attempt", optional_time(c.last_attempt)},
              {"last_frames", c.last_frames},
              {"last_checkpointed_frames", c.last_checkpointed},
              {"last_duration_ms", c.last_duration.count()},
              {"last_failure", c.last_failure.empty() ? json(nullptr) : json(c.last_failure)},
              {"total", c.total},
              {"incomplete_total", c.incomplete_total}};
  if (!c.disabled_reason.empty()) out["disabled"] = c.disabled_reason;
  return out;
}

json backup_activity_json(const BackupActivity& b) {
  json running = nullptr;
  if (!b.running_id.empty())
    running = {{"id", b.running_id}, {"pages_done", b.pages_done}, {"pages_total", b.pages_total}};
  return {{"running", running},
          {"last_failure", b.last_failure.empty() ? json(nullptr) : json(b.last_failure)},
          {"last_failure_time", optional_time(b.last_failure_at)},
          {"last_copy_ms", b.last_copy.count()},
          {"last_verify_ms", b.last_verify.count()},
          {"last_total_ms", b.last_total.count()},
          {"failures_total", b.failures_total}};
}

json schedule_json(const DaemonState& state) {
  const auto& s = state.schedule;
  const auto& p = state.prune;
  const auto& c = state.post_backup;
  json post = nullptr;
  if (c.configured)
    post = {{"running", c.running},
            {"file", c.file.empty() ? json(nullptr) : json(c.file)},
            {"last_finished", optional_time(c.last_finished)},
            {"last_ok", c.last_ok},
            {"last_outcome", c.last_outcome.empty() ? json(nullptr) : json(c.last_outcome)},
            {"last_output", c.last_output},
            {"last_duration_ms", c.last_duration.count()},
            {"runs_total", c.runs_total},
            {"failures_total", c.failures_total}};
  return {{"next", optional_time(s.next_at)},
          {"next_why", s.next_why.empty() ? json(nullptr) : json(s.next_why)},
          {"failures_since_success", s.failures_since_success},
          {"prune",
           {{"last_run", optional_time(p.last_run)},
            {"deleted", p.deleted},
            {"kept", p.kept},
            {"held", p.held.empty() ? json(nullptr) : json(p.held)},
            {"error", p.error.empty() ? json(nullptr) : json(p.error)},
            {"deleted_total", p.deleted_total}}},
          {"post_backup_command", post}};
}

HttpResponse health(const DaemonState& state, std::chrono::system_clock::time_point now) {
  const auto report = core::evaluate_health(health_inputs(state, now));
  json body = {{"status", core::to_string(report.status)}};
  const auto failing = report.failing_checks();
  if (!failing.empty()) body["checks"] = checks_json(failing);
  return {report.status == core::HealthStatus::failing ? 503u : 200u, "application/json", body.dump() + "\n"};
}

HttpResponse ready(const DaemonState& state) {
  const bool is_ready = state.phase == core::Phase::ready;
  json body = {{"status", is_ready ? "ready" : "not ready"}, {"phase", core::to_string(state.phase)}};
  if (!state.phase_detail.empty()) body["detail"] = state.phase_detail;
  return {is_ready ? 200u : 503u, "application/json", body.dump() + "\n"};
}

json drill_json(const ArchiveSummary& s) {
  json last = nullptr;
  if (const auto& d = s.drill)
    last = {{"at", format_millis(d->at_ms)},
            {"target", archive::format_ms(d->target_ms)},
            {"backup", d->backup},
            {"chain", d->chain},
            {"transactions", d->transactions},
            {"reached", d->last_ms ? json(archive::format_ms(d->last_ms)) : json(nullptr)},
            {"pages", d->pages},
            {"ok", d->ok},
            {"problem", d->problem.empty() ? json(nullptr) : json(d->problem)},
            {"ms", d->duration_ms}};
  return {{"last", last}, {"next", s.drill_next ? json(config::format_utc(*s.drill_next)) : json(nullptr)}};
}

json chain_check_json(const ArchiveSummary::ChainCheck& c) {
  const auto last = [](const std::optional<ArchiveSummary::ChainCheck::Last>& l) -> json {
    if (!l) return nullptr;
    return {{"backup", l->backup},
            {"at", config::format_utc(l->at)},
            {"ok", l->ok},
            {"result", l->text},
            {"ms", l->duration.count()}};
  };
  return {{"last", last(c.last)}, {"last_mismatch", last(c.mismatch)}, {"total", c.total},
          {"mismatches_total", c.mismatches_total}};
}

json archive_json(const DaemonState& state, std::chrono::system_clock::time_point now) {
  const auto& s = state.archive;
  if (!s.on) return {{"on", false}, {"off_reason", s.off_reason.empty() ? json(nullptr) : json(s.off_reason)}};
  const auto& a = s.status;
  const auto now_ms = unix_millis(now);
  json gaps = json::array();
  for (const auto& g : a.gaps)
    gaps.push_back({{"since", format_millis(g.since_ms)},
                    {"until", g.until_ms ? json(format_millis(g.until_ms)) : json(nullptr)},
                    {"cause", g.cause}});
  return {{"on", true},
          {"dir", s.dir},
          {"interval_ms", s.interval.count()},
          {"chain", a.chain.empty() ? json(nullptr) : json(a.chain)},
          {"chain_has_base", a.chain_has_base},
          {"last_transaction", a.last_seq},
          {"last_archived", a.last_archived_ms ? json(format_millis(a.last_archived_ms)) : json(nullptr)},
          {"lag_ms", a.oldest_pending_ms ? std::max<std::int64_t>(0, now_ms - a.oldest_pending_ms) : 0},
          {"lag_bytes", a.pending_bytes},
          {"pending_transactions", a.pending_transactions},
          {"transactions_archived", a.transactions_archived},
          {"wal_bytes_read", a.wal_bytes_read},
          {"archive_bytes_written", a.archive_bytes_written},
          {"wal_restarts", a.wal_restarts},
          {"error", a.error.empty() ? json(nullptr) : json(a.error)},
          {"gaps", gaps},
          {"chain_check", chain_check_json(s.chain_check)},
          {"drill", drill_json(s)}};
}

HttpResponse status(const DaemonState& state, std::chrono::system_clock::time_point now) {
  const auto report = core::evaluate_health(health_inputs(state, now));
  json backup = nullptr;
  if (state.last_backup)
    backup = {{"file", state.last_backup->file},
              {"time", config::format_utc(state.last_backup->at)},
              {"size_bytes", state.last_backup->size},
              {"verified", state.last_backup->verified}};
  json body = {
      {"version", SQLKEEPER_VERSION},
      {"sqlite_version", state.sqlite.version},
      {"sqlite",
       {{"version", state.sqlite.version},
        {"source", state.sqlite.source},
        {"wal_reset_fix", state.sqlite.wal_reset_fix}}},
      {"phase", core::to_string(state.phase)},
      {"status", core::to_string(report.status)},
      {"checks", checks_json(report.checks)},
      {"started_at", config::format_utc(state.started_at)},
      {"uptime_seconds", unix_seconds(now) - unix_seconds(state.started_at)},
      {"database",
       {{"path", state.database},
        {"size_bytes", state.sizes.database},
        {"wal_bytes", state.sizes.wal},
        {"wal_max_bytes", state.wal_max_bytes},
        {"free_bytes", state.database_free_bytes ? json(*state.database_free_bytes) : json(nullptr)},
        {"answering", state.database_answered},
        {"replaced", state.database_replaced.empty() ? json(nullptr) : json(state.database_replaced)},
        {"quick_check", quick_check_json(state)}}},
      {"schema",
       {{"format", state.schema.format},
        {"folder", state.schema.folder},
        {"version", state.schema.version},
        {"applied", state.schema.applied},
        {"applied_this_start", state.schema.applied_this_start},
        {"migration_ms", state.schema.migration_time.count()}}},
      {"backups",
       {{"dir", state.backup_dir},
        {"dir_configured", state.backup_dir_configured},
        {"count", state.backup_count},
        {"last", backup},
        {"activity", backup_activity_json(state.backup)},
        {"schedule", schedule_json(state)},
        {"free_bytes", state.backup_free_bytes ? json(*state.backup_free_bytes) : json(nullptr)}}},
      {"checkpoint", checkpoint_json(state.checkpoint)},
      {"archive", archive_json(state, now)},
      {"worker", state.worker_job.empty() ? json(nullptr) : json(state.worker_job)},
  };
  if (!state.phase_detail.empty()) body["detail"] = state.phase_detail;
  return {200, "application/json", body.dump(2) + "\n"};
}

void metric(std::ostringstream& out, const char* name, const char* type, const char* help, const std::string& value,
            const std::string& labels = "") {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << labels << ' ' << value << '\n';
}

HttpResponse metrics(const DaemonState& state, std::chrono::system_clock::time_point now) {
  const auto report = core::evaluate_health(health_inputs(state, now));
  std::ostringstream out;
  metric(out, "sqlkeeper_build_info", "gauge", "Version of sqlkeeper and of the linked SQLite.", "1",
         "{version=\"" SQLKEEPER_VERSION "\",sqlite_version=\"" + state.sqlite.version + "\"}");
  metric(out, "sqlkeeper_sqlite_info", "gauge",
         "The linked SQLite: where it came from and whether it has the WAL-reset fix.", "1",
         "{version=\"" + state.sqlite.version + "\",source=\"" + state.sqlite.source + "\",wal_reset_fix=\"" +
             (state.sqlite.wal_reset_fix ? "true" : "false") + "\"}");
  metric(out, "sqlkeeper_start_time_seconds", "gauge", "Start time of the daemon since the Unix epoch.",
         std::to_string(unix_seconds(state.started_at)));
  metric(out, "sqlkeeper_ready", "gauge", "1 once the database is open and migrated.",
         state.phase == core::Phase::ready ? "1" : "0");
  out << "# HELP sqlkeeper_health_status Current health verdict (1 for the current status).\n"
         "# TYPE sqlkeeper_health_status gauge\n";
  for (auto s : {core::HealthStatus::ok, core::HealthStatus::degraded, core::HealthStatus::failing})
    out << "sqlkeeper_health_status{status=\"" << core::to_string(s) << "\"} " << (report.status == s ? 1 : 0) << '\n';
  metric(out, "sqlkeeper_database_up", "gauge", "1 when the last liveness query on the database answered.",
         state.database_answered ? "1" : "0");
  metric(out, "sqlkeeper_database_size_bytes", "gauge", "Size of the database file.",
         std::to_string(state.sizes.database));
  metric(out, "sqlkeeper_wal_size_bytes", "gauge", "Size of the database's WAL file.", std::to_string(state.sizes.wal));
  metric(out, "sqlkeeper_wal_max_bytes", "gauge", "WAL size above which health is degraded.",
         std::to_string(state.wal_max_bytes));
  metric(out, "sqlkeeper_schema_version", "gauge", "Newest applied migration's number (or drizzle timestamp).",
         std::to_string(state.schema.version));
  metric(out, "sqlkeeper_migrations_applied", "gauge", "Migrations recorded as applied.",
         std::to_string(state.schema.applied.size()));
  metric(out, "sqlkeeper_backups", "gauge", "Finished backups in the backup directory.",
         std::to_string(state.backup_count));
  if (state.last_backup)
    metric(out, "sqlkeeper_last_backup_timestamp_seconds", "gauge", "Time of the newest finished backup.",
           std::to_string(unix_seconds(state.last_backup->at)));
  if (state.backup_free_bytes)
    metric(out, "sqlkeeper_backup_free_bytes", "gauge", "Free space on the backup volume.",
           std::to_string(*state.backup_free_bytes));
  if (state.database_free_bytes)
    metric(out, "sqlkeeper_database_free_bytes", "gauge", "Free space on the database's volume.",
           std::to_string(*state.database_free_bytes));
  if (state.quick_check) {
    metric(out, "sqlkeeper_quick_check_ok", "gauge", "1 when the last PRAGMA quick_check found no damage.",
           state.quick_check->ok ? "1" : "0");
    metric(out, "sqlkeeper_quick_check_timestamp_seconds", "gauge", "Time of the last PRAGMA quick_check.",
           std::to_string(unix_seconds(state.quick_check->at)));
  }
  metric(out, "sqlkeeper_checkpoints_total", "counter", "Checkpoints run.", std::to_string(state.checkpoint.total));
  metric(out, "sqlkeeper_checkpoints_incomplete_total", "counter",
         "Checkpoints that could not copy every frame (a reader held the WAL) or failed.",
         std::to_string(state.checkpoint.incomplete_total));
  metric(out, "sqlkeeper_checkpoint_frames_total", "counter", "WAL frames copied into the database by checkpoints.",
         std::to_string(state.checkpoint.frames_total));
  if (state.checkpoint.last_complete)
    metric(out, "sqlkeeper_last_checkpoint_timestamp_seconds", "gauge", "Time of the last complete checkpoint.",
           std::to_string(unix_seconds(*state.checkpoint.last_complete)));
  metric(out, "sqlkeeper_backup_failures_total", "counter", "Backups that failed.",
         std::to_string(state.backup.failures_total));
  if (state.backup.successes_total > 0) {
    metric(out, "sqlkeeper_last_backup_duration_seconds", "gauge", "Duration of the last successful backup.",
           std::to_string(static_cast<double>(state.backup.last_total.count()) / 1000.0));
  }
  if (state.last_backup)
    metric(out, "sqlkeeper_last_backup_size_bytes", "gauge", "Size of the newest finished backup.",
           std::to_string(state.last_backup->size));
  if (state.schedule.next_at)
    metric(out, "sqlkeeper_next_backup_timestamp_seconds", "gauge", "When the next scheduled backup is due.",
           std::to_string(unix_seconds(*state.schedule.next_at)));
  metric(out, "sqlkeeper_backups_pruned_total", "counter", "Backups deleted by the retention policy.",
         std::to_string(state.prune.deleted_total));
  if (state.post_backup.configured) {
    metric(out, "sqlkeeper_post_backup_command_runs_total", "counter", "Runs of post-backup-command.",
           std::to_string(state.post_backup.runs_total));
    metric(out, "sqlkeeper_post_backup_command_failures_total", "counter", "Runs of post-backup-command that failed.",
           std::to_string(state.post_backup.failures_total));
  }
  metric(out, "sqlkeeper_watchdog_pings_total", "counter", "Watchdog pings sent to systemd.",
         std::to_string(state.watchdog_pings));
  metric(out, "sqlkeeper_http_requests_total", "counter", "Requests answered on the health socket.",
         std::to_string(state.http_requests));
  if (state.archive.on) {
    const auto& a = state.archive.status;
    const auto now_ms = unix_millis(now);
    metric(out, "sqlkeeper_archive_chain_running", "gauge", "1 while a WAL archive chain runs.",
           a.chain.empty() ? "0" : "1");
    metric(out, "sqlkeeper_archive_lag_seconds", "gauge",
           "Age of the oldest committed transaction read from the WAL and not yet durable in the archive.",
           std::to_string(a.oldest_pending_ms ? static_cast<double>(std::max<std::int64_t>(0, now_ms - a.oldest_pending_ms)) / 1000.0 : 0.0));
    metric(out, "sqlkeeper_archive_lag_bytes", "gauge", "WAL bytes read and not yet durable in the archive.",
           std::to_string(a.pending_bytes));
    metric(out, "sqlkeeper_archive_transactions_total", "counter", "Transactions made durable in the archive.",
           std::to_string(a.transactions_archived));
    metric(out, "sqlkeeper_archive_wal_bytes_read_total", "counter", "WAL frame bytes read by the archive.",
           std::to_string(a.wal_bytes_read));
    metric(out, "sqlkeeper_archive_bytes_written_total", "counter", "Bytes written to the archive.",
           std::to_string(a.archive_bytes_written));
    metric(out, "sqlkeeper_archive_wal_restarts_total", "counter",
           "Times the archive restarted the WAL (everything archived and copied) under a writer that did not pause.",
           std::to_string(a.wal_restarts));
    metric(out, "sqlkeeper_archive_gaps_total", "counter", "Gaps opened in the archive since the daemon started.",
           std::to_string(a.gaps.size()));
    metric(out, "sqlkeeper_archive_chain_checks_total", "counter",
           "New backups checked against the chain's backup before them brought forward by the archive.",
           std::to_string(state.archive.chain_check.total));
    if (const auto& d = state.archive.drill) {
      metric(out, "sqlkeeper_archive_drill_ok", "gauge", "1 when the last restore drill restored and checked its second.",
             d->ok ? "1" : "0");
      metric(out, "sqlkeeper_archive_drill_timestamp_seconds", "gauge", "When the last restore drill ran.",
             std::to_string(d->at_ms / 1000));
    }
    metric(out, "sqlkeeper_archive_chain_mismatches_total", "counter",
           "Chain checks that found the archive and the backups disagreeing.",
           std::to_string(state.archive.chain_check.mismatches_total));
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", out.str()};
}

}  // namespace

core::HealthInputs health_inputs(const DaemonState& state, std::chrono::system_clock::time_point now) {
  core::HealthInputs in;
  in.phase = state.phase;
  in.now = now;
  in.started_at = state.started_at;
  in.database_answered = state.database_answered;
  in.database_error = state.database_error;
  in.database_replaced = state.database_replaced;
  in.wal_bytes = state.sizes.wal;
  in.wal_max_bytes = state.wal_max_bytes;
  if (state.last_backup) {
    in.last_backup_at = state.last_backup->at;
    in.last_backup_verified = state.last_backup->verified;
  }
  in.backup_free_bytes = state.backup_free_bytes;
  in.backup_problems = state.backup_problems;
  // What the scrub found, unless prune or the start already named it.
  for (const auto& damaged : state.scrub.damaged) {
    const auto& file = damaged.first;  // a named copy: clang 14 cannot capture a structured binding
    const bool named = std::any_of(in.backup_problems.begin(), in.backup_problems.end(),
                                   [&file](const std::string& p) { return p.rfind(file + " ", 0) == 0; });
    if (!named) in.backup_problems.push_back(file + " is damaged: no longer matches its sidecar: " + damaged.second);
  }
  in.backup_folder_problem = state.backup_folder_problem;
  in.backup_folder_hung = state.backup_folder_hung;
  in.database_bytes = state.sizes.database;
  in.database_free_bytes = state.database_free_bytes;
  // `--database app.db` has no folder in its name; the volume check must name one.
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(state.database, ec);
  in.database_dir = (ec ? std::filesystem::path(state.database) : absolute).parent_path().string();
  if (state.quick_check) {
    in.quick_check_ok = state.quick_check->ok;
    in.quick_check_error = state.quick_check->first_error;
  }
  in.last_backup_failure = state.backup.last_failure;
  in.backup_interval = state.schedule.expected_interval;
  if (!state.post_backup.last_ok)
    in.post_backup_failure = state.post_backup.last_outcome + " for " + state.post_backup.file +
                             (state.post_backup.last_output.empty() ? "" : ": " + state.post_backup.last_output.back());
  in.checkpoint_note = state.checkpoint.last_failure;
  in.sqlite = state.sqlite;
  if (state.archive.on) {
    const auto& a = state.archive.status;
    core::HealthInputs::Archive h;
    h.interval = state.archive.interval;
    h.max_lag = state.archive.max_lag;
    const auto now_ms = unix_millis(now);
    h.lag = std::chrono::milliseconds(a.oldest_pending_ms > 0 ? std::max<std::int64_t>(0, now_ms - a.oldest_pending_ms) : 0);
    h.error = a.error;
    h.failing_for = std::chrono::milliseconds(a.failing_since_ms > 0 ? now_ms - a.failing_since_ms : 0);
    // A chain restores nothing before a finished backup marks its place in it.
    h.chain = !a.chain.empty() && a.chain_has_base;
    const auto& check = state.archive.chain_check.last;
    if (check && !check->ok) h.chain_mismatch = check->backup + ": " + check->text;
    const auto& drill = state.archive.drill;
    if (drill && !drill->ok)
      h.drill_failed = "restoring " + format_millis(drill->target_ms) + " at " + format_millis(drill->at_ms) + ": " +
                       drill->problem;
    h.no_chain_for = std::chrono::milliseconds(a.no_chain_since_ms > 0 ? std::max<std::int64_t>(0, now_ms - a.no_chain_since_ms) : 0);
    for (const auto& g : a.gaps)
      if (now_ms - g.since_ms < std::chrono::duration_cast<std::chrono::milliseconds>(core::kArchiveGapShown).count())
        h.recent_gaps.push_back(archive_gap_text(g));
    in.archive = h;
  }
  return in;
}

HttpResponse route(const HttpRequest& request, const DaemonState& state, std::chrono::system_clock::time_point now) {
  const auto target = request.target.substr(0, request.target.find('?'));
  const bool known = target == "/health" || target == "/health/live" || target == "/health/ready" ||
                     target == "/status" || target == "/metrics";
  if (target == "/backup" || target == "/checkpoint")
    return {405, "application/json", "{\"error\":\"method not allowed, use POST\"}\n"};
  if (!known) return {404, "application/json", "{\"error\":\"no such endpoint\"}\n"};
  if (request.method != "GET" && request.method != "HEAD")
    return {405, "application/json", "{\"error\":\"method not allowed, use GET\"}\n"};
  if (target == "/health") return health(state, now);
  if (target == "/health/live") return {200, "application/json", "{\"status\":\"alive\"}\n"};
  if (target == "/health/ready") return ready(state);
  if (target == "/status") return status(state, now);
  return metrics(state, now);
}

std::string status_line(const DaemonState& state, std::chrono::system_clock::time_point now) {
  using config::format_size;
  std::string line;
  switch (state.phase) {
    case core::Phase::starting: return "starting";
    case core::Phase::migrating: return "migrating: " + state.phase_detail;
    case core::Phase::failed: return "failed: " + state.phase_detail;
    case core::Phase::stopping: return "stopping";
    case core::Phase::ready: break;
  }
  const auto report = core::evaluate_health(health_inputs(state, now));
  line = std::string(core::to_string(report.status)) + "; db " + config::format_bytes(state.sizes.database) +
         ", WAL " + config::format_bytes(state.sizes.wal) + "; schema " + std::to_string(state.schema.version);
  if (!state.backup.running_id.empty())
    line += "; backing up " +
            (state.backup.pages_total ? std::to_string(state.backup.pages_done * 100 / state.backup.pages_total) + "%"
                                      : std::string("(starting)"));
  if (!state.backup.last_failure.empty())
    line += "; last backup FAILED";
  else if (state.last_backup)
    line += "; last backup " + config::format_utc(state.last_backup->at) + " (" + config::format_size(state.last_backup->size) +
            ", " + std::to_string(state.backup.last_total.count()) + " ms, " +
            (state.last_backup->verified ? "verified" : "NOT verified") + ")";
  else
    line += "; no backup yet";
  if (state.schedule.next_at) line += "; next " + core::format_local(*state.schedule.next_at);
  if (!state.post_backup.last_ok) line += "; post-backup-command FAILED";
  return line;
}

}  // namespace sqlkeeper::daemon
