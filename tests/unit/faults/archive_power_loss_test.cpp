// Power loss at every step of writing the WAL archive: creating a chain,
// appending transactions, sealing segments (summary, rename, the next
// segment's header) and compressing them. After the reboot (both ways
// support/power_loss_env.h models) every transaction whose append returned
// must read back, in order and checked, nothing may read that was not
// written, and the writer must go on from what is there.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sqlkeeper/archive/chain.h"
#include "sqlkeeper/error.h"
#include "support/archive_records.h"
#include "support/power_loss_env.h"

namespace sqlkeeper::archive {
namespace {

namespace fs = std::filesystem;
using test_support::PowerCut;
using test_support::PowerLossEnv;

// Every file operation of the archive is a moment the power can go.
class ArchivePowerLossEnv : public PowerLossEnv {
 public:
  using PowerLossEnv::PowerLossEnv;
  void create_file(const fs::path& p, unsigned mode) override {
    hit();
    PowerLossEnv::create_file(p, mode);
  }
  void append(const fs::path& p, const void* data, std::size_t size) override {
    hit();
    PowerLossEnv::append(p, data, size);
  }
  void truncate(const fs::path& p, std::uint64_t size) override {
    hit();
    PowerLossEnv::truncate(p, size);
  }
  bool remove_file(const fs::path& p) override {
    hit();
    return PowerLossEnv::remove_file(p);
  }
};

// Small segments: a run of twelve transactions seals (and compresses) several,
// whichever way its records are stored (a segment is sealed by their size
// stored one by one).
constexpr std::uint64_t kSealBytes = 4000;
constexpr int kTransactions = 12;

std::vector<std::uint64_t> read_seqs(const fs::path& chain) {
  std::vector<std::uint64_t> seqs;
  read_chain(chain, [&seqs](const Record& r, const fs::path&) {
    if (r.type == RecordType::txn) {
      check_txn(r);
      seqs.push_back(r.seq);
    }
    return true;
  });
  return seqs;
}

TEST(ArchivePowerLoss, EveryAcknowledgedTransactionSurvivesACutAtEveryStep) {
  const auto dir = fs::temp_directory_path() / ("sqlkeeper-archive-power-" + std::to_string(::getpid()));
  const auto chain = dir / "c1";
  spdlog::set_level(spdlog::level::err);
  int cuts = 0;
  for (const auto form : {AppendForm::batched, AppendForm::plain})
  for (const auto how : {PowerLossEnv::Reboot::only_synced, PowerLossEnv::Reboot::names_without_data}) {
    for (int n = 1;; ++n) {
      fs::remove_all(dir);
      fs::create_directories(chain);
      const auto context = std::string(form == AppendForm::plain ? "plain, " : "batched, ") + std::string(how == PowerLossEnv::Reboot::only_synced ? "only what was synced"
                                                                                 : "names without data") +
                           ", power cut at operation " + std::to_string(n);
      ArchivePowerLossEnv env(chain);
      env.cut_at = n;
      bool created = false;
      std::uint64_t acknowledged = 0;
      try {
        const auto h = test_support::wal_header(1);
        WalPosition pos{h, 1, h.checksum};
        auto w = ChainWriter::create(dir, "c1", "/db", start_record(pos, 500), env, kSealBytes, form);
        created = true;
        for (int i = 1; i <= kTransactions; ++i) {
          w.append({test_support::txn_record(i, 1000 * i, pos, 3)});
          acknowledged = static_cast<std::uint64_t>(i);
          for (const auto& sealed : w.take_sealed()) compress_segment(sealed, env);
        }
      } catch (const PowerCut&) {
      }
      if (!env.cut) {
        ASSERT_GE(n, 60) << "a whole run took only " << n - 1 << " operations";
        break;
      }
      ++cuts;
      env.reboot(how);
      if (!created) continue;  // nothing was acknowledged, not even the chain

      std::vector<std::uint64_t> seqs;
      ASSERT_NO_THROW(seqs = read_seqs(chain)) << context;
      ASSERT_GE(seqs.size(), acknowledged) << context << ": an acknowledged transaction is gone";
      ASSERT_LE(seqs.size(), acknowledged + 1) << context;
      for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1) << context;

      // The writer goes on from what the disk holds.
      ChainTail tail;
      std::optional<ChainWriter> again;
      ASSERT_NO_THROW(again.emplace(ChainWriter::reopen(chain, Env::real(), tail, kSealBytes, form))) << context;
      EXPECT_EQ(tail.last_seq, seqs.size()) << context;
      auto pos = tail.position;
      ASSERT_NO_THROW(again->append({test_support::txn_record(tail.last_seq + 1, 99'000, pos, 3)})) << context;
      const auto after = read_seqs(chain);
      ASSERT_EQ(after.size(), seqs.size() + 1) << context;
      EXPECT_EQ(after.back(), seqs.size() + 1) << context;
    }
  }
  spdlog::set_level(spdlog::level::info);
  fs::remove_all(dir);
  EXPECT_GE(cuts, 240);
  RecordProperty("power_cuts", cuts);
}

}  // namespace
}  // namespace sqlkeeper::archive
