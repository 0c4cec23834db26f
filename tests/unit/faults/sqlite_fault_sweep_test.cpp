// I/O faults inside SQLite's own I/O, through a VFS shim (support/fault_vfs.h):
// EIO, ENOSPC and short writes (reads fail with EIO) at the Nth read,
// write, sync or truncate of a chosen file, swept over N until a run meets no
// fault. The disk stays dead after the fault, so nothing can be retried into a
// success. Each run must end in a reported error with nothing lost:
//  - backup (both ways of copying): the older backup kept and verified, no
//    temporary left, nothing half-made listed, the live database unharmed;
//  - verify: a read fault is never "ok";
//  - restore: the live database whole, with either its old or the restored
//    content, the old one then kept as a verified pre-restore backup; --to
//    leaves no file behind;
//  - migrations: each migration there entirely or not at all.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>
#include <string>

#include "sqlkeeper/backup/backup.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/db/database.h"
#include "sqlkeeper/db/integrity.h"
#include "sqlkeeper/migrate/migrator.h"
#include "sqlkeeper/restore/restore.h"
#include "sqlkeeper/base/sha256.h"
#include "sqlkeeper/error.h"
#include "support/backup_folder.h"
#include "support/fault_vfs.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;
using test_support::FaultVfs;

// A run with no fault at all: the sweep's end. More operations than this is a runaway.
constexpr int kMaxOperations = 2000;

const char* to_string(FaultVfs::Fault f) {
  switch (f) {
    case FaultVfs::Fault::eio: return "EIO";
    case FaultVfs::Fault::enospc: return "ENOSPC";
    default: return "short write";
  }
}

// The rows of t, in order, as one digest: equal only for equal content.
std::string content_of(const std::filesystem::path& file) {
  sqlite::Connection db(file, SQLITE_OPEN_READONLY, std::chrono::milliseconds(1000));
  return sha256_hex(db.query_text("SELECT group_concat(hex(x), '') FROM (SELECT x FROM t ORDER BY rowid)").value_or(""));
}

class TickingEnv : public Env {
 public:
  Clock::time_point now() const override { return at; }
  Clock::time_point at = Clock::time_point(std::chrono::seconds(1795500000));
};

struct Sweep {
  const char* what;
  const char* file;  // the part of the file name to fault
  unsigned ops;
};

class SqliteFaultSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sqlkeeper-vfs-fault-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    options_.dir = dir_ / "backups";
    // Hundreds of runs each log what they kept; only warnings are worth reading here.
    spdlog::set_level(spdlog::level::warn);
  }
  void TearDown() override {
    spdlog::set_level(spdlog::level::info);
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path database_path() const { return dir_ / "app.db"; }
  sqlite::Connection database() { return open_database({database_path(), 0600, 1s}); }

  // The live database, read with no fault armed: whole, and how many rows t holds.
  // t with `rows` rows of `bytes` random bytes each, and a verified backup of it.
  std::filesystem::path rows_and_a_backup(int rows, int bytes) {
    auto db = database();
    db.exec("CREATE TABLE t (x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
            std::to_string(rows) + ") INSERT INTO t SELECT randomblob(" + std::to_string(bytes) + ") FROM n;");
    Job job("backup");
    return take_backup(db, options_, env_, job).file;
  }

  void expect_live_database_whole(const std::string& context) {
    vfs_.disarm();
    Job job("check");
    const auto check = check_database(database_path(), CheckDepth::full, job, 1s);
    EXPECT_TRUE(check.ok) << context << ": " << check.first_error;
  }
  std::int64_t live_rows(const std::string& context) {
    expect_live_database_whole(context);
    auto db = database();
    return db.query_int64("SELECT count(*) FROM t").value_or(-1);
  }

  // Runs `body` with the Nth matching operation failing, for N = 1, 2, ... until a
  // run meets no fault; `after` checks what is left. Returns how many runs faulted.
  // `prepare` runs before each run, with no fault armed.
  template <typename Body, typename After, typename Prepare = void (*)()>
  int sweep(const Sweep& s, FaultVfs::Fault fault, Body body, After after, Prepare prepare = [] {}) {
    int faulted = 0;
    for (int n = 1; n <= kMaxOperations; ++n) {
      const auto context = std::string(s.what) + ", " + to_string(fault) + " at operation " + std::to_string(n);
      prepare();
      vfs_.arm(n, fault, s.ops, s.file);
      bool reported = false;
      std::string error;
      try {
        body();
      } catch (const Error& e) {
        reported = true;
        error = e.what();
      }
      const bool fired = vfs_.fired();
      const auto where = vfs_.last_fault();
      vfs_.disarm();
      if (!fired) {
        EXPECT_FALSE(reported) << context << ": failed with no fault: " << error;
        after(false, context);
        return faulted;
      }
      ++faulted;
      after(reported, context + " (" + where + ")" + (reported ? ": " + error : ": no error reported"));
    }
    ADD_FAILURE() << s.what << ": still faulting after " << kMaxOperations << " operations";
    return faulted;
  }

  std::filesystem::path dir_;
  BackupOptions options_;
  FaultVfs vfs_;
  TickingEnv env_;
};

TEST_F(SqliteFaultSweep, BackupEndsInAnErrorAndKeepsTheOlderOneAtEveryFault) {
  const auto good = rows_and_a_backup(300, 500);
  Job job("backup");
  int faulted = 0;
  for (const bool whole_file : {true, false}) {
    // Without the checkpoint first, and with commits in the WAL (held there by a
    // connection that stays open), the copy is page by page.
    options_.checkpoint_first = whole_file;
    std::optional<sqlite::Connection> holder;
    if (!whole_file) {
      holder.emplace(database());
      holder->exec("UPDATE t SET x = randomblob(500) WHERE rowid <= 20");
    }
    const auto content = content_of(database_path());
    const std::string method = whole_file ? "file" : "pages";
    const Sweep sweeps[] = {
        {"the live database", "app.db", FaultVfs::all},
        {"the copy", ".tmp", FaultVfs::all},
    };
    for (const auto& s : sweeps) {
      for (const auto fault : {FaultVfs::Fault::eio, FaultVfs::Fault::enospc, FaultVfs::Fault::short_write}) {
        std::optional<BackupResult> made;
        faulted += sweep(
            {(method + " copy, " + s.what).c_str(), s.file, s.ops}, fault,
            [&] {
              env_.at += 1h;
              made.reset();
              auto db = database();
              made = take_backup(db, options_, env_, job);
            },
            [&](bool reported, const std::string& context) {
              EXPECT_EQ(live_rows(context), 300) << context;
              if (made) {
                // A fault SQLite absorbed (a failed read it retried, say) may
                // still give a backup: it must hold exactly the source's rows.
                EXPECT_FALSE(reported) << context;
                EXPECT_EQ(made->copy_method, method) << context;
                EXPECT_EQ(content_of(made->file), content) << context << ": a backup that differs from its source";
                std::filesystem::remove(made->file);
                std::filesystem::remove(made->sidecar);
              }
              test_support::expect_only_backups(options_.dir, "app", {good}, context);
            });
      }
    }
  }
  EXPECT_GE(faulted, 30);
  RecordProperty("faulted_runs", faulted);
}

TEST_F(SqliteFaultSweep, AFaultWritingThePageCopyIsAlwaysReported) {
  {
    auto db = database();
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);");
  }
  auto holder = database();
  holder.exec("INSERT INTO t VALUES (4)");  // in the WAL: the copy is page by page
  Job job("backup");
  options_.checkpoint_first = false;
  int faulted = 0;
  for (const auto fault : {FaultVfs::Fault::eio, FaultVfs::Fault::enospc, FaultVfs::Fault::short_write}) {
    faulted += sweep(
        {"writing the page copy", ".tmp", FaultVfs::write | FaultVfs::sync | FaultVfs::truncate}, fault,
        [&] {
          env_.at += 1h;
          auto db = database();
          const auto made = take_backup(db, options_, env_, job);
          EXPECT_EQ(made.copy_method, "pages");
          std::filesystem::remove(made.file);
          std::filesystem::remove(made.sidecar);
        },
        [&](bool reported, const std::string& context) {
          if (vfs_.fired()) {
            EXPECT_TRUE(reported) << context;
          }
          test_support::expect_only_backups(options_.dir, "app", {}, context);
        });
  }
  EXPECT_GE(faulted, 6);
  RecordProperty("faulted_runs", faulted);
}

TEST_F(SqliteFaultSweep, VerifyNeverCallsABackupItCouldNotReadOk) {
  const auto good = rows_and_a_backup(50, 3000);
  Job job("verify");
  const auto name = good.filename().string();
  int faulted = 0;
  for (const auto fault : {FaultVfs::Fault::eio}) {
    faulted += sweep(
        {"reading the backup", name.c_str(), FaultVfs::read}, fault,
        [&] {
          const auto result = verify_backup(good, job);
          if (!result.ok) throw Error(ErrorCode::io, result.problem);
        },
        [&](bool reported, const std::string& context) {
          if (vfs_.fired()) {
            EXPECT_TRUE(reported) << context;
          }
        });
  }
  // The fault was in the reading, not in the file: it verifies again.
  test_support::expect_only_backups(options_.dir, "app", {good}, "after the sweep");
  EXPECT_GE(faulted, 10);
  RecordProperty("faulted_runs", faulted);
}

TEST_F(SqliteFaultSweep, InPlaceRestoreLeavesTheOldOrTheRestoredContentAndLosesNeither) {
  const auto good = rows_and_a_backup(3, 2000);
  Job job("restore");
  RestoreOptions restore;
  restore.database = database_path();
  restore.backup_dir = options_.dir;
  restore.force = true;
  restore.busy_timeout = 100ms;
  int faulted = 0;
  for (const auto fault : {FaultVfs::Fault::eio, FaultVfs::Fault::enospc, FaultVfs::Fault::short_write}) {
    faulted += sweep(
        {"restoring in place", "app", FaultVfs::all}, fault,
        [&] {
          env_.at += 1h;
          restore_backup(good, restore, env_, job);
        },
        [&](bool reported, const std::string& context) {
          const auto rows = live_rows(context);
          EXPECT_TRUE(rows == 3 || rows == 4) << context << ": " << rows << " rows";
          // Every listed backup verifies; the replaced content (4 rows) is one of
          // them unless the live database still holds it.
          const auto catalog = read_catalog(options_.dir, "app");
          EXPECT_TRUE(catalog.temporaries.empty()) << context;
          bool kept = rows == 4;
          for (const auto& b : catalog.backups) {
            Job verify("verify");
            const auto v = verify_backup(b.file, verify);
            EXPECT_TRUE(v.ok) << context << ": " << b.file << ": " << v.problem;
            if (b.file != good && v.ok) {
              sqlite::Connection saved(b.file, SQLITE_OPEN_READONLY, 0ms);
              kept = kept || saved.query_int64("SELECT count(*) FROM t") == 4;
            }
          }
          EXPECT_TRUE(kept) << context << ": the replaced content is neither live nor kept";
          if (!reported) {
            EXPECT_EQ(rows, 3) << context << ": the restore said it was done";
          }
        },
        [&] {
          auto db = database();
          if (db.query_int64("SELECT count(*) FROM t") == 3) db.exec("INSERT INTO t VALUES (4)");
          // Only the good backup is kept between runs, so each run proves its own.
          for (const auto& b : read_catalog(options_.dir, "app").backups) {
            if (b.file == good) continue;
            std::filesystem::remove(b.file.string() + ".sha256");
            std::filesystem::remove(b.file);
          }
        });
  }
  EXPECT_GE(faulted, 30);
  RecordProperty("faulted_runs", faulted);
}

TEST_F(SqliteFaultSweep, RestoreToANewFileLeavesNothingThereAfterAFault) {
  const auto good = rows_and_a_backup(3, 2000);
  Job job("restore");
  RestoreOptions restore;
  restore.database = database_path();
  restore.backup_dir = options_.dir;
  restore.to = dir_ / "restored.db";
  int faulted = 0;
  for (const auto fault : {FaultVfs::Fault::eio, FaultVfs::Fault::enospc, FaultVfs::Fault::short_write}) {
    faulted += sweep(
        {"restoring to a new file", "restored", FaultVfs::all}, fault, [&] { restore_backup(good, restore, env_, job); },
        [&](bool reported, const std::string& context) {
          if (reported) {
            for (const auto* suffix : {"", "-journal", "-wal", "-shm"})
              EXPECT_FALSE(std::filesystem::exists(restore.to->string() + suffix)) << context << ": " << suffix;
          } else {
            sqlite::Connection restored(*restore.to, SQLITE_OPEN_READONLY, 0ms);
            EXPECT_EQ(restored.query_int64("SELECT count(*) FROM t"), 3) << context;
          }
        },
        [&] {
          for (const auto* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(restore.to->string() + suffix);
        });
  }
  EXPECT_GE(faulted, 10);
  RecordProperty("faulted_runs", faulted);
}

MigrationSet three_migrations() {
  MigrationSet set{MigrationFormat::plain, "m", {}};
  for (int v = 1; v <= 3; ++v) {
    MigrationFile f;
    f.key = v;
    f.name = "000" + std::to_string(v) + "_t" + std::to_string(v) + ".sql";
    f.sha256 = sha256_hex(f.name);
    const auto table = "m" + std::to_string(v);
    f.statements = {{"CREATE TABLE " + table + " (x);", 1},
                    {"INSERT INTO " + table + " SELECT randomblob(1500) FROM (WITH RECURSIVE n(i) AS (SELECT 1 "
                     "UNION ALL SELECT i + 1 FROM n WHERE i < 20) SELECT i FROM n);", 2},
                    {"CREATE INDEX " + table + "_x ON " + table + " (x);", 3}};
    set.files.push_back(f);
  }
  return set;
}

TEST_F(SqliteFaultSweep, AMigrationIsAppliedWholeOrNotAtAllAtEveryFault) {
  const auto set = three_migrations();
  int faulted = 0;
  for (const auto fault : {FaultVfs::Fault::eio, FaultVfs::Fault::enospc, FaultVfs::Fault::short_write}) {
    faulted += sweep(
        {"migrating", "app.db", FaultVfs::all}, fault,
        [&] {
          auto db = database();
          MigrateOptions options;
          options.env = &env_;
          options.busy_timeout = 100ms;
          migrate_up(db, set, options);
        },
        [&](bool reported, const std::string& context) {
          expect_live_database_whole(context);
          auto db = database();
          const auto applied = read_applied(db, MigrationFormat::plain);
          for (int v = 1; v <= 3; ++v) {
            const auto table = "m" + std::to_string(v);
            const bool recorded = static_cast<int>(applied.size()) >= v;
            const auto tables = db.query_int64("SELECT count(*) FROM sqlite_schema WHERE name LIKE '" + table + "%'");
            if (recorded) {
              EXPECT_EQ(tables, 2) << context << ": " << table;
              EXPECT_EQ(db.query_int64("SELECT count(*) FROM " + table), 20) << context;
            } else {
              EXPECT_EQ(tables, 0) << context << ": " << table << " is there but not recorded";
            }
          }
          if (!reported) {
            EXPECT_EQ(applied.size(), 3U) << context;
          }
        },
        [&] {
          auto db = database();
          db.exec("DROP TABLE IF EXISTS m1; DROP TABLE IF EXISTS m2; DROP TABLE IF EXISTS m3; "
                  "DROP TABLE IF EXISTS sqlkeeper_migrations;");
        });
  }
  EXPECT_GE(faulted, 30);
  RecordProperty("faulted_runs", faulted);
}

}  // namespace
}  // namespace sqlkeeper::core
