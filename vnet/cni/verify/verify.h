// vnet/cni/verify/verify — `minikube-net verify`: the CNI conformance suite (issue 7). Brings a
// network = "cni" lab up with the user's plugin chain, checks the CNI spec (SPEC.md) and the
// Kubernetes network model against what the plugin did, tears the lab down.
//
// Each check has a short dotted id (the user interface of --only/--skip), a title, and the place
// its rule comes from. A check that does not apply (no CHECK before 0.4.0, no GC before 1.1.0, no
// portmap in the chain) is skipped with the reason. A failure carries its evidence: what was
// expected, what was seen, and the plugin calls involved (vnet::FormatCalls, trimmed).
//
// Checks that need pods of their own make throw-away pod namespaces on a node (named through
// lib/net/naming as mkn-<cluster>-vfy-..., marked with the cluster's marker on lo as the applier
// marks its own) and drive the chain with CniNode directly; each is DELeted and removed when the
// check ends. Traffic probes run as child processes inside the namespaces (ping, socat, curl,
// iperf3), each bounded in time; no thread of ours enters a namespace.
//
// Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (it runs `up`). SIGINT/SIGTERM/SIGHUP should be blocked by
// the caller (as `up` does): a pending one stops the suite after the current check, the lab is torn
// down; with `keep`, RunVerify waits for one of them before tearing down.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cni/report.h"
#include "lib/config/spec.h"

namespace mkn::vnet {

struct VerifyOptions {
  std::string lab_path;
  std::vector<std::string> only, skip;  // globs over check ids; empty `only` = every check
  bool keep = false;                    // leave the lab up (until a signal) after the checks
  int churn_pods = 200, churn_rounds = 5;
  std::function<void(const cni::CheckReport&)> progress;  // after each check; may be null
  // With `keep`: called with every report once the checks ran, before waiting. May be null.
  std::function<void(const std::vector<cni::CheckReport>&)> kept;
};

struct CheckInfo {
  std::string id, title, source;
};
// Every check, in the order the suite runs them.
const std::vector<CheckInfo>& VerifyChecks();

// Up (non-strict: a pod whose ADD failed is the failure of check spec.add), the selected checks,
// down (unless keep). The Status is an error only when the lab cannot be brought up or torn down
// (the message says which), or Cancelled when a signal stopped the suite (the lab is down then,
// `progress` saw the checks that ran); a failed check is a report with Outcome::kFail.
absl::StatusOr<std::vector<cni::CheckReport>> RunVerify(const config::ClusterSpec& spec,
                                                        const VerifyOptions& options);

}  // namespace mkn::vnet
