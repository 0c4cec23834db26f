#include "sqlkeeper/sqlite/library.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::sqlite {
namespace {

TEST(SqliteVersion, ParsesThreeOrFourParts) {
  EXPECT_EQ(parse_version("3.51.3"), (Version{3, 51, 3}));
  EXPECT_EQ(parse_version("3.8.11.1"), (Version{3, 8, 11}));
  EXPECT_EQ(parse_version("10.0.0"), (Version{10, 0, 0}));
  for (const char* bad : {"", "3", "3.51", "3.51.", ".3.51.3", "3..3", "3.51.3.", "3.51.3.1.2", "3.51.x", "3.51.3-rc1",
                          " 3.51.3", "3.51.3 ", "-3.51.3", "3.-51.3", "3.+51.3", "99999999999.0.0"})
    EXPECT_EQ(parse_version(bad), std::nullopt) << '"' << bad << '"';
}

TEST(SqliteVersion, OrdersByNumberNotText) {
  EXPECT_LT((Version{3, 9, 0}), (Version{3, 10, 0}));
  EXPECT_LT((Version{3, 51, 2}), (Version{3, 51, 3}));
  EXPECT_LT((Version{3, 51, 99}), (Version{3, 52, 0}));
}

TEST(WalResetFix, ByVersion) {
  const struct {
    const char* version;
    bool fixed;
  } cases[] = {
      // The table.
      {"3.40.1", false},  // Debian 12
      {"3.44.5", false},
      {"3.44.6", true},  // backport
      {"3.50.6", false},
      {"3.50.7", true},  // backport
      {"3.51.2", false},
      {"3.51.3", true},  // the first release with the fix
      {"3.52.0", true},
      {"3.53.2", true},  // bundled
      // Edges around them.
      {"3.7.0", false},   // the first with WAL
      {"3.6.23", false},  // no WAL, and too old for sqlkeeper: never "fixed"
      {"3.44.0", false},
      {"3.44.7", true},   // later patch releases of a backport line keep it
      {"3.45.0", false},  // the line after a backport is not backported
      {"3.45.3", false},
      {"3.49.2", false},
      {"3.50.0", false},
      {"3.50.99", true},
      {"3.51.0", false},
      {"3.51.10", true},  // numbers, not text: 10 > 3
      {"3.8.11.1", false},
      {"4.0.0", true},
  };
  for (const auto& c : cases) {
    const auto v = parse_version(c.version);
    ASSERT_TRUE(v) << c.version;
    EXPECT_EQ(has_wal_reset_fix(*v), c.fixed) << c.version;
  }
}

TEST(LinkedLibrary, DescribesVersionSourceAndFix) {
  EXPECT_EQ(describe({"3.53.2", "bundled", true}), "3.53.2 (bundled, has the WAL-reset fix)");
  EXPECT_EQ(describe({"3.40.1", "system", false}), "3.40.1 (system, has the WAL-reset bug)");
}

// The expectations come from CMake: the pinned version of third_party/sqlite, or the
// version in the system's sqlite3.h. The bundled build must run on a fixed SQLite; the
// system build must say "system" and classify whatever Debian ships.
TEST(LinkedLibrary, IsTheOneTheBuildChose) {
  const auto linked = linked_library();
  EXPECT_EQ(linked.source, SQLKEEPER_EXPECTED_SQLITE_SOURCE);
  EXPECT_EQ(linked.version, SQLKEEPER_EXPECTED_SQLITE_VERSION);
  // The header we compiled against and the library we run on are the same release.
  EXPECT_EQ(linked.version, SQLITE_VERSION);
  EXPECT_EQ(sqlite3_libversion_number(), SQLITE_VERSION_NUMBER);
  const auto version = parse_version(linked.version);
  ASSERT_TRUE(version) << linked.version;
  EXPECT_EQ(linked.wal_reset_fix, has_wal_reset_fix(*version));
  if (std::string(SQLKEEPER_EXPECTED_SQLITE_SOURCE) == "bundled") {
    EXPECT_GE(*version, (Version{3, 51, 3}));
    EXPECT_TRUE(linked.wal_reset_fix);
  } else {
    EXPECT_EQ(linked.source, "system");
  }
}

// sqlkeeper applies the application's migrations, so the schema features of the
// application's SQLite (better-sqlite3's and Debian's builds both have these) must work
// here too, in both builds.
TEST(LinkedLibrary, RunsTheApplicationsSchemaFeatures) {
  Connection db(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, std::chrono::milliseconds(0));
  db.exec("CREATE VIRTUAL TABLE notes USING fts5(body)");
  db.exec("CREATE VIRTUAL TABLE old_notes USING fts4(body)");
  db.exec("CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1)");
  db.exec("CREATE TABLE t (y INTEGER, root REAL GENERATED ALWAYS AS (sqrt(y)) STORED)");
  db.exec("INSERT INTO t (y) VALUES (4), (9); DELETE FROM t WHERE y > 0 ORDER BY y DESC LIMIT 1");
  EXPECT_EQ(db.query_int64("SELECT CAST(root AS INTEGER) FROM t"), 2);
}

// The options in third_party/sqlite/CMakeLists.txt reach the compiled library.
TEST(LinkedLibrary, BundledBuildHasItsCompileTimeOptions) {
  EXPECT_EQ(sqlite3_threadsafe(), 1);
  if (std::string(SQLKEEPER_EXPECTED_SQLITE_SOURCE) != "bundled") return;
  for (const char* option : {"DQS=0", "DEFAULT_WAL_SYNCHRONOUS=1", "OMIT_LOAD_EXTENSION", "OMIT_DEPRECATED",
                             "OMIT_SHARED_CACHE", "ENABLE_STAT4", "ENABLE_GEOPOLY", "LIKE_DOESNT_MATCH_BLOBS"})
    EXPECT_TRUE(sqlite3_compileoption_used(option)) << option;
}

}  // namespace
}  // namespace sqlkeeper::sqlite
