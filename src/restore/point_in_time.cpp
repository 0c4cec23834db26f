#include "sqlkeeper/restore/point_in_time.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <regex>

#include <spdlog/spdlog.h>

#include "sqlkeeper/archive/folder_lock.h"
#include "sqlkeeper/backup/backup_state.h"
#include "sqlkeeper/base/local_time.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/integrity.h"
#include "sqlkeeper/restore/replay_backup.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;

}  // namespace

ArchiveView read_archive(const std::filesystem::path& archive_dir, const std::filesystem::path& backup_dir,
                         const std::filesystem::path& database, std::int64_t now_ms) {
  ArchiveView v;
  v.chains = archive::list_chains(archive_dir);
  const auto identity = database_identity(database);
  std::erase_if(v.chains, [&identity](const archive::ChainSummary& c) { return c.database != identity; });
  const auto catalog = read_catalog(backup_dir, database.stem().string());
  for (const auto& e : catalog.backups) {
    if (classify_backup(e, identity).state != BackupState::ok) continue;
    if (auto p = archive::parse_chain_point(e.sidecar->field("archive"), e.file)) v.points.push_back(*p);
  }
  v.live = archive::archive_is_live(archive_dir);
  v.timeline = archive::build_timeline(v.chains, v.points, v.live, now_ms);
  return v;
}

namespace {

// Every chain point recorded by a backup of `database` still in the folder.
std::vector<archive::ChainPoint> points_on_disk(const std::filesystem::path& backup_dir,
                                                const std::filesystem::path& database) {
  std::vector<archive::ChainPoint> points;
  const auto identity = database_identity(database);
  for (const auto& e : read_catalog(backup_dir, database.stem().string()).backups) {
    if (!e.sidecar) continue;
    const auto of = e.sidecar->field(kDatabaseKey);
    if (!of.empty() && of != identity) continue;
    if (auto p = archive::parse_chain_point(e.sidecar->field("archive"), e.file)) points.push_back(*p);
  }
  return points;
}

}  // namespace

ArchivePruneReport prune_archive(const std::filesystem::path& archive_dir, const std::filesystem::path& backup_dir,
                                 const std::filesystem::path& database, bool dry_run, Env& env) {
  ArchivePruneReport report;
  std::error_code ec;
  if (!std::filesystem::is_directory(archive_dir, ec)) return report;
  const auto identity = database_identity(database);
  const auto points = points_on_disk(backup_dir, database);
  const auto chains = archive::chain_dirs(archive_dir, identity);
  for (std::size_t i = 0; i < chains.size(); ++i) {
    const auto& dir = chains[i];
    const auto id = dir.filename().string();
    std::optional<std::uint64_t> oldest;
    for (const auto& p : points)
      if (p.chain == id) oldest = std::min(oldest.value_or(p.seq), p.seq);
    if (!oldest) {
      // The newest may be the one the archive writes, its backup not yet published.
      if (i + 1 == chains.size()) continue;
      for (const auto& f : std::filesystem::directory_iterator(dir, ec)) report.bytes += f.file_size(ec);
      report.chains.push_back(dir);
      if (dry_run) continue;
      for (const auto& f : std::filesystem::directory_iterator(dir, ec)) env.remove_file(f.path());
      std::filesystem::remove(dir, ec);
      if (ec) throw Error(ErrorCode::io, "delete archive chain " + dir.string() + ": " + ec.message());
      continue;
    }
    const auto pruned = archive::prune_chain_before(dir, *oldest, env, dry_run);
    report.segments.insert(report.segments.end(), pruned.segments.begin(), pruned.segments.end());
    report.bytes += pruned.bytes;
  }
  if (!dry_run && !report.chains.empty()) env.fsync_dir(archive_dir);
  return report;
}

PointInTimeResult restore_at(std::int64_t target_ms, const std::filesystem::path& archive_dir,
                             const RestoreOptions& options, bool dry_run, Env& env, Job& job) {
  const auto now_ms = std::chrono::duration_cast<Ms>(env.now().time_since_epoch()).count();
  const auto view = read_archive(archive_dir, options.backup_dir, options.database, now_ms);
  PointInTimeResult result;
  result.plan = archive::plan_restore(view.timeline, view.chains, view.points, target_ms);
  const auto& plan = result.plan;
  spdlog::info("restore --at {}: backup {} (chain {}, transaction {}), then the archive", archive::format_ms(target_ms),
               plan.base.backup.string(), plan.base.chain, plan.base.seq);
  // The base against its checksum only: the result is what integrity_check
  // reads, whole, before anything is replaced.
  const auto base = check_backup(describe_file(plan.base.backup), database_identity(options.database), &job);
  if (base.state != BackupState::ok)
    throw Error(ErrorCode::io, "refusing to restore from " + plan.base.backup.string() + ": it is " +
                                   to_string(base.state) + ": " + base.problem);

  std::optional<ScratchFile> scratch;
  if (!dry_run && options.to) {
    // Beside the new file, so the replayed copy is renamed into place once
    // checked instead of copied there by a load: for 1 GiB, a copy less.
    prepare_new_file(*options.to, options.file_mode);
    auto beside = *options.to;
    beside += ".restoring-" + std::to_string(::getpid());
    scratch.emplace(beside, env);
  } else if (!dry_run) {
    // Not "restore-scratch": the load below names its own scratch so when the
    // replayed copy needs pending migrations, and in the same second the two
    // names would meet.
    scratch.emplace(options.backup_dir, options.database.stem().string(), "pitr-scratch", env);
  }
  const auto replayed = replay_backup(
      {plan.base.backup, plan.base.seq, plan.base.ms, plan.chain_dir,
       [target_ms](const archive::Record& r) { return r.at_ms <= target_ms; }},
      scratch ? std::optional(scratch->path()) : std::nullopt, job);
  result.transactions = replayed.transactions;
  result.frame_bytes = replayed.frame_bytes;
  result.last_seq = replayed.last_seq;
  result.last_ms = replayed.last_ms;
  result.replay = replayed.replay;
  if (dry_run) return result;

  if (result.transactions > 0) {
    sqlite::Connection copy(scratch->path(), SQLITE_OPEN_READONLY, Ms(0));
    const auto pages = copy.query_int64("PRAGMA page_count").value_or(-1);
    if (pages != replayed.db_pages)
      throw Error(ErrorCode::sqlite, "the database replayed to " + archive::format_ms(target_ms) + " has " +
                                         std::to_string(pages) + " pages where its last transaction recorded " +
                                         std::to_string(replayed.db_pages) + "; nothing was changed");
  }
  if (options.to) {
    result.restore = publish_made_file(scratch->path(), *options.to, options, env, job);
    return result;
  }
  // In place, the result is checked before it replaces anything.
  const auto check = check_database(scratch->path(), CheckDepth::full, job, Ms(0));
  if (!check.ok)
    throw Error(ErrorCode::sqlite, "the database replayed to " + archive::format_ms(target_ms) +
                                       " fails integrity_check: " + check.first_error + "; nothing was changed");
  result.restore = restore_checked_file(scratch->path(), options, env, job);
  return result;
}

}  // namespace sqlkeeper::core

namespace sqlkeeper::core {

std::optional<std::int64_t> parse_restore_time(const std::string& text) {
  static const std::regex rfc3339(
      R"((\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?([Zz]|([+-])(\d{2}):(\d{2})))");
  static const std::regex local(R"((\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(:(\d{2}))?)");
  std::smatch m;
  const auto num = [&m](int i) { return std::stoi(m[i].str()); };
  const auto valid = [](int mo, int d, int h, int mi, int s) {
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60;
  };
  if (std::regex_match(text, m, rfc3339)) {
    if (!valid(num(2), num(3), num(4), num(5), num(6))) return std::nullopt;
    std::tm tm{};
    tm.tm_year = num(1) - 1900;
    tm.tm_mon = num(2) - 1;
    tm.tm_mday = num(3);
    tm.tm_hour = num(4);
    tm.tm_min = num(5);
    tm.tm_sec = num(6);
    std::int64_t ms = static_cast<std::int64_t>(::timegm(&tm)) * 1000;
    if (m[8].matched) ms += std::stoll((m[8].str() + "00").substr(0, 3));
    if (m[10].matched) {
      const std::int64_t offset = (num(11) * 60 + num(12)) * 60000LL;
      ms += m[10].str() == "+" ? -offset : offset;
    }
    return ms;
  }
  if (std::regex_match(text, m, local)) {
    const int seconds = m[7].matched ? num(7) : 0;
    if (!valid(num(2), num(3), num(4), num(5), seconds)) return std::nullopt;
    const auto at = local_moment({num(1), num(2), num(3)}, num(4), num(5)) + std::chrono::seconds(seconds);
    return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  }
  return std::nullopt;
}

}  // namespace sqlkeeper::core
