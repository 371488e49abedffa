// lib/config/toml/prescan — limits checked on a lab file's raw text before toml++ sees it.
//
// toml++ parses a dotted key (`a.b.c = 1`, `[a.b.c]`) by recursion, one level per part: a key of
// 20 000–100 000 parts overflows the stack (SIGSEGV), and nothing in its options bounds it (its
// TOML_MAX_NESTED_VALUES bounds arrays and inline tables only). PrescanToml walks the text once,
// skipping strings and comments, and reports the first key (in a key/value line, a [table] or
// [[array]] header, or an inline table) with more than kMaxKeyParts parts, at the key's line:col.
// A lab's deepest key has three parts ([[deployment.template.container]]). Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "lib/config/diagnostics.h"

namespace mkn::config {

inline constexpr size_t kMaxKeyParts = 64;

struct PrescanProblem {
  SourcePos pos;
  std::string message;
};

// The first key past kMaxKeyParts, if any.
std::optional<PrescanProblem> PrescanToml(std::string_view text);

}  // namespace mkn::config
