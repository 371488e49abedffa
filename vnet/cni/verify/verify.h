// vnet/cni/verify/verify — `minikube-net verify`: the CNI conformance suite. Brings a
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
// Time (fast enough to run on every push). Checks run in waves (lib/cni/suite's PlanWaves):
// those that may share the lab run in parallel, up to cni::kCheckWorkers at once, and so do the
// independent probes inside a check; a check that needs the lab to itself (a before/after diff of
// the node, GC's list of every attachment, a measured rate, the errors all earlier checks
// provoked) runs alone. Every probe waits a short time for its answer (cni::ProbeWait of the
// run's timeout); a plugin call is cut at the run's deadline. The churn is sized to the lab. When
// spec.add is in the run and no pod of the lab got an address, the checks that need a working
// ADD skip with that reason instead of each waiting out the same failure.
//
// Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (it runs `up`). SIGINT/SIGTERM/SIGHUP should be blocked by
// the caller (vnet/kernel/process.h's BlockStopSignals, as `up` does): a pending one stops the
// suite after the current check, the lab is torn down; with `keep`, RunVerify waits for one of them
// before tearing down.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cni/report.h"
#include "lib/cni/suite.h"
#include "lib/config/spec.h"

namespace mkn::vnet {

struct VerifyOptions {
  std::string lab_path;
  std::vector<std::string> only, skip;  // globs over check ids; empty `only` = every check
  bool keep = false;                    // leave the lab up (until a signal) after the checks
  // No check starts once one has failed or errored (those running finish); the rest are reported
  // as not run. The lab goes down as always.
  bool fail_fast = false;
  // Bounds the run from its start: `up`, then the checks (no check starts after it, probes and
  // plugin calls are cut at it, a check cut short is an error, those not started are reported
  // as not run). The teardown after it always runs to its end.
  std::chrono::milliseconds timeout = cni::kDefaultRunTimeout;
  int churn_pods = 0;  // 0: sized to the lab (cni::DefaultChurnPods)
  int churn_rounds = cni::kChurnRounds;
  // After each check, in the order they finish, on the calling thread; may be null.
  std::function<void(const cni::CheckReport&)> progress;
  // With `keep`: called with every report once the checks ran, before waiting. May be null.
  std::function<void(const std::vector<cni::CheckReport>&)> kept;
};

struct CheckInfo {
  std::string id, title, source;
  // It needs the lab to itself (a before/after diff of a node, GC's list of every attachment, a
  // race of its own ADDs, a measured rate, the errors of every earlier check): it runs alone,
  // never beside another check. The others run in parallel (lib/cni/suite's PlanWaves).
  bool alone = false;
};
// Every check, in the order the suite runs them.
const std::vector<CheckInfo>& VerifyChecks();

struct VerifyRun {
  // One per selected check, in the table's order; a check not run is a kSkip whose evidence
  // starts "not run: " and says why.
  std::vector<cni::CheckReport> reports;
  // Why some checks were not run ("--fail-fast: spec.add failed", "the --timeout of 30s ran
  // out"); "" when every selected check ran.
  std::string stopped;
  bool timed_out = false;  // the --timeout ran out before every check had finished
  // What the plugins left behind after the lab's own DELs at teardown (vnet/cni CniTeardown).
  std::vector<std::string> leaks;
};

// Up (non-strict: a pod whose ADD failed is the failure of check spec.add), the selected checks,
// down (unless keep). The Status is an error only when the lab cannot be brought up or torn down
// (the message says which), or Cancelled when a signal stopped the suite (the lab is down then,
// `progress` saw the checks that ran) or the lab's bring-up (rolled back at its next step: "up
// LAB: interrupted: rolled back (...)"); a failed check is a report with Outcome::kFail, a check
// the harness could not carry out one with Outcome::kError.
absl::StatusOr<VerifyRun> RunVerify(const config::ClusterSpec& spec, const VerifyOptions& options);

}  // namespace mkn::vnet
