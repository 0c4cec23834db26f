#include "sqlkeeper/archive/replay.h"

#include <cerrno>

#include "sqlkeeper/error.h"

namespace sqlkeeper::archive {

void apply_transaction(const Fd& db, std::uint32_t page_size, const WalTransaction& txn, const std::string& what) {
  for (const auto& frame : txn.frames) {
    if (frame.page.size() != page_size)
      throw Error(ErrorCode::io, "apply a transaction to " + what + ": a page of " + std::to_string(frame.page.size()) +
                                     " bytes in a database of " + std::to_string(page_size) + "-byte pages");
    const auto offset = static_cast<off_t>(std::uint64_t{frame.pgno - 1} * page_size);
    std::size_t done = 0;
    while (done < frame.page.size()) {
      const auto n = ::pwrite(db.get(), frame.page.data() + done, frame.page.size() - done,
                              offset + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw system_error("write page " + std::to_string(frame.pgno) + " of " + what, errno);
      done += static_cast<std::size_t>(n);
    }
  }
  if (::ftruncate(db.get(), static_cast<off_t>(std::uint64_t{txn.db_pages} * page_size)) != 0)
    throw system_error("set the size of " + what, errno);
}

}  // namespace sqlkeeper::archive
