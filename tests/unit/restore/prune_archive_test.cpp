// The archive's retention deletes a chain no kept backup needs, but never the
// newest, which may be the one being written before its backup is published.
// Newest means begun last: a chain's id only has the second it began in, and
// its random suffix orders two chains of the same second either way.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "sqlkeeper/archive/chain.h"
#include "sqlkeeper/backup/catalog.h"
#include "sqlkeeper/fd.h"
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
  fs::path database() const { return dir_ / "app.db"; }
  fs::path archive_dir() const { return dir_ / "wal"; }
  fs::path backup_dir() const { return dir_; }
};

TEST_F(PruneArchive, TheChainBegunLastIsKeptWhateverItsNameSortsAs) {
  chain("20261207T115857Z-ffffffff", 1796615937100);
  chain("20261207T115857Z-00000000", 1796615937600);  // the one being written, no backup yet

  const auto dry = prune_archive(archive_dir(), backup_dir(), database(), /*dry_run=*/true, Env::real());
  ASSERT_EQ(dry.chains.size(), 1u);
  EXPECT_EQ(dry.chains.front().filename(), "20261207T115857Z-ffffffff");

  prune_archive(archive_dir(), backup_dir(), database(), /*dry_run=*/false, Env::real());
  EXPECT_FALSE(fs::exists(archive_dir() / "20261207T115857Z-ffffffff"));
  EXPECT_TRUE(fs::is_directory(archive_dir() / "20261207T115857Z-00000000"));
}

TEST_F(PruneArchive, TheChainALiveArchiveNamesIsKeptEvenWhenTheClockWentBack) {
  chain("20261207T120000Z-aaaaaaaa", 1796616000000);
  chain("20261207T115000Z-bbbbbbbb", 1796615400000);  // begun later, after the clock was set back ten minutes
  chain("20261207T110000Z-cccccccc", 1796612400000);  // older, and no backup needs it
  // What a running archive holds: the lock, naming its chain.
  const Fd lock(::open((archive_dir() / archive::kArchivingLock).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(lock);
  ASSERT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
  const std::string text = "20261207T115000Z-bbbbbbbb\n";
  ASSERT_EQ(::write(lock.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ASSERT_EQ(archive::live_chain(archive_dir()), "20261207T115000Z-bbbbbbbb");

  const auto report = prune_archive(archive_dir(), backup_dir(), database(), /*dry_run=*/false, Env::real());
  ASSERT_EQ(report.chains.size(), 1u);
  EXPECT_EQ(report.chains.front().filename(), "20261207T110000Z-cccccccc");
  EXPECT_TRUE(fs::is_directory(archive_dir() / "20261207T115000Z-bbbbbbbb"));
  EXPECT_TRUE(fs::is_directory(archive_dir() / "20261207T120000Z-aaaaaaaa"));
}

TEST_F(PruneArchive, ChainsAreListedInTheOrderTheyBegan) {
  chain("20261207T115857Z-ffffffff", 1796615937100);
  chain("20261207T115857Z-00000000", 1796615937600);
  chain("20261207T115858Z-11111111", 1796615938000);
  std::vector<std::string> ids;
  for (const auto& c : archive::list_chains(archive_dir())) ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"20261207T115857Z-ffffffff", "20261207T115857Z-00000000",
                                           "20261207T115858Z-11111111"}));
}

}  // namespace
}  // namespace sqlkeeper::core
