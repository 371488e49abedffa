// lib/world — the world outside the cluster ([cluster] world = true): what it answers and how the
// nodes reach it, decided here and carried out by the plan (lib/plan) and vnet/.
//
// The world is a lab namespace on the underlay side standing in for the Internet (spec.h's
// WorldSpec). Pods reach it as a cluster's pods reach the Internet: through their node, which
// masquerades (SNATs to its own underlay address) what its pods send outside the cluster's ranges,
// as kindnet's and ip-masq-agent's rules do. In-cluster traffic (pod to pod, pod to Service, pod to
// node) is never rewritten, so a pod's address stays what every other pod sees (rule 1 of the
// Kubernetes network model). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/config/spec.h"
#include "lib/net/ip_addr.h"

namespace mkn::world {

// The zone the world answers for: its names are under it.
inline constexpr std::string_view kZone = config::kWorldZone;
// Its built-in servers, on every address of the world (RFC 862's echo port for tcp/udp-echo).
inline constexpr int kHttpPort = 80;
inline constexpr int kEchoPort = 7;
inline constexpr int kDnsPort = 53;

// The ranges a node never masquerades toward: the pod and service CIDRs and the underlay's (the
// nodes' own addresses, and a routed underlay's racks and links, lie inside it), in that order.
std::vector<net::IpPrefix> ClusterRanges(const config::ClusterSpec& spec);

// Node `node_index`'s `table ip mkn-egress` as one nft transaction (created, deleted, rebuilt:
// idempotent): a postrouting nat chain that masquerades packets from the pod CIDR to anywhere
// outside ClusterRanges() leaving through the node's underlay interface, with a counter.
// "" when the world is off or the lab's pod side is a CNI chain's (WorldSpec::masquerade).
std::string RenderEgress(const config::ClusterSpec& spec, int node_index);

// What the world's DNS says about a name (case-insensitive, a trailing dot allowed).
enum class Answer {
  kAddress,   // a name of the world: `addrs` holds its address
  kNxDomain,  // under example.test, but no such name
  kRefused,   // outside the zone: the world is authoritative for example.test only
};
struct LookupResult {
  Answer answer = Answer::kRefused;
  std::vector<net::IpAddr> addrs;
};
LookupResult Lookup(const config::WorldSpec& world, std::string_view name);

// True when `ip` is one of the world's addresses (hosts or the cluster side's .1 excluded).
bool IsWorldAddress(const config::WorldSpec& world, const net::IpAddr& ip);

}  // namespace mkn::world
