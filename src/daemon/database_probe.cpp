#include "sqlkeeper/daemon/database_probe.h"

#include "sqlkeeper/error.h"
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::daemon {

ProbeResult probe_database(const std::filesystem::path& database, const std::optional<core::FileIdentity>& opened_as,
                           std::chrono::milliseconds timeout) {
  ProbeResult r;
  try {
    sqlite::Connection db(database, SQLITE_OPEN_READONLY, timeout);
    // A read-only connection cannot checkpoint; closing it must not try (and lock).
    sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    db.query_int64("SELECT count(*) FROM sqlite_schema");
    r.answered = true;
  } catch (const Error& e) {
    r.error = e.what();
    return r;
  }
  if (opened_as) r.replaced = core::replaced_problem(database, *opened_as, core::identity_of(database));
  return r;
}

}  // namespace sqlkeeper::daemon
