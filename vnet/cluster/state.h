// vnet/cluster/state — what a running cluster records under /run/minikube-net/<cluster>/.
//
//   state.json   written before the first kernel object is created (phase "starting", every
//                namespace the plan will make) and rewritten when ready; `down` works from it
//                after a crash or SIGKILL.
//   lock         flock()ed by the process that runs the cluster: free lock = no live owner.
//   logs/<pod>/<container>.log
// Files only; nothing here touches the network.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/control/format.h"
#include "vnet/cluster/applier.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {

struct ContainerState {
  std::string name;
  std::string app;  // "http-echo" ... or "command"
  std::vector<std::string> command;
  std::vector<std::string> ports;  // "TCP/8080"
  ChildProcess process;            // commands only
};

struct PodState {
  std::string name, node, ip, netns, deployment;
  std::vector<ContainerState> containers;
  std::string error;  // CNI labs: why the chain's ADD failed (the pod then has no address)
};

struct NodeState {
  std::string name, netns, underlay_ip, pod_cidr, gateway;
};

struct ClusterState {
  std::string cluster;
  std::string lab;    // absolute path of the lab file
  std::string phase;  // "starting", "ready", "stopping"
  std::string network;
  std::string marker;
  ChildProcess owner;
  int64_t started_at = 0;  // unix seconds
  int64_t ready_ms = 0;
  std::string underlay;
  std::vector<NodeState> nodes;
  std::vector<PodState> pods;

  ClusterNetns Netns() const;
  std::vector<ChildProcess> Processes() const;
  const PodState* FindPod(const std::string& name) const;
};

ClusterState StateFromSpec(const config::ClusterSpec& spec, const std::string& lab_path);

std::string StateDirOf(const std::string& cluster);
absl::Status WriteState(const ClusterState& s);  // atomic: write a temp file, rename
absl::StatusOr<ClusterState> ReadState(const std::string& cluster);  // NotFound if absent
std::string StateToJson(const ClusterState& s);
// Names of clusters with a state directory.
std::vector<std::string> ListClusters();

// What the CLI shows of a state (tables: lib/control/format.h). `get pods`, `get nodes`, and the
// tables `up` prints when ready:
std::vector<control::PodRow> PodRows(const ClusterState& s);
std::vector<control::NodeRow> NodeRows(const ClusterState& s);
// `-o json` of get pods / get nodes: that array of StateToJson, indented by 2.
std::string PodsJson(const ClusterState& s);
std::string NodesJson(const ClusterState& s);
// `status`: a row per cluster of `names` whose state reads (alive: a live process holds its lock).
std::vector<control::ClusterRow> ClusterRows(const std::vector<std::string>& names);
// `status -o json`: the state of each cluster of `names` that reads, as one JSON array.
std::string StatesJson(const std::vector<std::string>& names);

// Takes the cluster's lock without waiting. FailedPrecondition if another live process holds it.
absl::StatusOr<Fd> LockCluster(const std::string& cluster);
// True if some live process holds the cluster's lock.
bool ClusterLocked(const std::string& cluster);
// Removes the state directory and everything in it.
absl::Status RemoveStateDir(const std::string& cluster);

}  // namespace mkn::vnet
