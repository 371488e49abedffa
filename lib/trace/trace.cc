// lib/trace — PredictPath (the tables, the fabric, the Services' translation rows and the replies)
// and its Builder; ParseRequest is in request.cc, the rendering in render.cc.
#include "lib/trace/trace.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "absl/strings/numbers.h"
#include "lib/control/usage.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::trace {

std::string_view ToString(Proto p) {
  switch (p) {
    case Proto::kIcmp:
      return "icmp";
    case Proto::kUdp:
      return "udp";
    case Proto::kTcp:
      return "tcp";
  }
  return "?";
}
std::string_view ToString(Leg l) { return l == Leg::kRequest ? "request" : "reply"; }
std::string_view ToString(Direction d) { return d == Direction::kIn ? "in" : "out"; }

namespace {

using config::ClusterSpec;
using config::NodeSpec;
using config::PodSpec;

// --- The tables --------------------------------------------------------------------------------

// Where a hop of a crossing lies: the node the packet leaves, the node it reaches, the fabric
// between them (the flat underlay's two bridge ports, or a routed lab's routers: see Fabric).
enum class Where { kFromNode, kToNode, kFabric };

struct HopTemplate {
  Where where;
  std::string_view ifname;
  Direction dir;
  bool outer;  // carries the outer (underlay) header of the row's encapsulation
  std::string_view role;
  std::string_view why;
};

// How a packet crosses from one node to another, per network mode: a row per mode.
struct NetworkRow {
  config::NetworkMode mode;
  std::string_view encap;  // "vxlan", "geneve", "" (routed)
  std::vector<HopTemplate> cross;
};

const std::vector<NetworkRow>& NetworkRows() {
  static const auto* rows = new std::vector<NetworkRow>{
      {config::NetworkMode::kVxlan,
       "vxlan",
       {
           {Where::kFromNode, net::kNodeVxlan, Direction::kOut, false, "VXLAN device", "fdb"},
           {Where::kFromNode, net::kNodeUplinkIf, Direction::kOut, true, "uplink", "bridge"},
           {Where::kFabric, "", Direction::kIn, true, "", ""},
           {Where::kToNode, net::kNodeUplinkIf, Direction::kIn, true, "uplink", "local"},
           {Where::kToNode, net::kNodeVxlan, Direction::kIn, false, "VXLAN device", "route"},
       }},
      // The gnv0 TAP's frames go to the userspace pump, which sends them over a UDP socket on
      // eth0 (RFC 8926, one option naming the source node) and writes what it receives into the
      // peer's gnv0.
      {config::NetworkMode::kGeneve,
       "geneve",
       {
           {Where::kFromNode, net::kNodeGeneve, Direction::kOut, false, "Geneve TAP", ""},
           {Where::kFromNode, net::kNodeUplinkIf, Direction::kOut, true, "uplink", ""},
           {Where::kFabric, "", Direction::kIn, true, "", ""},
           {Where::kToNode, net::kNodeUplinkIf, Direction::kIn, true, "uplink", ""},
           {Where::kToNode, net::kNodeGeneve, Direction::kIn, false, "Geneve TAP", ""},
       }},
      {config::NetworkMode::kHostGw,
       "",
       {
           {Where::kFromNode, net::kNodeUplinkIf, Direction::kOut, false, "uplink", "bridge"},
           {Where::kFabric, "", Direction::kIn, false, "", ""},
           {Where::kToNode, net::kNodeUplinkIf, Direction::kIn, false, "uplink", "route"},
       }},
      // Routed as host-gw, but by the routes BIRD learnt (proto bird): to a node of the same rack
      // straight over the rack's bridge (the ToR passes a rack-mate's route with that node as
      // next hop), to another rack through the node's ToR, the spine and that rack's ToR.
      {config::NetworkMode::kBgp,
       "",
       {
           {Where::kFromNode, net::kNodeUplinkIf, Direction::kOut, false, "uplink", ""},
           {Where::kFabric, "", Direction::kIn, false, "", ""},
           {Where::kToNode, net::kNodeUplinkIf, Direction::kIn, false, "uplink", "route"},
       }},
  };
  return *rows;
}

// Where a Service is translated, per proxy mode: a row per mode. `before` hops see the ClusterIP,
// `after` hops the endpoint (and, with `snat_to_proxy_ip`, the node's proxy address as the
// source).
struct ProxyRow {
  config::ProxyMode mode;
  std::vector<HopTemplate> before, after;
  bool snat_to_proxy_ip;
  // nftables: br_netfilter runs the nat prerouting hook while the bridge takes the frame from the
  // pod's veth (bridge-nf-call-iptables = 1, which this mode sets), so cbr0 itself already sees
  // the endpoint's address; the reply is de-NATed in postrouting, before cbr0 sends it.
  // userspace: cbr0 sees the ClusterIP; the node routes it into the TUN.
  bool translated_in_bridge;
  // The reply between a client and a backend of one node: routed back through the translation
  // point (userspace: the backend answers the proxy address), or bridged on cbr0 and de-NATed by
  // br_netfilter's conntrack hook (nftables: the backend answers the client's own address).
  bool same_node_reply_bridged;
  // ebpf: the client's own connect() is rewritten (cgroup/connect4) before any packet exists, so
  // the translation point is in the client pod, ahead of its eth0, and nothing on the way back
  // undoes it (the socket's getpeername4/recvmsg4 hooks show the ClusterIP to the program).
  bool in_socket;
};

const std::vector<ProxyRow>& ProxyRows() {
  static const auto* rows = new std::vector<ProxyRow>{
      {config::ProxyMode::kUserspace,
       {{Where::kFromNode, net::kNodeProxyTun, Direction::kOut, false, "proxy TUN", "nat"}},
       {{Where::kFromNode, net::kNodeProxyTun, Direction::kIn, false, "proxy TUN", "route"}},
       true,
       false,
       false,
       false},
      {config::ProxyMode::kNftables,
       {{Where::kFromNode, "", Direction::kIn, false, "nft DNAT (prerouting)", "nat"}},
       {},
       false,
       true,
       true,
       false},
      {config::ProxyMode::kEbpf, {}, {}, false, false, false, true},
  };
  return *rows;
}

template <typename Row, typename Mode>
const Row* FindRow(const std::vector<Row>& rows, Mode m) {
  for (const Row& r : rows)
    if (r.mode == m) return &r;
  return nullptr;
}

inline constexpr std::string_view kConnect4Role = "cgroup/connect4 (ebpf)";
// An unconnected UDP socket's datagrams are rewritten by the sendmsg4 hook, not connect4.
inline constexpr std::string_view kSendmsg4Role = "cgroup/sendmsg4 (ebpf)";
bool InSocketHook(const Hop& h) { return h.role == kConnect4Role || h.role == kSendmsg4Role; }
// A pod's connection to itself goes over its lo; the sniffer keeps a copy once there: "in".
inline constexpr std::string_view kPodLoRole = "pod lo";
bool EgressNat(const Hop& h) { return h.role == kEgressSnatRole || h.role == kEgressUnSnatRole; }

// --- Building a path ---------------------------------------------------------------------------

// One end of a leg without a Service: a pod, a node's own stack, or the underlay (the flat
// underlay's br0, or a routed lab's ToR of `rack`).
struct End {
  enum Kind { kPod, kNode, kUnderlay } kind = kPod;
  const PodSpec* pod = nullptr;
  const NodeSpec* node = nullptr;  // kNode; kPod: the pod's node
  int rack = 0;                    // kUnderlay in a routed lab
  // kNode as a destination: the address the packet is for (its underlay address, or the one it
  // sent from: vxlan0's or cbr0's, which the answer comes back to).
  net::Ipv4 ip;
};

class Builder {
 public:
  Builder(const ClusterSpec& spec, Path& path) : spec_(spec), path_(path) {}

  void Add(int branch, const std::string& object, std::string_view kind, const std::string& netns,
           std::string_view ifname, Direction dir, std::string_view role, const Flow& f,
           std::string_view why,
           std::optional<std::pair<net::Ipv4, net::Ipv4>> outer = std::nullopt,
           std::string_view encap = "") {
    Hop h;
    h.leg = leg_;
    h.branch = branch;
    h.object = object;
    h.kind = std::string(kind);
    h.netns = netns;
    h.ifname = std::string(ifname);
    h.dir = dir;
    h.role = std::string(role);
    h.flow = f;
    h.outer = outer;
    if (outer) h.encap = std::string(encap);
    h.why = std::string(why);
    path_.hops.push_back(std::move(h));
  }
  void NodeHop(int b, const NodeSpec& n, std::string_view ifname, Direction dir,
               std::string_view role, const Flow& f, std::string_view why = "") {
    Add(b, n.name, "node", n.netns, ifname, dir, role, f, why);
  }
  void SetLeg(Leg l) { leg_ = l; }

  const NodeSpec& NodeOf(const PodSpec& p) const { return spec_.nodes[p.node]; }

  // The pod's own interface and its host-side veth, leaving the pod.
  void PodOut(int b, const PodSpec& p, const Flow& f) {
    Add(b, p.name, "pod", p.netns, net::kPodIf, Direction::kOut, "pod eth0", f, "route");
    NodeHop(b, NodeOf(p), p.host_veth, Direction::kIn, "host veth", f, "bridge");
  }
  // Into the pod through its node's bridge (routed there: cbr0 sends it).
  void PodIn(int b, const PodSpec& p, const Flow& f, bool via_cbr0) {
    const NodeSpec& n = NodeOf(p);
    if (via_cbr0) NodeHop(b, n, net::kNodeBridge, Direction::kOut, "bridge cbr0", f, "bridge");
    NodeHop(b, n, p.host_veth, Direction::kOut, "host veth", f);
    Add(b, p.name, "pod", p.netns, net::kPodIf, Direction::kIn, "pod eth0", f, "local");
  }

  // The fabric between two nodes' uplinks: the flat underlay's ports of each, or the routers of a
  // routed lab (the ToR's port of `from`, across racks the ToR's and the spine's ports, the ToR's
  // port of `to`).
  void Fabric(int b, const NodeSpec& from, const NodeSpec& to, const Flow& f,
              std::optional<std::pair<net::Ipv4, net::Ipv4>> outer, std::string_view encap) {
    if (!spec_.routed_underlay) {
      const std::string ns = net::NetnsName(spec_.name, net::kUnderlayObject);
      const std::string u(net::kUnderlayObject);
      Add(b, u, "underlay", ns, from.name, Direction::kIn, "underlay port", f, "", outer, encap);
      Add(b, u, "underlay", ns, to.name, Direction::kOut, "underlay port", f, "", outer, encap);
      return;
    }
    const config::RackSpec& ra = spec_.racks[from.rack];
    const config::RackSpec& rb = spec_.racks[to.rack];
    Add(b, ra.tor, "router", ra.netns, from.name, Direction::kIn, "ToR port (router)", f, "", outer,
        encap);
    if (ra.index != rb.index) {
      const std::string spine(net::kSpineObject);
      Add(b, ra.tor, "router", ra.netns, net::kTorSpinePort, Direction::kOut, "ToR uplink (router)",
          f, "", outer, encap);
      Add(b, spine, "router", spec_.spine_netns, ra.tor, Direction::kIn, "spine port (router)", f,
          "", outer, encap);
      Add(b, spine, "router", spec_.spine_netns, rb.tor, Direction::kOut, "spine port (router)", f,
          "", outer, encap);
      Add(b, rb.tor, "router", rb.netns, net::kTorSpinePort, Direction::kIn, "ToR uplink (router)",
          f, "", outer, encap);
    }
    Add(b, rb.tor, "router", rb.netns, to.name, Direction::kOut, "ToR port (router)", f, "", outer,
        encap);
  }

  void Templates(int b, const std::vector<HopTemplate>& ts, const NodeSpec& from,
                 const NodeSpec& to, const Flow& f, std::string_view encap = "") {
    for (const HopTemplate& t : ts) {
      std::optional<std::pair<net::Ipv4, net::Ipv4>> outer;
      if (t.outer) outer = std::make_pair(from.underlay_ip, to.underlay_ip);
      if (t.where == Where::kFabric) {
        Fabric(b, from, to, f, outer, encap);
        continue;
      }
      const NodeSpec& n = t.where == Where::kFromNode ? from : to;
      Add(b, n.name, "node", n.netns, t.ifname, t.dir, t.role, f, t.why, outer, encap);
    }
  }

  // From `from`'s stack (the packet routed there) to `dst` pod.
  void NodeToPod(int b, const NetworkRow& row, const NodeSpec& from, const PodSpec& dst,
                 const Flow& f) {
    const NodeSpec& to = NodeOf(dst);
    if (from.index != to.index) Templates(b, row.cross, from, to, f, row.encap);
    PodIn(b, dst, f, true);
  }

  // The underlay's own interface as an end: the flat underlay's br0, or the ToR's br0 of `rack`.
  void UnderlayBridge(int b, int rack, Direction dir, const Flow& f) {
    if (!spec_.routed_underlay) {
      Add(b, std::string(net::kUnderlayObject), "underlay",
          net::NetnsName(spec_.name, net::kUnderlayObject), net::kUnderlayBridge, dir,
          "underlay bridge br0", f, "");
      return;
    }
    const config::RackSpec& r = spec_.racks[rack];
    Add(b, r.tor, "router", r.netns, net::kUnderlayBridge, dir, "ToR bridge br0 (router)", f, "");
  }
  // The underlay's port of node `n`: in the flat underlay's bridge or in its rack's ToR.
  void UnderlayPort(int b, const NodeSpec& n, Direction dir, const Flow& f) {
    if (!spec_.routed_underlay) {
      Add(b, std::string(net::kUnderlayObject), "underlay",
          net::NetnsName(spec_.name, net::kUnderlayObject), n.name, dir, "underlay port", f, "");
      return;
    }
    const config::RackSpec& r = spec_.racks[n.rack];
    Add(b, r.tor, "router", r.netns, n.name, dir, "ToR port (router)", f, "");
  }

  // From node `n`'s uplink to the world's eth0 ([cluster] world): the underlay side routes it.
  // The flat underlay's namespace takes the frame up from its bridge (the node's port, then br0:
  // the frame is for br0's own MAC, the node's default gateway) and routes it out of its port
  // "world"; a routed lab's ToR routes it from the node's port out of its own port "world" (one
  // rack) or up to the spine, which has that port (more racks).
  void ToWorld(int b, const NodeSpec& n, const Flow& f) {
    const std::string port(net::kWorldPort);
    if (!spec_.routed_underlay) {
      const std::string ns = net::NetnsName(spec_.name, net::kUnderlayObject);
      const std::string u(net::kUnderlayObject);
      Add(b, u, "underlay", ns, n.name, Direction::kIn, "underlay port", f, "");
      Add(b, u, "underlay", ns, net::kUnderlayBridge, Direction::kIn, "underlay bridge br0", f, "");
      Add(b, u, "underlay", ns, port, Direction::kOut, "underlay port to the world", f, "");
    } else {
      const config::RackSpec& r = spec_.racks[n.rack];
      Add(b, r.tor, "router", r.netns, n.name, Direction::kIn, "ToR port (router)", f, "");
      if (spec_.world.attach_netns == r.netns) {
        Add(b, r.tor, "router", r.netns, port, Direction::kOut, "ToR port to the world (router)", f,
            "");
      } else {
        const std::string spine(net::kSpineObject);
        Add(b, r.tor, "router", r.netns, net::kTorSpinePort, Direction::kOut, "ToR uplink (router)",
            f, "");
        Add(b, spine, "router", spec_.spine_netns, r.tor, Direction::kIn, "spine port (router)", f,
            "");
        Add(b, spine, "router", spec_.spine_netns, port, Direction::kOut,
            "spine port to the world (router)", f, "");
      }
    }
    Add(b, std::string(net::kWorldObject), "world", spec_.world.netns, net::kWorldIf,
        Direction::kIn, "world eth0", f, "");
  }
  // The world's answer back to node `n`'s uplink: ToWorld's hops the other way.
  void FromWorld(int b, const NodeSpec& n, const Flow& f) {
    const size_t start = path_.hops.size();
    ToWorld(b, n, f);
    std::reverse(path_.hops.begin() + static_cast<std::ptrdiff_t>(start), path_.hops.end());
    for (size_t i = start; i < path_.hops.size(); ++i) {
      Hop& h = path_.hops[i];
      h.dir = h.dir == Direction::kIn ? Direction::kOut : Direction::kIn;
    }
  }

  // A leg between two ends, no Service on the way: the hops in the order the packet passes them.
  void Leg(int b, const NetworkRow& row, const End& from, const End& to, const Flow& f) {
    const NodeSpec* at = from.node;  // the node whose stack routes the packet next
    if (from.kind == End::kPod) {
      PodOut(b, *from.pod, f);
      if (to.kind == End::kPod && to.pod->node == from.pod->node) {
        // Same bridge: forwarded between two ports, never routed (cbr0 itself sees nothing).
        PodIn(b, *to.pod, f, false);
        return;
      }
      NodeHop(b, *at, net::kNodeBridge, Direction::kIn, "bridge cbr0", f, "route");
    } else if (from.kind == End::kUnderlay) {
      // Only a node's address is reached from the underlay (it has no route to the pods).
      UnderlayBridge(b, from.rack, Direction::kOut, f);
      UnderlayPort(b, *to.node, Direction::kOut, f);
      NodeHop(b, *to.node, net::kNodeUplinkIf, Direction::kIn, "uplink", f);
      return;
    }
    switch (to.kind) {
      case End::kPod:
        NodeToPod(b, row, *at, *to.pod, f);
        return;
      case End::kNode:
        // Its own node: delivered where the pod's packet came in (cbr0).
        if (to.node == at) return;
        // The overlay address it sent from: back over the overlay, ending at its vxlan0/gnv0.
        if (to.ip != to.node->underlay_ip) {
          Templates(b, row.cross, *at, *to.node, f, row.encap);
          return;
        }
        // A node's underlay address: straight out of eth0 (connected, or the default route to a
        // routed lab's ToR), whatever the overlay.
        NodeHop(b, *at, net::kNodeUplinkIf, Direction::kOut, "uplink", f);
        Fabric(b, *at, *to.node, f, std::nullopt, "");
        NodeHop(b, *to.node, net::kNodeUplinkIf, Direction::kIn, "uplink", f);
        return;
      case End::kUnderlay:
        NodeHop(b, *at, net::kNodeUplinkIf, Direction::kOut, "uplink", f);
        UnderlayPort(b, *at, Direction::kIn, f);
        UnderlayBridge(b, at->rack, Direction::kIn, f);
        return;
    }
  }

 private:
  const ClusterSpec& spec_;
  Path& path_;
  trace::Leg leg_ = trace::Leg::kRequest;
};

// The reply through a Service: the request's hops backwards, each seen the other way with the ends
// swapped. Each endpoint's branch gets its own whole reply (the hops back to the client are then
// that branch's too), since how a reply comes back depends on where the backend is. A NodePort's
// reply, once un-translated in its node, is that node's own packet to the client, routed as any
// (over the overlay to a pod, where the request came unencapsulated by the underlay): the request's
// first `own_leg` hops (the client to the node) are not reversed, `node_to_client(branch)` adds
// that way instead.
// `on_client_port`: a NodePort translated on the client pod's own bridge port (its own node's,
// nftables), whose reply is un-translated there as a ClusterIP's is, not in the node's stack.
void AddReply(Path& p, const ProxyRow& proxy, const ClusterSpec& spec, int client_node,
              size_t own_leg = 0, const std::function<void(int)>& node_to_client = nullptr,
              bool on_client_port = false) {
  const std::vector<Hop> request = p.hops;
  const int branches = static_cast<int>(p.endpoints.size());
  const bool node_port = p.request.dst.kind == "NodePort" && !on_client_port;
  for (int b = branches == 0 ? -1 : 0; b < branches; ++b) {
    // A reply from a backend on the client's own node is bridged when the kernel translated (the
    // backend answers the client's address on its own link): cbr0 sees none of it.
    const PodSpec* backend = b >= 0 ? spec.FindPod(p.endpoints[b]) : nullptr;
    const bool bridged = proxy.same_node_reply_bridged && !node_port && backend != nullptr &&
                         client_node >= 0 && backend->node == client_node;
    for (size_t i = request.size(); i-- > 0;) {
      if (i < own_leg && node_to_client) break;
      Hop h = request[i];
      if (h.branch != -1 && h.branch != b) continue;
      if (bridged && h.ifname == net::kNodeBridge) continue;
      // The socket hook has nothing to undo on the wire.
      if (InSocketHook(h)) continue;
      h.leg = Leg::kReply;
      h.branch = b;
      if (h.role != kPodLoRole) h.dir = h.dir == Direction::kIn ? Direction::kOut : Direction::kIn;
      h.flow = h.flow.Reversed();
      if (h.outer) h.outer = std::make_pair(h.outer->second, h.outer->first);
      if (h.role == kNftDnatRole) h.role = std::string(kNftUnDnatRole);
      if (h.role == kNodePortDnatRole) h.role = std::string(kNodePortUnDnatRole);
      if (h.role == kNftOutputDnatRole) h.role = std::string(kNftOutputUnDnatRole);
      p.hops.push_back(std::move(h));
    }
    if (own_leg > 0 && node_to_client) node_to_client(b);
    if (!proxy.translated_in_bridge) continue;
    for (size_t i = p.hops.size() - 1; i > 0; --i) {
      Hop& a = p.hops[i - 1];
      Hop& nat = p.hops[i];
      if (a.leg != Leg::kReply || a.branch != b || a.ifname != net::kNodeBridge || nat.Sniffed())
        continue;
      // A node's own connection: its reply is for cbr0's own address, taken up to the stack and
      // un-DNATed on local input, after cbr0 saw it.
      if (nat.role == kNftOutputUnDnatRole) continue;
      if (node_port) {
        // br_netfilter's prerouting undoes the masquerade as cbr0 takes the frame (the
        // destination is the client's again); the DNAT is undone in postrouting, after cbr0.
        a.flow.dst = nat.flow.dst;
        a.flow.dport = nat.flow.dport;
        a.random_port = false;
        continue;
      }
      // Translated in the bridge: the reply is de-NATed in postrouting, before cbr0 sends it, so
      // cbr0 sees the ClusterIP again (the request saw the endpoint there).
      a.flow = nat.flow;
      std::swap(a, nat);
    }
  }
}

// DST the world: out of the source's node to the world's eth0 and back. A pod's packet is routed
// by its node (cbr0 takes it up: the default route, via the underlay side), masqueraded to the
// node's underlay address in postrouting (RenderEgress's rule), and the world's answer un-SNATed
// before the node routes it back to the pod; a node's own packet already has its address.
// The masquerade keeps the client's port unless another flow holds it, so the hops between the
// two rewrites match any port there (random_port), as a NodePort's do.
void AddWorldLegs(const ClusterSpec& spec, Builder& b, Path& p, const End& from, const Flow& f) {
  const NodeSpec& at = *from.node;
  const bool masquerade = from.kind == End::kPod && spec.world.masquerade;
  Flow out = f;
  if (masquerade) out.src = at.underlay_ip;
  auto rewritten = [&](size_t start) {
    if (!masquerade || f.proto == Proto::kIcmp) return;
    for (size_t k = start; k < p.hops.size(); ++k) p.hops[k].random_port = true;
  };
  if (from.kind == End::kPod) {
    b.PodOut(-1, *from.pod, f);
    b.NodeHop(-1, at, net::kNodeBridge, Direction::kIn, "bridge cbr0", f, "route");
    if (masquerade)
      b.Add(-1, at.name, "node", at.netns, "", Direction::kOut, kEgressSnatRole, f, "snat");
  }
  size_t start = p.hops.size();
  b.NodeHop(-1, at, net::kNodeUplinkIf, Direction::kOut, "uplink", out);
  b.ToWorld(-1, at, out);
  rewritten(start);
  b.SetLeg(Leg::kReply);
  start = p.hops.size();
  b.FromWorld(-1, at, out.Reversed());
  b.NodeHop(-1, at, net::kNodeUplinkIf, Direction::kIn, "uplink", out.Reversed());
  rewritten(start);
  if (from.kind != End::kPod) return;
  if (masquerade) {
    b.Add(-1, at.name, "node", at.netns, "", Direction::kIn, kEgressUnSnatRole, f.Reversed(),
          "snat");
  }
  b.PodIn(-1, *from.pod, f.Reversed(), true);
}

// What sent the packet on from a hop, by where it is: the same question for the request and the
// reply, so it is asked of the hop, not carried by the tables. `next` is the hop after it on the
// same leg and branch, if any.
std::string_view WhyOf(const Hop& h, const Hop* next) {
  const bool in = h.dir == Direction::kIn;
  if (InSocketHook(h)) return "connect4";
  // The world's egress masquerade, and its reply's un-SNAT: the flow's conntrack entry says both.
  if (EgressNat(h)) return "snat";
  if (!h.Sniffed()) return "nat";
  if (h.kind == "world") return in ? "local" : "route";
  // The underlay side's link to the world is routed, never bridged: what comes in from the world,
  // and what goes out to it, is the routing decision of the namespace it passes.
  if (h.ifname == net::kWorldPort && h.kind != "pod" && h.kind != "node") return in ? "route" : "";
  if (next != nullptr && next->netns == h.netns && next->ifname == net::kWorldPort &&
      h.kind == "router")
    return "route";
  if (h.object == net::kUnderlayObject && h.ifname == net::kUnderlayBridge && in &&
      next != nullptr && next->ifname == net::kWorldPort)
    return "route";
  // A reply the node un-SNATs (the world's answer): the conntrack entry on the next hop says
  // where it goes on.
  if (next != nullptr && next->role == kEgressUnSnatRole) return "";
  if (h.kind == "router") {
    if (!in) return "";
    if (h.ifname == net::kUnderlayBridge) return "local";
    // A ToR takes a node's frame on one port and hands it to another node's port: bridged by its
    // br0, never routed. Anything else it receives (from the spine, for its own br0) is routed.
    const bool node_port = [](const Hop& x) {
      return x.ifname != net::kTorSpinePort && x.ifname != net::kUnderlayBridge &&
             !x.ifname.starts_with(net::kTorPrefix);
    }(h);
    if (next != nullptr && next->object == h.object && node_port && next->ifname != h.ifname &&
        next->ifname != net::kTorSpinePort && next->ifname != net::kUnderlayBridge)
      return "bridge";
    return "route";
  }
  if (h.object == net::kUnderlayObject) {
    if (h.ifname == net::kUnderlayBridge) return in ? "local" : "route";
    return in ? "bridge" : "";
  }
  if (h.ifname == net::kNodeProxyTun) return in ? "route" : "nat";
  if (h.ifname == net::kNodeVxlan) return in ? "route" : "fdb";
  if (h.ifname == net::kNodeGeneve) return in ? "route" : "pump";
  if (h.role == "pod eth0") return in ? "local" : "route";
  if (h.role == kPodLoRole) return "local";
  if (h.role == "host veth") return in ? "bridge" : "";
  if (h.ifname == net::kNodeBridge) return in ? "route" : "neigh";
  if (h.role == "uplink") return in ? (h.outer ? "local" : "route") : "";
  return "";
}

}  // namespace

bool Hop::Carries(const Flow& f) const {
  if (!random_port) return flow == f;
  Flow want = flow;
  (leg == Leg::kRequest ? want.sport : want.dport) = leg == Leg::kRequest ? f.sport : f.dport;
  return want == f;
}

// The address a node's own packets to `dst` leave with: the kernel's preferred source on the
// device the route points at (cbr0's gateway to its own pods, vxlan0's or gnv0's .0 over an
// overlay, eth0's underlay address when routed).
net::Ipv4 NodeSourceToward(const ClusterSpec& spec, const NodeSpec& n, const PodSpec* dst_pod) {
  if (dst_pod == nullptr) return n.underlay_ip;
  if (dst_pod->node == n.index) return n.gateway;
  switch (spec.network) {
    case config::NetworkMode::kVxlan:
    case config::NetworkMode::kGeneve:
      return n.vtep_ip;
    default:
      return n.underlay_ip;
  }
}

net::Ipv4 NodeSourceTowardServices(const ClusterSpec& spec, const NodeSpec& n) {
  return spec.proxy_mode == config::ProxyMode::kUserspace ? n.underlay_ip : n.gateway;
}

// --- PredictPath -------------------------------------------------------------------------------

absl::StatusOr<Path> PredictPath(const ClusterSpec& spec, const Request& r) {
  if (r.edge) return PredictEdge(spec, r);
  if (spec.cni_mode) {
    // From a node's or the underlay's own stack to a node's address, only the tool's underlay is
    // crossed (eth0, the underlay's ports or a racks lab's routers): its rows predict that way.
    const bool to_node = r.dst.kind == "node" || r.dst.kind == "node IP";
    if (!to_node || r.src.kind == "pod") return PredictCni(spec, r);
    ClusterSpec underlay_only = spec;
    underlay_only.cni_mode = false;
    absl::StatusOr<Path> p = PredictPath(underlay_only, r);
    if (p.ok()) p->cni_lab = true;
    return p;
  }
  const NetworkRow* net_row = FindRow(NetworkRows(), spec.network);
  const bool node_port = r.dst.kind == "NodePort";
  const bool from_node = r.src.kind == "node";
  // A NodePort, or a node's own connection, is never a pod's own connect(): the node's stack is
  // not in the cluster's cgroup, so in ebpf mode the node's nftables table serves it (the same
  // kube-proxy table, which that mode writes for exactly these).
  const config::ProxyMode proxy_mode =
      (node_port || from_node) && spec.proxy_mode == config::ProxyMode::kEbpf
          ? config::ProxyMode::kNftables
          : spec.proxy_mode;
  const ProxyRow* proxy_row = FindRow(ProxyRows(), proxy_mode);
  if (net_row == nullptr || proxy_row == nullptr) {
    return absl::UnimplementedError(StrCat("trace: network ", config::ToString(spec.network),
                                           " with proxy mode ", config::ToString(spec.proxy_mode),
                                           " has no path table yet"));
  }
  Path p;
  p.request = r;
  p.network = spec.network;
  p.proxy = spec.proxy_mode;
  Builder b(spec, p);
  const Flow f{r.proto, r.src.ip, r.dst.ip, r.id, r.proto == Proto::kIcmp ? r.id : r.dst.port};

  End from;
  if (r.src.kind == "pod") {
    from.kind = End::kPod;
    from.pod = spec.FindPod(r.src.pod);
    if (from.pod == nullptr) return absl::InvalidArgumentError("trace: the source pod is gone");
    from.node = &b.NodeOf(*from.pod);
  } else if (r.src.kind == "node") {
    from.kind = End::kNode;
    from.node = spec.FindNode(r.src.node);
    from.ip = r.src.ip;
  } else {
    from.kind = End::kUnderlay;
    if (const NodeSpec* n = spec.FindNode(r.dst.node)) from.rack = n->rack;
  }
  if (from.kind != End::kUnderlay && from.node == nullptr)
    return absl::InvalidArgumentError("trace: the source is not in the lab");

  if (r.dst.kind == "world") {
    if (from.kind == End::kUnderlay)
      return absl::InvalidArgumentError("trace: the world is traced from a pod or a node");
    AddWorldLegs(spec, b, p, from, f);
  } else if (r.service.empty()) {
    End to;
    if (const PodSpec* dst = spec.FindPod(r.dst.pod)) {
      to.kind = End::kPod;
      to.pod = dst;
      to.node = &b.NodeOf(*dst);
    } else if (const NodeSpec* n = spec.FindNode(r.dst.node)) {
      to.kind = End::kNode;
      to.node = n;
      to.ip = n->underlay_ip;
    } else {
      return absl::InvalidArgumentError(StrCat("trace: DST ", r.dst.word, " is not in the lab"));
    }
    b.Leg(-1, *net_row, from, to, f);
    // The reply is its own path back, which need not be the request's (a pod's packet to a node
    // leaves unencapsulated; the node answers the pod over the overlay).
    b.SetLeg(Leg::kReply);
    b.Leg(-1, *net_row, to, from, f.Reversed());
  } else {
    const config::ServiceSpec* svc = nullptr;
    for (const config::ServiceSpec& s : spec.services)
      if (s.name == r.service) svc = &s;
    if (svc == nullptr) return absl::InvalidArgumentError("trace: the Service is gone");
    const config::ServicePortSpec* port = nullptr;
    for (const config::ServicePortSpec& sp : svc->ports) {
      if ((node_port ? sp.node_port : sp.port) == r.dst.port && ProtoOf(sp) == r.proto) port = &sp;
    }
    if (port == nullptr) return absl::InvalidArgumentError("trace: the Service's port is gone");
    auto target_port = [&](const PodSpec& backend) { return TargetPort(*port, backend); };
    // A pod without the named target port is no endpoint of this port (nor in kube-proxy's rules).
    std::vector<const PodSpec*> backends;
    for (int ep : svc->endpoints)
      if (target_port(spec.pods[ep]) != 0) backends.push_back(&spec.pods[ep]);
    if (backends.empty()) {
      return absl::FailedPreconditionError(
          StrCat("trace: Service ", svc->name, " has no endpoints: nothing to trace to"));
    }
    // The node that translates: the client's, or the NodePort's.
    const NodeSpec* at = from.node;
    End node_end;  // a NodePort's node, as the end of the client's leg
    size_t own_leg = 0;
    // A NodePort from a pod of its own node, where the kernel translates (nftables, and ebpf's
    // table): br_netfilter's prerouting takes the frame for the node's address on the pod's
    // bridge port and DNATs it there, as a ClusterIP; the node's stack sees it only when it routes
    // it on to another node (cbr0 in, still from the pod: the masquerade is in postrouting).
    bool on_client_port = false;
    if (node_port) {
      at = spec.FindNode(r.dst.node);
      node_end.kind = End::kNode;
      node_end.node = at;
      node_end.ip = at->underlay_ip;
      on_client_port =
          from.kind == End::kPod && from.pod->node == at->index && proxy_row->translated_in_bridge;
      if (on_client_port) {
        b.PodOut(-1, *from.pod, f);
      } else {
        b.Leg(-1, *net_row, from, node_end, f);
        own_leg = p.hops.size();
      }
    } else if (from_node) {
      // The node's own stack: no device before the translation (userspace: the route to the
      // Service range sends it straight into the proxy TUN, the `before` hop).
    } else if (proxy_row->in_socket) {
      b.Add(-1, from.pod->name, "pod", from.pod->netns, "", Direction::kOut,
            f.proto == Proto::kUdp ? kSendmsg4Role : kConnect4Role, f, "connect4");
    } else {
      b.PodOut(-1, *from.pod, f);
      if (!proxy_row->translated_in_bridge)
        b.NodeHop(-1, *at, net::kNodeBridge, Direction::kIn, "bridge cbr0", f, "route");
    }
    if (node_port && !proxy_row->snat_to_proxy_ip) {
      b.Add(-1, at->name, "node", at->netns, "", Direction::kIn, kNodePortDnatRole, f, "nat");
    } else if (from_node && !proxy_row->snat_to_proxy_ip) {
      b.Add(-1, at->name, "node", at->netns, "", Direction::kOut, kNftOutputDnatRole, f, "nat");
    } else if (!proxy_row->in_socket) {
      b.Templates(-1, proxy_row->before, *at, *at, f);
    }
    for (const PodSpec* backend_of : backends) {
      const PodSpec& backend = *backend_of;
      const int branch = static_cast<int>(p.endpoints.size());
      p.endpoints.push_back(backend.name);
      Flow t = f;
      t.dst = backend.ip;
      t.dport = static_cast<uint16_t>(target_port(backend));
      // An endpoint that picked itself (hairpin). nftables: the @hairpin rule masquerades it to
      // cbr0's address, bridged back out of its port; ebpf: connect4 gives it its own, over lo.
      const bool hairpin = from.kind == End::kPod && from.pod == &backend;
      const bool masqueraded =
          node_port || (hairpin && proxy_row->translated_in_bridge && !proxy_row->in_socket);
      if (proxy_row->snat_to_proxy_ip) {
        t.src = at->proxy_ip;
      } else if (node_port) {
        // Masqueraded to the node's own address on the way to the backend.
        t.src = NodeSourceToward(spec, *at, &backend);
      } else if (masqueraded) {
        t.src = at->gateway;
      }
      if (proxy_row->in_socket && hairpin) {
        b.Add(branch, backend.name, "pod", backend.netns, "lo", Direction::kIn, kPodLoRole, t, "");
        continue;
      }
      if (proxy_row->in_socket) {
        // The client's own packets already carry the backend: a pod-to-pod path from here.
        End to;
        to.kind = End::kPod;
        to.pod = &backend;
        to.node = &b.NodeOf(backend);
        b.Leg(branch, *net_row, from, to, t);
        continue;
      }
      size_t branch_start = p.hops.size();
      auto random_ports = [&] {
        // kube-proxy's masquerade is fully-random: the port the backend sees is the kernel's.
        if (!masqueraded || proxy_row->snat_to_proxy_ip) return;
        for (size_t k = branch_start; k < p.hops.size(); ++k) p.hops[k].random_port = true;
      };
      // A node's own packet is not bridged: routed from its stack (cbr0's address is its
      // source, which the table leaves as it is: a pod-network address).
      const bool bridged_client =
          (!node_port || on_client_port) && !from_node && proxy_row->translated_in_bridge;
      if (bridged_client && backend.node == from.pod->node) {
        // br_netfilter's "bridged DNAT": the new destination is on the same bridge, so the frame
        // is forwarded port to port with the backend's MAC; cbr0 never sees it. (Unless the
        // node's neighbour entry for the backend is not yet confirmed: the frame then goes out
        // through cbr0 while ARP resolves it. Not predicted: not every probe shows it.)
        b.PodIn(branch, backend, t, false);
        random_ports();
        continue;
      }
      if (bridged_client) {
        // Routed on to another node: cbr0 takes it up before postrouting masquerades it.
        Flow routed = t;
        routed.src = f.src;
        routed.sport = f.sport;
        b.NodeHop(branch, *at, net::kNodeBridge, Direction::kIn, "bridge cbr0", routed, "route");
        branch_start = p.hops.size();
      }
      if (!node_port || proxy_row->snat_to_proxy_ip)
        b.Templates(branch, proxy_row->after, *at, *at, t);
      b.NodeToPod(branch, *net_row, *at, backend, t);
      random_ports();
    }
    std::function<void(int)> node_to_client;
    if (node_port && !on_client_port) {
      node_to_client = [&](int branch) {
        b.SetLeg(Leg::kReply);
        b.Leg(branch, *net_row, node_end, from, f.Reversed());
      };
    }
    AddReply(p, *proxy_row, spec, from.kind == End::kPod ? from.pod->node : -1, own_leg,
             node_to_client, on_client_port);
  }
  for (size_t i = 0; i < p.hops.size(); ++i) {
    Hop& h = p.hops[i];
    const Hop* next = nullptr;
    if (i + 1 < p.hops.size() && p.hops[i + 1].leg == h.leg) next = &p.hops[i + 1];
    h.why = std::string(WhyOf(h, next));
    // Where a leg starts in a node's or router's own stack, its first hop is that stack's route.
    // (A reply starts afresh in each branch; a request's branch continues its translation.)
    const bool first = i == 0 || p.hops[i - 1].leg != h.leg ||
                       (h.leg == Leg::kReply && p.hops[i - 1].branch != h.branch);
    if (first && h.Sniffed() && h.dir == Direction::kOut && h.why.empty()) h.why = "route";
    if (h.Sniffed()) h.filter = FilterFor(h);
  }
  return p;
}

}  // namespace mkn::trace
