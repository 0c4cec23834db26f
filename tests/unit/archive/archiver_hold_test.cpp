#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "sqlkeeper/archive/archiver.h"
#include "support/archiver_fixture.h"

namespace sqlkeeper::archive {
namespace {

using ArchiverHold = test_support::ArchiverTest;
using test_support::wait_until_running;

std::uint64_t seq_of(const std::string& mark) {
  const auto a = mark.find(' ');
  return std::stoull(mark.substr(a + 1, mark.find(' ', a + 1) - a - 1));
}

// A step reads at most read_bytes_per_step at a time, but lets its older pin go
// only once it has read all its new pin holds: a new pin taken when everything
// was backfilled holds read mark 0, which keeps no writer from restarting the
// WAL over frames not read yet.
TEST_F(ArchiverHold, AStepReadsAllItsPinHoldsBeforeTheOlderPinGoes) {
  auto o = options(nullptr);
  o.read_bytes_per_step = 1;  // a transaction at a time
  Archiver a(o, Env::real());
  a.start();
  wait_until_running(a);
  ASSERT_FALSE(a.mark().empty());
  constexpr std::uint64_t kCommits = 40;
  for (std::uint64_t i = 1; i <= kCommits; ++i) app_->exec("INSERT INTO t VALUES (" + std::to_string(i) + ")");
  ASSERT_FALSE(a.mark().empty());  // the pin at the last commit
  app_->exec("PRAGMA wal_checkpoint(PASSIVE)");  // backfills up to it: everything
  ASSERT_FALSE(a.mark().empty());  // a pin at read mark 0
  app_->exec("INSERT INTO t VALUES (0)");  // its writer restarts the WAL
  const auto last = a.mark();
  ASSERT_FALSE(last.empty()) << a.status().error;
  EXPECT_EQ(seq_of(last), kCommits + 1) << "transactions lost from the chain";
  EXPECT_TRUE(a.status().gaps.empty());
  a.stop();
}

}  // namespace
}  // namespace sqlkeeper::archive
