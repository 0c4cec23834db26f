#pragma once
// Reading a migrations folder into memory: plain `NNNN_name.sql` files, or a
// drizzle-kit folder (meta/_journal.json + <tag>.sql with statement breakpoints).
// Everything that can be wrong with the files themselves is found here, before
// the database is touched, and reported with the file named.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "sqlkeeper/migrate/sql_text.h"

namespace sqlkeeper::core {

enum class MigrationFormat { plain, drizzle };
const char* to_string(MigrationFormat f);

// Markers a migration file may carry in SQL comments, e.g.
//   -- sqlkeeper: foreign-keys-off
//   -- sqlkeeper: allow-row-loss=sessions,expenses
//   -- sqlkeeper: no-transaction
struct MigrationDirectives {
  bool no_transaction = false;
  bool foreign_keys_off = false;
  bool allow_row_loss_all = false;
  std::set<std::string> allow_row_loss;  // table names, ASCII-lower-cased
};

struct MigrationFile {
  // Ordering and bookkeeping key: the numeric prefix (plain) or the journal's
  // `when` in milliseconds (drizzle).
  std::int64_t key = 0;
  std::string name;  // file name, e.g. "0003_add_tags.sql"
  std::filesystem::path path;
  std::string sha256;  // of the file's exact bytes
  std::vector<SqlStatement> statements;
  MigrationDirectives directives;
};

// Migration files and the drizzle journal larger than this are refused unread.
constexpr std::uintmax_t kMaxMigrationFileBytes = std::uintmax_t{64} << 20;

struct MigrationSet {
  MigrationFormat format = MigrationFormat::plain;
  std::filesystem::path folder;
  std::vector<MigrationFile> files;  // in application order
};

// Loads and validates a folder; throws Error(migration) naming the file and the
// problem (bad name, duplicate number, not a regular file, too big, not UTF-8,
// empty, journal entry without file…).
MigrationSet load_migrations(const std::filesystem::path& folder);

// Pure parts, exposed for tests.
MigrationDirectives parse_directives(std::string_view text, const std::string& file);
std::vector<SqlStatement> split_drizzle(std::string_view text);

}  // namespace sqlkeeper::core
