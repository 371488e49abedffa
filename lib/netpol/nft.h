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
// the lab. A transaction is written whole (the table created, deleted and rebuilt, atomically).
// Pure.
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
// without the sets' elements (`skeleton`), and each peer set's elements.
struct NodeTable {
  std::string full, skeleton;
  std::map<std::string, std::vector<std::string>> sets;
};
NodeTable BuildNodeTable(const config::ClusterSpec& spec, int node_index);

// The transaction from `before` to `after` in one node: nothing when they are equal; when only
// peer sets differ (pods came and went elsewhere), `flush set` + `add element` for each changed
// set, so the chains and their drop counters stay; else `after` whole.
std::string RenderChange(const NodeTable& before, const NodeTable& after);

// "drops-ingress/x/a": the named counter of a pod's drops in one direction.
std::string DropCounter(std::string_view pod_key, bool ingress);

// Counter name → packets, from `nft list counters table inet mkn-netpol` output.
std::map<std::string, uint64_t> ParseCounters(std::string_view listing);

// `minikube-net get netpol`: one row per policy, the live pods it selects (`live`: pod keys that
// exist now; a scaled deployment's new replicas are matched by their deployment's labels) and the
// new flows dropped at those pods in the directions it isolates (`counters` from ParseCounters of
// every node). A pod isolated by several policies counts its drops under each.
std::string PolicyTable(const config::ClusterSpec& spec, const std::vector<std::string>& live,
                        const std::map<std::string, uint64_t>& counters);

}  // namespace mkn::netpol
