// vnet/cluster/cluster_impl — internal: what a RunningCluster holds, shared by the files that
// implement it (cluster.cc: up, down, kill, scale; down.cc: `down` by name, what a dead owner left;
// cluster_cni.cc: a CNI lab's ADD at up;
// cluster_bgp.cc: a BGP lab's speakers; control_handler.cc: the control verbs). Nothing else
// includes it.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/mutate.h"
#include "lib/config/spec.h"
#include "lib/dns/zone.h"
#include "lib/netpol/nft.h"
#include "lib/plan/plan.h"
#include "lib/proxy/nft_table.h"
#include "lib/proxy/sock_lb.h"
#include "vnet/apps/apps.h"
#include "vnet/cluster/applier.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/control.h"
#include "vnet/cni/runtime.h"
#include "vnet/ebpf/cgroup.h"
#include "vnet/ebpf/sock_lb.h"
#include "vnet/edge/ingress.h"
#include "vnet/geneve/pump.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/nft.h"
#include "vnet/proxy/proxy.h"

namespace mkn::vnet {

struct RunningCluster::Impl {
  Fd lock;
  Applied applied;
  std::unique_ptr<AppServer> apps;
  uint32_t dns_serial = 0;  // the cluster DNS zone's SOA serial: one more at every change
  std::unique_ptr<UserspaceProxy> proxy;  // proxy_mode = "userspace" with services
  std::unique_ptr<GenevePump> geneve;     // network = "geneve" (or node_routes = "geneve")
  std::unique_ptr<ControlServer> control;
  std::unique_ptr<IngressServer> ingress;  // the lab has listeners (ingresses or http_routes)
  config::ClusterSpec spec;                // as it is now: kill and scale change it
  std::string logs;                        // <state dir>/logs
  mutable std::mutex mu;  // spec, state, applied.netns, children: control thread vs main thread
  std::atomic<bool> down{true};  // nothing to take down until the intent is on disk
  // CNI labs: each node's chain (its filesystem view held open), the node daemons, and why a
  // pod's ADD failed (non-strict up: the rest of the lab came up).
  std::vector<std::unique_ptr<CniNode>> cni_nodes;
  std::vector<pid_t> daemons;
  std::map<std::string, std::string> pod_errors;
  // proxy_mode = "nftables": each node's table as this process last wrote it (cluster_nft.cc), and
  // the log of every transaction (logs/nftables.log).
  std::vector<proxy::NftTable> nft;
  std::vector<std::optional<NftContext>> nft_ctx;  // one per node, made inside it (none: RunNft)
  std::string nft_log;
  // NetworkPolicy: each node's `table inet mkn-netpol` as this process last wrote it (the plan's
  // at up), so a kill or scale rewrites only the nodes whose table changes.
  std::vector<netpol::NodeTable> netpol;
  // The lab file's policies (as at up) and what `apply` / `delete netpol` changed since: the live
  // policies are lib/config/mutate's ComposePolicies of the two.
  std::vector<config::NetworkPolicySpec> lab_policies;
  config::PolicyEdits policy_edits;
  // proxy_mode = "ebpf" (cluster_ebpf.cc): the cluster's cgroup, the programs attached to it, the
  // maps as this process last wrote them, the pods whose netns the programs translate, and the
  // cgroup's cgroup.procs open for Spawn.
  std::optional<LabCgroup> cgroup;
  std::unique_ptr<SockLb> sock_lb;
  proxy::SockLbMaps sock_lb_maps;
  struct SockLbPod {
    uint64_t netns_inode = 0;
    uint64_t netns_cookie = 0;  // its entry in mkn_netns
  };
  std::map<std::string, SockLbPod> sock_lb_pods;
  Fd cgroup_procs;
};

// A network = "bgp" lab's plan in three (cluster_bgp.cc): `plan` keeps what comes before its
// speakers (the links, routers and routes), `speakers` gets their start steps and `after` the
// rest (pods onward), applied while they converge.
void SplitAtSpeakers(plan::Plan& plan, plan::Plan& speakers, plan::Plan& after);

// down.cc: what a dead owner left, removed by what its state and markers prove ours (its
// processes stopped, CNI DEL of every cached attachment, the namespaces, the ebpf cgroup, the
// state directory): `down` of a cluster whose owner died, and an `up` that finds such a state.
absl::StatusOr<TeardownReport> RemoveFromState(const ClusterState& s);
// A CNI teardown's outcome, folded into the namespaces' report.
void AddCniReport(const CniTeardownReport& c, TeardownReport& r);

}  // namespace mkn::vnet
