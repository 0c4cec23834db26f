#include "sqlkeeper/migrate/migrator.h"

#include <gtest/gtest.h>

#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/error.h"

namespace sqlkeeper::core {
namespace {

class FixedClock : public Env {
 public:
  Clock::time_point now() const override { return Clock::time_point(std::chrono::milliseconds(1700000000000)); }
};

MigrationSet plain_set() {
  MigrationSet set{MigrationFormat::plain, "m", {}};
  for (int v = 1; v <= 3; ++v) {
    MigrationFile f;
    f.key = v;
    f.name = "000" + std::to_string(v) + "_t" + std::to_string(v) + ".sql";
    f.sha256 = sha256_hex(f.name);
    f.statements = {{"CREATE TABLE t" + std::to_string(v) + " (x);", 1}};
    set.files.push_back(f);
  }
  return set;
}

TEST(UnmanagedDatabase, TablesWithoutBookkeepingAreAProblemNamingAFew) {
  sqlite::Connection db(":memory:", SQLITE_OPEN_READWRITE, std::chrono::milliseconds(0));
  EXPECT_FALSE(unmanaged_database_problem(db, MigrationFormat::plain));
  db.exec("CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT)");  // also makes sqlite_sequence
  db.exec("INSERT INTO a DEFAULT VALUES");
  for (const auto* t : {"b", "c", "d", "e", "f", "g"}) db.exec(std::string("CREATE TABLE ") + t + " (x)");
  const auto problem = unmanaged_database_problem(db, MigrationFormat::drizzle);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("(a, b, c, d, e and 2 more) but no __drizzle_migrations"), std::string::npos) << *problem;
  EXPECT_NE(problem->find("sqlkeeper migrate baseline --to N"), std::string::npos);
  EXPECT_TRUE(unmanaged_database_problem(db, MigrationFormat::plain));
  db.exec("CREATE TABLE sqlkeeper_migrations (version INTEGER PRIMARY KEY)");
  EXPECT_FALSE(unmanaged_database_problem(db, MigrationFormat::plain));
}

TEST(UnmanagedDatabase, MigrateUpRefusesAndRunsNothing) {
  sqlite::Connection db(":memory:", SQLITE_OPEN_READWRITE, std::chrono::milliseconds(0));
  db.exec("CREATE TABLE foreign_table (x)");
  try {
    migrate_up(db, plain_set(), {});
    FAIL() << "migrated a database with tables and no bookkeeping";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::migration);
    EXPECT_NE(std::string(e.what()).find("refusing to migrate :memory:: it has tables (foreign_table)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM sqlite_schema"), 1);
}

TEST(Baseline, RecordsUpToTheGivenMigrationWithoutRunningIt) {
  sqlite::Connection db(":memory:", SQLITE_OPEN_READWRITE, std::chrono::milliseconds(0));
  db.exec("CREATE TABLE t1 (x)");
  FixedClock clock;
  const auto set = plain_set();
  EXPECT_EQ(migrate_baseline(db, set, std::string("0002_t2"), clock),
            (std::vector<std::string>{"0001_t1.sql", "0002_t2.sql"}));
  const auto applied = read_applied(db, MigrationFormat::plain);
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[1].hash, set.files[1].sha256);
  EXPECT_EQ(applied[1].applied_at_ms, 1700000000000);
  EXPECT_EQ(db.query_int64("PRAGMA user_version"), 2);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM sqlite_schema WHERE name = 't2'"), 0);  // recorded, not run
  EXPECT_THROW(migrate_baseline(db, set, std::nullopt, clock), Error);                   // has bookkeeping now
}

TEST(Baseline, RefusesAnUnknownTargetAndAnEmptyDatabase) {
  sqlite::Connection db(":memory:", SQLITE_OPEN_READWRITE, std::chrono::milliseconds(0));
  EXPECT_THROW(migrate_baseline(db, plain_set(), std::string("4")), Error);
  try {
    migrate_baseline(db, plain_set(), std::nullopt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no tables"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(read_applied(db, MigrationFormat::plain).empty());
}

}  // namespace
}  // namespace sqlkeeper::core
