#include "sqlkeeper/error.h"

#include <cstring>

namespace sqlkeeper {

Error system_error(const std::string& what, int err) {
  return Error(ErrorCode::io, what + ": " + std::strerror(err), 0, err);
}

}  // namespace sqlkeeper
