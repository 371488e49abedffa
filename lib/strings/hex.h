// lib/strings/hex — one hexadecimal digit's value, for the percent-decoding of URLs and hosts
// (Abseil 20220623 has absl::ascii_isxdigit, not the value). Header-only.
#pragma once

namespace mkn {

// 0-15 for 0-9, a-f, A-F; -1 for anything else.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace mkn
