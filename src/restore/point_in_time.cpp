#include "sqlkeeper/restore/point_in_time.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <regex>

#include <spdlog/spdlog.h>

#include "sqlkeeper/archive/replay.h"
#include "sqlkeeper/backup/backup_state.h"
#include "sqlkeeper/base/local_time.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/backup/verify.h"
#include "sqlkeeper/db/integrity.h"
#include "sqlkeeper/db/snapshot.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;

// The replayed copy, in the backup folder under a temporary's name of ours, so
// a killed restore's leftover is removed by the next backup.
struct ScratchFile {
  std::filesystem::path path;
  Env& env;
  ~ScratchFile() {
    // With the -wal and -shm the checks' connections may have left beside it.
    for (const char* suffix : {"", "-wal", "-shm"}) {
      try {
        env.remove_file(path.string() + suffix);
      } catch (...) {  // a leftover the next backup removes
      }
    }
  }
};

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
  std::vector<std::filesystem::path> chains;
  for (const auto& e : std::filesystem::directory_iterator(archive_dir, ec))
    if (e.is_directory() && archive::chain_database(e.path()) == identity) chains.push_back(e.path());
  std::sort(chains.begin(), chains.end());
  for (std::size_t i = 0; i < chains.size(); ++i) {
    const auto& dir = chains[i];
    const auto id = dir.filename().string();
    std::optional<std::uint64_t> oldest;
    for (const auto& p : points)
      if (p.chain == id) oldest = std::min(oldest.value_or(p.seq), p.seq);
    if (!oldest) {
      // The newest chain may be the one the archive writes, its backup not yet published.
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
  result.last_seq = plan.base.seq;
  result.last_ms = plan.base.ms;
  spdlog::info("restore --at {}: backup {} (chain {}, transaction {}), then the archive", archive::format_ms(target_ms),
               plan.base.backup.string(), plan.base.chain, plan.base.seq);
  const auto verified = verify_backup(plan.base.backup, job, database_identity(options.database));
  if (!verified.ok)
    throw Error(ErrorCode::io, "refusing to restore from " + plan.base.backup.string() + ": " + verified.problem);

  std::optional<ScratchFile> scratch;
  Fd db;
  std::uint32_t page_size = 0;
  if (!dry_run) {
    scratch.emplace(ScratchFile{options.backup_dir / (snapshot_name(options.database.stem().string(), env.now(),
                                                                    "restore-scratch") +
                                                      ".tmp"),
                                env});
    std::filesystem::copy_file(plan.base.backup, scratch->path);
    db = Fd(::open(scratch->path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!db) throw system_error("open " + scratch->path.string(), errno);
    // The page size from the file's header (offset 16, big-endian; 1 means 65536),
    // without a connection that could leave a -wal beside the file written to.
    std::uint8_t raw[2];
    if (::pread(db.get(), raw, sizeof raw, 16) != static_cast<ssize_t>(sizeof raw))
      throw system_error("read the header of " + scratch->path.string(), errno);
    page_size = (std::uint32_t{raw[0]} << 8) | raw[1];
    if (page_size == 1) page_size = 65536;
  }
  std::uint32_t db_pages = 0;
  const auto replay_started = std::chrono::steady_clock::now();
  archive::read_chain(plan.chain_dir, [&](const archive::Record& r, const std::filesystem::path& segment) {
    job.check("replaying the archive");
    if (r.type != archive::RecordType::txn || r.seq <= plan.base.seq) return true;
    if (r.at_ms > target_ms) return false;
    if (!dry_run) {
      const auto txn = archive::check_txn(r);
      const auto header = archive::parse_wal_header(r.wal_header);
      if (header->page_size != page_size)
        throw Error(ErrorCode::io, "archive segment " + segment.string() + ", transaction " + std::to_string(r.seq) +
                                       ": pages of " + std::to_string(header->page_size) +
                                       " bytes for a database of " + std::to_string(page_size) + "-byte pages");
      archive::apply_transaction(db, page_size, txn, scratch->path.string());
      db_pages = txn.db_pages;
    }
    ++result.transactions;
    result.frame_bytes += r.frames.size();
    result.last_seq = r.seq;
    result.last_ms = r.at_ms;
    return true;
  }, plan.base.seq);
  result.replay = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - replay_started);
  if (dry_run) return result;

  if (::fsync(db.get()) != 0) throw system_error("fsync " + scratch->path.string(), errno);
  db.reset();
  const auto check = check_database(scratch->path, CheckDepth::full, job, Ms(0));
  if (!check.ok)
    throw Error(ErrorCode::sqlite, "the database replayed to " + archive::format_ms(target_ms) +
                                       " fails integrity_check: " + check.first_error + "; nothing was changed");
  if (result.transactions > 0) {
    sqlite::Connection copy(scratch->path, SQLITE_OPEN_READONLY, Ms(0));
    const auto pages = copy.query_int64("PRAGMA page_count").value_or(-1);
    if (pages != db_pages)
      throw Error(ErrorCode::sqlite, "the database replayed to " + archive::format_ms(target_ms) + " has " +
                                         std::to_string(pages) + " pages where its last transaction recorded " +
                                         std::to_string(db_pages) + "; nothing was changed");
  }
  result.restore = restore_checked_file(scratch->path, options, env, job);
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
