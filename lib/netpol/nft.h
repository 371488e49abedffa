// lib/netpol/nft — NetworkPolicy compiled into one nftables table per node (`table inet
// mkn-netpol`), and its drop counters read back.
//
// A node's table filters what its kernel forwards: routed packets, and (br_netfilter, which the
// plan turns on in every node of a lab with policies) frames bridged between two pods of the node.
// It hooks `forward` at priority filter, after the nftables proxy's DNAT (dstnat): a policy sees a
// Service's backend, not its ClusterIP, as in Kubernetes. Its shape:
//
//   chain forward        ct state established,related accept        (replies of allowed flows)
//                        ip saddr vmap { <local pod>: jump egress/<pod> }   (isolated for egress)
//                        ip daddr vmap { <local pod>: jump ingress/<pod> }  (isolated for ingress)
//   chain egress/<pod>   one rule per policy rule x peer x port: `return` (go on to ingress)
//                        counter drops-egress/<pod> drop
//   chain ingress/<pod>  the node's own addresses accept; one rule per rule x peer x port: accept
//                        counter drops-ingress/<pod> drop
//   set <ns>/<policy>/<in|eg><rule>/<peer>   the peer's addresses: its pods' (updated as pods come
//                        and go) or its ip_block (with a .../except set)
//
// Names are the pods' and policies' keys, so `nft list table inet mkn-netpol` in a node reads as
// the lab. The first transaction in a node writes the table whole (created, deleted and rebuilt,
// atomically); a change after that (a pod came or went, a policy was applied or deleted on the
// running cluster) is a delta of the objects that differ, as kube-proxy's nftables proxier writes
// its changes: chains flushed and refilled, sets and counters added or deleted, peer sets' elements
// replaced; what did not change (chains, sets, the drop counters' values) stays. Pure.
#pragma once

#include <cstdint>
#include <map>
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
};
NodeTable BuildNodeTable(const config::ClusterSpec& spec, int node_index);

// The transaction from `before` to `after` in one node (one nft script, applied atomically):
// nothing when they are equal; `after` whole when the node had no table; `delete table` when it
// has none any more; else only what differs, in an order nft accepts within one transaction:
// chains that change or go (and those naming a set or counter that goes) flushed, the objects
// that go deleted, new sets, counters and chains added, changed sets' elements replaced, the
// flushed and new chains' rules added. Only peer sets differ (pods came and went elsewhere): just
// `flush set` + `add element` of each changed set.
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
