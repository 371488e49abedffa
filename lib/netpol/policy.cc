// The model of policy.h: selection, peers, named ports and the verdict, written straight from the
// NetworkPolicy API's field descriptions so that the compiled nftables rules (nft.cc) have an
// independent truth to be compared with.

#include "lib/netpol/policy.h"

#include <algorithm>

namespace mkn::netpol {

using config::ClusterSpec;
using config::NetworkPolicySpec;
using config::PodSpec;
using config::PolicyPeerSpec;
using config::PolicyPortSpec;
using config::PolicyRuleSpec;

std::vector<Isolation> Isolate(const ClusterSpec& spec) {
  std::vector<Isolation> out(spec.pods.size());
  for (size_t k = 0; k < spec.network_policies.size(); ++k) {
    const NetworkPolicySpec& np = spec.network_policies[k];
    for (size_t i = 0; i < spec.pods.size(); ++i) {
      const PodSpec& p = spec.pods[i];
      if (p.ns != np.ns || !np.pod_selector.Matches(p.labels)) continue;
      if (np.ingress) out[i].ingress.push_back(static_cast<int>(k));
      if (np.egress) out[i].egress.push_back(static_cast<int>(k));
    }
  }
  return out;
}

const std::map<std::string, std::string>& NamespaceLabels(const ClusterSpec& spec,
                                                          const std::string& ns) {
  static const std::map<std::string, std::string> kNone;
  const config::NamespaceSpec* n = spec.FindNamespace(ns);
  return n == nullptr ? kNone : n->labels;
}

bool PeerSelectsPod(const ClusterSpec& spec, const NetworkPolicySpec& policy,
                    const PolicyPeerSpec& peer, const PodSpec& pod) {
  if (peer.has_ip_block) {
    const net::IpAddr ip = net::IpAddr::FromV4(pod.ip);
    if (!peer.ip_block.cidr.Contains(ip)) return false;
    return std::none_of(peer.ip_block.except.begin(), peer.ip_block.except.end(),
                        [&](const net::IpPrefix& e) { return e.Contains(ip); });
  }
  // Only a pod selector: pods of the policy's own namespace. A namespace selector: pods of the
  // namespaces it matches (every pod, or those the pod selector matches too).
  const bool ns_ok = peer.has_namespace_selector
                         ? peer.namespace_selector.Matches(NamespaceLabels(spec, pod.ns))
                         : pod.ns == policy.ns;
  if (!ns_ok) return false;
  return !peer.has_pod_selector || peer.pod_selector.Matches(pod.labels);
}

std::optional<std::pair<int, int>> PortRange(const PolicyPortSpec& port, const PodSpec* dst) {
  if (port.port_name.empty()) {
    if (port.port == 0) return std::make_pair(0, 0);
    return std::make_pair(port.port, port.end_port == 0 ? port.port : port.end_port);
  }
  if (dst == nullptr) return std::nullopt;  // a named port exists only on pods
  const config::Protocol want = port.protocol == config::PolicyProtocol::kUdp
                                    ? config::Protocol::kUdp
                                    : config::Protocol::kTcp;
  for (const config::ContainerSpec& c : dst->containers) {
    for (const config::ContainerPort& cp : c.ports) {
      if (cp.name == port.port_name && cp.protocol == want) return std::make_pair(cp.port, cp.port);
    }
  }
  return std::nullopt;
}

namespace {

bool PeerSelectsEnd(const ClusterSpec& spec, const NetworkPolicySpec& policy,
                    const PolicyPeerSpec& peer, End e) {
  if (e.pod >= 0) return PeerSelectsPod(spec, policy, peer, spec.pods[e.pod]);
  if (!peer.has_ip_block) return false;  // selectors choose pods only
  const net::IpAddr ip = net::IpAddr::FromV4(e.ip);
  if (!peer.ip_block.cidr.Contains(ip)) return false;
  return std::none_of(peer.ip_block.except.begin(), peer.ip_block.except.end(),
                      [&](const net::IpPrefix& x) { return x.Contains(ip); });
}

bool PortMatches(const PolicyPortSpec& p, const PodSpec* dst, config::PolicyProtocol proto,
                 int port) {
  if (p.protocol != proto) return false;
  std::optional<std::pair<int, int>> r = PortRange(p, dst);
  if (!r) return false;
  return r->first == 0 || (port >= r->first && port <= r->second);
}

bool RuleAllows(const ClusterSpec& spec, const NetworkPolicySpec& policy,
                const PolicyRuleSpec& rule, End peer, const PodSpec* dst,
                config::PolicyProtocol proto, int port) {
  const bool peer_ok =
      rule.peers.empty() || std::any_of(rule.peers.begin(), rule.peers.end(), [&](const auto& p) {
        return PeerSelectsEnd(spec, policy, p, peer);
      });
  if (!peer_ok) return false;
  return rule.ports.empty() ||
         std::any_of(rule.ports.begin(), rule.ports.end(),
                     [&](const auto& p) { return PortMatches(p, dst, proto, port); });
}

}  // namespace

bool Allowed(const ClusterSpec& spec, End src, End dst, config::PolicyProtocol proto, int port) {
  const std::vector<Isolation> iso = Isolate(spec);
  const PodSpec* dst_pod = dst.pod >= 0 ? &spec.pods[dst.pod] : nullptr;
  if (src.pod >= 0 && !iso[src.pod].egress.empty()) {
    bool ok = false;
    for (int k : iso[src.pod].egress) {
      const NetworkPolicySpec& np = spec.network_policies[k];
      for (const PolicyRuleSpec& r : np.egress_rules)
        ok = ok || RuleAllows(spec, np, r, dst, dst_pod, proto, port);
    }
    if (!ok) return false;
  }
  if (dst.pod >= 0 && !iso[dst.pod].ingress.empty()) {
    // The pod's own node reaches it whatever the policies say (kubelet's probes).
    const config::NodeSpec& own = spec.nodes[dst_pod->node];
    if (src.pod < 0 && (src.ip == own.gateway || src.ip == own.proxy_ip)) return true;
    bool ok = false;
    for (int k : iso[dst.pod].ingress) {
      const NetworkPolicySpec& np = spec.network_policies[k];
      for (const PolicyRuleSpec& r : np.ingress_rules)
        ok = ok || RuleAllows(spec, np, r, src, dst_pod, proto, port);
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace mkn::netpol
