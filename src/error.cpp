#include "sqlkeeper/error.h"

#include <string.h>

namespace sqlkeeper {

Error system_error(const std::string& what, int err) {
  // strerror() may share a buffer between threads; the loop and the worker both fail calls.
  char buf[256];
  const char* text = strerror_r(err, buf, sizeof buf);  // GNU variant: returns the text
  return Error(ErrorCode::io, what + ": " + text, 0, err);
}

}  // namespace sqlkeeper
