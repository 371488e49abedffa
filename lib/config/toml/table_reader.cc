// TableReader (table_reader.h): one TOML table read into Fields with positions, type errors and
// unknown keys reported.

#include "lib/config/toml/table_reader.h"

#include "lib/strings/edit_distance.h"
#include "lib/strings/str_cat.h"

namespace mkn::config::internal {

SourcePos PosOf(const toml::source_region& r) {
  return SourcePos{static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}
SourcePos PosOf(const toml::node& n) { return PosOf(n.source()); }

std::string TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return n.as_array()->is_array_of_tables() ? "an array of tables" : "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

const toml::node* TableReader::Get(std::string_view key) {
  known_.insert(std::string(key));
  return table_.get(key);
}

void TableReader::Str(std::string_view key, Field<std::string>& out) {
  out.pos = pos();
  const toml::node* n = Get(key);
  if (n == nullptr) return;
  out.pos = PosOf(*n);
  if (const auto* s = n->as_string()) {
    out.value = s->get();
    out.set = true;
  } else {
    TypeError(key, *n, "a string", &out.bad);
  }
}

void TableReader::Int(std::string_view key, Field<int64_t>& out) {
  out.pos = pos();
  const toml::node* n = Get(key);
  if (n == nullptr) return;
  out.pos = PosOf(*n);
  if (const auto* i = n->as_integer()) {
    out.value = i->get();
    out.set = true;
  } else {
    TypeError(key, *n, "an integer", &out.bad);
  }
}

void TableReader::Bool(std::string_view key, Field<bool>& out) {
  out.pos = pos();
  const toml::node* n = Get(key);
  if (n == nullptr) return;
  out.pos = PosOf(*n);
  if (const auto* b = n->as_boolean()) {
    out.value = b->get();
    out.set = true;
  } else {
    TypeError(key, *n, "true or false", &out.bad);
  }
}

void TableReader::StrList(std::string_view key, Field<std::vector<std::string>>& out) {
  out.pos = pos();
  const toml::node* n = Get(key);
  if (n == nullptr) return;
  out.pos = PosOf(*n);
  const auto* arr = n->as_array();
  if (arr == nullptr) return TypeError(key, *n, "an array of strings", &out.bad);
  bool ok = true;
  for (const toml::node& e : *arr) {
    if (const auto* s = e.as_string()) {
      out.value.push_back(s->get());
    } else {
      diags_.Error(PosOf(e), StrCat(Where(key), ": expected an array of strings, found ",
                                    TypeName(e), " in it"));
      ok = false;
    }
  }
  out.set = ok;
  out.bad = !ok;
}

void TableReader::PathList(std::string_view key, Field<std::vector<std::string>>& out) {
  const toml::node* n = table_.get(key);
  if (n != nullptr && n->is_string()) {
    Get(key);
    out.pos = PosOf(*n);
    std::string v = n->as_string()->get();
    size_t start = 0;
    while (start <= v.size()) {
      size_t end = v.find(':', start);
      if (end == std::string::npos) end = v.size();
      if (end > start) out.value.push_back(v.substr(start, end - start));
      start = end + 1;
    }
    out.set = true;
    return;
  }
  StrList(key, out);
}

void TableReader::Map(std::string_view key, Field<StringMap>& out) {
  out.pos = pos();
  const toml::node* n = Get(key);
  if (n == nullptr) return;
  out.pos = PosOf(*n);
  const auto* t = n->as_table();
  if (t == nullptr)
    return TypeError(key, *n, "a table of strings, like { app = \"web\" }", &out.bad);
  bool ok = true;
  for (auto&& [k, v] : *t) {
    if (const auto* s = v.as_string()) {
      out.value[std::string(k.str())] = s->get();
    } else {
      diags_.Error(PosOf(v),
                   StrCat(Where(key), ".", k.str(), ": expected a string, got ", TypeName(v)));
      ok = false;
    }
  }
  out.set = ok;
  out.bad = !ok;
}

void TableReader::Port(std::string_view key, PortRef& out) {
  out.number.pos = out.name.pos = pos();
  const toml::node* n = Get(key);
  if (n == nullptr) return;
  out.number.pos = out.name.pos = PosOf(*n);
  if (const auto* i = n->as_integer()) {
    out.number.value = i->get();
    out.number.set = true;
  } else if (const auto* s = n->as_string()) {
    out.name.value = s->get();
    out.name.set = true;
  } else {
    TypeError(key, *n, "a port number or a port name", &out.number.bad);
  }
}

const toml::array* TableReader::Tables(std::string_view key) {
  const toml::node* n = Get(key);
  if (n == nullptr) return nullptr;
  const auto* arr = n->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    if (!(arr != nullptr && arr->empty()))
      TypeError(key, *n, StrCat("an array of tables ([[...]])"));
    return nullptr;
  }
  return arr;
}

const toml::table* TableReader::Table(std::string_view key) {
  const toml::node* n = Get(key);
  if (n == nullptr) return nullptr;
  if (const auto* t = n->as_table()) return t;
  TypeError(key, *n, "a table");
  return nullptr;
}

void TableReader::Finish() {
  for (auto&& [k, v] : table_) {
    std::string key(k.str());
    if (known_.count(key)) continue;
    std::string best;
    size_t best_d = 3;  // suggest only close matches
    // Gateway API YAML spells keys in camelCase (backendRefs, statusCode): suggest the
    // snake_case.
    std::string snake;
    for (char ch : key) {
      if (ch >= 'A' && ch <= 'Z') {
        snake += '_';
        snake += static_cast<char>(ch - 'A' + 'a');
      } else {
        snake += ch;
      }
    }
    if (key == "parentRefs") snake = "parents";  // Gateway API's name for it
    if (snake != key && known_.count(snake)) {
      best = snake;
      best_d = 0;
    }
    for (const std::string& cand : known_) {
      size_t d = EditDistance(key, cand);
      if (d < best_d && best_d != 0) {
        best_d = d;
        best = cand;
      }
    }
    std::string msg = StrCat(context_, ": unknown key \"", key, "\"");
    if (!best.empty()) StrAppend(&msg, " (did you mean \"", best, "\"?)");
    diags_.Error(PosOf(k.source()), msg);
  }
}

void TableReader::TypeError(std::string_view key, const toml::node& n, std::string_view want,
                            bool* bad) {
  if (bad != nullptr) *bad = true;
  diags_.Error(PosOf(n), StrCat(Where(key), ": expected ", want, ", got ", TypeName(n)));
}

std::string TableReader::Where(std::string_view key) const {
  return StrCat(context_, context_.back() == ']' ? " " : ": ", key);
}

std::string Label(std::string_view kind, const Field<std::string>& name, size_t index) {
  if (name.set) return StrCat(kind, " \"", name.value, "\"");
  return StrCat(kind, " #", index + 1);
}

Field<std::string> PeekName(const toml::table& t) {
  Field<std::string> name;
  if (const auto* s = t.get_as<std::string>("name")) name = {s->get(), {}, true};
  return name;
}

}  // namespace mkn::config::internal
