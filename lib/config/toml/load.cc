// Load() (load.h): Parse() then Resolve(), with the diagnostics of both in one list.

#include "lib/config/toml/load.h"

#include <utility>

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

}  // namespace mkn::config
