// lib/netpol/nft — NetworkPolicy compiled into one nftables table per node (`table inet
// mkn-netpol`), and its drop counters read back.
//
// A node's table filters what its kernel forwards: routed packets, and (br_netfilter, which the
// plan turns on in every node of a lab with policies) frames bridged between two pods of the node.
// It hooks `forward` at priority filter, after the nftables proxy's DNAT (dstnat): a policy sees a
// Service's backend, not its ClusterIP, as in Kubernetes. Its shape (Calico's: a chain per
// endpoint that jumps to a chain per policy):
//
//   chain forward-egress   (hook forward, priority filter)      only when a local pod is isolated
//                        ct state established,related accept        (replies of allowed flows)
//                        ip saddr vmap { <local pod>: jump egress/<pod> }
//   chain forward-ingress  (priority filter + 1: an egress accept ends only its own base chain,
//                        so an allowed packet goes on to the ingress check; a drop ends both)
//                        ct state established,related accept
//                        ip daddr vmap { <local pod>: jump ingress/<pod> }
//   chain egress/<pod>   [userspace: the service CIDR `return`]
//                        jump policy/<ns>/<policy>/egress, one per policy isolating the pod;
//                        counter drops-egress/<pod> drop
//   chain ingress/<pod>  the node's own addresses accept; [userspace: the other nodes' proxy
//                        addresses accept]; jump policy/<ns>/<policy>/ingress ...;
//                        counter drops-ingress/<pod> drop
//   chain policy/<ns>/<policy>/<direction>   one rule per rule x peer x port: accept. The same
//                        for every pod it isolates (a named port is matched as address . port
//                        of each pod that has it), so changing a policy rewrites this one chain.
//   set <ns>/<policy>/<in|eg><rule>/<peer>   the peer's addresses: its pods' (a hash set, one
//                        element added or deleted as a pod comes or goes) or its ip_block (an
//                        interval set, with a .../except set)
//
// proxy_mode = "userspace" translates Services in a userspace NAT that hands the backend a flow
// from its node's proxy address: the kernel never sees client and backend in one packet, so that
// NAT judges Service flows itself (lib/netpol/flow_policy.h) and these chains let them through (the
// ClusterIP on the client's side, the proxy addresses on the backend's).
//
// Names are the pods' and policies' keys, so `nft list table inet mkn-netpol` in a node reads as
// the lab. The first transaction in a node writes the table whole (created, deleted and rebuilt,
// atomically); a change after that (a pod came or went, a policy was applied or deleted on the
// running cluster) is a delta of the objects that differ, as kube-proxy's nftables proxier writes
// its changes: chains flushed and refilled, sets and counters added or deleted, pod sets' elements
// added and deleted in place; what did not change (chains, sets, the drop counters' values) stays.
// At 1000 pods, a changed policy is one chain per node and a scaled pod one element per set
// (bench/netpol). Pure.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/spec.h"

namespace mkn::netpol {

inline constexpr std::string_view kTable = "mkn-netpol";  // in family inet

// The whole table of node `node_index` as one nft transaction; "" when the lab has no policy.
std::string RenderNodeTable(const config::ClusterSpec& spec, int node_index);

// A node's table as data, to write a change as a delta: `full` (RenderNodeTable's text), the same
// without the sets' elements (`skeleton`), each peer set's elements and declaration (`set_heads`:
// type, flags, comment), each named counter's comment, and each chain's rules in order (`forward`'s
// without its hook line).
struct NodeTable {
  std::string full, skeleton;
  std::map<std::string, std::vector<std::string>> sets;
  std::map<std::string, std::string> set_heads;
  std::map<std::string, std::string> counters;
  std::map<std::string, std::vector<std::string>> chains;
  std::map<std::string, std::string> chain_heads;  // a base chain's "type filter hook ...;"
};
NodeTable BuildNodeTable(const config::ClusterSpec& spec, int node_index);
// Every node's (index = NodeSpec::index), what they share of the lab computed once: at 1000 pods
// and 10 nodes, a tenth of ten BuildNodeTable calls.
std::vector<NodeTable> BuildNodeTables(const config::ClusterSpec& spec);

// The same, node by node: the constructor computes what the nodes share (which policies isolate
// each pod, each pod peer's addresses); Build is const and may run for several nodes on several
// threads at once (vnet/cluster does, on a loaded machine). `spec` must outlive the builder.
struct LabView;
class TableBuilder {
 public:
  explicit TableBuilder(const config::ClusterSpec& spec);
  ~TableBuilder();
  NodeTable Build(int node_index) const;

 private:
  std::unique_ptr<const LabView> lab_;
};

// The transaction from `before` to `after` in one node (one nft script, applied atomically):
// nothing when they are equal; `after` whole when the node had no table; `delete table` when it
// has none any more; else only what differs, in an order nft accepts within one transaction:
// chains that change or go (and those naming a set or counter that goes) flushed, the objects
// that go deleted, new sets, counters and chains added, changed sets' elements replaced, the
// flushed and new chains' rules added. Only peer sets differ (pods came and went elsewhere): just
// `delete element` / `add element` of the addresses that went and came (an interval set, an
// ip_block's, is flushed and refilled).
std::string RenderChange(const NodeTable& before, const NodeTable& after);

// "drops-ingress/x/a": the named counter of a pod's drops in one direction.
std::string DropCounter(std::string_view pod_key, bool ingress);

// Counter name → packets, from `nft list counters table inet mkn-netpol` output.
std::map<std::string, uint64_t> ParseCounters(std::string_view listing);

// `trace`'s verdict for a probe that got lost: the drop counters that moved between `before` and
// `after` (ParseCounters of every node, summed), each as "dropped by NetworkPolicy x/deny (ingress
// of x/a)" (every policy that isolates that pod in that direction: none of them allowed it),
// joined by "; "; "" when none moved (the probe died elsewhere). Traffic of others in the same
// moment can move a counter too: the caller says so.
std::string DropVerdict(const config::ClusterSpec& spec,
                        const std::map<std::string, uint64_t>& before,
                        const std::map<std::string, uint64_t>& after);

// `minikube-net get netpol`: one row per policy, the live pods it selects (`live`: pod keys that
// exist now; a scaled deployment's new replicas are matched by their deployment's labels) and the
// new flows dropped at those pods in the directions it isolates (`counters` from ParseCounters of
// every node). A pod isolated by several policies counts its drops under each.
std::string PolicyTable(const config::ClusterSpec& spec, const std::vector<std::string>& live,
                        const std::map<std::string, uint64_t>& counters);

}  // namespace mkn::netpol
