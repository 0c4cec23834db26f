#include "sqlkeeper/restore/drill.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <spdlog/spdlog.h>

#include "sqlkeeper/db/snapshot.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/restore/point_in_time.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;

std::int64_t unix_ms(Env::Clock::time_point t) {
  return std::chrono::duration_cast<Ms>(t.time_since_epoch()).count();
}

}  // namespace

std::optional<std::int64_t> pick_drill_target(const archive::Timeline& timeline, std::int64_t newest_ms,
                                              std::mt19937_64& random) {
  std::int64_t total = 0;
  for (const auto& c : timeline.covered) total += std::max<std::int64_t>(0, std::min(c.to_ms, newest_ms) - c.from_ms);
  if (total <= 0) return std::nullopt;
  auto offset = std::uniform_int_distribution<std::int64_t>(0, total - 1)(random);
  for (const auto& c : timeline.covered) {
    const auto length = std::max<std::int64_t>(0, std::min(c.to_ms, newest_ms) - c.from_ms);
    if (offset < length) return c.from_ms + offset;
    offset -= length;
  }
  return std::nullopt;
}

std::optional<DrillRecord> run_drill(const DrillWhere& where, Env& env, Job& job, std::mt19937_64& random) {
  const auto started = std::chrono::steady_clock::now();
  const auto now_ms = unix_ms(env.now());
  const auto view = read_archive(where.archive_dir, where.backup_dir, where.database, now_ms);
  const auto target = pick_drill_target(view.timeline, now_ms - where.margin.count(), random);
  if (!target) return std::nullopt;
  DrillRecord record;
  record.at_ms = now_ms;
  record.target_ms = *target;
  const auto to = where.backup_dir / (snapshot_name(where.database.stem().string(), env.now(), "restore-drill") + ".tmp");
  RestoreOptions options;
  options.database = where.database;
  options.backup_dir = where.backup_dir;
  options.to = to;
  try {
    const auto r = restore_at(*target, where.archive_dir, options, false, env, job);
    record.backup = r.plan.base.backup.filename().string();
    record.chain = r.plan.base.chain;
    record.transactions = r.transactions;
    record.last_seq = r.last_seq;
    record.last_ms = r.last_ms;
    record.pages = r.restore.pages;
    record.ok = true;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::stopped) throw;
    record.problem = e.what();
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    try {
      env.remove_file(to.string() + suffix);
    } catch (const std::exception& e) {  // a temporary's name: the next backup removes it
      spdlog::warn("restore drill: cannot remove {}{}: {}", to.string(), suffix, e.what());
    }
  }
  record.duration_ms = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - started).count();
  return record;
}

std::optional<DrillRecord> read_drill_record(const std::filesystem::path& archive_dir) {
  std::ifstream in(archive_dir / kDrillFile);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  const auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;  // rewritten by the next drill
  DrillRecord r;
  r.at_ms = j.value("at_ms", std::int64_t{0});
  r.target_ms = j.value("target_ms", std::int64_t{0});
  r.backup = j.value("backup", "");
  r.chain = j.value("chain", "");
  r.transactions = j.value("transactions", std::uint64_t{0});
  r.last_seq = j.value("last_seq", std::uint64_t{0});
  r.last_ms = j.value("last_ms", std::int64_t{0});
  r.pages = j.value("pages", std::int64_t{0});
  r.ok = j.value("ok", false);
  r.problem = j.value("problem", "");
  r.duration_ms = j.value("duration_ms", std::int64_t{0});
  if (r.at_ms <= 0) return std::nullopt;
  return r;
}

void write_drill_record(const std::filesystem::path& archive_dir, const DrillRecord& r, Env& env) {
  const nlohmann::json j = {{"at_ms", r.at_ms},       {"target_ms", r.target_ms}, {"backup", r.backup},
                            {"chain", r.chain},       {"transactions", r.transactions},
                            {"last_seq", r.last_seq}, {"last_ms", r.last_ms},     {"pages", r.pages},
                            {"ok", r.ok},             {"problem", r.problem},     {"duration_ms", r.duration_ms}};
  env.write_file_atomic(archive_dir / kDrillFile, j.dump(2) + "\n", 0600);
}

}  // namespace sqlkeeper::core
