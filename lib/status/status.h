// lib/status — the one error model (STYLE.md §5).
//
// absl::Status / absl::StatusOr<T> cross every function boundary in lib/ and vnet/. Debian 12's
// Abseil (20220623) has no ABSL_RETURN_IF_ERROR, so these two macros live here: a newer Abseil is a
// one-file change.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MKN_STATUS_CONCAT_INNER(a, b) a##b
#define MKN_STATUS_CONCAT(a, b) MKN_STATUS_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define MKN_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status mkn_status_ = (expr);       \
    if (!mkn_status_.ok()) return mkn_status_; \
  } while (0)

// `MKN_ASSIGN_OR_RETURN(auto x, Foo());` — binds the value of a StatusOr or returns its Status.
#define MKN_ASSIGN_OR_RETURN(lhs, expr) \
  MKN_ASSIGN_OR_RETURN_IMPL(MKN_STATUS_CONCAT(mkn_statusor_, __LINE__), lhs, expr)
#define MKN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()
