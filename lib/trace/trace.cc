#include "lib/trace/trace.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

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

// Where a hop of a crossing lies: the node the packet leaves, the node it reaches, the underlay.
enum class Where { kFromNode, kToNode, kUnderlay };
// The underlay bridge's port of a node is named as the node (lib/net/naming): kFromPort/kToPort.
inline constexpr std::string_view kFromPort = "<from>";
inline constexpr std::string_view kToPort = "<to>";

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
           {Where::kUnderlay, kFromPort, Direction::kIn, true, "underlay port", "bridge"},
           {Where::kUnderlay, kToPort, Direction::kOut, true, "underlay port", ""},
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
           {Where::kUnderlay, kFromPort, Direction::kIn, true, "underlay port", ""},
           {Where::kUnderlay, kToPort, Direction::kOut, true, "underlay port", ""},
           {Where::kToNode, net::kNodeUplinkIf, Direction::kIn, true, "uplink", ""},
           {Where::kToNode, net::kNodeGeneve, Direction::kIn, false, "Geneve TAP", ""},
       }},
      {config::NetworkMode::kHostGw,
       "",
       {
           {Where::kFromNode, net::kNodeUplinkIf, Direction::kOut, false, "uplink", "bridge"},
           {Where::kUnderlay, kFromPort, Direction::kIn, false, "underlay port", "bridge"},
           {Where::kUnderlay, kToPort, Direction::kOut, false, "underlay port", ""},
           {Where::kToNode, net::kNodeUplinkIf, Direction::kIn, false, "uplink", "route"},
       }},
  };
  return *rows;
}

// Where a Service is translated on the client's node, per proxy mode: a row per mode. `before`
// hops see the ClusterIP, `after` hops the endpoint (and, with `snat_to_proxy_ip`, the node's
// proxy address as the source).
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
};

const std::vector<ProxyRow>& ProxyRows() {
  static const auto* rows = new std::vector<ProxyRow>{
      {config::ProxyMode::kUserspace,
       {{Where::kFromNode, net::kNodeProxyTun, Direction::kOut, false, "proxy TUN", "nat"}},
       {{Where::kFromNode, net::kNodeProxyTun, Direction::kIn, false, "proxy TUN", "route"}},
       true,
       false,
       false},
      {config::ProxyMode::kNftables,
       {{Where::kFromNode, "", Direction::kIn, false, "nft DNAT (prerouting)", "nat"}},
       {},
       false,
       true,
       true},
  };
  return *rows;
}

template <typename Row, typename Mode>
const Row* FindRow(const std::vector<Row>& rows, Mode m) {
  for (const Row& r : rows)
    if (r.mode == m) return &r;
  return nullptr;
}

// --- Building a path ---------------------------------------------------------------------------

class Builder {
 public:
  Builder(const ClusterSpec& spec, Path& path) : spec_(spec), path_(path) {}

  void Add(int branch, const std::string& object, const std::string& netns, std::string_view ifname,
           Direction dir, std::string_view role, const Flow& f, std::string_view why,
           std::optional<std::pair<net::Ipv4, net::Ipv4>> outer = std::nullopt) {
    Hop h;
    h.leg = Leg::kRequest;
    h.branch = branch;
    h.object = object;
    h.netns = netns;
    h.ifname = std::string(ifname);
    h.dir = dir;
    h.role = std::string(role);
    h.flow = f;
    h.outer = outer;
    h.why = std::string(why);
    path_.hops.push_back(std::move(h));
  }

  const NodeSpec& NodeOf(const PodSpec& p) const { return spec_.nodes[p.node]; }

  // The pod's own interface and its host-side veth, leaving the pod.
  void PodOut(int b, const PodSpec& p, const Flow& f) {
    Add(b, p.name, p.netns, net::kPodIf, Direction::kOut, "pod eth0", f, "route");
    const NodeSpec& n = NodeOf(p);
    Add(b, n.name, n.netns, p.host_veth, Direction::kIn, "host veth", f, "bridge");
  }
  // Into the pod through its node's bridge (routed there: cbr0 sends it).
  void PodIn(int b, const PodSpec& p, const Flow& f, bool via_cbr0) {
    const NodeSpec& n = NodeOf(p);
    if (via_cbr0)
      Add(b, n.name, n.netns, net::kNodeBridge, Direction::kOut, "bridge cbr0", f, "bridge");
    Add(b, n.name, n.netns, p.host_veth, Direction::kOut, "host veth", f, "");
    Add(b, p.name, p.netns, net::kPodIf, Direction::kIn, "pod eth0", f, "local");
  }
  void Templates(int b, const std::vector<HopTemplate>& ts, const NodeSpec& from,
                 const NodeSpec& to, const Flow& f, std::string_view encap = "") {
    for (const HopTemplate& t : ts) {
      std::string object = t.where == Where::kUnderlay   ? std::string(net::kUnderlayObject)
                           : t.where == Where::kFromNode ? from.name
                                                         : to.name;
      std::string netns = t.where == Where::kUnderlay   ? net::NetnsName(spec_.name, object)
                          : t.where == Where::kFromNode ? from.netns
                                                        : to.netns;
      std::string_view ifname = t.ifname == kFromPort ? std::string_view(from.name)
                                : t.ifname == kToPort ? std::string_view(to.name)
                                                      : t.ifname;
      std::optional<std::pair<net::Ipv4, net::Ipv4>> outer;
      if (t.outer) outer = std::make_pair(from.underlay_ip, to.underlay_ip);
      Add(b, object, netns, ifname, t.dir, t.role, f, t.why, outer);
      if (t.outer) path_.hops.back().encap = std::string(encap);
    }
  }

  // From the client's node (the packet routed there by cbr0) to `dst` pod.
  void NodeToPod(int b, const NetworkRow& row, const NodeSpec& from, const PodSpec& dst,
                 const Flow& f) {
    const NodeSpec& to = NodeOf(dst);
    if (from.index != to.index) Templates(b, row.cross, from, to, f, row.encap);
    PodIn(b, dst, f, true);
  }

 private:
  const ClusterSpec& spec_;
  Path& path_;
};

// The reply: the request's hops backwards, each seen the other way with the ends swapped. With a
// Service, each endpoint's branch gets its own whole reply (the hops back to the client are then
// that branch's too), since how a reply comes back depends on where the backend is.
void AddReply(Path& p, const ProxyRow& proxy, const ClusterSpec& spec) {
  const std::vector<Hop> request = p.hops;
  const int branches = static_cast<int>(p.endpoints.size());
  const PodSpec* client = spec.FindPod(p.request.src.pod);
  for (int b = branches == 0 ? -1 : 0; b < branches; ++b) {
    // A reply from a backend on the client's own node is bridged when the kernel translated (the
    // backend answers the client's address on its own link): cbr0 sees none of it.
    const PodSpec* backend = b >= 0 ? spec.FindPod(p.endpoints[b]) : nullptr;
    const bool bridged = proxy.same_node_reply_bridged && backend != nullptr && client != nullptr &&
                         backend->node == client->node;
    for (size_t i = request.size(); i-- > 0;) {
      Hop h = request[i];
      if (h.branch != -1 && h.branch != b) continue;
      if (bridged && h.ifname == net::kNodeBridge) continue;
      h.leg = Leg::kReply;
      h.branch = b;
      h.dir = h.dir == Direction::kIn ? Direction::kOut : Direction::kIn;
      h.flow = h.flow.Reversed();
      if (h.outer) h.outer = std::make_pair(h.outer->second, h.outer->first);
      if (h.role == "nft DNAT (prerouting)") h.role = "nft un-DNAT (conntrack)";
      p.hops.push_back(std::move(h));
    }
    // Translated in the bridge: the reply is de-NATed in postrouting, before cbr0 sends it, so cbr0
    // sees the ClusterIP again (the request saw the endpoint there).
    if (proxy.translated_in_bridge) {
      for (size_t i = p.hops.size() - 1; i > 0; --i) {
        Hop& a = p.hops[i - 1];
        Hop& nat = p.hops[i];
        if (a.leg == Leg::kReply && a.branch == b && a.ifname == net::kNodeBridge &&
            !nat.Sniffed()) {
          a.flow = nat.flow;
          std::swap(a, nat);
        }
      }
    }
  }
}

// What sent the packet on from a hop, by where it is: the same question for the request and the
// reply, so it is asked of the hop, not carried by the tables.
std::string_view WhyOf(const Hop& h) {
  const bool in = h.dir == Direction::kIn;
  if (!h.Sniffed()) return "nat";
  if (h.object == net::kUnderlayObject) return in ? "bridge" : "";
  if (h.ifname == net::kNodeProxyTun) return in ? "route" : "nat";
  if (h.ifname == net::kNodeVxlan) return in ? "route" : "fdb";
  if (h.ifname == net::kNodeGeneve) return in ? "route" : "pump";
  if (h.role == "pod eth0") return in ? "local" : "route";
  if (h.role == "host veth") return in ? "bridge" : "";
  if (h.ifname == net::kNodeBridge) return in ? "route" : "neigh";
  if (h.role == "uplink") return in ? (h.outer ? "local" : "route") : "";
  return "";
}

std::string Hex32(net::Ipv4 ip) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", ip.value);
  return buf;
}

}  // namespace

// --- ParseRequest ------------------------------------------------------------------------------

absl::StatusOr<Request> ParseRequest(const ClusterSpec& spec, std::string_view src,
                                     std::string_view dst, std::string_view proto) {
  if (spec.cni_mode) {
    return absl::UnimplementedError(
        "trace: CNI labs are not predicted yet (their interfaces are the plugins'); use "
        "`minikube-net capture` on the pods and nodes");
  }
  std::vector<std::string> pods;
  for (const PodSpec& p : spec.pods) pods.push_back(p.name);
  Request r;
  // SRC.
  if (const PodSpec* p = spec.FindPod(src)) {
    r.src = {std::string(src), "pod", p->name, p->ip, 0};
  } else if (spec.FindNode(src) != nullptr || src == net::kUnderlayObject || src == "host") {
    return absl::UnimplementedError(StrCat("trace: SRC ", src,
                                           ": only a pod can be the source yet (a node, "
                                           "`underlay` and `host` are not traced yet)"));
  } else {
    std::string msg = StrCat("trace: SRC ", src, ": no such pod");
    if (std::string near = control::Nearest(src, pods); !near.empty())
      StrAppend(&msg, ": did you mean \"", near, "\"?");
    return absl::InvalidArgumentError(msg);
  }
  // DST[:PORT]; svc/NAME[:PORT].
  std::string_view word = dst, port_text;
  if (dst.starts_with("http://") || dst.starts_with("https://")) {
    return absl::UnimplementedError(
        StrCat("trace: DST ", dst, ": the edge (an URL) is not traced yet"));
  }
  if (size_t c = dst.rfind(':'); c != std::string_view::npos) {
    word = dst.substr(0, c);
    port_text = dst.substr(c + 1);
  }
  int port = 0;
  if (!port_text.empty() &&
      (!absl::SimpleAtoi(AsAbsl(port_text), &port) || port < 1 || port > 65535))
    return absl::InvalidArgumentError(StrCat("trace: DST ", dst, ": the port must be 1..65535"));
  if (word.empty()) return absl::InvalidArgumentError("trace: DST is empty");

  const config::ServiceSpec* svc = nullptr;
  r.dst.word = std::string(dst);
  if (word.starts_with("svc/")) {
    std::string_view name = word.substr(4);
    std::vector<std::string> names;
    for (const config::ServiceSpec& s : spec.services) {
      names.push_back(StrCat("svc/", s.name));
      if (s.name == name) svc = &s;
    }
    if (svc == nullptr) {
      std::string msg = StrCat("trace: DST ", word, ": no such Service");
      if (std::string near = control::Nearest(word, names); !near.empty())
        StrAppend(&msg, ": did you mean \"", near, "\"?");
      return absl::InvalidArgumentError(msg);
    }
    r.dst.kind = "ClusterIP";
    r.dst.ip = svc->cluster_ip;
  } else if (const PodSpec* p = spec.FindPod(word)) {
    r.dst.kind = "pod";
    r.dst.pod = p->name;
    r.dst.ip = p->ip;
  } else if (spec.FindNode(word) != nullptr) {
    return absl::UnimplementedError(
        StrCat("trace: DST ", word, ": a node (and a NodePort on it) is not traced yet"));
  } else if (std::optional<net::Ipv4> ip = net::Ipv4::Parse(word)) {
    r.dst.ip = *ip;
    for (const PodSpec& p : spec.pods) {
      if (p.ip == *ip) {
        r.dst.kind = "pod IP";
        r.dst.pod = p.name;
      }
    }
    for (const config::ServiceSpec& s : spec.services) {
      if (s.cluster_ip == *ip) {
        r.dst.kind = "ClusterIP";
        svc = &s;
      }
    }
    if (r.dst.kind.empty()) {
      return absl::InvalidArgumentError(StrCat("trace: DST ", word,
                                               " is neither a pod's address nor a ClusterIP "
                                               "of this lab"));
    }
  } else {
    std::vector<std::string> names = pods;
    for (const config::ServiceSpec& s : spec.services) names.push_back(StrCat("svc/", s.name));
    std::string msg = StrCat("trace: DST ", word, ": no such pod, Service or address");
    if (std::string near = control::Nearest(word, names); !near.empty())
      StrAppend(&msg, ": did you mean \"", near, "\"?");
    return absl::InvalidArgumentError(msg);
  }

  // The protocol and port.
  if (svc != nullptr) {
    r.service = svc->name;
    const config::ServicePortSpec* sp = nullptr;
    for (const config::ServicePortSpec& p : svc->ports) {
      if (port == 0 || p.port == port) {
        sp = &p;
        break;
      }
    }
    if (sp == nullptr) {
      std::string ports;
      for (const config::ServicePortSpec& p : svc->ports)
        StrAppend(&ports, ports.empty() ? "" : ", ", p.port);
      return absl::InvalidArgumentError(
          StrCat("trace: Service ", svc->name, " has no port ", port, " (it has ", ports, ")"));
    }
    r.dst.port = static_cast<uint16_t>(sp->port);
    const Proto svc_proto = sp->protocol == config::Protocol::kUdp ? Proto::kUdp : Proto::kTcp;
    if (proto == "icmp") {
      return absl::InvalidArgumentError(StrCat("trace: Service ", svc->name,
                                               " carries TCP and UDP, not ICMP: leave --proto "
                                               "out or say tcp/udp"));
    }
    r.proto = proto.empty() ? svc_proto : (proto == "udp" ? Proto::kUdp : Proto::kTcp);
  } else {
    r.dst.port = static_cast<uint16_t>(port);
    if (proto.empty()) {
      r.proto = port == 0 ? Proto::kIcmp : Proto::kTcp;
    } else if (proto == "icmp") {
      r.proto = Proto::kIcmp;
    } else {
      r.proto = proto == "udp" ? Proto::kUdp : Proto::kTcp;
    }
    if (r.proto == Proto::kIcmp && port != 0)
      return absl::InvalidArgumentError(StrCat("trace: DST ", dst, ": ICMP has no port"));
    if (r.proto != Proto::kIcmp && port == 0) {
      return absl::InvalidArgumentError(
          StrCat("trace: DST ", dst, ": ", ToString(r.proto), " needs a port (DST:PORT)"));
    }
  }
  return r;
}

// --- PredictPath -------------------------------------------------------------------------------

absl::StatusOr<Path> PredictPath(const ClusterSpec& spec, const Request& r) {
  const NetworkRow* net_row = FindRow(NetworkRows(), spec.network);
  const ProxyRow* proxy_row = FindRow(ProxyRows(), spec.proxy_mode);
  if (net_row == nullptr || proxy_row == nullptr) {
    return absl::UnimplementedError(StrCat("trace: network ", config::ToString(spec.network),
                                           " with proxy mode ", config::ToString(spec.proxy_mode),
                                           " has no path table yet"));
  }
  const PodSpec* src = spec.FindPod(r.src.pod);
  if (src == nullptr) return absl::InvalidArgumentError("trace: the source must be a pod");
  Path p;
  p.request = r;
  p.network = spec.network;
  p.proxy = spec.proxy_mode;
  Builder b(spec, p);
  const NodeSpec& from = b.NodeOf(*src);
  const Flow f{r.proto, src->ip, r.dst.ip, r.id, r.proto == Proto::kIcmp ? r.id : r.dst.port};

  b.PodOut(-1, *src, f);
  if (r.service.empty()) {
    const PodSpec* dst = spec.FindPod(r.dst.pod);
    if (dst->node == src->node && dst->name != src->name) {
      // Same bridge: forwarded between two ports, never routed (cbr0 itself sees nothing).
      b.PodIn(-1, *dst, f, false);
    } else {
      b.Add(-1, from.name, from.netns, net::kNodeBridge, Direction::kIn, "bridge cbr0", f, "route");
      b.NodeToPod(-1, *net_row, from, *dst, f);
    }
  } else {
    const config::ServiceSpec* svc = nullptr;
    for (const config::ServiceSpec& s : spec.services)
      if (s.name == r.service) svc = &s;
    if (svc->endpoints.empty()) {
      return absl::FailedPreconditionError(
          StrCat("trace: Service ", svc->name, " has no endpoints: nothing to trace to"));
    }
    int target_port = 0;
    for (const config::ServicePortSpec& sp : svc->ports) {
      if (sp.port == r.dst.port) target_port = sp.target_port;
    }
    if (!proxy_row->translated_in_bridge)
      b.Add(-1, from.name, from.netns, net::kNodeBridge, Direction::kIn, "bridge cbr0", f, "route");
    b.Templates(-1, proxy_row->before, from, from, f);
    for (int ep : svc->endpoints) {
      const PodSpec& backend = spec.pods[ep];
      const int branch = static_cast<int>(p.endpoints.size());
      p.endpoints.push_back(backend.name);
      int port = target_port;
      if (port == 0) {
        // A named target port: the backend's container port of that name.
        for (const config::ServicePortSpec& sp : svc->ports) {
          if (sp.port != r.dst.port) continue;
          for (const config::ContainerSpec& c : backend.containers)
            for (const config::ContainerPort& cp : c.ports)
              if (cp.name == sp.target_port_name) port = cp.port;
        }
      }
      Flow t = f;
      t.dst = backend.ip;
      t.dport = static_cast<uint16_t>(port);
      if (proxy_row->snat_to_proxy_ip) t.src = from.proxy_ip;
      if (proxy_row->translated_in_bridge && backend.node == src->node) {
        // br_netfilter's "bridged DNAT": the new destination is on the same bridge, so the frame
        // is forwarded port to port with the backend's MAC; cbr0 never sees it.
        b.PodIn(branch, backend, t, false);
        continue;
      }
      if (proxy_row->translated_in_bridge)
        b.Add(branch, from.name, from.netns, net::kNodeBridge, Direction::kIn, "bridge cbr0", t,
              "route");
      b.Templates(branch, proxy_row->after, from, from, t);
      b.NodeToPod(branch, *net_row, from, backend, t);
    }
  }
  AddReply(p, *proxy_row, spec);
  for (Hop& h : p.hops) {
    h.why = std::string(WhyOf(h));
    if (h.Sniffed()) h.filter = FilterFor(h);
  }
  return p;
}

// --- Filters -----------------------------------------------------------------------------------

std::string FilterFor(const Hop& h) {
  const Flow& f = h.flow;
  const bool request = h.leg == Leg::kRequest;
  if (!h.outer) {
    std::string s = StrCat(ToString(f.proto), " and src host ", f.src.ToString(), " and dst host ",
                           f.dst.ToString());
    switch (f.proto) {
      case Proto::kIcmp:
        StrAppend(&s, " and icmp[0] == ", request ? 8 : 0, " and icmp[4:2] == ", f.sport);
        break;
      case Proto::kTcp:
        StrAppend(&s, " and src port ", f.sport, " and dst port ", f.dport,
                  " and tcp[13] & 0x12 == ", request ? "0x02" : "0x12");
        break;
      case Proto::kUdp:
        StrAppend(&s, " and src port ", f.sport, " and dst port ", f.dport);
        break;
    }
    return s;
  }
  // Inside the encapsulation, by offsets from the UDP header (libpcap 1.10 has no `vxlan`, and its
  // `geneve`, which skips any options, compiles to so many instructions that a union of a path's
  // filters passes the kernel's 4096-instruction limit). VXLAN: UDP 8, VXLAN 8, inner Ethernet 14,
  // so the inner IPv4 header at udp[30]; Geneve as minikube-net's pump sends it: UDP 8, the base
  // header 8 and one 8-byte option (Opt Len 2, checked), so udp[38]. The inner IPv4 header is 20
  // bytes: the kernel sends these probes without options.
  const bool geneve = h.encap == "geneve";
  const int ip = geneve ? 38 : 30, l4 = ip + 20;
  auto at = [](int off, std::string_view size = "") {
    return StrCat("udp[", off, size.empty() ? "" : ":", size, "]");
  };
  std::string s = StrCat("udp dst port ", geneve ? 6081 : config::kVxlanPort, " and src host ",
                         h.outer->first.ToString(), " and dst host ", h.outer->second.ToString(),
                         geneve ? " and udp[8] & 0x3f == 2" : "", " and ", at(ip + 9), " == ",
                         f.proto == Proto::kIcmp  ? 1
                         : f.proto == Proto::kTcp ? 6
                                                  : 17,
                         " and ", at(ip + 12, "4"), " == ", Hex32(f.src), " and ", at(ip + 16, "4"),
                         " == ", Hex32(f.dst));
  switch (f.proto) {
    case Proto::kIcmp:
      StrAppend(&s, " and ", at(l4), " == ", request ? 8 : 0, " and ", at(l4 + 4, "2"),
                " == ", f.sport);
      break;
    case Proto::kTcp:
      StrAppend(&s, " and ", at(l4, "2"), " == ", f.sport, " and ", at(l4 + 2, "2"),
                " == ", f.dport, " and ", at(l4 + 13), " & 0x12 == ", request ? "0x02" : "0x12");
      break;
    case Proto::kUdp:
      StrAppend(&s, " and ", at(l4, "2"), " == ", f.sport, " and ", at(l4 + 2, "2"),
                " == ", f.dport);
      break;
  }
  return s;
}

// --- Rendering ---------------------------------------------------------------------------------

namespace {

std::string Where(const Hop& h) {
  return h.Sniffed() ? StrCat(h.object, ":", h.ifname) : StrCat(h.object, " (", h.role, ")");
}

std::string FlowText(const Flow& f, Leg leg) {
  std::string s = StrCat(ToString(f.proto), " ", f.src.ToString());
  if (f.proto != Proto::kIcmp) StrAppend(&s, ":", f.sport);
  StrAppend(&s, " > ", f.dst.ToString());
  if (f.proto != Proto::kIcmp) StrAppend(&s, ":", f.dport);
  if (f.proto == Proto::kIcmp)
    StrAppend(&s, leg == Leg::kRequest ? " echo request" : " echo reply", " id ", f.sport);
  if (f.proto == Proto::kTcp) StrAppend(&s, leg == Leg::kRequest ? " SYN" : " SYN-ACK");
  return s;
}

std::string OuterText(const std::optional<std::pair<net::Ipv4, net::Ipv4>>& o,
                      std::string_view encap) {
  if (!o) return "";
  return StrCat(" in ", encap.empty() ? "vxlan" : encap, " ", o->first.ToString(), " > ",
                o->second.ToString());
}

std::string Pad(std::string s, size_t n) {
  if (s.size() < n) s.append(n - s.size(), ' ');
  return s;
}

}  // namespace

std::string RenderPrediction(const Path& p) {
  std::string out = StrCat("# trace ", p.request.src.word, " -> ", p.request.dst.word, " (",
                           ToString(p.request.proto), ", network ", config::ToString(p.network),
                           ", proxy ", config::ToString(p.proxy), ")\n");
  for (size_t e = 0; e < p.endpoints.size(); ++e)
    StrAppend(&out, "# branch ", e, ": endpoint ", p.endpoints[e], "\n");
  for (const Hop& h : p.hops) {
    StrAppend(&out, Pad(std::string(ToString(h.leg)), 8),
              Pad(h.branch < 0 ? "*" : StrCat(h.branch), 3), Pad(Where(h), 34),
              Pad(h.Sniffed() ? std::string(ToString(h.dir)) : "-", 4), FlowText(h.flow, h.leg),
              OuterText(h.outer, h.encap), "\n");
    if (h.Sniffed()) StrAppend(&out, "                filter: ", h.filter, "\n");
  }
  return out;
}

Verdict Judge(const Path& p, const std::vector<Observation>& seen) {
  Verdict v;
  const int branches = static_cast<int>(p.endpoints.size());
  auto on_branch = [&](const Hop& h, int b) { return h.branch == -1 || h.branch == b; };
  int best = -1, best_seen = -1;
  for (int b = 0; b < std::max(branches, 1); ++b) {
    const int want = branches == 0 ? -1 : b;
    int n = 0;
    for (size_t i = 0; i < p.hops.size(); ++i)
      if (p.hops[i].branch == want && i < seen.size() && seen[i].seen) ++n;
    if (n > best_seen) {
      best_seen = n;
      best = want;
    }
  }
  v.branch = best;
  for (size_t i = 0; i < p.hops.size(); ++i)
    if (on_branch(p.hops[i], best)) v.hops.push_back(static_cast<int>(i));
  for (size_t k = 0; k < v.hops.size(); ++k) {
    const int i = v.hops[k];
    const bool ok = static_cast<size_t>(i) < seen.size() && seen[i].seen;
    // A translation point no interface shows is proved by the hop after it.
    bool implied = false;
    if (!p.hops[i].Sniffed() && k + 1 < v.hops.size()) {
      const int next = v.hops[k + 1];
      implied = static_cast<size_t>(next) < seen.size() && seen[next].seen;
    }
    if (ok || implied) {
      v.last_seen = i;
      continue;
    }
    v.first_missing = i;
    break;
  }
  v.ok = v.first_missing < 0;
  const Hop* last = v.last_seen >= 0 ? &p.hops[v.last_seen] : nullptr;
  if (v.ok) {
    int64_t total = 0;
    for (int i : v.hops)
      if (static_cast<size_t>(i) < seen.size() && seen[i].seen)
        total = std::max(total, seen[i].offset_ns);
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", static_cast<double>(total) / 1e6);
    v.summary = StrCat("ok: every predicted hop saw the probe, there and back, in ", ms, " ms",
                       best >= 0 ? StrCat(" (endpoint ", p.endpoints[best], ")") : "");
  } else {
    const Hop& miss = p.hops[v.first_missing];
    v.summary = StrCat("lost: not seen at ", Where(miss), " (", ToString(miss.leg), ", ",
                       ToString(miss.dir), ")",
                       last != nullptr ? StrCat("; last seen at ", Where(*last), " (",
                                                ToString(last->leg), ", ", ToString(last->dir), ")")
                                       : "; never seen");
    if (last != nullptr && static_cast<size_t>(v.last_seen) < seen.size() &&
        !seen[v.last_seen].why.empty())
      StrAppend(&v.summary, ": ", seen[v.last_seen].why);
  }
  return v;
}

std::string RenderTable(const Path& p, const std::vector<Observation>& seen, const Verdict& v) {
  std::string out = StrCat(
      "trace ", p.request.src.word, " -> ", p.request.dst.word, " (", ToString(p.request.proto),
      ", network ", config::ToString(p.network), ", proxy ", config::ToString(p.proxy),
      p.request.service.empty() ? "" : StrCat(", Service ", p.request.service), ")\n");
  StrAppend(&out, Pad("#", 4), Pad("LEG", 8), Pad("TIME", 11), Pad("WHERE", 30), Pad("DIR", 5),
            Pad("PACKET AS SEEN THERE", 76), "WHY\n");
  int row = 0;
  for (int i : v.hops) {
    const Hop& h = p.hops[i];
    const Observation* o = static_cast<size_t>(i) < seen.size() ? &seen[i] : nullptr;
    const bool was_seen = o != nullptr && o->seen;
    char t[32];
    if (was_seen) {
      std::snprintf(t, sizeof t, "+%.3fms", static_cast<double>(o->offset_ns) / 1e6);
    } else {
      std::snprintf(t, sizeof t, "%s", h.Sniffed() ? "MISSING" : "-");
    }
    const std::string packet = was_seen
                                   ? StrCat(FlowText(o->flow, h.leg), OuterText(o->outer, h.encap))
                                   : StrCat(FlowText(h.flow, h.leg), OuterText(h.outer, h.encap),
                                            h.Sniffed() ? " (expected)" : "");
    StrAppend(&out, Pad(StrCat(++row), 4), Pad(std::string(ToString(h.leg)), 8), Pad(t, 11),
              Pad(StrCat(Where(h), " "), 30),
              Pad(h.Sniffed() ? std::string(ToString(h.dir)) : "-", 5),
              Pad(StrCat(packet, " "), 76), o != nullptr ? o->why : "", "\n");
    if (i == v.first_missing) break;
  }
  StrAppend(&out, v.summary, "\n");
  return out;
}

std::string RenderJson(const Path& p, const std::vector<Observation>& seen, const Verdict& v) {
  nlohmann::json j;
  j["src"] = p.request.src.word;
  j["dst"] = p.request.dst.word;
  j["proto"] = ToString(p.request.proto);
  j["network"] = config::ToString(p.network);
  j["proxy_mode"] = config::ToString(p.proxy);
  if (!p.request.service.empty()) j["service"] = p.request.service;
  if (v.branch >= 0) j["endpoint"] = p.endpoints[v.branch];
  j["ok"] = v.ok;
  j["summary"] = v.summary;
  nlohmann::json hops = nlohmann::json::array();
  auto flow_json = [](const Flow& f) {
    return nlohmann::json{{"src", f.src.ToString()},
                          {"dst", f.dst.ToString()},
                          {"sport", f.sport},
                          {"dport", f.dport}};
  };
  for (int i : v.hops) {
    const Hop& h = p.hops[i];
    const Observation* o = static_cast<size_t>(i) < seen.size() ? &seen[i] : nullptr;
    nlohmann::json hj{{"leg", ToString(h.leg)},
                      {"object", h.object},
                      {"netns", h.netns},
                      {"interface", h.ifname},
                      {"direction", h.Sniffed() ? ToString(h.dir) : ""},
                      {"role", h.role},
                      {"expected", flow_json(h.flow)},
                      {"filter", h.filter},
                      {"seen", o != nullptr && o->seen}};
    if (o != nullptr && o->seen) {
      hj["offset_ns"] = o->offset_ns;
      hj["packet"] = flow_json(o->flow);
      if (o->outer)
        hj["outer"] = {{"encap", h.encap},
                       {"src", o->outer->first.ToString()},
                       {"dst", o->outer->second.ToString()}};
    }
    if (o != nullptr && !o->why.empty()) hj["why"] = o->why;
    hops.push_back(std::move(hj));
  }
  j["hops"] = std::move(hops);
  if (v.first_missing >= 0) j["first_missing"] = Where(p.hops[v.first_missing]);
  if (v.last_seen >= 0) j["last_seen"] = Where(p.hops[v.last_seen]);
  return j.dump(2) + "\n";
}

}  // namespace mkn::trace
