#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "sqlkeeper/archive/archiver.h"
#include "sqlkeeper/archive/chain.h"
#include "support/archive_records.h"
#include "support/archiver_fixture.h"

namespace sqlkeeper::archive {
namespace {

using namespace std::chrono_literals;
class ArchiverBase : public test_support::ArchiverTest {
 protected:
  // A backup marks its place, beginning a chain; the archive stops. The chain's id.
  std::string begin_a_chain_and_stop() {
    Archiver a(options(nullptr), Env::real());
    a.start();
    test_support::wait_until_running(a);
    const auto mark = a.mark();
    a.stop();
    return mark.substr(0, mark.find(' '));
  }
};
using test_support::wait_until_running;

// A chain is worth something only from a finished backup on: a backup that
// marked its place and then failed, or was stopped with the daemon, leaves a
// chain the daemon must give a base at once, not at the next nightly backup.
TEST_F(ArchiverBase, AChainNeedsABaseUntilTheBackupThatMarkedItFinishes) {
  Archiver a(options(nullptr), Env::real());
  a.start();
  wait_until_running(a);
  EXPECT_TRUE(a.needs_base()) << "no chain yet";
  const auto first = a.mark();
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(a.needs_base()) << "the backup that began the chain has not finished";
  EXPECT_TRUE(a.status().no_chain_since_ms > 0);
  a.base_taken("another-chain 0 1");
  EXPECT_TRUE(a.needs_base()) << "a backup of another chain is no base of this one";
  app_->exec("INSERT INTO t VALUES (1)");
  const auto second = a.mark();  // the failed base is tried again: same chain, later place
  EXPECT_EQ(second.substr(0, second.find(' ')), first.substr(0, first.find(' ')));
  a.base_taken(second);
  EXPECT_FALSE(a.needs_base());
  EXPECT_TRUE(a.status().chain_has_base);
  EXPECT_EQ(a.status().no_chain_since_ms, 0);
  a.stop();
}

TEST_F(ArchiverBase, AChainReopenedAtStartWithoutAFinishedBackupNeedsOne) {
  const auto chain = begin_a_chain_and_stop();  // the daemon stopped while the chain's first backup ran
  std::string asked;
  Archiver b(options([&](const std::string& c) {
               asked = c;
               return false;
             }),
             Env::real());
  b.start();
  wait_until_running(b);
  EXPECT_EQ(asked, chain);
  EXPECT_EQ(b.status().chain, chain) << "the WAL was not restarted: the chain goes on";
  EXPECT_FALSE(b.status().chain_has_base);
  EXPECT_TRUE(b.needs_base());
  b.stop();

  Archiver c(options([](const std::string&) { return true; }), Env::real());
  c.start();
  wait_until_running(c);
  EXPECT_EQ(c.status().chain, chain);
  EXPECT_FALSE(c.needs_base()) << "a finished backup marks its place in the chain";
  c.stop();
}

// With the clock set back after a chain began, another chain of this database
// may have begun "later": the one the archive wrote goes on all the same, as
// its lock file names it.
TEST_F(ArchiverBase, TheChainWrittenGoesOnThoughAnotherBeganLaterByTheClock) {
  const auto chain = begin_a_chain_and_stop();
  const auto h = test_support::wal_header(7);
  const WalPosition elsewhere{h, 1, h.checksum};
  const auto hour_later = std::chrono::duration_cast<std::chrono::milliseconds>(
                              (std::chrono::system_clock::now() + 1h).time_since_epoch()).count();
  ChainWriter::create(options(nullptr).dir, "29991231T235959Z-00000000", db_.string(),
                      start_record(elsewhere, hour_later), Env::real());

  Archiver b(options([](const std::string&) { return true; }), Env::real());
  b.start();
  wait_until_running(b);
  EXPECT_EQ(b.status().chain, chain);
  EXPECT_TRUE(b.status().gaps.empty());
  b.stop();
}

}  // namespace
}  // namespace sqlkeeper::archive
