#include "sqlkeeper/restore/chain_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "sqlkeeper/backup/backup_state.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/integrity.h"
#include "sqlkeeper/error.h"
#include "sqlkeeper/fd.h"
#include "sqlkeeper/restore/point_in_time.h"
#include "sqlkeeper/restore/replay_backup.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::core {
namespace {

using Ms = std::chrono::milliseconds;

// Page 1's header bytes a copy through SQLite rewrites (chain_check.h).
constexpr std::array<std::pair<int, int>, 4> kRewrittenHeader{{{18, 20}, {24, 28}, {40, 44}, {92, 100}}};

std::uint64_t file_size(const Fd& fd, const std::filesystem::path& path) {
  const auto end = ::lseek(fd.get(), 0, SEEK_END);
  if (end < 0) throw system_error("size of " + path.string(), errno);
  return static_cast<std::uint64_t>(end);
}

void read_fully(const Fd& fd, const std::filesystem::path& path, std::uint8_t* out, std::size_t size,
                std::uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    const auto n = ::pread(fd.get(), out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error("read " + path.string(), errno);
    if (n == 0) throw Error(ErrorCode::io, "read " + path.string() + ": shorter than it was a moment ago");
    done += static_cast<std::size_t>(n);
  }
}

Fd open_readonly(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw system_error("open " + path.string(), errno);
  return fd;
}

// The sidecar's SHA-256 again: the comparison means something only if both
// files are what was written.
std::string backup_problem(const std::filesystem::path& backup, const std::string& identity, Job& job) {
  const auto check = check_backup(describe_file(backup), identity, &job);
  if (check.state == BackupState::ok) return "";
  return "the backup " + backup.string() + " is " + to_string(check.state) + ": " + check.problem;
}

std::string point_text(const archive::ChainPoint& p) {
  return p.backup.filename().string() + " (transaction " + std::to_string(p.seq) + ")";
}

}  // namespace

std::string compare_database_pages(const std::filesystem::path& a, const std::filesystem::path& b, Job& job) {
  const auto page_size = header_page_size(a);
  if (header_page_size(b) != page_size)
    return b.filename().string() + " has " + std::to_string(header_page_size(b)) + "-byte pages, " +
           a.filename().string() + " " + std::to_string(page_size);
  const Fd fa = open_readonly(a);
  const Fd fb = open_readonly(b);
  const auto size_a = file_size(fa, a);
  const auto size_b = file_size(fb, b);
  const auto pages_a = size_a / page_size;
  const auto pages_b = size_b / page_size;
  if (pages_a != pages_b)
    return a.filename().string() + " has " + std::to_string(pages_a) + " pages, " + b.filename().string() + " " +
           std::to_string(pages_b);
  constexpr std::size_t kChunk = 4 << 20;
  const std::size_t per_chunk = std::max<std::size_t>(1, kChunk / page_size);
  std::vector<std::uint8_t> buf_a(per_chunk * page_size), buf_b(per_chunk * page_size);
  std::uint64_t first = 0, differing = 0;
  for (std::uint64_t page = 0; page < pages_a; page += per_chunk) {
    job.check("comparing pages");
    const auto n = std::min<std::uint64_t>(per_chunk, pages_a - page);
    const auto bytes = static_cast<std::size_t>(n * page_size);
    read_fully(fa, a, buf_a.data(), bytes, page * page_size);
    read_fully(fb, b, buf_b.data(), bytes, page * page_size);
    if (page == 0)
      for (const auto& [from, to] : kRewrittenHeader) {
        std::memset(buf_a.data() + from, 0, static_cast<std::size_t>(to - from));
        std::memset(buf_b.data() + from, 0, static_cast<std::size_t>(to - from));
      }
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto at = static_cast<std::size_t>(i * page_size);
      if (std::memcmp(buf_a.data() + at, buf_b.data() + at, page_size) == 0) continue;
      if (differing++ == 0) first = page + i + 1;
    }
    job.set_progress(page + n, pages_a);
  }
  if (differing == 0) return "";
  return "page " + std::to_string(first) + " differs" +
         (differing > 1 ? " (and " + std::to_string(differing - 1) + " more)" : "");
}

ChainStep check_chain_step(const std::filesystem::path& chain_dir, const archive::ChainPoint& from,
                           const archive::ChainPoint& to, const StepWhere& where, Env& env, Job& job) {
  const auto started = std::chrono::steady_clock::now();
  ChainStep step;
  step.chain_dir = chain_dir;
  step.from = from;
  step.to = to;
  const bool tail = to.backup.empty();
  const auto what = tail ? "the chain " + from.chain + " after " + point_text(from)
                         : point_text(from) + " + the archive to " + point_text(to);
  try {
    step.problem = backup_problem(from.backup, where.identity, job);
    if (step.problem.empty() && !tail) step.problem = backup_problem(to.backup, where.identity, job);
    if (step.problem.empty()) {
      ScratchFile scratch(where.backup_dir, where.stem, "chain-check", env);
      const auto until = to.seq;
      const auto replayed = replay_backup(
          {from.backup, from.seq, from.ms, chain_dir,
           [tail, until](const archive::Record& r) { return tail || r.seq <= until; }},
          scratch.path(), job);
      step.transactions = replayed.transactions;
      step.frame_bytes = replayed.frame_bytes;
      step.last_seq = replayed.last_seq;
      step.last_ms = replayed.last_ms;
      if (!tail && replayed.last_seq != to.seq) {
        step.problem = what + ": the archive ends at transaction " + std::to_string(replayed.last_seq);
      } else if (!tail) {
        const auto difference = compare_database_pages(to.backup, scratch.path(), job);
        if (!difference.empty()) step.problem = what + " is not the later backup: " + difference;
      } else {
        const auto check = check_database(scratch.path(), CheckDepth::full, job, Ms(0));
        if (!check.ok) step.problem = what + " fails integrity_check: " + check.first_error;
        sqlite::Connection copy(scratch.path(), SQLITE_OPEN_READONLY, Ms(0));
        const auto pages = copy.query_int64("PRAGMA page_count").value_or(-1);
        if (step.problem.empty() && replayed.transactions > 0 && pages != replayed.db_pages)
          step.problem = what + " has " + std::to_string(pages) + " pages where its last transaction recorded " +
                         std::to_string(replayed.db_pages);
      }
      step.pages = std::filesystem::file_size(scratch.path()) / replayed.page_size;
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::stopped) throw;
    step.problem = what + ": " + e.what();
  }
  step.ok = step.problem.empty();
  step.duration = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - started);
  return step;
}

bool ArchiveCheck::ok() const {
  return problems.empty() && std::all_of(steps.begin(), steps.end(), [](const ChainStep& s) { return s.ok; });
}

ArchiveCheck verify_archive(const std::filesystem::path& archive_dir, const std::filesystem::path& backup_dir,
                            const std::filesystem::path& database, Env& env, Job& job,
                            const std::function<void(const ChainStep&)>& on_step) {
  const auto now_ms = std::chrono::duration_cast<Ms>(env.now().time_since_epoch()).count();
  const auto view = read_archive(archive_dir, backup_dir, database, now_ms);
  const StepWhere where{backup_dir, database.stem().string(), database_identity(database)};
  ArchiveCheck result;
  for (const auto& chain : view.chains) {
    if (!chain.problem.empty()) result.problems.push_back("chain " + chain.id + ": " + chain.problem);
    std::vector<archive::ChainPoint> points;
    for (const auto& p : view.points)
      if (p.chain == chain.id) points.push_back(p);
    if (points.empty()) continue;
    ++result.chains;
    std::sort(points.begin(), points.end(),
              [](const archive::ChainPoint& x, const archive::ChainPoint& y) { return x.seq < y.seq; });
    for (std::size_t i = 0; i < points.size(); ++i) {
      const auto to = i + 1 < points.size() ? points[i + 1] : archive::ChainPoint{};
      result.steps.push_back(check_chain_step(chain.dir, points[i], to, where, env, job));
      if (on_step) on_step(result.steps.back());
    }
  }
  return result;
}

std::optional<ChainStep> check_new_backup(const std::filesystem::path& archive_dir,
                                          const std::filesystem::path& backup_dir,
                                          const std::filesystem::path& database, const archive::ChainPoint& point,
                                          Env& env, Job& job) {
  const auto identity = database_identity(database);
  std::optional<archive::ChainPoint> before;
  for (const auto& e : read_catalog(backup_dir, database.stem().string()).backups) {
    if (classify_backup(e, identity).state != BackupState::ok || e.file == point.backup) continue;
    const auto p = archive::parse_chain_point(e.sidecar->field("archive"), e.file);
    if (p && p->chain == point.chain && p->seq <= point.seq && (!before || p->seq >= before->seq)) before = p;
  }
  if (!before) return std::nullopt;
  return check_chain_step(archive_dir / point.chain, *before, point,
                          {backup_dir, database.stem().string(), identity}, env, job);
}

}  // namespace sqlkeeper::core
