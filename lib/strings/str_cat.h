// lib/strings/str_cat — StrCat/StrAppend that take std::string_view.
//
// Debian 12's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::StrCat does not
// accept a std::string_view. These accept strings, string views, C strings, chars and integers.
// Header-only.
#pragma once

#include <concepts>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace mkn {
namespace str_internal {
inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
requires(!std::same_as<T, char> && !std::same_as<T, bool>) inline void Append(std::string& out,
                                                                              T v) {
  out += std::to_string(v);
}
}  // namespace str_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (str_internal::Append(out, args), ...);
  return out;
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (str_internal::Append(*out, args), ...);
}

}  // namespace mkn
