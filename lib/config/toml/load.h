// lib/config/toml/load — the lab file's reader: TOML text → RawConfig (Parse) → ClusterSpec (Load).
//
// The one place in the tree that reads TOML, and so the one target that links toml++
// (mkn::config_toml). The rest of lib/config works on RawConfig and ClusterSpec and never sees
// TOML, so what only takes a resolved spec (the plan, the NAT, the proxy, the edge) does not link
// toml++; what reads a lab file (the command line, tests and benchmarks that start from a lab's
// text) links this. Pure: the caller reads the file; nothing here does I/O or needs privileges.
//
// Neither function fails with a Status: every problem of the text is a Diagnostic (file:line:col),
// all of them collected in one run, and LoadResult::diags.ToStatus() turns them into one
// InvalidArgument for a caller that wants a Status.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/config/diagnostics.h"
#include "lib/config/raw_config.h"
#include "lib/config/spec.h"

namespace mkn::config {

// Parses TOML text: syntax, unknown keys (with a did-you-mean) and value types, nothing of
// meaning. Problems go to `diags` (file name taken from it); the returned RawConfig holds whatever
// could be read, so Resolve() can report further problems in the same run. well_formed is false
// when the text is not TOML at all.
RawConfig Parse(std::string_view text, Diagnostics& diags);

struct LoadResult {
  std::optional<ClusterSpec> spec;  // set iff diags has no error
  Diagnostics diags;
};

// Parse + Resolve of a lab file's text; `file` is used in messages, and relative paths in the lab
// (conflists, certificates) are taken relative to its directory. A text that is not TOML gets only
// its syntax error; otherwise type errors, unknown keys and every problem Resolve() finds are
// reported together.
LoadResult Load(std::string_view text, std::string file);

// `minikube-net apply FILE`: a file of [[network_policy]] tables, resolved against a running lab
// (`live`; ResolvePolicies in spec.h). Any other top-level table or key is an error at its position
// ("[[service]] belongs in the lab file"), except [[expect]] rows, which are a warning (a case
// file of examples/netpol applies as it is; `check` reads the lab file's rows); a file with no
// policy is an error. `policies` is set iff `diags` has no error, in file order.
struct PoliciesResult {
  std::optional<std::vector<NetworkPolicySpec>> policies;
  Diagnostics diags;
};
PoliciesResult LoadPolicies(std::string_view text, std::string file, const ClusterSpec& live);

}  // namespace mkn::config
