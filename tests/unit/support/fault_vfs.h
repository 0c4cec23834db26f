#pragma once
// A SQLite VFS over the default one that fails the Nth I/O operation of a chosen
// kind on the files whose names contain a chosen text: EIO, ENOSPC, or a short
// write (half the bytes land, then the write fails, as a full disk does); a read
// fails with EIO (a short read inside a file is not what the kernel gives: SQLite
// takes one for the end of the file and fills the rest with zeros). While
// it exists it is the default VFS, so every connection the code under test opens
// goes through it; it is unregistered when destroyed. After a fault it keeps
// failing every matched operation until disarmed, as a dead disk does, so a test
// can tell "the error was reported" from "the error was retried into a success".
#include <sqlite3.h>

#include <string>

namespace sqlkeeper::test_support {

class FaultVfs {
 public:
  enum class Fault { eio, enospc, short_write };
  // The operations that count towards N; a bit set.
  enum Op : unsigned { read = 1, write = 2, sync = 4, truncate = 8, all = 15 };

  FaultVfs();
  ~FaultVfs();
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  // Fails the nth (1-based) matching operation and every one after it.
  void arm(int nth, Fault fault, unsigned ops, std::string name_contains);
  void disarm();

  int operations() const { return count_; }  // matching operations since arm()
  bool fired() const { return fired_; }
  std::string last_fault() const { return last_; }  // e.g. "write app.db-journal"

  // For the VFS's callbacks.
  int on(Op op, const char* file_name);  // SQLITE_OK, or the error to return
  bool short_write_now() const { return fault_ == Fault::short_write; }
  sqlite3_vfs* real() const { return real_; }

 private:
  sqlite3_vfs vfs_{};
  sqlite3_vfs* real_ = nullptr;
  int nth_ = 0;
  Fault fault_ = Fault::eio;
  unsigned ops_ = 0;
  std::string match_;
  int count_ = 0;
  bool fired_ = false;
  std::string last_;
};

}  // namespace sqlkeeper::test_support
