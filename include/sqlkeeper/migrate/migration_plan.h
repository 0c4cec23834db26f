#pragma once
// Deciding what to do with a migrations folder given what the database has
// recorded: plain values in, a plan out. No I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sqlkeeper/migrate/migration_source.h"

namespace sqlkeeper::core {

// One bookkeeping row. For plain folders key = version; for drizzle key =
// created_at (the journal's `when`). applied_at_ms is 0 where not recorded.
struct AppliedRecord {
  std::int64_t key = 0;
  std::string hash;
  std::string name;
  std::int64_t applied_at_ms = 0;
  std::int64_t duration_ms = 0;
};

enum class MigrationState {
  applied,
  pending,
  drifted,       // applied, but the file's bytes changed since
  missing,       // applied, but no file for it any more
  out_of_order,  // never applied, yet older than the newest applied one
};
const char* to_string(MigrationState s);

struct PlannedMigration {
  MigrationState state = MigrationState::pending;
  std::int64_t key = 0;
  std::string name;
  std::optional<std::size_t> file;  // index into MigrationSet::files
  std::optional<AppliedRecord> record;
};

struct MigrationPlan {
  std::vector<PlannedMigration> items;  // every file and every orphan record, by key
  std::vector<std::size_t> to_apply;    // indices into MigrationSet::files, in order
  std::vector<std::string> problems;    // reasons to refuse; empty when the plan may run
};

MigrationPlan plan_migrations(const MigrationSet& set, const std::vector<AppliedRecord>& applied,
                              bool allow_out_of_order);

}  // namespace sqlkeeper::core
