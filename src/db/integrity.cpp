#include "sqlkeeper/db/integrity.h"

#include "sqlkeeper/error.h"

namespace sqlkeeper::core {

IntegrityResult check_database(const std::filesystem::path& file, CheckDepth depth, Job& job,
                               std::chrono::milliseconds busy_timeout) {
  const auto started = std::chrono::steady_clock::now();
  sqlite::Connection db(file, SQLITE_OPEN_READONLY, busy_timeout);
  // A read-only connection cannot checkpoint; closing it must not try (and lock).
  sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  const JobScope scope(db, job, busy_timeout);
  IntegrityResult result;
  try {
    auto st = db.prepare(depth == CheckDepth::quick ? "PRAGMA quick_check" : "PRAGMA integrity_check");
    while (st.step()) {
      const auto line = st.column_text(0);
      if (line == "ok") continue;
      if (result.first_error.empty()) result.first_error = line;
      ++result.problems;
    }
  } catch (const Error& e) {
    // Damage bad enough that the check itself cannot read is a finding, not a failure to check.
    const int primary = e.sqlite_code() & 0xff;
    if (job.should_stop() || (primary != SQLITE_CORRUPT && primary != SQLITE_NOTADB)) rethrow_as_stopped_if(job);
    result.first_error = e.what();
    ++result.problems;
  }
  result.ok = result.problems == 0;
  result.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace sqlkeeper::core
