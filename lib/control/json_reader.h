// lib/control/json_reader — how protocol.cc reads a message's fields (internal to lib/control):
// `Reader` reads the fields of one JSON object and keeps the first problem (InvalidArgument
// "<verb>: <path>: want <kind>, got <value>"), so a FromJson reads every field in a row and checks
// once; `ReadObjects`/`ReadStrings` read an array's elements, `Done` turns a reader into a
// StatusOr. The messages name a field by its place in the message ("services[0].ports[1].port"), as
// a CNI plugin's result's fields are named (lib/cni/json_text.h). Nothing here throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/cni/json_text.h"
#include "lib/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace mkn::control::internal {

using json = nlohmann::json;

// A field's place in messages, "services[0].ports[1].port": written as a plugin result's fields
// are (lib/cni/json_text.h).
using cni::IndexPath;
using cni::JoinPath;

// A value as an error message quotes it: short, never throwing on bad UTF-8.
inline std::string Got(const json& v) {
  std::string d = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return d.size() > 40 ? StrCat(d.substr(0, 37), "...") : d;
}

// Reads the fields of one JSON object. The first problem is kept (later reads return defaults), so
// a FromJson reads every field in a row and checks once.
class Reader {
 public:
  // `path`: where the object sits ("" at the top); `context`: what every message starts with
  // (a request's verb).
  Reader(const json& j, std::string path, std::string_view context = "")
      : j_(j), path_(std::move(path)), context_(context) {
    if (!j_.is_object()) Fail(path_, StrCat("want an object, got ", Got(j_)));
  }

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  std::string Path(std::string_view key) const { return JoinPath(path_, key); }

  std::string Str(std::string_view key) { return ReadStr(key, /*required=*/true); }
  std::string OptStr(std::string_view key) { return ReadStr(key, /*required=*/false); }
  bool Bool(std::string_view key) {
    const json* v = Find(key, true, "a boolean");
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      Wrong(key, "a boolean", *v);
      return false;
    }
    return v->get<bool>();
  }
  // A signed integer in [lo, hi].
  int64_t Int(std::string_view key, int64_t lo, int64_t hi) {
    return ReadInt(key, lo, hi, true).value_or(0);
  }
  std::optional<int64_t> OptInt(std::string_view key, int64_t lo, int64_t hi) {
    return ReadInt(key, lo, hi, false);
  }
  // A counter: an unsigned 64-bit integer.
  uint64_t Count(std::string_view key) { return ReadCount(key, true).value_or(0); }
  std::optional<uint64_t> OptCount(std::string_view key) { return ReadCount(key, false); }
  // Required values of a kind; null after a problem.
  const json* Array(std::string_view key) { return Kind(key, json::value_t::array, "an array"); }
  const json* Object(std::string_view key) { return Kind(key, json::value_t::object, "an object"); }
  const json* Any(std::string_view key) { return Find(key, true, "a value"); }
  bool Has(std::string_view key) const { return ok() && j_.find(std::string(key)) != j_.end(); }

  void Fail(std::string_view path, std::string_view what) {
    if (!status_.ok()) return;
    std::string msg = path.empty() ? std::string(what) : StrCat(path, ": ", what);
    status_ = absl::InvalidArgumentError(context_.empty() ? msg : StrCat(context_, ": ", msg));
  }
  // Adopts the first problem of a nested reader.
  void Take(const absl::Status& s) {
    if (status_.ok()) status_ = s;
  }

 private:
  const json* Find(std::string_view key, bool required, std::string_view want) {
    if (!ok()) return nullptr;
    auto it = j_.find(std::string(key));
    if (it == j_.end()) {
      if (required) Fail(Path(key), StrCat("missing, want ", want));
      return nullptr;
    }
    return &*it;
  }
  void Wrong(std::string_view key, std::string_view want, const json& v) {
    Fail(Path(key), StrCat("want ", want, ", got ", Got(v)));
  }
  const json* Kind(std::string_view key, json::value_t t, std::string_view want) {
    const json* v = Find(key, true, want);
    if (v != nullptr && v->type() != t) {
      Wrong(key, want, *v);
      return nullptr;
    }
    return v;
  }
  std::string ReadStr(std::string_view key, bool required) {
    const json* v = Find(key, required, "a string");
    if (v == nullptr) return "";
    if (!v->is_string()) {
      Wrong(key, "a string", *v);
      return "";
    }
    return v->get<std::string>();
  }
  std::optional<int64_t> ReadInt(std::string_view key, int64_t lo, int64_t hi, bool required) {
    const std::string want = StrCat("an integer ", lo, "..", hi);
    const json* v = Find(key, required, want);
    if (v == nullptr) return std::nullopt;
    // nlohmann keeps a non-negative integer as unsigned: compare it as one, so 2^32 + 5 is not
    // read as 5 (nor 2^64 - 1 as -1).
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (hi >= 0 && u <= static_cast<uint64_t>(hi) && static_cast<int64_t>(u) >= lo)
        return static_cast<int64_t>(u);
    } else if (v->is_number_integer()) {
      const int64_t i = v->get<int64_t>();
      if (i >= lo && i <= hi) return i;
    }
    Wrong(key, want, *v);
    return std::nullopt;
  }
  std::optional<uint64_t> ReadCount(std::string_view key, bool required) {
    const json* v = Find(key, required, "a count (an integer >= 0)");
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_unsigned()) {
      Wrong(key, "a count (an integer >= 0)", *v);
      return std::nullopt;
    }
    return v->get<uint64_t>();
  }

  const json& j_;
  std::string path_;
  std::string context_;
  absl::Status status_;
};

// Reads every element of `arr` (the field `path`) with `read(Reader&)`.
template <typename T, typename F>
std::vector<T> ReadObjects(Reader& parent, const json* arr, const std::string& path, F read) {
  std::vector<T> out;
  if (arr == nullptr) return out;
  for (size_t i = 0; i < arr->size() && parent.ok(); ++i) {
    Reader r((*arr)[i], IndexPath(path, i));
    T t = read(r);
    if (!r.ok()) parent.Take(r.status());
    out.push_back(std::move(t));
  }
  return out;
}

inline std::vector<std::string> ReadStrings(Reader& parent, const json* arr,
                                            const std::string& path) {
  std::vector<std::string> out;
  if (arr == nullptr) return out;
  for (size_t i = 0; i < arr->size(); ++i) {
    const json& v = (*arr)[i];
    if (!v.is_string()) {
      parent.Fail(IndexPath(path, i), StrCat("want a string, got ", Got(v)));
      break;
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

template <typename T>
absl::StatusOr<T> Done(const Reader& r, T value) {
  if (!r.ok()) return r.status();
  return value;
}

}  // namespace mkn::control::internal
