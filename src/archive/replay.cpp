#include "sqlkeeper/archive/replay.h"

#include <cerrno>

#include "sqlkeeper/error.h"

namespace sqlkeeper::archive {

void apply_transaction(const Fd& db, std::uint32_t page_size, const WalTransaction& txn, const std::string& what) {
  if (txn.page_size != page_size)
    throw Error(ErrorCode::io, "apply a transaction to " + what + ": pages of " + std::to_string(txn.page_size) +
                                   " bytes in a database of " + std::to_string(page_size) + "-byte pages");
  for (std::size_t i = 0; i < txn.frame_count(); ++i) {
    const auto page = txn.page(i);
    const auto offset = static_cast<off_t>(std::uint64_t{txn.pgno(i) - 1} * page_size);
    std::size_t done = 0;
    while (done < page.size()) {
      const auto n = ::pwrite(db.get(), page.data() + done, page.size() - done, offset + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw system_error("write page " + std::to_string(txn.pgno(i)) + " of " + what, errno);
      done += static_cast<std::size_t>(n);
    }
  }
  if (::ftruncate(db.get(), static_cast<off_t>(std::uint64_t{txn.db_pages} * page_size)) != 0)
    throw system_error("set the size of " + what, errno);
}

}  // namespace sqlkeeper::archive
