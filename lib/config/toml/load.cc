// Load() (load.h): Parse() then Resolve(), with the diagnostics of both in one list.

#include "lib/config/toml/load.h"

#include <toml++/toml.h>

#include <utility>

#include "lib/config/toml/table_reader.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {

LoadResult Load(std::string_view text, std::string file) {
  LoadResult r{std::nullopt, Diagnostics(std::move(file))};
  RawConfig raw = Parse(text, r.diags);
  if (!raw.well_formed) return r;  // a file that is not TOML has no meaning to check
  // Type errors and unknown keys are reported together with the semantic ones: all at once.
  bool parse_errors = r.diags.HasErrors();
  r.spec = Resolve(raw, r.diags);
  if (parse_errors) r.spec.reset();
  return r;
}

PoliciesResult LoadPolicies(std::string_view text, std::string file, const ClusterSpec& live) {
  PoliciesResult r{std::nullopt, Diagnostics(std::move(file))};
  RawConfig raw = Parse(text, r.diags);
  if (!raw.well_formed) return r;
  // Parse() read it once already: it is TOML, and not too deep for toml++.
  toml::table root;
  try {
    root = toml::parse(text, r.diags.file());
  } catch (const toml::parse_error&) {
    return r;
  }
  for (auto&& [key, node] : root) {
    const std::string_view k = key.str();
    if (k == "network_policy") continue;
    if (k == "expect") {
      r.diags.Warning(internal::PosOf(node),
                      "[[expect]] rows are ignored by apply (check reads the lab file's rows)");
      continue;
    }
    const bool array = node.is_array_of_tables();
    r.diags.Error(internal::PosOf(node),
                  StrCat("apply takes [[network_policy]] tables only: ", array ? "[[" : "",
                         node.is_table() ? "[" : "", k, array ? "]]" : "",
                         node.is_table() ? "]" : "", " belongs in the lab file"));
  }
  if (raw.network_policies.empty() && !r.diags.HasErrors())
    r.diags.Error({1, 1}, "no [[network_policy]] table to apply");
  if (r.diags.HasErrors()) return r;
  r.policies = ResolvePolicies(raw, live, r.diags);
  if (r.diags.HasErrors()) r.policies.reset();
  return r;
}

}  // namespace mkn::config
