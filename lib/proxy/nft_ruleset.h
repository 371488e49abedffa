// lib/proxy/nft_ruleset — the nftables proxy mode: a node's Services as a kube-proxy-shaped
// ruleset, and what the kernel's copy of it says back.
//
// RenderNftRuleset() is pure: the spec's services, with their current endpoints
// (ServiceSpec::endpoints, indices into spec.pods), become the text of one atomic nft transaction
// that (re)creates table `ip kube-proxy` in the node's namespace: lib/proxy/nft_table's full sync,
// with a banner naming the cluster and node. Changes after that are nft_table's deltas. Same input,
// same text, byte for byte.
//
// The names are kube-proxy's nftables mode's (kubernetes pkg/proxy/nftables/proxier.go): table
// `ip kube-proxy`, nat-prerouting / nat-output -> services -> `vmap @service-ips`, service-<H>-
// default/<svc>/<proto>/<port> chains, external-... for NodePorts, affinity-... sets,
// mark-for-masquerade (mark 0x4000) / masquerading, no-endpoint-services / -nodeports ->
// reject-chain. What differs, and why (a service costs map elements, not rules), is in
// nft_table.h and docs/services-nftables.md.
//
// What a backend sees: the client pod's own address for pod -> ClusterIP (no SNAT); the node's
// address on the way to the backend (cbr0 or vxlan0/eth0) when the flow was masqueraded: NodePort
// traffic (externalTrafficPolicy=Cluster), hairpin (a pod reaching itself through its service) and
// sources outside the pod CIDR.
//
// ParseNftCounters() reads the table back: `nft -j list table ip kube-proxy` in a node, the
// per-element counters of service-ips and service-nodeports (every new flow of a service port
// passes one of them once), matched to the spec's service ports by their keys.
// ServicePortOfFlow() says which service port a flow of the kernel's conntrack table was sent to.
// Together they are `get svc`'s counters in nftables mode, and `conntrack`'s SERVICE column
// (ServicePortLabel).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/net/ip.h"

namespace mkn::proxy {

// The mark kube-proxy uses for "masquerade this flow in postrouting".
inline constexpr std::string_view kMasqueradeMark = "0x4000";

// The text of one nft transaction that writes node `node_index`'s table whole (an index into
// spec.nodes): NftTable::Build(spec).RenderFull(NftBanner(spec, node_index)).
std::string RenderNftRuleset(const config::ClusterSpec& spec, int node_index);

// The comment lines the full transaction of node `node_index` opens with (cluster and node, the
// shape in one line, what nftables cannot do for this lab).
std::vector<std::string> NftBanner(const config::ClusterSpec& spec, int node_index);

// Chain names, as kube-proxy builds them: "<prefix>-<8 base32 chars of a
// hash>-default/<svc>/<proto>/<port>" where <port> is the port's name, or its number when unnamed.
// The hash keeps names unique and lets a reader match a service chain with its external chain at a
// glance. Affinity sets (one per endpoint, as kube-proxy's) append "__<ip>/<port>".
std::string ServicePortChain(std::string_view prefix, const config::ServiceSpec& svc,
                             const config::ServicePortSpec& port);
std::string EndpointChain(std::string_view prefix, const config::ServiceSpec& svc,
                          const config::ServicePortSpec& port, std::string_view ip,
                          int target_port);

// New flows of each service port on one node: the packets counted by the port's element of
// service-ips plus its element of service-nodeports (NAT chains see only a flow's first packet, and
// every port has its elements whether it has endpoints or not, so flows refused for want of one
// count too). `nft_json` is what `nft -j list table ip kube-proxy` printed for a table
// RenderNftRuleset(spec) made. out[i][j] is spec.services[i].ports[j]'s count; 0 when its element
// has no counter or is missing. Other sets, maps and rules are ignored, and so are elements no port
// of `spec` has. InvalidArgument if the text is not JSON, not nft's shape ({"nftables": [...]}), or
// an element's counter has no unsigned "packets".
absl::StatusOr<std::vector<std::vector<uint64_t>>> ParseNftCounters(const config::ClusterSpec& spec,
                                                                    std::string_view nft_json);

// The algorithm nftables serves for a service that asks for `a`: `a` itself, except least-conn,
// which no nftables expression can compute (the kernel keeps no per-backend connection count a rule
// could read; IPVS does), so it is served as random. `get svc` shows this one, not the lab's.
config::Algorithm NftAlgorithm(config::Algorithm a);

// How `conntrack` and the counters name a service port in both proxy modes: "web:http" for a named
// port, "web:80/TCP" otherwise (lib/nat's ServicePort::Label, which the userspace proxy's flows
// carry), so a flow reads the same whichever mode translated it.
std::string ServicePortLabel(const config::ServiceSpec& svc, const config::ServicePortSpec& port);

// The service port (indices into spec.services and its ports) a translated flow was sent to,
// from the flow's original destination: a ClusterIP and port, else a node's underlay address and
// a NodePort. `protocol` is conntrack's "tcp" or "udp". nullopt if it is neither.
std::optional<std::pair<int, int>> ServicePortOfFlow(const config::ClusterSpec& spec,
                                                     net::Ipv4 orig_dst, int orig_dport,
                                                     std::string_view protocol);

}  // namespace mkn::proxy
