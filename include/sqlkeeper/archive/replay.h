#pragma once
// Putting archived transactions into a copy of a database: each frame's page
// image is written at its page's place, and the file is cut to the database's
// size after the commit (a transaction that frees pages at the end shrinks it).
// Only ever a scratch file of sqlkeeper's own, never the live database: SQLite
// alone writes that one.
#include <cstdint>

#include "sqlkeeper/archive/wal_reader.h"
#include "sqlkeeper/fd.h"

namespace sqlkeeper::archive {

// Throws Error(io) naming `what` when a write fails.
void apply_transaction(const Fd& db, std::uint32_t page_size, const WalTransaction& txn, const std::string& what);

}  // namespace sqlkeeper::archive
