#pragma once
// Text from outside (a file name, a config value, a command's output) as it may
// appear in one log line or message: printable ASCII as itself, every other byte
// as \xNN, so it can neither forge or break a line nor carry a terminal escape.
#include <string>

namespace sqlkeeper {

inline void append_printable(std::string& out, char ch) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto c = static_cast<unsigned char>(ch);
  if (c < 0x20 || c >= 0x7f) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  } else {
    out += ch;
  }
}

}  // namespace sqlkeeper
