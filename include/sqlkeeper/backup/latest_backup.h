#pragma once
// Which backup is "the latest": `restore --latest`'s choice and the daemon's last
// backup at start. The newest regular backup of this database that is ok
// (backup/backup_state) and stamped before now; one stamped in the future is never
// taken while another will do, and never without a warning.
#include <chrono>
#include <string>
#include <vector>

#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/base/job.h"

namespace sqlkeeper::core {

struct LatestChoice {
  const CatalogEntry* entry = nullptr;  // nullptr: none will do
  std::vector<std::string> warnings;    // each newer backup passed over, and why; a future pick
};

// With `job`, each candidate's SHA-256 is compared too (newest first, until one
// matches); without, only what needs no reading (the sidecar and the size).
LatestChoice choose_latest(const Catalog& catalog, const std::string& database,
                           std::chrono::system_clock::time_point now, const Job* job);

}  // namespace sqlkeeper::core
