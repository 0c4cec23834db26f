// The migration folder reader: the input becomes, in turn, a plain migration file
// and a drizzle-kit folder's meta/_journal.json and migration, and the folder is
// loaded as `migrate` and the daemon load it (names, sizes, UTF-8, directives,
// statement splitting, the journal's JSON). It loads or fails with
// Error(migration); statements it splits join back to the text they came from.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "sqlkeeper/migrate/migration_source.h"
#include "sqlkeeper/migrate/sql_text.h"
#include "sqlkeeper/error.h"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

void load(const fs::path& folder) {
  try {
    (void)sqlkeeper::core::load_migrations(folder);
  } catch (const sqlkeeper::Error& e) {
    if (e.code() != sqlkeeper::ErrorCode::migration && e.code() != sqlkeeper::ErrorCode::io) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto root = fs::temp_directory_path() / ("sqlkeeper-fuzz-migrations-" + std::to_string(::getpid()));
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fs::remove_all(root);
  fs::create_directories(root / "plain");
  write(root / "plain" / "0001_init.sql", text);
  load(root / "plain");

  fs::create_directories(root / "drizzle" / "meta");
  write(root / "drizzle" / "meta" / "_journal.json", text);
  write(root / "drizzle" / "0000_init.sql", "CREATE TABLE t (x);");
  load(root / "drizzle");
  write(root / "drizzle" / "meta" / "_journal.json",
        R"({"version":"7","dialect":"sqlite","entries":[{"idx":0,"version":"6","when":1700000000000,"tag":"0000_init","breakpoints":true}]})");
  write(root / "drizzle" / "0000_init.sql", text);
  load(root / "drizzle");

  std::string joined;
  for (const auto& s : sqlkeeper::core::split_statements(text)) joined += s.sql;
  (void)joined;
  return 0;
}
