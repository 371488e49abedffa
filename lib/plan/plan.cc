// Long file: BuildPlan and its two renderers (shell, JSON) each cover every step type, kept in one
// file so that a new kernel object is added in one place (CONTRIBUTING.md, "Adding a kernel
// object").
#include "lib/plan/plan.h"

#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "absl/strings/str_join.h"
#include "lib/bgp/bird_config.h"
#include "lib/geneve/header.h"
#include "lib/net/naming.h"
#include "lib/netpol/nft.h"
#include "lib/proxy/nft_ruleset.h"
#include "lib/strings/str_cat.h"
#include "lib/world/world.h"

namespace mkn::plan {
namespace {

using config::ClusterSpec;
using config::NetworkMode;

class Builder {
 public:
  explicit Builder(Plan& plan) : plan_(plan) {}
  void At(int phase, int group) {
    phase_ = phase;
    group_ = group;
  }
  template <typename T>
  void Add(T op) {
    if constexpr (std::is_same_v<T, CreateNetns>) plan_.netns.push_back(op.name);
    plan_.steps.push_back(Step{phase_, group_, std::move(op)});
  }

 private:
  Plan& plan_;
  int phase_ = 0;
  int group_ = 0;
};

constexpr int kIpprotoTcp = 6;
constexpr int kIpprotoUdp = 17;
constexpr int kLocalTable = 255;
// The local table moves from 0 to here so NodePort rules can come first (kube-proxy needs no such
// move: iptables sees the packet before routing does).
constexpr int kLocalRulePref = 1000;
constexpr int kNodePortRulePref = 100;
constexpr int kNodePortMin = 30000, kNodePortMax = 32767;

// Userspace mode: a TUN per node; the service CIDR and the node's proxy address route into it,
// NodePort traffic for the node's own address is steered into it by policy routing, and the node
// answers ARP for the proxy address on cbr0 so local pods reach it on-link.
// nftables mode: bridged frames through conntrack (br_netfilter), the service CIDR routed to cbr0,
// and one kube-proxy-shaped ruleset per node (lib/proxy/nft_ruleset).
// NetworkPolicy: each node's `table inet mkn-netpol`. Pods of one node talk over cbr0, a bridge:
// br_netfilter sends those frames through the forward hook and conntrack, where the table sees
// them (per netns since 5.3; the nftables proxy mode turns it on too).
void AddNetworkPolicies(const ClusterSpec& spec, Builder& b) {
  if (spec.network_policies.empty()) return;
  for (const config::NodeSpec& n : spec.nodes) {
    b.At(kPhaseServices, n.index);
    b.Add(SetSysctl{n.netns, "net.bridge.bridge-nf-call-iptables", "1"});
    b.Add(LoadNftRuleset{n.netns, netpol::RenderNodeTable(spec, n.index)});
  }
}

void AddServices(const ClusterSpec& spec, Builder& b) {
  if (spec.services.empty()) return;
  const std::string tun(net::kNodeProxyTun), cbr0(net::kNodeBridge);
  bool node_ports = false;
  for (const config::ServiceSpec& s : spec.services)
    node_ports |= s.type == config::ServiceType::kNodePort;
  for (const config::NodeSpec& n : spec.nodes) {
    b.At(kPhaseServices, n.index);
    if (config::HasNftTables(spec.proxy_mode)) {
      // A backend on the client's node answers over cbr0, a bridge: L2, never routed. Only
      // br_netfilter's hook sends such bridged IPv4 frames through conntrack, where the reply is
      // de-NATed back to the ClusterIP (kube-proxy requires the same sysctl). Per netns since 5.3.
      b.Add(SetSysctl{n.netns, "net.bridge.bridge-nf-call-iptables", "1"});
      // Per-flow packet and byte counts in conntrack, which `get svc` sums per service.
      b.Add(SetSysctl{n.netns, "net.netfilter.nf_conntrack_acct", "1"});
      // The service CIDR needs a route for traffic the rules do not DNAT: the node's own connect()
      // to a ClusterIP (routed before nat-output runs) and packets for a service without endpoints,
      // which must reach filter-forward to be rejected. cbr0 as a real cluster's default route
      // would. A CNI lab has no cbr0 (the plugin names its own bridge, if any): the uplink stands
      // in; the plugin's interfaces inherit send_redirects = 0 from "default", set before any pod
      // (phase 1).
      const std::string& svc_dev = spec.cni_mode ? std::string(net::kNodeUplinkIf) : cbr0;
      b.Add(AddRoute{n.netns, spec.service_cidr, std::nullopt, svc_dev, false, 0});
      // Such a packet comes in and goes out cbr0, so the kernel would send the pod an ICMP redirect
      // ("10.96.x.y is on your link"), which a pod obeys, and which also spends the per-host ICMP
      // token that the reject's port unreachable then needs (they share inet_peer's rate state).
      b.Add(SetSysctl{n.netns, "net.ipv4.conf.all.send_redirects", "0"});
      if (!spec.cni_mode)
        b.Add(SetSysctl{n.netns, StrCat("net.ipv4.conf.", cbr0, ".send_redirects"), "0"});
      b.Add(LoadNftRuleset{n.netns, proxy::RenderNftRuleset(spec, n.index)});
      continue;
    }
    b.Add(CreateTun{n.netns, tun, spec.pod_mtu});
    // Replies of the proxy to a node-local client come from the node's own address.
    b.Add(SetSysctl{n.netns, StrCat("net.ipv4.conf.", tun, ".accept_local"), "1"});
    b.Add(SetSysctl{n.netns, StrCat("net.ipv4.conf.", tun, ".rp_filter"), "0"});
    b.Add(SetLinkUp{n.netns, tun});
    b.Add(AddRoute{n.netns, spec.service_cidr, std::nullopt, tun, false, 0});
    b.Add(AddRoute{n.netns, net::Prefix{n.proxy_ip, 32}, std::nullopt, tun, false, 0});
    b.Add(AddProxyNeighbor{n.netns, cbr0, n.proxy_ip});
    // Proxy ARP answers are delayed by a random 0..proxy_delay (0.8 s by default, meant to let a
    // real host answer first): a local backend's first reply to the proxy address would wait for
    // it.
    b.Add(SetSysctl{n.netns, StrCat("net.ipv4.neigh.", cbr0, ".proxy_delay"), "0"});
    if (!node_ports) continue;
    b.Add(AddRoute{n.netns, net::Prefix{}, std::nullopt, tun, false, net::kNodePortTable});
    for (int proto : {kIpprotoTcp, kIpprotoUdp}) {
      b.Add(AddRule{n.netns, kNodePortRulePref, net::Prefix{n.underlay_ip, 32}, proto, kNodePortMin,
                    kNodePortMax, net::kNodePortTable});
    }
    b.Add(AddRule{n.netns, kLocalRulePref, std::nullopt, 0, 0, 0, kLocalTable});
    b.Add(DeleteRule{n.netns, 0, kLocalTable});
  }
  // ebpf: after every node's table (the path of what no pod socket sends), a group of its own.
  if (spec.proxy_mode == config::ProxyMode::kEbpf) {
    b.At(kPhaseServices, static_cast<int>(spec.nodes.size()));
    // lib/net/naming's name, with the netns inode `up` learns ("0" here) shown as $NETNS_INODE.
    std::string name = net::ClusterCgroupName(spec.name, 0);
    name.replace(name.size() - 1, 1, "$NETNS_INODE");
    b.Add(AttachSockLb{StrCat("$CGROUP2/", name), net::OwnerMarker(spec.name)});
  }
}

std::string TableName(int table) {
  if (table == kLocalTable) return "local";
  return StrCat(table);
}

// The planner's steps are IPv4 until the lab is dual-stack: the one place where a family-tagged
// value of the lab (a rack's subnet, the fabric's links) becomes a step's address. The resolver
// lets no other family through (lib/config/resolve_racks.cc).
net::Prefix V4(const net::IpPrefix& p) { return *p.V4(); }
net::Ipv4 V4(const net::IpAddr& a) { return *a.V4(); }

// A routed underlay, as a data centre's: each rack's subnet on a bridge inside its top-of-rack
// router's namespace (the ToR holds the rack's gateway address), and with more than one rack a
// spine router joined to each ToR by a point-to-point link. The fabric's own routes are static, as
// a physical network's underlay is given: each ToR's default route points at the spine, the spine
// routes each rack's subnet to its ToR. What BGP adds (network = "bgp") are the pod CIDRs.
template <typename NoIpv6>
void AddRoutedUnderlay(const ClusterSpec& spec, Builder& b, NoIpv6 no_ipv6) {
  const std::string br0(net::kUnderlayBridge), to_spine(net::kTorSpinePort);
  const bool spine = !spec.spine_netns.empty();
  b.At(kPhaseUnderlay, 0);  // one group: the ToRs' links need the spine's namespace
  if (spine) {
    b.Add(CreateNetns{spec.spine_netns});
    no_ipv6(spec.spine_netns);
    b.Add(SetSysctl{spec.spine_netns, "net.ipv4.ip_forward", "1"});
  }
  for (const config::RackSpec& r : spec.racks) {
    b.Add(CreateNetns{r.netns});
    no_ipv6(r.netns);
    b.Add(SetSysctl{r.netns, "net.ipv4.ip_forward", "1"});
    b.Add(CreateBridge{r.netns, br0, spec.mtu, net::Mac::FromIpv4(V4(r.gateway))});
    b.Add(AddAddress{r.netns, br0, net::Prefix{V4(r.gateway), r.cidr.len}});
    b.Add(SetLinkUp{r.netns, br0});
    if (!spine) continue;
    b.Add(CreateVeth{r.netns, to_spine, spec.mtu, "", spec.spine_netns, r.tor, std::nullopt});
    b.Add(AddAddress{r.netns, to_spine, net::Prefix{V4(r.tor_end), r.uplink.len}});
    b.Add(SetLinkUp{r.netns, to_spine});
    b.Add(AddAddress{spec.spine_netns, r.tor, net::Prefix{V4(r.spine_end), r.uplink.len}});
    b.Add(SetLinkUp{spec.spine_netns, r.tor});
    b.Add(AddRoute{r.netns, net::Prefix{}, V4(r.spine_end), to_spine, false, 0});
    b.Add(AddRoute{spec.spine_netns, V4(r.cidr), V4(r.tor_end), r.tor, false, 0});
  }
}

// [cluster] world: its namespace, linked to the underlay side's router (the flat underlay's
// namespace, which then forwards; the spine; the one ToR), its addresses, and its way back. The
// cluster side's end of the link holds .1 of the world_cidr, so the world needs no route to the
// cluster but its default; the nodes' masquerade means it never sees a pod address.
template <typename NoIpv6>
void AddWorld(const ClusterSpec& spec, Builder& b, NoIpv6 no_ipv6) {
  const config::WorldSpec& w = spec.world;
  if (!w.enabled) return;
  const std::string port(net::kWorldPort), eth0(net::kWorldIf);
  b.At(kPhaseUnderlay, 0);  // after the underlay side it hangs off, in its group
  b.Add(CreateNetns{w.netns});
  no_ipv6(w.netns);
  // The flat underlay's namespace was only a switch; it now routes between the nodes and the world
  // (a spine or ToR already forwards).
  if (!spec.routed_underlay) b.Add(SetSysctl{w.attach_netns, "net.ipv4.ip_forward", "1"});
  b.Add(CreateVeth{w.attach_netns, port, spec.mtu, "", w.netns, eth0, std::nullopt});
  b.Add(AddAddress{w.attach_netns, port, net::Prefix{V4(w.gateway), w.cidr.len}});
  b.Add(SetLinkUp{w.attach_netns, port});
  for (const config::WorldHost& h : w.hosts)
    b.Add(AddAddress{w.netns, eth0, net::Prefix{V4(h.addr), w.cidr.len}});
  b.Add(SetLinkUp{w.netns, eth0});
  b.Add(AddRoute{w.netns, net::Prefix{}, V4(w.gateway), eth0, false, 0});
}

// The world's servers, with the containers (phase 5), a group after every pod's.
void AddWorldServers(const ClusterSpec& spec, Builder& b) {
  const config::WorldSpec& w = spec.world;
  if (!w.enabled) return;
  b.At(kPhaseContainers, static_cast<int>(spec.pods.size()));
  const std::string world(net::kWorldObject);
  const net::Ipv4 first = V4(w.hosts.front().addr);
  b.Add(StartApp{.ns = w.netns,
                 .pod = world,
                 .container = "http-echo",
                 .app = config::AppKind::kHttpEcho,
                 .ip = first,
                 .port = world::kHttpPort,
                 .protocol = config::Protocol::kTcp,
                 .world = true});
  b.Add(StartApp{.ns = w.netns,
                 .pod = world,
                 .container = "tcp-echo",
                 .app = config::AppKind::kTcpEcho,
                 .ip = first,
                 .port = world::kEchoPort,
                 .protocol = config::Protocol::kTcp,
                 .world = true});
  std::vector<net::Ipv4> addrs;
  for (const config::WorldHost& h : w.hosts) {
    addrs.push_back(V4(h.addr));
    b.Add(StartApp{.ns = w.netns,
                   .pod = world,
                   .container = "udp-echo",
                   .app = config::AppKind::kUdpEcho,
                   .ip = addrs.back(),
                   .port = world::kEchoPort,
                   .protocol = config::Protocol::kUdp,
                   .world = true});
  }
  b.Add(ServeWorldDns{w.netns, world::kDnsPort, addrs});
}

// network = "bgp": a speaker in the spine, every ToR and every node (lib/bgp), a group each.
void AddSpeakers(const ClusterSpec& spec, Builder& b) {
  int group = 0;
  for (const bgp::Speaker& s : bgp::Speakers(spec)) {
    b.At(kPhaseRoutes, group++);
    b.Add(StartBgpSpeaker{
        s.netns, s.object, bgp::RenderBirdConfig(spec, s), net::BirdConfigPath(spec.name, s.object),
        net::BirdSocketPath(spec.name, s.object), net::BirdLogPath(spec.name, s.object)});
  }
}

// A CNI lab with node_routes = "plugin" leaves the routes between nodes to the chain or a daemon.
bool NodeRoutesByTool(const ClusterSpec& spec) {
  return !spec.cni_mode || spec.cni.node_routes != config::NodeRoutes::kPlugin;
}

}  // namespace

Plan BuildPlan(const ClusterSpec& spec) {
  Plan plan;
  plan.cluster = spec.name;
  plan.marker = spec.marker;
  plan.cni = spec.cni_mode;
  plan.routed = spec.routed_underlay;
  plan.bgp = spec.network == NetworkMode::kBgp;
  Builder b(plan);
  const std::string underlay = net::NetnsName(spec.name, net::kUnderlayObject);
  const std::string br0(net::kUnderlayBridge), eth0(net::kPodIf), cbr0(net::kNodeBridge),
      vxlan0(net::kNodeVxlan), uplink(net::kNodeUplinkIf), gnv0(net::kNodeGeneve);
  // IPv6 is off everywhere: the lab is IPv4, and captures then show only the lab's own traffic
  // (no router solicitations or MLD reports on every new interface).
  auto no_ipv6 = [&](const std::string& ns) {
    b.Add(SetSysctl{ns, "net.ipv6.conf.all.disable_ipv6", "1"});
    b.Add(SetSysctl{ns, "net.ipv6.conf.default.disable_ipv6", "1"});
  };

  // Phase 0: the underlay, a namespace with one bridge: the physical switch between the nodes (or,
  // routed, the racks' ToRs and the spine).
  if (spec.routed_underlay) {
    AddRoutedUnderlay(spec, b, no_ipv6);
  } else {
    b.At(kPhaseUnderlay, 0);
    b.Add(CreateNetns{underlay});
    no_ipv6(underlay);
    b.Add(CreateBridge{underlay, br0, spec.mtu, net::Mac::FromIpv4(spec.underlay_gateway)});
    b.Add(AddAddress{underlay, br0, net::Prefix{spec.underlay_gateway, spec.underlay_cidr.len}});
    b.Add(SetLinkUp{underlay, br0});
  }

  AddWorld(spec, b, no_ipv6);

  // Phase 1: each node, plugged into the underlay, with its pod bridge (and VXLAN device).
  for (const config::NodeSpec& n : spec.nodes) {
    b.At(kPhaseNodes, n.index);
    b.Add(CreateNetns{n.netns});
    no_ipv6(n.netns);
    b.Add(SetSysctl{n.netns, "net.ipv4.ip_forward", "1"});
    // Its port on the underlay's bridge, or (routed) on its rack's, in the ToR.
    const config::RackSpec& rack = spec.racks[n.rack];
    const std::string& sw = spec.routed_underlay ? rack.netns : underlay;
    b.Add(CreateVeth{sw, n.name, spec.mtu, br0, n.netns, uplink, std::nullopt});
    b.Add(SetLinkUp{sw, n.name});
    b.Add(AddAddress{
        n.netns, uplink,
        net::Prefix{n.underlay_ip, spec.routed_underlay ? rack.cidr.len : spec.underlay_cidr.len}});
    b.Add(SetLinkUp{n.netns, uplink});
    // Routed: everything off the rack goes to the ToR, as a server's default route does. Flat,
    // with the world: everything off the cluster goes to the underlay's router, which reaches it.
    if (spec.routed_underlay) {
      b.Add(AddRoute{n.netns, net::Prefix{}, V4(rack.gateway), uplink, false, 0});
    } else if (spec.world.enabled) {
      b.Add(AddRoute{n.netns, net::Prefix{}, spec.underlay_gateway, uplink, false, 0});
    }
    if (spec.cni_mode) {
      // The plugin chain makes the pod side (its own bridge or point-to-point links). Interfaces it
      // makes inherit "default": no ICMP redirects from the node (see AddServices).
      b.Add(SetSysctl{n.netns, "net.ipv4.conf.default.send_redirects", "0"});
    } else {
      b.Add(CreateBridge{n.netns, cbr0, spec.pod_mtu, n.bridge_mac});
      b.Add(AddAddress{n.netns, cbr0, net::Prefix{n.gateway, n.pod_cidr.len}});
      b.Add(SetLinkUp{n.netns, cbr0});
      // Strict reverse-path filtering on the pod side, as a real node has: a pod may only send from
      // an address the node routes back to cbr0 (its own), so it cannot forge another node's
      // underlay address as the outer source of a tunnel packet (VXLAN, Geneve) or of anything else
      // it sends through the node. The effective value is max(all, cbr0): "all" stays 0, so only
      // the pod side is narrowed (the userspace proxy's TUN needs 0: AddServices). A CNI lab's pod
      // side belongs to its chain (README, "Geneve": what protects the overlay).
      b.Add(SetSysctl{n.netns, StrCat("net.ipv4.conf.", cbr0, ".rp_filter"), "1"});
    }
    if (spec.network == NetworkMode::kVxlan && NodeRoutesByTool(spec)) {
      b.Add(CreateVxlan{n.netns, vxlan0, spec.vni, n.underlay_ip, uplink, config::kVxlanPort,
                        spec.pod_mtu, n.vtep_mac});
      b.Add(AddAddress{n.netns, vxlan0, net::Prefix{n.vtep_ip, 32}});
      b.Add(SetLinkUp{n.netns, vxlan0});
    }
    // Geneve: the same layout as VXLAN's (the .0 address, the 0e:58 MAC), on a TAP the process
    // serves.
    if (spec.network == NetworkMode::kGeneve && NodeRoutesByTool(spec)) {
      b.Add(CreateTap{n.netns, gnv0, spec.pod_mtu, n.vtep_mac});
      b.Add(AddAddress{n.netns, gnv0, net::Prefix{n.vtep_ip, 32}});
      b.Add(SetLinkUp{n.netns, gnv0});
      b.Add(ServeGeneve{n.netns, gnv0, n.underlay_ip, geneve::kPort, spec.vni, n.index + 1});
    }
  }

  // Phase 2: each pod, a namespace with eth0 whose peer hangs off its node's cbr0.
  for (size_t i = 0; i < spec.pods.size(); ++i) {
    const config::PodSpec& p = spec.pods[i];
    const config::NodeSpec& n = spec.nodes[p.node];
    b.At(kPhasePods, static_cast<int>(i));
    b.Add(CreateNetns{p.netns});
    if (spec.cni_mode) {
      // The runtime's part ends here: the namespace exists (held open, as the pause container holds
      // it); the chain's ADD wires it, as CniAdd says.
      b.Add(CniAdd{n.netns, p.name, p.netns, p.netns, n.cni.ifname});
      continue;
    }
    // Only the default, which eth0 inherits: writing "all" too costs ~0.4 ms a pod under the
    // kernel's locks and doubled the bring-up time of 1000 pods (docs/BENCHMARKS.md).
    b.Add(SetSysctl{p.netns, "net.ipv6.conf.default.disable_ipv6", "1"});
    b.Add(CreateVeth{n.netns, p.host_veth, spec.pod_mtu, cbr0, p.netns, eth0, p.mac});
    b.Add(SetLinkUp{n.netns, p.host_veth});
    // nftables Services: a pod that reaches itself through a ClusterIP is DNATed to its own address
    // and the bridge must send the frame back out the port it came in on (CNI bridge hairpinMode).
    if (config::HasNftTables(spec.proxy_mode) && !spec.services.empty()) {
      b.Add(SetHairpin{n.netns, p.host_veth});
    }
    b.Add(AddAddress{p.netns, eth0, net::Prefix{p.ip, n.pod_cidr.len}});
    b.Add(SetLinkUp{p.netns, eth0});
    b.Add(AddRoute{p.netns, net::Prefix{}, n.gateway, eth0, false});
  }

  // Phase 3: cross-node routes. VXLAN as flannel programs it: a route to each remote pod CIDR via
  // the remote VTEP address (onlink), a permanent ARP entry for that VTEP, and a permanent FDB
  // entry sending the VTEP's MAC to the remote node's underlay address. Geneve: the same, the FDB
  // entry being the pump's. host-gw: a route via the remote node itself. BGP: none here
  // (AddSpeakers).
  for (const config::NodeSpec& n : spec.nodes) {
    if (!NodeRoutesByTool(spec) || plan.bgp) break;
    b.At(kPhaseRoutes, n.index);
    for (const config::NodeSpec& r : spec.nodes) {
      if (r.index == n.index) continue;
      if (spec.network == NetworkMode::kVxlan) {
        b.Add(AddNeighbor{n.netns, vxlan0, r.vtep_ip, r.vtep_mac});
        b.Add(AddFdb{n.netns, vxlan0, r.vtep_mac, r.underlay_ip});
        b.Add(AddRoute{n.netns, r.pod_cidr, r.vtep_ip, vxlan0, true});
      } else if (spec.network == NetworkMode::kGeneve) {
        b.Add(AddNeighbor{n.netns, gnv0, r.vtep_ip, r.vtep_mac});
        b.Add(GenevePeer{n.netns, gnv0, r.vtep_mac, r.underlay_ip, geneve::kPort});
        b.Add(AddRoute{n.netns, r.pod_cidr, r.vtep_ip, gnv0, true});
      } else {
        b.Add(AddRoute{n.netns, r.pod_cidr, r.underlay_ip, uplink, false});
      }
    }
  }

  // network = "bgp": no static routes; the speakers announce each node's pod CIDR.
  if (plan.bgp) AddSpeakers(spec, b);

  // Phase 4: Services, once every path exists and before any container can send.
  AddServices(spec, b);

  // Still phase 4: NetworkPolicy, before any container can send (lib/netpol/nft.h).
  AddNetworkPolicies(spec, b);

  // Still phase 4: each node's egress masquerade toward the world (lib/world), before any
  // container can send.
  for (const config::NodeSpec& n : spec.nodes) {
    std::string egress = world::RenderEgress(spec, n.index);
    if (egress.empty()) continue;
    b.At(kPhaseServices, n.index);
    b.Add(LoadNftRuleset{n.netns, std::move(egress)});
  }

  // Phase 5: the containers, once every path exists.
  for (size_t i = 0; i < spec.pods.size(); ++i) {
    const config::PodSpec& p = spec.pods[i];
    b.At(kPhaseContainers, static_cast<int>(i));
    for (const config::ContainerSpec& c : p.containers) {
      if (c.app == config::AppKind::kCommand) {
        b.Add(StartCommand{p.netns, p.name, c.name, c.command, c.env});
      } else if (c.app == config::AppKind::kDns) {
        for (const config::ContainerPort& cp : c.ports) {
          b.Add(StartApp{p.netns, p.name, c.name, c.app, p.ip, cp.port, cp.protocol});
        }
      } else {
        b.Add(StartApp{
            p.netns, p.name, c.name, c.app, p.ip, c.ports.empty() ? 0 : c.ports[0].port,
            c.app == config::AppKind::kUdpEcho ? config::Protocol::kUdp : config::Protocol::kTcp});
      }
    }
  }
  AddWorldServers(spec, b);
  return plan;
}

std::string ShellQuote(std::string_view word) {
  bool plain = !word.empty() && word.find_first_not_of(
                                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                    "-_./:=@%+,") == std::string_view::npos;
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

namespace {

struct ShellRenderer {
  const Plan& plan;
  std::string operator()(const CreateNetns& s) const {
    return StrCat("ip netns add ", s.name, "\nip -n ", s.name, " link set lo alias ",
                  ShellQuote(plan.marker), " up");
  }
  std::string operator()(const SetSysctl& s) const {
    return StrCat("ip netns exec ", s.ns, " sysctl -qw ", s.key, "=", s.value);
  }
  std::string operator()(const CreateBridge& s) const {
    return StrCat("ip -n ", s.ns, " link add ", s.name, " mtu ", s.mtu, " address ",
                  s.mac.ToString(), " type bridge");
  }
  std::string operator()(const CreateVeth& s) const {
    std::string out = StrCat("ip -n ", s.ns, " link add ", s.name, " mtu ", s.mtu);
    if (!s.master.empty()) StrAppend(&out, " master ", s.master);
    StrAppend(&out, " type veth peer name ", s.peer_name);
    if (s.peer_mac) StrAppend(&out, " address ", s.peer_mac->ToString());
    return StrCat(out, " netns ", s.peer_ns);
  }
  std::string operator()(const CreateVxlan& s) const {
    return StrCat("ip -n ", s.ns, " link add ", s.name, " mtu ", s.mtu, " address ",
                  s.mac.ToString(), " type vxlan id ", s.vni, " local ", s.local.ToString(),
                  " dev ", s.dev, " dstport ", s.port, " nolearning");
  }
  std::string operator()(const AddAddress& s) const {
    return StrCat("ip -n ", s.ns, " addr add ", s.addr.ToString(), " dev ", s.dev);
  }
  std::string operator()(const SetLinkUp& s) const {
    return StrCat("ip -n ", s.ns, " link set ", s.dev, " alias ", ShellQuote(plan.marker), " up");
  }
  std::string operator()(const AddRoute& s) const {
    std::string out =
        StrCat("ip -n ", s.ns, " route add ", s.dst.len == 0 ? "default" : s.dst.ToString());
    if (s.via) StrAppend(&out, " via ", s.via->ToString());
    StrAppend(&out, " dev ", s.dev);
    if (s.onlink) StrAppend(&out, " onlink");
    if (s.table != 0) StrAppend(&out, " table ", s.table);
    return out;
  }
  std::string operator()(const AddProxyNeighbor& s) const {
    return StrCat("ip -n ", s.ns, " neigh add proxy ", s.ip.ToString(), " dev ", s.dev);
  }
  std::string operator()(const AddRule& s) const {
    std::string out = StrCat("ip -n ", s.ns, " rule add pref ", s.pref);
    if (s.dst) StrAppend(&out, " to ", s.dst->ToString());
    if (s.ipproto != 0) {
      StrAppend(&out, " ipproto ", s.ipproto == kIpprotoTcp ? "tcp" : "udp", " dport ", s.dport_min,
                "-", s.dport_max);
    }
    return StrCat(out, " lookup ", TableName(s.table));
  }
  std::string operator()(const DeleteRule& s) const {
    return StrCat("ip -n ", s.ns, " rule del pref ", s.pref, " lookup ", TableName(s.table));
  }
  std::string operator()(const CreateTun& s) const {
    return StrCat("ip -n ", s.ns, " tuntap add dev ", s.name,
                  " mode tun vnet_hdr  # minikube-net holds its fd\n", "ip -n ", s.ns, " link set ",
                  s.name, " mtu ", s.mtu);
  }
  std::string operator()(const LoadNftRuleset& s) const {
    return StrCat("ip netns exec ", s.ns, " nft -f - <<'EOF'\n", s.ruleset, "EOF");
  }
  std::string operator()(const SetHairpin& s) const {
    return StrCat("bridge -n ", s.ns, " link set dev ", s.dev, " hairpin on");
  }
  std::string operator()(const AddNeighbor& s) const {
    return StrCat("ip -n ", s.ns, " neigh add ", s.ip.ToString(), " lladdr ", s.mac.ToString(),
                  " dev ", s.dev, " nud permanent");
  }
  std::string operator()(const AddFdb& s) const {
    return StrCat("bridge -n ", s.ns, " fdb add ", s.mac.ToString(), " dev ", s.dev, " dst ",
                  s.dst.ToString(), " self permanent");
  }
  std::string operator()(const StartApp& s) const {
    const char* proto = s.protocol == config::Protocol::kUdp ? "UDP" : "TCP";
    if (s.world && s.protocol == config::Protocol::kUdp) {
      return StrCat("# the world: minikube-net serves ", config::ToString(s.app), " on ", proto,
                    " ", s.ip.ToString(), ":", s.port, " from a socket opened in ", s.ns);
    }
    if (s.world) {
      return StrCat("# the world: minikube-net serves ", config::ToString(s.app), " on ", proto,
                    " port ", s.port, " of every address from a socket opened in ", s.ns);
    }
    return StrCat("# pod ", s.pod, ": container ", s.container, ": minikube-net serves ",
                  config::ToString(s.app), " on ", proto, " ", s.ip.ToString(), ":", s.port,
                  " from a socket opened in ", s.ns);
  }
  std::string operator()(const ServeWorldDns& s) const {
    std::vector<std::string> addrs;
    for (const net::Ipv4& a : s.addrs) addrs.push_back(a.ToString());
    return StrCat("# the world: minikube-net answers DNS for ", world::kZone, " on UDP ",
                  absl::StrJoin(addrs, ", "), " port ", s.port, " and TCP port ", s.port,
                  " of every address, from sockets opened in ", s.ns);
  }
  std::string operator()(const StartCommand& s) const {
    std::string out = StrCat("ip netns exec ", s.ns);
    if (!s.env.empty()) {
      StrAppend(&out, " env");
      for (const auto& [k, v] : s.env) StrAppend(&out, " ", ShellQuote(StrCat(k, "=", v)));
    }
    for (const std::string& a : s.argv) StrAppend(&out, " ", ShellQuote(a));
    return StrCat(out, " &  # pod ", s.pod, ": container ", s.container);
  }
  std::string operator()(const CreateTap& s) const {
    return StrCat(
        "ip -n ", s.ns, " tuntap add dev ", s.name,
        " mode tap vnet_hdr  # minikube-net holds its fd (offloads: csum, tso4, tso_ecn)\nip -n ",
        s.ns, " link set ", s.name, " mtu ", s.mtu, " address ", s.mac.ToString());
  }
  std::string operator()(const ServeGeneve& s) const {
    return StrCat("# minikube-net serves ", s.dev, " in ", s.ns, ": Geneve on udp ",
                  s.local.ToString(), ":", s.port, ", VNI ", s.vni, ", option ",
                  geneve::kSourceNodeOptionName, " = ", s.node);
  }
  std::string operator()(const GenevePeer& s) const {
    return StrCat("# minikube-net: ", s.dev, " in ", s.ns, ": frames to ", s.mac.ToString(),
                  " go to ", s.dst.ToString(), ":", s.port, " (what bridge fdb add ... dst is ",
                  "for vxlan0)");
  }
  std::string operator()(const StartBgpSpeaker& s) const {
    const std::string dir = s.config_path.substr(0, s.config_path.rfind('/'));
    const std::string logs = s.log_path.substr(0, s.log_path.rfind('/'));
    return StrCat("# BGP speaker ", s.object, ": its BIRD configuration, then the daemon\n",
                  "mkdir -p ", dir, " ", logs, "\ncat > ", s.config_path, " <<'EOF'\n", s.config,
                  "EOF\nip netns exec ", s.ns, " bird -f -c ", s.config_path, " -s ", s.socket_path,
                  " >>", s.log_path, " 2>&1 &");
  }
  std::string operator()(const AttachSockLb& s) const {
    std::string out = StrCat(
        "# proxy_mode = \"ebpf\": the cluster's own cgroup v2 beneath the cgroup2 mount "
        "($CGROUP2, ",
        "from /proc/self/mountinfo; never the root cgroup), marked, then the socket load ",
        "balancer's programs attached as links minikube-net holds (never pinned; the maps "
        "follow)\n",
        "mkdir ", s.cgroup, "\nsetfattr -n ", net::kCgroupMarkerXattr, " -v ", s.marker, " ",
        s.cgroup);
    for (const char* hook : {"connect4", "sendmsg4", "recvmsg4", "getpeername4"})
      StrAppend(&out, "\nbpftool cgroup attach ", s.cgroup, " ", hook, " name mkn_", hook,
                " multi");
    return out;
  }
  std::string operator()(const CniAdd& s) const {
    return StrCat("ip netns exec ", s.ns,
                  " env CNI_COMMAND=ADD CNI_CONTAINERID=", ShellQuote(s.container_id),
                  " CNI_NETNS=/run/netns/", s.pod_ns, " CNI_IFNAME=", ShellQuote(s.ifname),
                  " CNI_PATH=... PLUGIN < CONF  # pod ", s.pod,
                  ": each plugin of the chain in turn, prevResult from the one before "
                  "(minikube-net cni render)");
  }
};

// A CNI lab's nodes and pods are the plugin chain's to wire.
constexpr const char* kCniPhaseTitles[kPhaseCount] = {
    "the underlay: one bridge, the physical switch between nodes",
    "nodes: a namespace each, plugged into the underlay (the plugin chain makes the pod side)",
    "pods: a namespace each, handed to the node's CNI plugin chain (ADD)",
    "cross-node routes",
    "services: the proxy in every node",
    "containers",
};

constexpr const char* kPhaseTitles[kPhaseCount] = {
    "the underlay: one bridge, the physical switch between nodes",
    "nodes: a namespace each, plugged into the underlay, with the pod bridge cbr0",
    "pods: a namespace each, eth0 paired with a veth on its node's cbr0",
    "cross-node routes",
    "services: the proxy in every node",
    "containers",
};

// A routed underlay and BGP change what phases 0, 1 and 3 do.
std::string PhaseTitle(const Plan& plan, int phase) {
  if (plan.routed && phase == kPhaseUnderlay) {
    return "the underlay, routed: a top-of-rack router per rack holding the rack's bridge (and a "
           "spine joining the ToRs)";
  }
  if (plan.routed && phase == kPhaseNodes) {
    return plan.cni ? "nodes: a namespace each, plugged into its rack's bridge (the plugin chain "
                      "makes the pod side)"
                    : "nodes: a namespace each, plugged into its rack's bridge, with the pod "
                      "bridge cbr0";
  }
  if (plan.bgp && phase == kPhaseRoutes) {
    return "cross-node routes: a BGP speaker (BIRD) in every router and node, started as soon as "
           "the links exist; ready once every node has a route to every other node's pod CIDR";
  }
  return (plan.cni ? kCniPhaseTitles : kPhaseTitles)[phase];
}

struct JsonRenderer {
  nlohmann::json operator()(const CreateNetns& s) const {
    return {{"op", "create_netns"}, {"name", s.name}};
  }
  nlohmann::json operator()(const SetSysctl& s) const {
    return {{"op", "set_sysctl"}, {"ns", s.ns}, {"key", s.key}, {"value", s.value}};
  }
  nlohmann::json operator()(const CreateBridge& s) const {
    return {{"op", "create_bridge"},
            {"ns", s.ns},
            {"name", s.name},
            {"mtu", s.mtu},
            {"mac", s.mac.ToString()}};
  }
  nlohmann::json operator()(const CreateVeth& s) const {
    nlohmann::json j = {{"op", "create_veth"}, {"ns", s.ns},           {"name", s.name},
                        {"mtu", s.mtu},        {"peer_ns", s.peer_ns}, {"peer_name", s.peer_name}};
    if (!s.master.empty()) j["master"] = s.master;
    if (s.peer_mac) j["peer_mac"] = s.peer_mac->ToString();
    return j;
  }
  nlohmann::json operator()(const CreateVxlan& s) const {
    return {{"op", "create_vxlan"},        {"ns", s.ns},   {"name", s.name}, {"vni", s.vni},
            {"local", s.local.ToString()}, {"dev", s.dev}, {"port", s.port}, {"mtu", s.mtu},
            {"mac", s.mac.ToString()}};
  }
  nlohmann::json operator()(const AddAddress& s) const {
    return {{"op", "add_address"}, {"ns", s.ns}, {"dev", s.dev}, {"addr", s.addr.ToString()}};
  }
  nlohmann::json operator()(const SetLinkUp& s) const {
    return {{"op", "set_link_up"}, {"ns", s.ns}, {"dev", s.dev}};
  }
  nlohmann::json operator()(const AddRoute& s) const {
    nlohmann::json j = {
        {"op", "add_route"}, {"ns", s.ns}, {"dst", s.dst.ToString()}, {"dev", s.dev}};
    if (s.via) j["via"] = s.via->ToString();
    if (s.onlink) j["onlink"] = true;
    if (s.table != 0) j["table"] = s.table;
    return j;
  }
  nlohmann::json operator()(const AddProxyNeighbor& s) const {
    return {{"op", "add_proxy_neighbor"}, {"ns", s.ns}, {"dev", s.dev}, {"ip", s.ip.ToString()}};
  }
  nlohmann::json operator()(const AddRule& s) const {
    nlohmann::json j = {{"op", "add_rule"}, {"ns", s.ns}, {"pref", s.pref}, {"table", s.table}};
    if (s.dst) j["to"] = s.dst->ToString();
    if (s.ipproto != 0) {
      j["ipproto"] = s.ipproto;
      j["dport"] = {s.dport_min, s.dport_max};
    }
    return j;
  }
  nlohmann::json operator()(const DeleteRule& s) const {
    return {{"op", "delete_rule"}, {"ns", s.ns}, {"pref", s.pref}, {"table", s.table}};
  }
  nlohmann::json operator()(const CreateTun& s) const {
    return {{"op", "create_tun"}, {"ns", s.ns}, {"name", s.name}, {"mtu", s.mtu}};
  }
  nlohmann::json operator()(const LoadNftRuleset& s) const {
    return {{"op", "load_nft_ruleset"}, {"ns", s.ns}, {"ruleset", s.ruleset}};
  }
  nlohmann::json operator()(const SetHairpin& s) const {
    return {{"op", "set_hairpin"}, {"ns", s.ns}, {"dev", s.dev}};
  }
  nlohmann::json operator()(const AddNeighbor& s) const {
    return {{"op", "add_neighbor"},
            {"ns", s.ns},
            {"dev", s.dev},
            {"ip", s.ip.ToString()},
            {"mac", s.mac.ToString()}};
  }
  nlohmann::json operator()(const AddFdb& s) const {
    return {{"op", "add_fdb"},
            {"ns", s.ns},
            {"dev", s.dev},
            {"mac", s.mac.ToString()},
            {"dst", s.dst.ToString()}};
  }
  nlohmann::json operator()(const StartApp& s) const {
    nlohmann::json j = {{"op", "start_app"},
                        {"ns", s.ns},
                        {"pod", s.pod},
                        {"container", s.container},
                        {"app", config::ToString(s.app)},
                        {"ip", s.ip.ToString()},
                        {"port", s.port}};
    if (s.world) j["world"] = true;
    return j;
  }
  nlohmann::json operator()(const ServeWorldDns& s) const {
    std::vector<std::string> addrs;
    for (const net::Ipv4& a : s.addrs) addrs.push_back(a.ToString());
    return {{"op", "serve_world_dns"}, {"ns", s.ns}, {"port", s.port}, {"udp_addrs", addrs}};
  }
  nlohmann::json operator()(const StartCommand& s) const {
    nlohmann::json env = nlohmann::json::object();
    for (const auto& [k, v] : s.env) env[k] = v;
    return {{"op", "start_command"},    {"ns", s.ns},     {"pod", s.pod},
            {"container", s.container}, {"argv", s.argv}, {"env", env}};
  }
  nlohmann::json operator()(const CreateTap& s) const {
    return {{"op", "create_tap"},
            {"ns", s.ns},
            {"name", s.name},
            {"mtu", s.mtu},
            {"mac", s.mac.ToString()}};
  }
  nlohmann::json operator()(const ServeGeneve& s) const {
    return {{"op", "serve_geneve"}, {"ns", s.ns},   {"dev", s.dev},  {"local", s.local.ToString()},
            {"port", s.port},       {"vni", s.vni}, {"node", s.node}};
  }
  nlohmann::json operator()(const GenevePeer& s) const {
    return {{"op", "geneve_peer"},     {"ns", s.ns},    {"dev", s.dev}, {"mac", s.mac.ToString()},
            {"dst", s.dst.ToString()}, {"port", s.port}};
  }
  nlohmann::json operator()(const StartBgpSpeaker& s) const {
    return {{"op", "start_bgp_speaker"},
            {"ns", s.ns},
            {"object", s.object},
            {"config", s.config},
            {"config_path", s.config_path},
            {"socket", s.socket_path},
            {"log", s.log_path}};
  }
  nlohmann::json operator()(const AttachSockLb& s) const {
    return {{"op", "attach_sock_lb"},
            {"cgroup", s.cgroup},
            {"marker", s.marker},
            {"programs", {"mkn_connect4", "mkn_sendmsg4", "mkn_recvmsg4", "mkn_getpeername4"}}};
  }
  nlohmann::json operator()(const CniAdd& s) const {
    return {{"op", "cni_add"},
            {"ns", s.ns},
            {"pod", s.pod},
            {"pod_ns", s.pod_ns},
            {"container_id", s.container_id},
            {"ifname", s.ifname}};
  }
};

}  // namespace

Plan BuildPodPlan(const ClusterSpec& spec, const std::vector<int>& pods) {
  Plan full = BuildPlan(spec);
  std::set<std::string> ns, pod_names;
  std::set<std::pair<std::string, std::string>> host_links;  // (node netns, veth)
  for (int i : pods) {
    const config::PodSpec& p = spec.pods[i];
    ns.insert(p.netns);
    pod_names.insert(p.name);
    host_links.emplace(spec.nodes[p.node].netns, p.host_veth);
  }
  Plan out;
  out.cluster = full.cluster;
  out.marker = full.marker;
  for (const std::string& n : full.netns) {
    if (ns.count(n)) out.netns.push_back(n);
  }
  for (Step& step : full.steps) {
    bool mine = std::visit(
        [&](const auto& op) -> bool {
          using T = std::decay_t<decltype(op)>;
          if constexpr (std::is_same_v<T, CreateNetns>) {
            return ns.count(op.name) > 0;
          } else if constexpr (std::is_same_v<T, CreateVeth>) {
            return ns.count(op.peer_ns) > 0;
          } else if constexpr (std::is_same_v<T, SetLinkUp> || std::is_same_v<T, SetHairpin>) {
            return ns.count(op.ns) > 0 || host_links.count({op.ns, op.dev}) > 0;
          } else if constexpr (std::is_same_v<T, CniAdd>) {
            return ns.count(op.pod_ns) > 0;
          } else if constexpr (std::is_same_v<T, StartApp> || std::is_same_v<T, StartCommand>) {
            return pod_names.count(op.pod) > 0;
          } else if constexpr (std::is_same_v<T, LoadNftRuleset> ||
                               std::is_same_v<T, AttachSockLb>) {
            return false;  // per node, or the cluster's; the caller keeps it in step
          } else {
            return ns.count(op.ns) > 0;
          }
        },
        step.op);
    if (mine) out.steps.push_back(std::move(step));
  }
  return out;
}

Plan PhaseRange(const Plan& plan, int from, int to) {
  Plan out;
  out.cluster = plan.cluster;
  out.marker = plan.marker;
  out.cni = plan.cni;
  out.routed = plan.routed;
  out.bgp = plan.bgp;
  for (const Step& step : plan.steps) {
    if (step.phase < from || step.phase >= to) continue;
    if (const auto* c = std::get_if<CreateNetns>(&step.op)) out.netns.push_back(c->name);
    out.steps.push_back(step);
  }
  return out;
}

std::string RenderShell(const Plan& plan) {
  std::string out =
      StrCat("#!/bin/sh\n# minikube-net plan for cluster \"", plan.cluster,
             "\": ", plan.steps.size(), " steps, ", plan.netns.size(), " namespaces\nset -e\n");
  int phase = -1;
  ShellRenderer r{plan};
  for (const Step& s : plan.steps) {
    if (s.phase != phase) {
      phase = s.phase;
      StrAppend(&out, "\n# phase ", phase, ": ", PhaseTitle(plan, phase), "\n");
    }
    StrAppend(&out, std::visit(r, s.op), "\n");
  }
  return out;
}

std::string RenderJson(const Plan& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const Step& s : plan.steps) {
    nlohmann::json j = std::visit(JsonRenderer{}, s.op);
    j["phase"] = s.phase;
    j["group"] = s.group;
    steps.push_back(std::move(j));
  }
  nlohmann::json root = {
      {"cluster", plan.cluster}, {"marker", plan.marker}, {"netns", plan.netns}, {"steps", steps}};
  return root.dump(2) + "\n";
}

}  // namespace mkn::plan
