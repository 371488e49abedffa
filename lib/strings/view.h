// lib/strings/view — the bridge between std::string_view and Abseil's string functions.
//
// Debian 12's Abseil (20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW=0: its functions take
// absl::string_view, which a std::string_view does not convert to (a std::string does). Use
// Abseil's own helpers (absl::AsciiStrToLower, absl::EqualsIgnoreCase, absl::StripAsciiWhitespace,
// absl::StrSplit, ...) through AsAbsl()/AsStd() instead of writing them again. A later Abseil built
// with std::string_view makes both identities. Header-only.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace mkn {

inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view AsStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace mkn
