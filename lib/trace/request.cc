// lib/trace/request — ParseRequest: `trace`'s SRC and DST words (and protocol) against the lab,
// each kind of end (a pod, a node, `underlay`, `host`; a pod IP, a ClusterIP, svc/NAME[:PORT], a
// NodePort) and the refusals with their reasons. Split from trace.cc, which predicts the path.
#include <algorithm>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "lib/control/usage.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"
#include "lib/trace/trace.h"
#include "lib/world/world.h"

namespace mkn::trace {
namespace {

using config::ClusterSpec;
using config::NodeSpec;
using config::PodSpec;

// --- ParseRequest helpers
// -------------------------------------------------------------------------

absl::Status NoSuch(std::string_view what, std::string_view word, std::string_view kinds,
                    const std::vector<std::string>& names) {
  std::string msg = StrCat("trace: ", what, " ", word, ": no such ", kinds);
  if (std::string near = control::Nearest(word, names); !near.empty())
    StrAppend(&msg, ": did you mean \"", near, "\"?");
  return absl::InvalidArgumentError(msg);
}

// DST a Service written without svc/ (`kube-system/kube-dns`, as `get svc -A` lists it; `web`),
// or with svc/ but without its namespace (`svc/kube-dns`): the Service's own spelling,
// `svc/<key>`, or "" when no Service answers to `word`. A near-miss spelling would not
// reach it (svc/ is four letters away), and a Service is what the user meant, so say so.
std::string ServiceSpelling(const ClusterSpec& spec, std::string_view word) {
  if (word.starts_with("svc/")) word.remove_prefix(4);
  const config::ServiceSpec* found = nullptr;
  for (const config::ServiceSpec& s : spec.services) {
    if (s.name == word) return StrCat("svc/", s.name);
    // The name within its namespace; only when one Service has it, so the hint is never a guess.
    const size_t slash = s.name.rfind('/');
    if (slash != std::string::npos && std::string_view(s.name).substr(slash + 1) == word) {
      if (found != nullptr) return "";
      found = &s;
    }
  }
  return found != nullptr ? StrCat("svc/", found->name) : "";
}

absl::Status NoSuchWithService(const ClusterSpec& spec, std::string_view word,
                               std::string_view kinds, const std::vector<std::string>& names) {
  if (std::string svc = ServiceSpelling(spec, word); !svc.empty()) {
    return absl::InvalidArgumentError(StrCat("trace: DST ", word, ": no such ", kinds,
                                             ": did you mean \"", svc,
                                             "\"? (a Service is written svc/NAME)"));
  }
  return NoSuch("DST", word, kinds, names);
}

// DST names the world outside ([cluster] world): "world", one of its names (example.test, ...),
// or an address of its range. Answered whether the world is on or off, so that a lab with
// `world = false` is told so rather than "no such pod".
bool NamesWorld(const config::ClusterSpec& spec, std::string_view word) {
  if (word == net::kWorldObject) return true;
  config::WorldSpec any;  // any name under the world's zone, on or off
  any.enabled = true;
  if (world::Lookup(any, word).answer != world::Answer::kRefused)
    return true;  // under example.test
  if (!spec.world.enabled) return false;
  std::optional<net::IpAddr> ip = net::IpAddr::Parse(word);
  return ip && spec.world.cidr.Contains(*ip);
}

// DST the world: its address for `word` (the world's first name for "world"). The world answers
// on each of its names' addresses (http-echo :80, tcp/udp-echo :7, DNS :53), so any of them is a
// destination; an address of its range that no name has is one nothing answers.
absl::StatusOr<Endpoint> WorldEnd(const config::ClusterSpec& spec, std::string_view word) {
  if (!spec.world.enabled) {
    return absl::InvalidArgumentError(
        StrCat("trace: DST ", word,
               " is the world outside the cluster, and this lab has none ([cluster] world = false",
               spec.cni_mode ? ", the default in a CNI lab" : "",
               "): set world = true in [cluster] to trace to it"));
  }
  Endpoint e;
  e.kind = "world";
  e.object = std::string(net::kWorldObject);
  e.netns = spec.world.netns;
  std::optional<net::IpAddr> addr;
  if (word == net::kWorldObject) {
    addr = spec.world.hosts.front().addr;
  } else if (std::optional<net::IpAddr> ip = net::IpAddr::Parse(word)) {
    if (!world::IsWorldAddress(spec.world, *ip)) {
      std::string have;
      for (const config::WorldHost& h : spec.world.hosts)
        StrAppend(&have, have.empty() ? "" : ", ", h.addr.ToString(), " (", h.name, ")");
      return absl::InvalidArgumentError(
          StrCat("trace: DST ", word, " is in the world's range ", spec.world.cidr.ToString(),
                 " but none of its names has it: the world answers on ", have));
    }
    addr = ip;
  } else {
    world::LookupResult found = world::Lookup(spec.world, word);
    if (found.answer != world::Answer::kAddress) {
      std::vector<std::string> names{std::string(net::kWorldObject)};
      for (const config::WorldHost& h : spec.world.hosts) names.push_back(h.name);
      return NoSuch("DST", word, "name of the world", names);
    }
    addr = found.addrs.front();
  }
  // The world is IPv4 until the lab is dual-stack (lib/config/resolve_world.cc), as trace is.
  std::optional<net::Ipv4> v4 = addr->V4();
  if (!v4) {
    return absl::UnimplementedError(
        StrCat("trace: DST ", word, ": the world's IPv6 addresses are not traced yet"));
  }
  e.ip = *v4;
  return e;
}

// A CNI lab: what can be traced there, and the addresses the chain must have given. A pod's way
// out is its chain's; a node's or the underlay's own probe leaves from the source its kernel picks
// (ApplyCniRoutes; 0 until then). A pod's packet to a node is taken in where the node's kernel
// routes the pod (PredictCni); a node or the underlay to a node's address crosses only the tool's
// underlay.
absl::Status CheckCni(std::string_view src, std::string_view dst, Request& r,
                      const PodSpec* dst_pod) {
  const bool to_node = r.dst.kind == "node" || r.dst.kind == "node IP";
  if (r.src.kind != "pod" && !to_node) r.src.ip = net::Ipv4{};
  if (r.src.kind == "pod" && r.src.ip.value == 0) {
    return absl::FailedPreconditionError(StrCat(
        "trace: ", r.src.pod, " has no address (its chain's ADD failed?): nothing to trace"));
  }
  if (dst_pod != nullptr && dst_pod->ip.value == 0) {
    return absl::FailedPreconditionError(StrCat(
        "trace: ", dst_pod->name, " has no address (its chain's ADD failed?): nothing to trace"));
  }
  return absl::OkStatus();
}

}  // namespace

// --- ParseRequest ------------------------------------------------------------------------------

absl::StatusOr<Request> ParseRequest(const ClusterSpec& spec, std::string_view src,
                                     std::string_view dst, std::string_view proto) {
  // The edge: from the caller's namespace, through a listener (edge.cc).
  if (IsEdgeUrl(dst) || src == kHostObject) return ParseEdgeRequest(spec, src, dst, proto);
  std::vector<std::string> pods, nodes;
  for (const PodSpec& p : spec.pods) pods.push_back(p.name);
  for (const NodeSpec& n : spec.nodes) nodes.push_back(n.name);
  Request r;

  // DST[:PORT]; svc/NAME[:PORT]; NODE:NODEPORT.
  std::string_view word = dst, port_text;
  if (size_t c = dst.rfind(':'); c != std::string_view::npos) {
    word = dst.substr(0, c);
    port_text = dst.substr(c + 1);
  }
  int port = 0;
  // svc/NAME:PORT may name the Service's port (svc/web:http), as kubectl port-forward takes it.
  // A colon says a port follows: "world:" is no port, not the ICMP of "world".
  std::string_view port_name;
  if (word.size() != dst.size() && port_text.empty())
    return absl::InvalidArgumentError(StrCat("trace: DST ", dst, ": the port must be 1..65535"));
  if (!port_text.empty() && !absl::SimpleAtoi(AsAbsl(port_text), &port)) {
    if (!word.starts_with("svc/")) {
      return absl::InvalidArgumentError(
          StrCat("trace: DST ", dst, ": the port must be 1..65535 (a name only after svc/NAME)"));
    }
    port_name = port_text;
  } else if (!port_text.empty() && (port < 1 || port > 65535)) {
    return absl::InvalidArgumentError(StrCat("trace: DST ", dst, ": the port must be 1..65535"));
  }
  if (word.empty()) return absl::InvalidArgumentError("trace: DST is empty");

  const config::ServiceSpec* svc = nullptr;
  const NodeSpec* dst_node = nullptr;
  r.dst.word = std::string(dst);
  if (word.starts_with("svc/")) {
    std::string_view name = word.substr(4);
    std::vector<std::string> names;
    for (const config::ServiceSpec& s : spec.services) {
      names.push_back(StrCat("svc/", s.name));
      if (s.name == name) svc = &s;
    }
    if (svc == nullptr) return NoSuchWithService(spec, word, "Service", names);
    if (svc->headless) {
      return absl::InvalidArgumentError(
          StrCat("trace: DST ", word,
                 " is headless (cluster_ip = \"None\"): it has no ClusterIP "
                 "to trace; trace one of its pods"));
    }
    r.dst.kind = "ClusterIP";
    r.dst.ip = svc->cluster_ip;
  } else if (NamesWorld(spec, word) && spec.FindPod(word) == nullptr &&
             spec.FindNode(word) == nullptr) {
    MKN_ASSIGN_OR_RETURN(r.dst, WorldEnd(spec, word));
    r.dst.word = std::string(dst);
  } else if (const PodSpec* p = spec.FindPod(word)) {
    r.dst.kind = "pod";
    r.dst.pod = p->name;
    r.dst.ip = p->ip;
  } else if (const NodeSpec* n = spec.FindNode(word)) {
    dst_node = n;
    r.dst.kind = "node";
    r.dst.ip = n->underlay_ip;
  } else if (std::optional<net::Ipv4> ip = net::Ipv4::Parse(word)) {
    r.dst.ip = *ip;
    for (const PodSpec& p : spec.pods) {
      if (p.ip == *ip) {
        r.dst.kind = "pod IP";
        r.dst.pod = p.name;
      }
    }
    for (const NodeSpec& n : spec.nodes) {
      if (n.underlay_ip == *ip) {
        r.dst.kind = "node IP";
        dst_node = &n;
      }
    }
    for (const config::ServiceSpec& s : spec.services) {
      if (!s.headless && s.cluster_ip == *ip) {
        r.dst.kind = "ClusterIP";
        svc = &s;
      }
    }
    if (r.dst.kind.empty()) {
      return absl::InvalidArgumentError(StrCat("trace: DST ", word,
                                               " is neither a pod's or a node's address nor a "
                                               "ClusterIP of this lab"));
    }
  } else {
    std::vector<std::string> names = pods;
    names.insert(names.end(), nodes.begin(), nodes.end());
    for (const config::ServiceSpec& s : spec.services) names.push_back(StrCat("svc/", s.name));
    return NoSuchWithService(spec, word, "pod, node, Service or address", names);
  }
  if (dst_node != nullptr) r.dst.node = dst_node->name;
  // A node with a port is a NodePort: what `curl node1:30080` reaches.
  if (dst_node != nullptr && port != 0) {
    std::string node_ports;
    for (const config::ServiceSpec& s : spec.services) {
      for (const config::ServicePortSpec& sp : s.ports) {
        if (sp.node_port == 0) continue;
        StrAppend(&node_ports, node_ports.empty() ? "" : ", ", sp.node_port);
        if (sp.node_port == port) svc = &s;
      }
    }
    if (svc == nullptr) {
      return absl::InvalidArgumentError(
          StrCat("trace: DST ", dst, ": ", port, " is no NodePort of this lab ",
                 node_ports.empty() ? "(it has none)" : StrCat("(its NodePorts: ", node_ports, ")"),
                 "; a node is traced with ICMP, without a port"));
    }
    r.dst.kind = "NodePort";
  }

  // SRC: a pod, a node, or the underlay.
  const PodSpec* dst_pod = spec.FindPod(r.dst.pod);
  if (const PodSpec* p = spec.FindPod(src)) {
    if (p == dst_pod) {
      // The kernel delivers a pod's packet to its own address over lo: none of the hops a trace
      // watches (eth0, the veth, the bridge) ever sees it, so every one would read MISSING.
      return absl::InvalidArgumentError(StrCat(
          "trace: SRC ", src, " and DST ", dst, ": the packet never leaves the pod: it goes ",
          "over lo, which trace does not watch; trace to another pod, a node or a Service"));
    }
    r.src = {std::string(src), "pod",    p->name, spec.nodes[p->node].name,
             p->name,          p->netns, p->ip,   0};
  } else if (const NodeSpec* n = spec.FindNode(src)) {
    if (dst_node == n && r.dst.kind != "NodePort") {
      return absl::InvalidArgumentError(
          StrCat("trace: SRC ", src, " and DST ", dst,
                 ": a node's packet to its own address never leaves it; trace to another node "
                 "or a pod"));
    }
    r.src = {std::string(src),
             "node",
             "",
             n->name,
             n->name,
             n->netns,
             NodeSourceToward(spec, *n, dst_pod),
             0};
  } else if (src == net::kUnderlayObject) {
    // A CNI lab's underlay may have been given a route to the pods (by a node daemon, BGP to the
    // ToRs, or by hand): whether it has one is the kernel's to say (ApplyCniRoutes).
    const bool cni_pod = spec.cni_mode && dst_pod != nullptr;
    if (dst_node == nullptr && !cni_pod) {
      return absl::InvalidArgumentError(
          spec.cni_mode
              ? StrCat("trace: SRC underlay reaches a node's address (a node, its IP or a "
                       "NodePort NODE:PORT) or, where its kernel has a route to them, a pod, not ",
                       dst, ": kube-proxy's rules for a ClusterIP are in the nodes")
              : StrCat("trace: SRC underlay reaches a node's address (a node, its IP or a "
                       "NodePort NODE:PORT), not ",
                       dst, ": the underlay has no route to the pods or the Services"));
    }
    r.src.word = std::string(src);
    r.src.kind = "underlay";
    if (!spec.routed_underlay) {
      r.src.object = std::string(net::kUnderlayObject);
      r.src.netns = net::NetnsName(spec.name, net::kUnderlayObject);
      r.src.ip = spec.underlay_gateway;
    } else {
      // A routed lab has no underlay namespace: the ToR of DST's rack stands for it.
      const config::RackSpec& rack =
          spec.racks[dst_node != nullptr ? dst_node->rack : spec.nodes[dst_pod->node].rack];
      r.src.object = rack.tor;
      r.src.netns = rack.netns;
      r.src.ip = rack.gateway.V4().value_or(net::Ipv4{});
    }
  } else {
    std::vector<std::string> names = pods;
    names.insert(names.end(), nodes.begin(), nodes.end());
    names.push_back(std::string(net::kUnderlayObject));
    names.push_back(std::string(kHostObject));
    return NoSuch("SRC", src, "pod or node", names);
  }
  if (spec.cni_mode) MKN_RETURN_IF_ERROR(CheckCni(src, dst, r, dst_pod));
  if (svc != nullptr && r.dst.kind != "NodePort" && r.src.kind == "node" && !spec.cni_mode) {
    // A node's own connection to a ClusterIP leaves from the address of the device its route
    // to the Service range points at: the proxy TUN (userspace, no address of its own) or cbr0.
    r.src.ip = NodeSourceTowardServices(spec, *spec.FindNode(src));
  }

  // The protocol and port.
  if (svc != nullptr) {
    r.service = svc->name;
    const bool node_port = r.dst.kind == "NodePort";
    // --proto tcp|udp picks among the ports DST names (53/UDP and 53/TCP, as kube-dns has);
    // `other` is one DST names that carries the other protocol.
    const bool by_proto = proto == "tcp" || proto == "udp";
    const config::ServicePortSpec *sp = nullptr, *other = nullptr;
    auto pick = [&](const config::ServicePortSpec& p) {
      if (!by_proto || ToString(ProtoOf(p)) == proto) {
        if (sp == nullptr) sp = &p;
      } else if (other == nullptr) {
        other = &p;
      }
    };
    for (const config::ServicePortSpec& p : svc->ports) {
      if (!port_name.empty()
              ? p.name == port_name
              : (node_port && p.node_port == port) || (!node_port && (port == 0 || p.port == port)))
        pick(p);
    }
    // A single-port Service often leaves its port unnamed: then the container port's name it
    // targets (target_port = "http") names it too.
    for (const config::ServicePortSpec& p : svc->ports) {
      if (sp == nullptr && !port_name.empty() && p.target_port_name == port_name) pick(p);
    }
    if (sp == nullptr && other != nullptr) {
      // The Service has no rule for that protocol there: nothing would translate the probe.
      return absl::InvalidArgumentError(StrCat(
          "trace: Service ", svc->name, "'s port ", node_port ? other->node_port : other->port,
          " carries ", ToString(ProtoOf(*other)) == "udp" ? "UDP" : "TCP", ", not ",
          proto == "udp" ? "UDP" : "TCP", ": leave --proto out or say ",
          ToString(ProtoOf(*other))));
    }
    if (sp == nullptr && !port_name.empty()) {
      std::string names;
      for (const config::ServicePortSpec& p : svc->ports) {
        StrAppend(&names, names.empty() ? "" : ", ",
                  p.name.empty() ? std::string("(unnamed)") : p.name, " ", p.port);
      }
      return absl::InvalidArgumentError(StrCat("trace: Service ", svc->name,
                                               " has no port named \"", port_name, "\" (it has ",
                                               names, ")"));
    }
    if (sp == nullptr) {
      std::string ports;
      for (const config::ServicePortSpec& p : svc->ports)
        StrAppend(&ports, ports.empty() ? "" : ", ", p.port);
      // svc/web-np:30080: the NodePort is a node's port, not the Service's; say how it is asked.
      std::string hint;
      for (const config::ServicePortSpec& p : svc->ports) {
        if (!node_port && p.node_port != 0 && p.node_port == port && !spec.nodes.empty()) {
          hint = StrCat("; ", port, " is its NodePort, on every node: trace ", src, " ",
                        spec.nodes.front().name, ":", port);
        }
      }
      return absl::InvalidArgumentError(StrCat("trace: Service ", svc->name, " has no port ", port,
                                               " (it has ", ports, ")", hint));
    }
    r.dst.port = static_cast<uint16_t>(node_port ? sp->node_port : sp->port);
    const Proto svc_proto = sp->protocol == config::Protocol::kUdp ? Proto::kUdp : Proto::kTcp;
    if (proto == "icmp") {
      return absl::InvalidArgumentError(
          StrCat("trace: Service ", svc->name, "'s port ", r.dst.port, " carries ",
                 svc_proto == Proto::kUdp ? "UDP" : "TCP",
                 ", not ICMP (a Service translates TCP and UDP): leave --proto out or say ",
                 ToString(svc_proto)));
    }
    r.proto = svc_proto;
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

}  // namespace mkn::trace
