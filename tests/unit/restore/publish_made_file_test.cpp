// A point-in-time restore --to renames its checked copy into place. When a step
// fails (the fsync, the rename, the folder's fsync), no `to` is left behind, and
// nothing ever replaces a file that is there.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "sqlkeeper/error.h"
#include "sqlkeeper/restore/restore.h"
#include "sqlkeeper/sqlite/connection.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::core {
namespace {

namespace fs = std::filesystem;

class FailNth : public Env {
 public:
  void fsync_file(const fs::path& p) override {
    hit("fsync " + p.string());
    Env::fsync_file(p);
  }
  void fsync_dir(const fs::path& p) override {
    hit("fsync directory " + p.string());
    Env::fsync_dir(p);
  }
  void rename_new(const fs::path& from, const fs::path& to) override {
    hit("rename " + from.string());
    Env::rename_new(from, to);
  }
  int fail_at = 0;
  int ops = 0;

 private:
  void hit(const std::string& what) {
    if (++ops == fail_at) throw system_error(what + " (injected)", EIO);
  }
};

class PublishMadeFile : public test_support::ScratchDirTest {
 protected:
  fs::path make(const std::string& name) {
    const auto p = dir_ / name;
    sqlite::Connection c(p, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, std::chrono::milliseconds(0));
    c.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3)");
    return p;
  }
  RestoreOptions options(const fs::path& to) {
    RestoreOptions o;
    o.to = to;
    o.file_mode = 0640;
    return o;
  }
  Job job_{"test"};
};

TEST_F(PublishMadeFile, BecomesTheNewFileCheckedInWalModeWithItsMode) {
  const auto made = make("made.db");
  const auto to = dir_ / "out" / "x.db";
  prepare_new_file(to, 0640);
  const auto r = publish_made_file(made, to, options(to), Env::real(), job_);
  EXPECT_EQ(r.into, to);
  EXPECT_FALSE(fs::exists(made));
  struct stat st {};
  ASSERT_EQ(::stat(to.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  sqlite::Connection c(to, SQLITE_OPEN_READONLY, std::chrono::milliseconds(0));
  EXPECT_EQ(c.query_text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(c.query_int64("SELECT sum(x) FROM t"), 6);
  EXPECT_EQ(r.pages, c.query_int64("PRAGMA page_count"));
}

TEST_F(PublishMadeFile, NeverOverAFileThatAppearedMeanwhile) {
  const auto made = make("made.db");
  const auto to = dir_ / "x.db";
  prepare_new_file(to, 0600);
  {
    std::FILE* f = std::fopen(to.c_str(), "w");
    std::fputs("mine", f);
    std::fclose(f);
  }
  try {
    publish_made_file(made, to, options(to), Env::real(), job_);
    FAIL() << "published over an existing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::conflict) << e.what();
    EXPECT_NE(std::string(e.what()).find(to.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(fs::file_size(to), 4u);
  EXPECT_THROW(prepare_new_file(to, 0600), Error);
}

TEST_F(PublishMadeFile, EachFailedStepLeavesTheWholeFileOrNone) {
  int failures = 0;
  for (int n = 1;; ++n) {
    const auto made = make("made-" + std::to_string(n) + ".db");
    const auto to = dir_ / ("x-" + std::to_string(n) + ".db");
    FailNth env;
    env.fail_at = n;
    bool failed = false;
    try {
      publish_made_file(made, to, options(to), env, job_);
    } catch (const Error& e) {
      failed = true;
      ++failures;
      EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
    }
    if (env.ops < n) break;  // no step left to fail
    if (failed) {
      EXPECT_FALSE(fs::exists(to)) << "step " << n << ": a failed restore left a file that looks restored";
    } else {
      sqlite::Connection c(to, SQLITE_OPEN_READONLY, std::chrono::milliseconds(0));
      EXPECT_EQ(c.query_int64("SELECT sum(x) FROM t"), 6) << "step " << n;
    }
  }
  EXPECT_EQ(failures, 3) << "fsync, rename, fsync of the folder";
}

}  // namespace
}  // namespace sqlkeeper::core
