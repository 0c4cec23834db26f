#pragma once
// What one backup file is, decided in one place so that `backups`, `verify`,
// `restore`, prune and the daemon's health agree on every file:
//   ok          its sidecar parses, names it and this database, and the size (and,
//               when read, the SHA-256) still match;
//   unfinished  no sidecar: a run stopped between the rename and the sidecar, or
//               a copy brought in by hand; never counted, never deleted;
//   damaged     a sidecar that does not parse or names another file, or a file
//               that no longer matches it; never counted, never deleted, named;
//   foreign     another database's backup (the sidecar names it); left alone.
#include <chrono>
#include <string>

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/base/job.h"

namespace sqlkeeper::core {

enum class BackupState { ok, unfinished, damaged, foreign };
const char* to_string(BackupState s);

struct BackupCheck {
  BackupState state = BackupState::ok;
  std::string problem;          // why not ok; for foreign, whose backup it is
  bool content_checked = false;  // the SHA-256 was computed and compared
};

// Pure, no reading: the sidecar as the catalog read it, the database it names
// (`database` is database_identity(); empty accepts any) and the size.
BackupCheck classify_backup(const CatalogEntry& e, const std::string& database);

// classify_backup, then, for an ok one, the file's SHA-256 against its sidecar's
// (reads the whole file; `job` may stop it).
BackupCheck check_backup(const CatalogEntry& e, const std::string& database, const Job* job);

// A stamp this far past now is in the future: the clock was ahead when it was made.
inline constexpr std::chrono::minutes kFutureSlack{5};
bool stamped_in_future(const CatalogEntry& e, std::chrono::system_clock::time_point now);
std::string future_note(const CatalogEntry& e);

}  // namespace sqlkeeper::core
