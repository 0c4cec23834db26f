#include "sqlkeeper/backup/scrub.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sqlkeeper/base/sha256.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::core {
namespace {

using namespace std::chrono_literals;
using Time = Env::Clock::time_point;

const Time kDay0 = Time(std::chrono::seconds(1795500000));  // 2026-11-24T06:00:00Z

CatalogEntry entry_written_at(Time at, std::string file = "app.db") {
  CatalogEntry e;
  e.file = std::move(file);
  e.name.at = at;
  e.sidecar = Sidecar{std::string(64, 'a'), e.file.filename().string(), {}};
  e.sidecar->fields["verified"] = "ok";
  e.sidecar->fields["time"] = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count());
  return e;
}

void record(CatalogEntry& e, Time at, const std::string& result) {
  e.sidecar->fields["checked"] = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count());
  e.sidecar->fields["check"] = result;
}

TEST(PlanScrub, PicksTheBackupCheckedLongestAgoAndDueAnIntervalAfterIt) {
  Catalog c;
  c.backups.push_back(entry_written_at(kDay0));
  c.backups.push_back(entry_written_at(kDay0 + 24h));
  record(c.backups[0], kDay0 + 48h, "ok");  // the older one was re-checked since
  const auto plan = plan_scrub(c, Time{}, std::chrono::hours(24 * 7));
  ASSERT_EQ(plan.next, &c.backups[1]);
  EXPECT_EQ(plan.when, kDay0 + 24h + std::chrono::hours(24 * 7));
}

TEST(PlanScrub, SpreadsBackupsThatAreAllDueOverTheInterval) {
  Catalog c;
  for (int i = 0; i < 7; ++i) c.backups.push_back(entry_written_at(kDay0 + std::chrono::minutes(i)));
  const auto now = kDay0 + std::chrono::hours(24 * 60);
  // Just after a scrub ended: the next waits a seventh of the interval, not a moment.
  const auto plan = plan_scrub(c, now, std::chrono::hours(24 * 7));
  ASSERT_EQ(plan.next, &c.backups[0]);
  EXPECT_EQ(plan.when, now + 24h);
}

TEST(PlanScrub, SkipsUnfinishedAndDamagedBackups) {
  Catalog c;
  c.backups.push_back(entry_written_at(kDay0));
  c.backups[0].sidecar.reset();
  c.backups.push_back(entry_written_at(kDay0 + 1h));
  record(c.backups[1], kDay0 + 2h, "size 10 bytes, the sidecar says 4096");
  EXPECT_EQ(plan_scrub(c, Time{}, 24h).next, nullptr);
  EXPECT_FALSE(c.backups[1].verified());
  c.backups.push_back(entry_written_at(kDay0 + 3h));
  EXPECT_EQ(plan_scrub(c, Time{}, 24h).next, &c.backups[2]);
}

class FixedClock : public Env {
 public:
  Clock::time_point now() const override { return at; }
  Clock::time_point at = kDay0 + std::chrono::hours(24 * 8);
};

class ScrubFile : public test_support::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    entry_ = entry_written_at(kDay0, (dir_ / "app-20261124T060000Z.db").string());
    write(entry_.file, std::string(4096, 'x'));
    entry_.sidecar->sha256 = sha256_hex(std::string(4096, 'x'));
    entry_.sidecar->fields["size"] = "4096";
    write(entry_.file.string() + ".sha256", format_sidecar(*entry_.sidecar));
  }
  static void write(const std::filesystem::path& p, const std::string& data) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  }
  Catalog catalog() const { return read_catalog(dir_, "app"); }
  CatalogEntry entry_;
  FixedClock env_;
  Job job_{"scrub"};
};

TEST_F(ScrubFile, RecordsAGoodFileAsCheckedNow) {
  const auto r = scrub_backup(entry_, env_, job_, 1s);
  ASSERT_TRUE(r && r->ok) << (r ? r->problem : "gone");
  const auto c = catalog();
  ASSERT_EQ(c.backups.size(), 1u);
  EXPECT_EQ(last_checked(c.backups[0]), env_.at);
  EXPECT_TRUE(c.backups[0].verified());
}

TEST_F(ScrubFile, FindsATruncatedFileAndTheCatalogNoLongerCallsItVerified) {
  std::filesystem::resize_file(entry_.file, 1024);
  const auto r = scrub_backup(entry_, env_, job_, 1s);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->problem, "size 1024 bytes, the sidecar says 4096");
  const auto c = catalog();
  ASSERT_EQ(c.backups.size(), 1u);
  EXPECT_TRUE(c.backups[0].finished());
  EXPECT_FALSE(c.backups[0].verified());
  EXPECT_EQ(last_scrub(*c.backups[0].sidecar)->problem, "size 1024 bytes, the sidecar says 4096");
}

TEST_F(ScrubFile, FindsAFlippedByteOfTheSameSize) {
  {
    std::fstream f(entry_.file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('y');
  }
  const auto r = scrub_backup(entry_, env_, job_, 1s);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->problem.find("SHA-256"), std::string::npos) << r->problem;
}

TEST_F(ScrubFile, RecordsNothingForABackupPrunedMeanwhile) {
  std::filesystem::remove(entry_.file);
  std::filesystem::remove(entry_.file.string() + ".sha256");
  EXPECT_FALSE(scrub_backup(entry_, env_, job_, 1s));
  EXPECT_FALSE(std::filesystem::exists(entry_.file.string() + ".sha256"));
}

}  // namespace
}  // namespace sqlkeeper::core
