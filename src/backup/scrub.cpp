#include "sqlkeeper/backup/scrub.h"

#include <algorithm>

#include "sqlkeeper/base/file_lock.h"
#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

constexpr unsigned kSidecarMode = 0600;

std::optional<Env::Clock::time_point> parse_seconds(const std::string& text) {
  if (text.empty() || text.size() > 12 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return Env::Clock::time_point(std::chrono::seconds(std::stoll(text)));
}

std::string seconds_of(Env::Clock::time_point t) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// What differs between the file and its sidecar; empty when nothing does.
std::string compare_with_sidecar(const CatalogEntry& entry, const Sidecar& sidecar, Job& job) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(entry.file, ec);
  if (ec) return "cannot read its size: " + ec.message();
  const auto recorded = sidecar.field("size");
  if (!recorded.empty() && recorded != std::to_string(size))
    return "size " + std::to_string(size) + " bytes, the sidecar says " + recorded;
  const auto digest = sha256_file(entry.file, &job);
  if (digest != sidecar.sha256) return "SHA-256 " + digest + ", the sidecar says " + sidecar.sha256;
  return {};
}

}  // namespace

std::optional<ScrubRecord> last_scrub(const Sidecar& sidecar) {
  const auto at = parse_seconds(sidecar.field("checked"));
  if (!at) return std::nullopt;
  const auto result = sidecar.field("check");
  return ScrubRecord{*at, result == "ok", result == "ok" ? std::string() : result};
}

Env::Clock::time_point last_checked(const CatalogEntry& entry) {
  if (entry.sidecar) {
    if (const auto r = last_scrub(*entry.sidecar); r && r->ok) return r->at;
    if (const auto written = parse_seconds(entry.sidecar->field("time"))) return *written;
  }
  return entry.name.at;
}

ScrubPlan plan_scrub(const Catalog& catalog, Env::Clock::time_point last_scrub_ended, std::chrono::seconds interval) {
  ScrubPlan plan;
  std::size_t kept = 0;
  for (const auto& e : catalog.backups) {
    if (!e.finished()) continue;
    ++kept;
    // One found damaged stays damaged until someone acts; checking it again tells nothing new.
    if (const auto r = last_scrub(*e.sidecar); r && !r->ok) continue;
    if (!plan.next || last_checked(e) < last_checked(*plan.next)) plan.next = &e;
  }
  if (!plan.next) return plan;
  const auto pace = interval / static_cast<std::int64_t>(std::max<std::size_t>(kept, 1));
  plan.when = std::max(last_checked(*plan.next) + interval, last_scrub_ended + pace);
  return plan;
}

std::optional<ScrubRecord> scrub_backup(const CatalogEntry& entry, Env& env, Job& job,
                                        std::chrono::milliseconds lock_timeout) {
  if (!entry.sidecar) return std::nullopt;
  const auto sidecar_path = entry.file.string() + ".sha256";
  std::error_code ec;
  if (!std::filesystem::exists(entry.file, ec)) return std::nullopt;
  // Hashed without the folder's lock (it may take minutes); the record is written under it.
  std::string problem;
  try {
    problem = compare_with_sidecar(entry, *entry.sidecar, job);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::stopped) throw;
    if (!std::filesystem::exists(entry.file, ec)) return std::nullopt;
    problem = e.what();
  }
  const auto dir = entry.file.parent_path();
  const auto lock = FileLock::acquire(dir / kBackupLockName, "the backup lock of " + dir.string(), job, lock_timeout);
  // Pruned while it was hashed: nothing to record.
  if (!std::filesystem::exists(entry.file, ec) || !std::filesystem::exists(sidecar_path, ec)) return std::nullopt;
  ScrubRecord record{env.now(), problem.empty(), problem};
  auto sidecar = *entry.sidecar;
  sidecar.fields["checked"] = seconds_of(record.at);
  sidecar.fields["check"] = record.ok ? "ok" : problem;
  env.write_file_atomic(sidecar_path, format_sidecar(sidecar), kSidecarMode);
  return record;
}

}  // namespace sqlkeeper::core
