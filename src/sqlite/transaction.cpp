#include "sqlkeeper/sqlite/transaction.h"

namespace sqlkeeper::sqlite {

Transaction::Transaction(Connection& db, Mode mode) : db_(db) {
  switch (mode) {
    case Mode::deferred: db_.exec("BEGIN DEFERRED"); break;
    case Mode::immediate: db_.exec("BEGIN IMMEDIATE"); break;
    case Mode::exclusive: db_.exec("BEGIN EXCLUSIVE"); break;
  }
}

Transaction::~Transaction() {
  if (open_ && db_.in_transaction()) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

void Transaction::rollback() {
  open_ = false;
  if (db_.in_transaction()) db_.exec("ROLLBACK");
}

}  // namespace sqlkeeper::sqlite
