// vnet/cni/verify/context — the lab as the conformance suite's checks see it, and what they share:
// the nodes and their chains, the lab's pods with their cached ADD results, the plugin errors seen
// so far, the echo servers; reporting a failure or a skip; running ADD/DEL so that every plugin
// error is noted for spec.errors. Internal to vnet/cni/verify.
//
// The suite runs its checks one after the other on the main thread (the only threads it starts
// are spec.add.concurrent's ADDs, which touch no Ctx), so Ctx has no locks.
#pragma once

#include <memory>
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

  const config::ClusterSpec& spec;
  const VerifyOptions& opt;
  ClusterState st;
  std::vector<NodeCtx> nodes;
  std::vector<PodCtx> pods;
  int seq = 0;  // numbers the test pods' names
  // Every plugin error seen (a failed call's stdout), "where" first: spec.errors judges them all.
  std::vector<std::pair<std::string, std::string>> errors_seen;
  EchoServers servers;  // keyed by index into pods
};

// Fills `c` from the running lab: every node's CniNode reopened from its state directory, every
// pod of the lab file with its netns open and its cached ADD result. FailedPrecondition for a lab
// without nodes; the Status of reopening a node or opening a pod's netns.
absl::Status BuildCtx(Ctx& c, RunningCluster& rc);

// --- reports

// Marks the check failed and appends `text` (a Status's message) as a line of evidence.
void Fail(cni::CheckReport& r, const std::string& text);
void Fail(cni::CheckReport& r, const absl::Status& status);
// Marks the check skipped with `why`, unless it already failed.
void Skip(cni::CheckReport& r, const std::string& why);

// --- the lab

// Indices of the lab's pods whose ADD succeeded with an address.
std::vector<int> OkPods(const Ctx& c);
// Whether the chain (node 0's: every node runs the same list) has a plugin of `type`, or one that
// declares capability `cap` (what the runtime's capability args go to).
bool ChainHas(const Ctx& c, const std::string& type);
bool ChainHasCapability(const Ctx& c, const std::string& cap);

// A SIGINT/SIGTERM/SIGHUP is pending (the caller blocks them): stop at the next safe point.
bool StopRequested();

// --- the chain

// A test pod on `node` named mkn-<cluster>-vfy-<label>-<n> (see TestPod::Make for the Status).
absl::StatusOr<std::unique_ptr<TestPod>> MakeTestPod(Ctx& c, int node, const std::string& label);

// Notes the failed plugin calls of `calls` (exit code > 0, not killed) for spec.errors.
void NoteErrors(Ctx& c, const std::vector<PluginCall>& calls, const std::string& where);
// The calls worth showing as evidence: the failed ones, else the last two; trimmed to 30 lines.
std::string ShowCalls(const std::vector<PluginCall>& calls);

// ADD / DEL of the chain with the plugin errors noted. On failure the chain's Status code with the
// evidence as its message: "WHAT: ADD failed: <why>\n<the calls>". ADD's result goes to *result
// when given.
absl::Status AddPod(Ctx& c, CniNode& n, const cni::RuntimeConf& rt, const std::string& what,
                    nlohmann::json* result = nullptr);
absl::Status DelPod(Ctx& c, CniNode& n, const cni::RuntimeConf& rt, const std::string& what);

}  // namespace mkn::vnet::verify_internal
