// lib/config/toml/table_reader — internal to lib/config/toml: how one TOML table becomes Fields.
//
// The lab file's schema (parse.cc) says which keys each table has; this says how any key is read:
// its value and source position into a Field, a value of the wrong type reported ("[cluster] mtu:
// expected an integer, got a string") and marked bad, and at Finish() every key nobody asked for
// reported as unknown with the closest known key as a suggestion. Problems go to the Diagnostics
// given; nothing here fails otherwise. Pure: no I/O.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/diagnostics.h"
#include "lib/config/raw_config.h"

namespace mkn::config::internal {

SourcePos PosOf(const toml::source_region& r);
SourcePos PosOf(const toml::node& n);

// "a string", "an integer", "an array of tables", ...: a value's type as messages name it.
std::string TypeName(const toml::node& n);

// Reads the keys of one TOML table into Fields, remembering which keys it knew, so that Finish()
// can report every other key as unknown, with the closest known key as a suggestion. `context`
// names the table in messages ("[cluster]", "pod \"web\""). Each reader sets a Field's pos to the
// value's position, or to the table's when the key is absent.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string context, Diagnostics& diags)
      : table_(table), context_(std::move(context)), diags_(diags) {}

  SourcePos pos() const { return PosOf(table_); }

  // The value of `key` (nullptr when absent), marking the key as known.
  const toml::node* Get(std::string_view key);

  void Str(std::string_view key, Field<std::string>& out);
  void Int(std::string_view key, Field<int64_t>& out);
  void Bool(std::string_view key, Field<bool>& out);

  // Whether the key is written at all (without claiming it as known).
  bool Has(std::string_view key) const { return table_.contains(key); }

  void StrList(std::string_view key, Field<std::vector<std::string>>& out);
  // A list of strings, or one string of ':'-separated items (as a PATH is written).
  void PathList(std::string_view key, Field<std::vector<std::string>>& out);
  // A table of strings, like labels = { app = "web" }.
  void Map(std::string_view key, Field<StringMap>& out);
  // A port number or the name of a container port.
  void Port(std::string_view key, PortRef& out);

  // An array of tables ([[x]] or x = [{...}]); returns nullptr if absent or of the wrong type.
  const toml::array* Tables(std::string_view key);
  // A table (nullptr if absent or of the wrong type).
  const toml::table* Table(std::string_view key);

  // Reports every key of the table that no call above asked for.
  void Finish();

 private:
  void TypeError(std::string_view key, const toml::node& n, std::string_view want,
                 bool* bad = nullptr);

  // "[cluster] mtu" but "pod \"web\": labels".
  std::string Where(std::string_view key) const;

  const toml::table& table_;
  std::string context_;
  Diagnostics& diags_;
  std::set<std::string> known_;
};

// A name for messages: `pod "web"` when the name is known, `pod #3` otherwise.
std::string Label(std::string_view kind, const Field<std::string>& name, size_t index);

// The table's "name" if it is a string, read ahead of the table so its messages can name it.
Field<std::string> PeekName(const toml::table& t);

// Calls fn(table, index) for each table of the array `key` (see TableReader::Tables).
template <typename Fn>
void EachTable(TableReader& r, std::string_view key, Fn fn) {
  if (const toml::array* arr = r.Tables(key)) {
    size_t i = 0;
    for (const toml::node& n : *arr) fn(*n.as_table(), i++);
  }
}

}  // namespace mkn::config::internal
