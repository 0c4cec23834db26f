// The archive's retention deletes a chain no kept backup needs, but never the
// newest, which may be the one being written before its backup is published.
// Newest means the one the archive's lock file names, else begun last: a
// chain's id only has the second it began in, and its random suffix orders two
// chains of the same second either way.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sqlkeeper/archive/chain.h"
#include "sqlkeeper/archive/folder_lock.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/restore/point_in_time.h"
#include "support/archive_records.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::core {
namespace {

namespace fs = std::filesystem;

class PruneArchive : public test_support::ScratchDirTest {
 protected:
  void chain(const std::string& id, std::int64_t started_ms) {
    const auto h = test_support::wal_header(1);
    archive::WalPosition pos{h, 1, h.checksum};
    archive::ChainWriter::create(archive_dir(), id, database_identity(database()),
                                 archive::start_record(pos, started_ms), Env::real());
  }
  static void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }
  fs::path database() const { return dir_ / "app.db"; }
  fs::path archive_dir() const { return dir_ / "wal"; }
  fs::path backup_dir() const { return dir_; }
};

TEST_F(PruneArchive, TheChainBegunLastIsKeptWhateverItsNameSortsAs) {
  chain("20261207T115857Z-ffffffff", 1796644737100);
  chain("20261207T115857Z-00000000", 1796644737600);  // the one being written, no backup yet

  const auto dry = prune_archive(archive_dir(), backup_dir(), database(), /*dry_run=*/true, Env::real());
  ASSERT_EQ(dry.chains.size(), 1u);
  EXPECT_EQ(dry.chains.front().filename(), "20261207T115857Z-ffffffff");

  prune_archive(archive_dir(), backup_dir(), database(), /*dry_run=*/false, Env::real());
  EXPECT_FALSE(fs::exists(archive_dir() / "20261207T115857Z-ffffffff"));
  EXPECT_TRUE(fs::is_directory(archive_dir() / "20261207T115857Z-00000000"));
}

TEST_F(PruneArchive, TheChainTheLockFileNamesIsTheNewestEvenWhenTheClockWentBack) {
  chain("20261207T120000Z-aaaaaaaa", 1796644800000);
  chain("20261207T115000Z-bbbbbbbb", 1796644200000);  // begun after the clock was set back ten minutes
  chain("20261207T110000Z-cccccccc", 1796641200000);
  // What the archive writing the second chain leaves in its lock file.
  write_file(archive_dir() / archive::kArchivingLock, "20261207T115000Z-bbbbbbbb\n");
  ASSERT_EQ(archive::last_chain_written(archive_dir()), "20261207T115000Z-bbbbbbbb");

  std::vector<std::string> ids;
  for (const auto& c : archive::list_chains(archive_dir())) ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"20261207T110000Z-cccccccc", "20261207T120000Z-aaaaaaaa",
                                           "20261207T115000Z-bbbbbbbb"}));

  // No backup needs any of them: all go but the one written.
  const auto report = prune_archive(archive_dir(), backup_dir(), database(), /*dry_run=*/false, Env::real());
  ASSERT_EQ(report.chains.size(), 2u);
  EXPECT_TRUE(fs::is_directory(archive_dir() / "20261207T115000Z-bbbbbbbb"));
  EXPECT_FALSE(fs::exists(archive_dir() / "20261207T120000Z-aaaaaaaa"));
  EXPECT_FALSE(fs::exists(archive_dir() / "20261207T110000Z-cccccccc"));
}

TEST_F(PruneArchive, ALockFileThatNamesNoChainLeavesTheOrderToTheStartTimes) {
  chain("20261207T115857Z-ffffffff", 1796644737100);
  chain("20261207T115857Z-00000000", 1796644737600);
  for (const char* text : {"", "20261207T115857Z-ffff", "no such chain\n"}) {
    write_file(archive_dir() / archive::kArchivingLock, text);
    EXPECT_EQ(archive::chain_dirs(archive_dir(), database_identity(database())),
              (std::vector<fs::path>{archive_dir() / "20261207T115857Z-ffffffff",
                                     archive_dir() / "20261207T115857Z-00000000"}))
        << "with " << text;
  }
}

TEST_F(PruneArchive, ChainsAreListedInTheOrderTheyBegan) {
  chain("20261207T115857Z-ffffffff", 1796644737100);
  chain("20261207T115857Z-00000000", 1796644737600);
  chain("20261207T115858Z-11111111", 1796644738000);
  std::vector<std::string> ids;
  for (const auto& c : archive::list_chains(archive_dir())) ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"20261207T115857Z-ffffffff", "20261207T115857Z-00000000",
                                           "20261207T115858Z-11111111"}));
}

}  // namespace
}  // namespace sqlkeeper::core
