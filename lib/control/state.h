// lib/control/state — what a running cluster records of itself (state.json, written and read by
// vnet/cluster/state, which owns the file: its directory, modes, the atomic rename) and the JSON
// it is written as. `status -o json`, `get pods -o json` and `get nodes -o json` print this JSON,
// so its field names are an interface: a state written by one version is read by the next (fields
// it lacks take their defaults).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mkn::control {

// A process as the state names it: its pid and its start time (field 22 of /proc/<pid>/stat), so
// that a recycled pid is never taken for it. pid 0: none.
struct ProcessId {
  int pid = 0;
  uint64_t start_time = 0;
  bool operator==(const ProcessId&) const = default;
};

struct ContainerState {
  std::string name;
  std::string app;  // "http-echo" ... or "command"
  std::vector<std::string> command;
  std::vector<std::string> ports;  // "TCP/8080"
  ProcessId process;               // commands only
  bool operator==(const ContainerState&) const = default;
};

struct PodState {
  std::string name, node, ip, netns, deployment;
  std::vector<ContainerState> containers;
  std::string error;  // CNI labs: why the chain's ADD failed (the pod then has no address)
  bool operator==(const PodState&) const = default;
};

struct NodeState {
  std::string name, netns, underlay_ip, pod_cidr, gateway;
  std::string rack;  // "" in a state an older version wrote
  bool operator==(const NodeState&) const = default;
};

// A router of a routed underlay: a rack's ToR ("tor-r1") or the spine.
struct RouterState {
  std::string name, netns;
  bool operator==(const RouterState&) const = default;
};

// A BGP speaker (network = "bgp"): where it runs, how to ask it, and its process once started
// (pid and start time: how `down` stops it after minikube-net was killed).
struct SpeakerState {
  std::string name, role, netns, socket;
  int64_t asn = 0;
  ProcessId process;
  bool operator==(const SpeakerState&) const = default;
};

// [cluster] world: the world's namespace, addresses and names (`get world`, `exec world`, down).
struct WorldHostState {
  std::string name, ip;
  bool operator==(const WorldHostState&) const = default;
};
struct WorldState {
  std::string netns, cidr, gateway, attach;  // attach: the object its link ends on
  std::vector<WorldHostState> hosts;
  bool masquerade = true;
  bool operator==(const WorldState&) const = default;
};

struct ClusterState {
  std::string cluster;
  std::string lab;    // absolute path of the lab file
  std::string phase;  // "starting", "ready", "stopping"
  std::string network;
  std::string marker;
  ProcessId owner;
  int64_t started_at = 0;  // unix seconds
  int64_t ready_ms = 0;
  std::string underlay;                // "" with a routed underlay
  std::vector<RouterState> routers;    // a routed underlay's ToRs, then its spine
  std::vector<SpeakerState> speakers;  // network = "bgp"
  std::optional<WorldState> world;     // [cluster] world = true
  // proxy_mode = "ebpf": the cluster's cgroup v2 (vnet/ebpf/cgroup), recorded before its programs
  // are attached, so that `down` after a SIGKILL removes it; "" in the other modes.
  std::string cgroup;
  // `up --ui`: the dashboard's URL ("http://127.0.0.1:PORT/", the port the kernel gave `--ui 0`),
  // recorded once it listens, so that a script or a second terminal finds it (status -o json:
  // "ui"); "" without one.
  std::string ui;
  std::vector<NodeState> nodes;
  std::vector<PodState> pods;
  // NetworkPolicies changed while the cluster runs (`apply`, `delete netpol`; lib/config/mutate's
  // PolicyEdits): each applied policy's key with the file and text it came from (resolved again by
  // whoever reads the state), and the lab's policies deleted. Empty until a change.
  struct AppliedPolicy {
    std::string key, file, text;
    bool operator==(const AppliedPolicy&) const = default;
  };
  std::vector<AppliedPolicy> policies_applied;
  std::vector<std::string> policies_deleted;

  const PodState* FindPod(const std::string& name) const;
  bool operator==(const ClusterState&) const = default;
};

// The state as state.json holds it: one object, indented by 2, with a final newline.
std::string StateToJson(const ClusterState& s);
// StateToJson's text back. DataLoss naming what is wrong (not JSON, a required field missing:
// cluster, marker, underlay, nodes, pods, a node's or pod's name and netns; a field of the wrong
// type); the caller adds the file's path. Optional fields absent take their defaults.
absl::StatusOr<ClusterState> StateFromJson(std::string_view text);
// `get world`: the world's names and addresses, what each serves, where its link ends; and its
// `-o json` (the state's "world" object, indented by 2). Without a world, the text says so.
std::string WorldText(const ClusterState& s);
std::string WorldJson(const ClusterState& s);
// `-o json` of get pods / get nodes: that array of StateToJson, indented by 2.
std::string PodsJson(const ClusterState& s);
std::string NodesJson(const ClusterState& s);

}  // namespace mkn::control
