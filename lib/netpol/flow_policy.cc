// FlowPolicy (flow_policy.h): policy.h's model with its selectors resolved to address sets once,
// so that a verdict is a few hash lookups. Table-tested against policy.h's Allowed() on every
// case of examples/netpol (netpol_test).

#include "lib/netpol/flow_policy.h"

#include <algorithm>

#include "lib/netpol/nft.h"
#include "lib/netpol/policy.h"

namespace mkn::netpol {

using config::ClusterSpec;
using config::NetworkPolicySpec;
using config::PodSpec;
using config::PolicyPeerSpec;
using config::PolicyRuleSpec;

FlowPolicy FlowPolicy::Build(const ClusterSpec& spec) {
  FlowPolicy fp;
  const std::vector<Isolation> iso = Isolate(spec);
  for (size_t i = 0; i < spec.pods.size(); ++i) {
    const PodSpec& p = spec.pods[i];
    if (p.ip.value == 0) continue;  // a CNI pod whose ADD failed has none
    Pod pod;
    pod.spec = p;
    pod.ingress = iso[i].ingress;
    pod.egress = iso[i].egress;
    fp.any_ = fp.any_ || !pod.ingress.empty() || !pod.egress.empty();
    const std::string key = config::QualifiedName(p.ns, config::NameOfKey(p.name));
    pod.ingress_counter = DropCounter(key, true);
    pod.egress_counter = DropCounter(key, false);
    if (p.node >= 0 && static_cast<size_t>(p.node) < spec.nodes.size()) {
      const config::NodeSpec& n = spec.nodes[p.node];
      pod.own[0] = n.gateway;
      pod.own[1] = n.underlay_ip;
      pod.own[2] = n.proxy_ip;
    }
    fp.by_ip_[p.ip.value] = static_cast<int>(fp.pods_.size());
    fp.pods_.push_back(std::move(pod));
  }
  if (!fp.any_) return FlowPolicy();
  for (const NetworkPolicySpec& np : spec.network_policies) {
    Policy& out = fp.policies_.emplace_back();
    for (bool ingress : {true, false}) {
      for (const PolicyRuleSpec& r : ingress ? np.ingress_rules : np.egress_rules) {
        Rule rule;
        rule.ports = r.ports;
        for (const PolicyPeerSpec& peer : r.peers) {
          Peer& pe = rule.peers.emplace_back();
          pe.ip_block = peer.has_ip_block;
          if (pe.ip_block) {
            pe.cidr = peer.ip_block.cidr;
            pe.except = peer.ip_block.except;
            continue;
          }
          for (const PodSpec& p : spec.pods) {
            if (p.ip.value != 0 && PeerSelectsPod(spec, np, peer, p)) pe.pods.insert(p.ip.value);
          }
        }
        (ingress ? out.ingress : out.egress).push_back(std::move(rule));
      }
    }
  }
  return fp;
}

bool FlowPolicy::PeerHas(const Peer& p, net::Ipv4 ip) {
  if (!p.ip_block) return p.pods.contains(ip.value);
  const net::IpAddr a = net::IpAddr::FromV4(ip);
  if (!p.cidr.Contains(a)) return false;
  return std::none_of(p.except.begin(), p.except.end(),
                      [&](const net::IpPrefix& e) { return e.Contains(a); });
}

bool FlowPolicy::RuleAllows(const Rule& r, net::Ipv4 peer, const PodSpec* dst,
                            config::PolicyProtocol proto, int port) const {
  const bool peer_ok =
      r.peers.empty() ||
      std::any_of(r.peers.begin(), r.peers.end(), [&](const Peer& p) { return PeerHas(p, peer); });
  if (!peer_ok) return false;
  if (r.ports.empty()) return true;
  return std::any_of(r.ports.begin(), r.ports.end(), [&](const config::PolicyPortSpec& p) {
    if (p.protocol != proto) return false;
    const std::optional<std::pair<int, int>> range = PortRange(p, dst);
    return range && (range->first == 0 || (port >= range->first && port <= range->second));
  });
}

FlowVerdict FlowPolicy::Decide(net::Ipv4 src, net::Ipv4 dst, config::PolicyProtocol proto,
                               int port) const {
  if (!any_) return {};
  auto s = by_ip_.find(src.value);
  auto d = by_ip_.find(dst.value);
  const Pod* src_pod = s == by_ip_.end() ? nullptr : &pods_[s->second];
  const Pod* dst_pod = d == by_ip_.end() ? nullptr : &pods_[d->second];
  const PodSpec* dst_spec = dst_pod == nullptr ? nullptr : &dst_pod->spec;
  // The client's egress first, as a node's forward chain checks it before the destination's
  // ingress (nft.h): a flow both ends deny is counted against the client.
  // The union of the isolating policies' rules: the first rule that allows ends the walk (as the
  // first accepting rule of a pod's chain does), so an allowed flow pays for the rules before it.
  auto any_allows = [&](const std::vector<int>& pols, bool ingress, net::Ipv4 peer) {
    for (int k : pols) {
      for (const Rule& r : ingress ? policies_[k].ingress : policies_[k].egress) {
        if (RuleAllows(r, peer, dst_spec, proto, port)) return true;
      }
    }
    return false;
  };
  if (src_pod != nullptr && !src_pod->egress.empty() && !any_allows(src_pod->egress, false, dst)) {
    return {false, src_pod->egress_counter, false};
  }
  if (dst_pod != nullptr && !dst_pod->ingress.empty()) {
    if (src_pod == nullptr && src.value != 0 &&
        std::find(std::begin(dst_pod->own), std::end(dst_pod->own), src) !=
            std::end(dst_pod->own)) {
      return {};  // the pod's own node (kubelet's probes)
    }
    if (!any_allows(dst_pod->ingress, true, src)) return {false, dst_pod->ingress_counter, true};
  }
  return {};
}

bool FlowPolicy::Counts(std::string_view name) const {
  for (const Pod& p : pods_) {
    if (!p.ingress.empty() && p.ingress_counter == name) return true;
    if (!p.egress.empty() && p.egress_counter == name) return true;
  }
  return false;
}

}  // namespace mkn::netpol
