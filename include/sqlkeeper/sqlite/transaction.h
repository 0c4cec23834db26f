#pragma once
// A transaction that rolls back unless commit() is called. Destruction never
// throws: a failed rollback is left to SQLite, which rolls back on close.
#include "sqlkeeper/sqlite/connection.h"

namespace sqlkeeper::sqlite {

class Transaction {
 public:
  enum class Mode { deferred, immediate, exclusive };
  Transaction(Connection& db, Mode mode);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  void commit();
  void rollback();

 private:
  Connection& db_;
  bool open_ = true;
};

}  // namespace sqlkeeper::sqlite
