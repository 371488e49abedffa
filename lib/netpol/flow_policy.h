// lib/netpol/flow_policy — NetworkPolicy as a per-flow verdict, for a data path that translates
// Services itself (the userspace proxy, lib/nat): the model of policy.h compiled once per change of
// the lab (policies applied or deleted, pods killed or scaled) into address-keyed tables, then
// asked for each new flow after its Service translation, as Kubernetes applies policy to the
// backend pod.
//
// Why the NAT must ask: it hands the backend a packet from the node's proxy address, never from the
// client, so the kernel's per-pod chains (nft.h) cannot see who the client was. The NAT therefore
// decides both ends — the client's egress towards the chosen backend and the backend's ingress from
// the client, with ports, named ports (the backend's), protocol and ip_block as policy.h says — and
// only flows it allowed reach the kernel, whose chains then accept the proxy's addresses.
//
// A verdict names the drop counter to charge (DropCounter: the client's egress when its egress is
// what denies, else the backend's ingress), so `get netpol` and `trace` read one set of counters
// whichever part dropped the flow. Decide() allocates nothing and reads only this object: the NAT
// asks it per new flow (a SYN, a UDP datagram of no flow), never per packet. Immutable once built,
// so one instance is shared by every node's NAT and swapped whole. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "lib/config/spec.h"
#include "lib/net/ip.h"
#include "lib/net/ip_addr.h"

namespace mkn::netpol {

struct FlowVerdict {
  bool allowed = true;
  // When denied: DropCounter's name of the counter charged (points into the FlowPolicy, which
  // outlives the verdict's use).
  std::string_view counter;
  bool ingress = false;  // which direction denied it
};

class FlowPolicy {
 public:
  // Everything allowed (a lab without policies).
  FlowPolicy() = default;
  static FlowPolicy Build(const config::ClusterSpec& spec);

  // True when no policy isolates any pod: every flow is allowed, and a caller may skip Decide().
  bool empty() const { return !any_; }

  // A new flow src:* -> dst:port/proto, where dst is the address after Service translation.
  // Addresses of no pod are outside the lab (ip_block decides), except that a pod's own node (its
  // bridge gateway, its underlay address or its proxy address) always reaches it, as kubelet's
  // probes do.
  FlowVerdict Decide(net::Ipv4 src, net::Ipv4 dst, config::PolicyProtocol proto, int port) const;

  // Whether the drop counter `name` ("drops-ingress/x/a") still counts: its pod is isolated in
  // that direction, so the kernel's chain (and its counter) exists. One that does not starts
  // again at zero when the pod is isolated again, as the kernel's does.
  bool Counts(std::string_view name) const;

 private:
  struct Peer {
    bool ip_block = false;
    net::IpPrefix cidr;
    std::vector<net::IpPrefix> except;
    absl::flat_hash_set<uint32_t> pods;  // the selected pods' addresses
  };
  struct Rule {
    std::vector<Peer> peers;  // empty: every peer
    std::vector<config::PolicyPortSpec> ports;
  };
  struct Policy {
    std::vector<Rule> ingress, egress;
  };
  struct Pod {
    config::PodSpec spec;              // its container ports, for named ports
    std::vector<int> ingress, egress;  // the policies isolating it, per direction (often none)
    std::string ingress_counter, egress_counter;
    net::Ipv4 own[3];  // its node's gateway, underlay and proxy addresses
  };

  static bool PeerHas(const Peer& p, net::Ipv4 ip);
  bool RuleAllows(const Rule& r, net::Ipv4 peer, const config::PodSpec* dst,
                  config::PolicyProtocol proto, int port) const;

  bool any_ = false;                          // some policy isolates some pod
  std::vector<Policy> policies_;              // as spec.network_policies
  std::vector<Pod> pods_;                     // every pod with an address
  absl::flat_hash_map<uint32_t, int> by_ip_;  // a pod's address -> its index in pods_
};

}  // namespace mkn::netpol
