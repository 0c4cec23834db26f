#include "sqlkeeper/backup/backup_state.h"

#include "sqlkeeper/config/units.h"
#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/printable.h"

namespace sqlkeeper::core {

// Text from a sidecar, safe in one line of a message.
std::string shown(const std::string& text) {
  std::string out;
  for (const char c : text) append_printable(out, c);
  return out;
}


const char* to_string(BackupState s) {
  switch (s) {
    case BackupState::ok: return "ok";
    case BackupState::unfinished: return "unfinished";
    case BackupState::damaged: return "damaged";
    case BackupState::foreign: return "foreign";
  }
  return "damaged";
}

BackupCheck classify_backup(const CatalogEntry& e, const std::string& database) {
  if (!e.sidecar_exists) return {BackupState::unfinished, "no sidecar"};
  if (!e.sidecar) return {BackupState::damaged, e.sidecar_problem};
  const auto& s = *e.sidecar;
  // Sidecars from before kDatabaseKey carry "source", the path as configured:
  // it tells another database apart only when it was absolute.
  auto of = s.field(kDatabaseKey);
  if (of.empty() && !s.field("source").empty() && s.field("source").front() == '/')
    of = std::filesystem::path(s.field("source")).lexically_normal().string();
  if (!database.empty() && !of.empty() && of != database)
    return {BackupState::foreign, "a backup of " + shown(of) + ", not of " + database};
  // A scrub (backup/scrub.h) found it no longer matching its sidecar.
  if (!s.field("checked").empty() && s.field("check") != "ok")
    return {BackupState::damaged, "the scrub found it no longer matches its sidecar: " + shown(s.field("check"))};
  if (!s.verified()) return {BackupState::damaged, "its sidecar does not say it was verified"};
  const auto size = s.field("size");
  if (!size.empty() && size != std::to_string(e.size))
    return {BackupState::damaged,
            "its size is " + std::to_string(e.size) + " bytes, its sidecar says " + shown(size)};
  return {};
}

BackupCheck check_backup(const CatalogEntry& e, const std::string& database, const Job* job) {
  auto check = classify_backup(e, database);
  if (check.state != BackupState::ok && check.state != BackupState::foreign) return check;
  const auto actual = sha256_file(e.file, job);
  check.content_checked = true;
  if (actual != e.sidecar->sha256)
    return {BackupState::damaged,
            "checksum mismatch: the sidecar says " + e.sidecar->sha256 + ", the file has " + actual, true};
  return check;
}

bool stamped_in_future(const CatalogEntry& e, std::chrono::system_clock::time_point now) {
  return e.name.at > now + kFutureSlack;
}

std::string future_note(const CatalogEntry& e) {
  return "stamped in the future (" + config::format_utc(e.name.at) +
         "): the clock was ahead when it was made; not counted until the clock reaches it";
}

}  // namespace sqlkeeper::core
