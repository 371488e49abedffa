// lib/proxy/nft_ruleset — the nftables proxy mode: a node's Services as a kube-proxy-shaped
// ruleset.
//
// RenderNftRuleset() is pure: the spec's services, with their current endpoints
// (ServiceSpec::endpoints, indices into spec.pods), become the text of one atomic nft transaction
// that (re)creates table `ip kube-proxy` in the node's namespace. Loading it again with other
// endpoints replaces the table in one transaction, so no packet ever sees half a ruleset. Same
// input, same text, byte for byte.
//
// The shape is kube-proxy's nftables mode (kubernetes pkg/proxy/nftables/proxier.go), with its
// names:
//
//   nat-prerouting / nat-output  ->  services:  ip daddr . meta l4proto . th dport vmap
//   @service-ips
//                                               fib daddr type local ... vmap @service-nodeports
//   service-<H>-default/<svc>/<proto>/<port>   one per service port: masquerade mark for non-pod
//       sources, affinity lookups, then `numgen random|inc mod N` / `jhash ip saddr mod N` vmap
//   external-<H>-...                           NodePort entry: mark for masquerade, goto
//   service-... endpoint-<H>-...__<ip>/<port>              one per backend: mark hairpin, [affinity
//   update], dnat nat-postrouting -> masquerading            masquerade what carries mark 0x4000
//   filter-input/forward/output                no-endpoint-services / no-endpoint-nodeports: reject
//                                              (TCP with a reset, the rest ICMP port unreachable)
//
// What a backend sees: the client pod's own address for pod -> ClusterIP (no SNAT); the node's
// address on the way to the backend (cbr0 or vxlan0/eth0) when the flow was masqueraded: NodePort
// traffic (externalTrafficPolicy=Cluster), hairpin (a pod reaching itself through its service) and
// sources outside the pod CIDR. docs/services-nftables.md walks through it.
//
// ParseNftCounters() reads the table back: `nft -j list table ip kube-proxy` in a node, the
// counter rule that opens each service chain (above), matched to the spec's service ports by the
// chain names this file gives them. ServicePortOfFlow() says which service port a flow of the
// kernel's conntrack table was sent to. Together they are `get svc`'s counters in nftables mode,
// and `conntrack`'s SERVICE column (ServicePortLabel).
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
// Kubernetes namespace in chain names: the lab has one, as a fresh cluster's "default".
inline constexpr std::string_view kNamespace = "default";

// The text of one nft transaction for node `node_index` (an index into spec.nodes).
std::string RenderNftRuleset(const config::ClusterSpec& spec, int node_index);

// Chain names, as kube-proxy builds them: "<prefix>-<8 base32 chars of a
// hash>-default/<svc>/<proto>/<port>" where <port> is the port's name, or its number when unnamed.
// The hash keeps names unique and lets a reader match a service chain with its endpoint chains at a
// glance. Endpoint chains and affinity sets append "__<ip>/<port>".
std::string ServicePortChain(std::string_view prefix, const config::ServiceSpec& svc,
                             const config::ServicePortSpec& port);
std::string EndpointChain(std::string_view prefix, const config::ServiceSpec& svc,
                          const config::ServicePortSpec& port, std::string_view ip,
                          int target_port);

// New flows of each service port on one node: the packets of the counter rule that opens the port's
// service chain (NAT chains see only a flow's first packet), summed if a chain has several.
// `nft_json` is what `nft -j list table ip kube-proxy` printed for a table RenderNftRuleset(spec)
// made. out[i][j] is spec.services[i].ports[j]'s count; 0 when its chain has no counter, or no
// chain (a port without endpoints has none). Rules of other chains are ignored: the base chains,
// endpoint chains, a chain no port of `spec` is named by. InvalidArgument if the text is not JSON,
// not nft's shape ({"nftables": [...]}), or a service chain's counter has no unsigned "packets".
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
