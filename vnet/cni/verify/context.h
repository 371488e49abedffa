// vnet/cni/verify/context — the lab as the conformance suite's checks see it, and what they share:
// the nodes and their chains, the lab's pods with their cached ADD results, the plugin errors seen
// so far, the echo servers, the run's time limits; reporting a failure, a harness error or a skip;
// running ADD/DEL so that every plugin error is noted for spec.errors; running a check's probes in
// parallel. Internal to vnet/cni/verify.
//
// Checks of one wave run on threads of their own (verify.cc, lib/cni/suite's PlanWaves), so what
// they share is either read-only once BuildCtx has filled it (spec, nodes, pods, chain_properties)
// or guarded: errors_seen by its mutex, seq atomic, EchoServers locked inside. A check's own
// CheckReport is its thread's alone; probes a check runs in parallel (ParallelFor) report into
// Findings of their own, merged in order.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/cni/invoke.h"
#include "lib/cni/report.h"
#include "lib/config/spec.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/runtime.h"
#include "vnet/cni/verify/probe.h"
#include "vnet/cni/verify/verify.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet::verify_internal {

struct NodeCtx {
  std::string name, netns, underlay_ip;
  std::unique_ptr<CniNode> cni;  // reopened from the node's state directory
  std::string ifname;            // CNI_IFNAME of its pods
};

// A pod of the lab file, as `up` left it.
struct PodCtx {
  std::string name, netns, ip, error;  // ip "" and error set when its ADD failed
  int node = 0;                        // index into Ctx::nodes
  int spec_index = -1;                 // index into ClusterSpec::pods
  Fd fd;                               // its netns
  cni::RuntimeConf rt;                 // as ADD got it (from the node's cache when there)
  nlohmann::json result;               // cached ADD result (null if none)
};

struct Ctx {
  Ctx(const config::ClusterSpec& s, const VerifyOptions& o) : spec(s), opt(o) {}
  const std::string& version(int node) const { return nodes[node].cni->version(); }
  // Checks with loops of their own (churn) stop at the next round once this is true: a signal,
  // --fail-fast after a failure elsewhere, or the run's deadline.
  bool Stopping() const;

  const config::ClusterSpec& spec;
  const VerifyOptions& opt;
  ClusterState st;
  std::vector<NodeCtx> nodes;
  std::vector<PodCtx> pods;
  ProbeLimits limits;  // every probe's wait, and the run's deadline
  // How long the lab's `up` took: every pod's ADD ran in it, before any check (spec.add counts it
  // in its own time: its verdict is on those calls).
  std::chrono::nanoseconds up_time{0};
  // Whether spec.add is part of this run: then the checks that need a working ADD skip, pointing
  // at it, when no pod of the lab got one (instead of each waiting out the same failing ADD).
  bool add_checked = false;
  // What every report carries for CI (JUnit <properties>): the negotiated cniVersion, each
  // plugin's version ("plugin.<type>") and spec versions ("plugin.<type>.cniVersions").
  std::vector<std::pair<std::string, std::string>> chain_properties;
  std::atomic<int> seq{0};        // numbers the test pods' names
  std::atomic<bool> stop{false};  // --fail-fast: a check failed; no new round, no new check
  std::mutex errors_mu;           // guards errors_seen
  // Every plugin error seen (a failed call's stdout), "where" first: spec.errors judges them all.
  std::vector<std::pair<std::string, std::string>> errors_seen;
  EchoServers servers;  // keyed by index into pods
};

// Fills `c` from the running lab: every node's CniNode reopened from its state directory (its
// plugin calls bounded by c.limits.deadline), every pod of the lab file with its netns open and
// its cached ADD result, the chain's properties. FailedPrecondition for a lab without nodes; the
// Status of reopening a node or opening a pod's netns.
absl::Status BuildCtx(Ctx& c, RunningCluster& rc);

// --- reports
//
// One check's verdict is the worst of what it found: a failure (the plugin broke the rule) over a
// harness error (the suite could not do what the check needs: ERROR, JUnit <error>) over a skip.

// Marks the check failed and appends `text` (a Status's message) as a line of evidence.
void Fail(cni::CheckReport& r, const std::string& text);
void Fail(cni::CheckReport& r, const absl::Status& status);
// Marks the check errored (unless it already failed) and appends `text` as a line of evidence.
void Error(cni::CheckReport& r, const std::string& text);
void Error(cni::CheckReport& r, const absl::Status& status);
// What a probe's Status (probe.h: Probe, ObserveInterface, EchoServers::Ensure, MeasureRate,
// SnapshotNode; never a plugin call's, whose codes mean other things) says about the check:
// Unavailable (no answer) and NotFound (no such interface) are what the plugin did, a failure;
// any other code is a probe that could not run (not installed, a spawn that failed, a tool's
// output it could not read), a harness error. `context` goes before the Status's message.
void FailOrError(cni::CheckReport& r, const absl::Status& status, const std::string& context = "");
// Marks the check skipped with `why`, unless it already failed or errored.
void Skip(cni::CheckReport& r, const std::string& why);

// What the probes of one check found, one slot per probe (each filled by its own thread), merged
// into the report in slot order so the evidence reads the same every run.
struct Findings {
  struct One {
    cni::Outcome outcome = cni::Outcome::kPass;  // kFail or kError when something was found
    std::string text;
  };
  explicit Findings(size_t n) : slots(n) {}
  void Fail(size_t i, const std::string& text) { slots[i].push_back({cni::Outcome::kFail, text}); }
  void Error(size_t i, const std::string& text) {
    slots[i].push_back({cni::Outcome::kError, text});
  }
  void FailOrError(size_t i, const absl::Status& status, const std::string& context);
  void MergeInto(cni::CheckReport& r) const;
  std::vector<std::vector<One>> slots;
};

// Runs fn(0) .. fn(n-1), up to cni::kProbeWorkers at a time (inline when n <= 1), and returns when
// every call has returned. fn may touch only what is its own index's (a Findings slot).
void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

// Why a check that needs a working ADD of its own test pods skips: spec.add is in the run and no
// pod of the lab got an address from ADD (the same failure, waited out again, would say nothing
// new). "" when the check should run.
std::string NeedsAddReason(const Ctx& c);

// --- the lab

// Indices of the lab's pods whose ADD succeeded with an address.
std::vector<int> OkPods(const Ctx& c);
// Whether the chain (node 0's: every node runs the same list) has a plugin of `type`, or one that
// declares capability `cap` (what the runtime's capability args go to).
bool ChainHas(const Ctx& c, const std::string& type);
bool ChainHasCapability(const Ctx& c, const std::string& cap);

// --- the chain

// A test pod on `node` named mkn-<cluster>-vfy-<label>-<n> (see TestPod::Make for the Status).
absl::StatusOr<std::unique_ptr<TestPod>> MakeTestPod(Ctx& c, int node, const std::string& label);

// Notes the failed plugin calls of `calls` (exit code > 0, not killed) for spec.errors. Locks.
void NoteErrors(Ctx& c, const std::vector<PluginCall>& calls, const std::string& where);
// The calls worth showing as evidence: the failed ones, else the last two; trimmed to 30 lines.
std::string ShowCalls(const std::vector<PluginCall>& calls);
// What two pods' calls share when they failed the same way (lib/cni/report's GroupEvidence): each
// failed call's plugin, command, exit status and error code, not its pod's addresses or ids.
std::string CallsKey(const std::vector<PluginCall>& calls);

// ADD / DEL of the chain with the plugin errors noted. On failure the chain's Status code with the
// evidence as its message: "WHAT: ADD failed: <why>\n<the calls>". ADD's result goes to *result
// when given.
absl::Status AddPod(Ctx& c, CniNode& n, const cni::RuntimeConf& rt, const std::string& what,
                    nlohmann::json* result = nullptr);
absl::Status DelPod(Ctx& c, CniNode& n, const cni::RuntimeConf& rt, const std::string& what);

}  // namespace mkn::vnet::verify_internal
