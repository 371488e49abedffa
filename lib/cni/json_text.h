// lib/cni/json_text — JSON text as CNI runtimes exchange it: parsing with positioned errors,
// finding where a field sits in the source text, and writing bytes the way Go's encoding/json
// does (libcni's stdin and cache files are written by json.Marshal).
//
// Pure. nlohmann-json 3.11 keeps no source positions, so JsonPositions re-scans text that already
// parsed and records the byte offset of every value by its path.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace mkn::cni {

// "line:column" (both 1-based, column in bytes) of byte `offset` in `text`.
std::string LineCol(std::string_view text, size_t offset);

// Arrays and objects nest at most this deep in what ParseJson accepts (a conflist or a plugin's
// result needs a handful of levels).
inline constexpr size_t kMaxJsonDepth = 64;

// Parses `text`. InvalidArgument "ORIGIN:L:C: JSON parse error: CAUSE" on bad syntax (an empty
// text included), or "ORIGIN:L:C: JSON nested deeper than 64 levels ..." at the first bracket past
// kMaxJsonDepth; never throws.
absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, std::string_view origin);
absl::StatusOr<nlohmann::ordered_json> ParseOrderedJson(std::string_view text,
                                                        std::string_view origin);

// Paths are written as in error messages: `name`, `plugins[1]`, `plugins[1].ipam.subnet`.
std::string JoinPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, size_t index);

// Offsets of the values of a syntactically valid JSON text, by path ("" is the top-level value).
class JsonPositions {
 public:
  static JsonPositions Index(std::string_view text);
  std::optional<size_t> Offset(std::string_view path) const;
  // "ORIGIN:L:C" of the value at `path`, or of its nearest ancestor that exists in the text (a
  // missing key points at its object), or just ORIGIN when the text is not indexed.
  std::string Where(std::string_view origin, std::string_view path) const;

 private:
  std::string_view text_;
  absl::flat_hash_map<std::string, size_t> offsets_;
};

// Compact JSON exactly as Go's json.Marshal writes a decoded interface{} value: object keys
// sorted bytewise, no spaces, '<' '>' '&' U+2028 U+2029 as \u003c \u003e \u0026 \u2028 \u2029,
// \b \f \n \r \t short escapes (Go >= 1.22) and other control characters as \u00XX, invalid UTF-8
// as \ufffd; integral floats below 1e21 without a fraction. Works for json and ordered_json (an
// ordered_json keeps its order: Go marshals a struct in field order).
std::string GoMarshal(const nlohmann::json& value);
std::string GoMarshal(const nlohmann::ordered_json& value);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD, so nlohmann's dump() cannot throw.
std::string SanitizeUtf8(std::string_view text);

}  // namespace mkn::cni
