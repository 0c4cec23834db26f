// I/O faults in the WAL archive's writes, swept over every operation: the Nth
// append, fsync, rename or atomic write fails (EIO or ENOSPC; an append may have
// written half its bytes). Whatever fails, what an append acknowledged reads
// back whole and in order; a failed write leaves nothing torn behind and may be
// retried; a failed fsync or seal gives the segment up (the chain must end).
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "sqlkeeper/archive/chain.h"
#include "sqlkeeper/error.h"
#include "support/archive_records.h"
#include "support/scratch_dir.h"

namespace sqlkeeper::archive {
namespace {

namespace fs = std::filesystem;

class FaultEnv : public Env {
 public:
  void fsync_file(const fs::path& p) override {
    hit("fsync " + p.filename().string());
    Env::fsync_file(p);
  }
  void fsync_dir(const fs::path& p) override {
    hit("fsync directory " + p.filename().string());
    Env::fsync_dir(p);
  }
  void rename(const fs::path& from, const fs::path& to) override {
    hit("rename " + from.filename().string());
    Env::rename(from, to);
  }
  void write_file_atomic(const fs::path& p, const std::string& data, unsigned mode) override {
    hit("write " + p.filename().string());
    Env::write_file_atomic(p, data, mode);
  }
  void append(const fs::path& p, const void* data, std::size_t size) override {
    if (ops + 1 == fail_at && half_writes) {
      ++ops;
      fired = true;
      Env::append(p, data, size / 2);  // a full disk mid-write
      throw system_error("write " + p.filename().string() + " (injected)", ENOSPC);
    }
    hit("append " + p.filename().string());
    Env::append(p, data, size);
  }

  int fail_at = 0;  // 1-based; 0: never
  bool half_writes = false;
  int ops = 0;
  bool fired = false;

 private:
  void hit(const std::string& what) {
    if (++ops == fail_at) {
      fired = true;
      throw system_error(what + " (injected)", EIO);
    }
  }
};

WalHeader header() {
  return test_support::wal_header(3);
}

Record txn(std::uint64_t seq, WalPosition& pos, int pages) {
  return test_support::txn_record(seq, static_cast<std::int64_t>(1000 * seq), pos, pages);
}

constexpr std::uint64_t kSmallSegments = 48 << 10;

class ArchiveFaults : public test_support::ScratchDirTest {};

// Six transactions of 40 pages (21 KiB) into segments sealed past 48 KiB: three seals.
TEST_F(ArchiveFaults, EveryFailedWriteFsyncOrSealLeavesWhatWasAcknowledgedWholeAndInOrder) {
  for (const bool half : {false, true}) {
    int faults = 0;
    for (int n = 1;; ++n) {
      const auto dir = dir_ / ("run" + std::to_string(half) + "-" + std::to_string(n));
      fs::create_directories(dir);
      FaultEnv env;
      env.fail_at = n;
      env.half_writes = half;
      const auto h = header();
      WalPosition pos{h, 1, h.checksum};
      std::uint64_t acknowledged = 0;
      bool given_up = false;
      try {
        auto w = ChainWriter::create(dir, "c", "/db", start_record(pos, 1), env, kSmallSegments);
        for (std::uint64_t seq = 1; seq <= 6; ++seq) {
          auto record = txn(seq, pos, 40);
          try {
            w.append({record});
          } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
            if (!w.broken().empty()) {
              given_up = true;  // the archiver ends the chain here
              break;
            }
            w.append({record});  // a write that failed is retried, as the archiver does
          }
          acknowledged = seq;
        }
      } catch (const Error& e) {
        // The chain could not even begin (the archiver waits for the next backup).
        EXPECT_EQ(acknowledged, 0u) << e.what();
        given_up = true;
      }
      if (!env.fired) break;
      ++faults;
      if (!fs::exists(dir / "c" / "chain")) continue;
      std::uint64_t read = 0;
      try {
        read_chain(dir / "c", [&read](const Record& r, const fs::path&) {
          if (r.type == RecordType::txn) {
            EXPECT_EQ(r.seq, read + 1);
            read = r.seq;
          }
          return true;
        });
      } catch (const Error& e) {
        // Only a chain whose start never became durable may fail to read.
        EXPECT_EQ(acknowledged, 0u) << "fault " << n << ": " << e.what();
      }
      EXPECT_GE(read, acknowledged) << "fault " << n << (half ? " (half write)" : "") << ": an acknowledged transaction is missing";
      if (!given_up) {
        EXPECT_EQ(read, 6u) << "fault " << n;
      }
      // Reopened, the chain goes on after what it holds.
      if (read > 0) {
        ChainTail tail;
        EXPECT_NO_THROW(ChainWriter::reopen(dir / "c", Env::real(), tail, kSmallSegments)) << "fault " << n;
      }
      fs::remove_all(dir);
    }
    EXPECT_GT(faults, 10) << "the sweep met too few operations";
  }
}

}  // namespace
}  // namespace sqlkeeper::archive
