// lib/config/mutate — changes to a running cluster's spec: a pod recreated, a Deployment scaled,
// NetworkPolicies applied and deleted (`minikube-net apply`, `delete netpol`).
//
// What a Deployment controller and host-local IPAM would do, as pure functions on a ClusterSpec, so
// the running cluster (vnet/) only has to make the difference real. Every function keeps the spec's
// invariants: NodeSpec::pods lists the node's pods in address order, ServiceSpec::endpoints are
// the pods matching each selector, indices are valid.
//
// Addresses: a recreated or new pod gets the next free address of its node's range after the
// highest one in use (wrapping), as host-local IPAM's sequential allocator hands them out, so a
// killed pod comes back with a new IP. The VTEP (.0), gateway (.1), proxy address and broadcast
// are never handed out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"

namespace mkn::config {

// The pod `name` gets a new address (and the MAC derived from it) on the same node. Returns its
// index. kNotFound if no such pod; kResourceExhausted if the node's range is full.
absl::StatusOr<int> RecreatePod(ClusterSpec& spec, std::string_view name);

struct ScaleResult {
  std::vector<std::string> added;    // new pods, in creation order
  std::vector<std::string> removed;  // pods to take down (highest index first, as a ReplicaSet)
};

// Sets a Deployment's replica count (all or nothing: on an error `spec` is unchanged): new pods
// <name>-<i> (lowest free index) on the least loaded node, or the highest-numbered pods removed.
// kNotFound if no such deployment; kInvalidArgument for a negative count or one over `max_pods`
// pods in all; kResourceExhausted if no node has room.
absl::StatusOr<ScaleResult> ScaleDeployment(ClusterSpec& spec, std::string_view deployment,
                                            int replicas, int max_pods = kMaxPods);

// Recomputes every ServiceSpec::endpoints from the selectors (pods in spec order).
void RecomputeEndpoints(ClusterSpec& spec);

// The spec with the named pods taken out of every Service's endpoints (and nothing else changed):
// what the Services must look like before those pods are stopped, so no new flow goes to them.
ClusterSpec WithoutEndpoints(const ClusterSpec& spec, const std::vector<std::string>& pods);

// The indices of the services whose endpoints include the pod `pod_index` (before or after a
// change: call it on both specs).
std::vector<int> ServicesOfPod(const ClusterSpec& spec, int pod_index);

// A pod as a running cluster records it (its state file): where `kill` and `scale` left it.
struct LivePod {
  std::string name, node, ip, netns, deployment;
};

// The spec made to match the running cluster's pods `live`: `kill` and `scale` change the spec of
// the cluster's own process only, so a command that loads the lab file sees the pods as `up` made
// them (a killed pod at its old address, a scaled one missing or on another node). A pod not live
// is taken out; a live one gets its node, address, MAC and namespace; one the spec lacks is made
// from its Deployment's template (as ScaleDeployment makes it); node lists, replica counts and
// endpoints follow. A pod that kept its node keeps its host veth; a new or moved one gets the name
// `scale` gave it (the first free of its node). All or nothing: kInvalidArgument (spec unchanged)
// for a live pod on an unknown node, with an unreadable address, or of no known Deployment.
// Not for CNI labs (their addresses and veths are the chain's).
absl::Status MatchLivePods(ClusterSpec& spec, const std::vector<LivePod>& live);

// NetworkPolicies changed on a running cluster, as its state records them: each policy applied
// (resolved, with the file it came from and that file's text, so another process can resolve it
// again: vnet/cluster/client's LiveSpec), one per key, in the order keys were first applied; and
// the keys of the lab file's policies deleted. A key is in at most one of the two.
struct AppliedPolicy {
  NetworkPolicySpec spec;
  std::string file, text;
};
struct PolicyEdits {
  std::vector<AppliedPolicy> applied;
  std::vector<std::string> deleted;
};

// The live policies: the lab's (`lab`, in file order), each replaced in place by an applied one of
// its key or left out when deleted, then the applied ones the lab does not have.
std::vector<NetworkPolicySpec> ComposePolicies(const std::vector<NetworkPolicySpec>& lab,
                                               const PolicyEdits& edits);

// `apply` of one policy: recorded in `edits`. Returns what kubectl says of it against the live
// policies `live` (ComposePolicies before the change): "created", "configured" or "unchanged".
std::string ApplyPolicy(PolicyEdits& edits, const std::vector<NetworkPolicySpec>& live,
                        AppliedPolicy p);

// `delete netpol`: the policy of key `key` (QualifiedName) leaves the live set. kNotFound if no
// live policy has that key.
absl::Status DeletePolicy(PolicyEdits& edits, const std::vector<NetworkPolicySpec>& lab,
                          const std::string& key);

}  // namespace mkn::config
