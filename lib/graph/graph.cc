#include "lib/graph/graph.h"

#include <algorithm>
#include <set>

#include "lib/geneve/header.h"
#include "lib/net/ip.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::graph {
namespace {

using config::ClusterSpec;

std::string WithLen(net::Ipv4 ip, int len) { return StrCat(ip.ToString(), "/", len); }

std::string NodeId(std::string_view n) { return StrCat("node/", n); }
std::string PodId(std::string_view p) { return StrCat("pod/", p); }
std::string SvcId(std::string_view s) { return StrCat("svc/", s); }

std::string NetworkText(const ClusterSpec& s) {
  if (s.cni_mode) {
    return StrCat("network cni (node routes: ", config::ToString(s.cni.node_routes), ")");
  }
  if (s.network == config::NetworkMode::kVxlan) return StrCat("network vxlan (VNI ", s.vni, ")");
  if (s.network == config::NetworkMode::kGeneve) return StrCat("network geneve (VNI ", s.vni, ")");
  if (s.network == config::NetworkMode::kBgp)
    return StrCat("network bgp (", config::ToString(s.bgp.mode), ")");
  return "network host-gw";
}

// Where node `n` meets the underlay: the lab's one bridge, or its rack's ToR (routed underlay).
std::string UplinkId(const ClusterSpec& s, const config::NodeSpec& n) {
  return s.routed_underlay ? StrCat("tor/", s.racks[static_cast<size_t>(n.rack)].name) : "underlay";
}

// How node `n` reaches node `peer`'s pods: the route it holds for them.
std::string RouteLine(const ClusterSpec& s, const config::NodeSpec& peer) {
  const bool vxlan = s.cni_mode ? s.cni.node_routes == config::NodeRoutes::kVxlan
                                : s.network == config::NetworkMode::kVxlan;
  const bool bgp = s.cni_mode ? s.cni.node_routes == config::NodeRoutes::kBgp
                              : s.network == config::NetworkMode::kBgp;
  // Learned, not written by the tool: its next hop is the speakers' choice (README, Layer 3).
  if (bgp) return StrCat(peer.pod_cidr.ToString(), " learned by BGP (proto bird)");
  if (vxlan) {
    return StrCat(peer.pod_cidr.ToString(), " via ", peer.vtep_ip.ToString(), " dev ",
                  net::kNodeVxlan, " onlink");
  }
  const bool geneve = s.cni_mode ? s.cni.node_routes == config::NodeRoutes::kGeneve
                                 : s.network == config::NetworkMode::kGeneve;
  if (geneve) {
    return StrCat(peer.pod_cidr.ToString(), " via ", peer.vtep_ip.ToString(), " dev ",
                  net::kNodeGeneve, " onlink");
  }
  return StrCat(peer.pod_cidr.ToString(), " via ", peer.underlay_ip.ToString(), " dev ",
                net::kNodeUplinkIf);
}

std::string PortLine(const config::ServicePortSpec& p) {
  std::string line = StrCat(p.port, "/", config::ToString(p.protocol), " -> ");
  if (p.target_port_name.empty()) {
    StrAppend(&line, p.target_port);
  } else {
    StrAppend(&line, p.target_port_name);
  }
  if (p.node_port) StrAppend(&line, ", NodePort ", p.node_port);
  if (!p.name.empty()) StrAppend(&line, " (", p.name, ")");
  return line;
}

struct Builder {
  Graph g;
  std::set<std::string> ids;

  void AddVertex(std::string id, VertexKind kind, std::vector<std::string> lines,
                 std::string group = "") {
    ids.insert(id);
    g.vertices.push_back({std::move(id), kind, std::move(lines), std::move(group)});
  }
  void AddEdge(std::string from, std::string to, EdgeKind kind, std::string from_end = "",
               std::string to_end = "", std::string label = "") {
    g.edges.push_back({std::move(from), std::move(to), kind, std::move(from_end), std::move(to_end),
                       std::move(label)});
  }
};

}  // namespace

Graph BuildGraph(const ClusterSpec& s, const LiveState* live) {
  Builder b;
  b.g.name = s.name;
  b.g.title = StrCat("lab ", s.name, ": ", NetworkText(s), ", proxy ",
                     config::ToString(s.proxy_mode), ", pods ", s.pod_cidr.ToString(),
                     ", services ", s.service_cidr.ToString(), live ? " (live)" : "");
  const bool vxlan = !s.cni_mode && s.network == config::NetworkMode::kVxlan;
  const bool geneve = !s.cni_mode && s.network == config::NetworkMode::kGeneve;

  if (!s.routed_underlay) {
    b.AddVertex("underlay", VertexKind::kUnderlay,
                {"underlay", StrCat(net::kUnderlayBridge, " ",
                                    WithLen(s.underlay_gateway, s.underlay_cidr.len))});
  } else {
    // A routed underlay: each rack's ToR router holds its rack's bridge; the ToRs meet at a spine.
    const bool bgp = !s.cni_mode && s.network == config::NetworkMode::kBgp;
    if (!s.spine_netns.empty()) {
      std::vector<std::string> lines = {std::string(net::kSpineObject)};
      if (bgp) lines.push_back(StrCat("AS ", s.bgp.spine_asn));
      b.AddVertex(std::string(net::kSpineObject), VertexKind::kUnderlay, std::move(lines));
    }
    for (const config::RackSpec& r : s.racks) {
      std::vector<std::string> lines = {r.tor, StrCat("rack ", r.name, ": ", net::kUnderlayBridge,
                                                      " ", r.gateway.ToString(), "/", r.cidr.len)};
      if (bgp) lines.push_back(StrCat("AS ", r.asn));
      b.AddVertex(StrCat("tor/", r.name), VertexKind::kUnderlay, std::move(lines));
      if (!s.spine_netns.empty()) {
        b.AddEdge(std::string(net::kSpineObject), StrCat("tor/", r.name), EdgeKind::kLink,
                  StrCat(r.tor, " ", r.spine_end.ToString(), "/", r.uplink.len),
                  StrCat(net::kTorSpinePort, " ", r.tor_end.ToString(), "/", r.uplink.len));
      }
    }
  }
  // The world outside: a namespace hanging off the underlay side, which routes to it.
  if (s.world.enabled) {
    std::vector<std::string> names;
    for (const config::WorldHost& h : s.world.hosts)
      names.push_back(StrCat(h.name, " ", h.addr.ToString()));
    std::vector<std::string> lines = {"world (outside the cluster)"};
    lines.insert(lines.end(), names.begin(), names.end());
    lines.push_back("http-echo :80, tcp/udp-echo :7, DNS :53");
    if (s.world.masquerade) lines.push_back("pods reach it masqueraded to their node");
    b.AddVertex(std::string(net::kWorldObject), VertexKind::kUnderlay, std::move(lines));
    const std::string attach = !s.routed_underlay       ? std::string("underlay")
                               : !s.spine_netns.empty() ? std::string(net::kSpineObject)
                                                        : StrCat("tor/", s.racks[0].name);
    b.AddEdge(
        attach, std::string(net::kWorldObject), EdgeKind::kLink,
        StrCat(net::kWorldPort, " ", s.world.gateway.ToString(), "/", s.world.cidr.len),
        StrCat(net::kWorldIf, " ", s.world.hosts.front().addr.ToString(), "/", s.world.cidr.len));
  }
  for (const config::NodeSpec& n : s.nodes) {
    const std::string group = NodeId(n.name);
    b.g.groups.push_back({group, StrCat("node ", n.name, " (netns ", n.netns, ")")});
    std::vector<std::string> lines = {n.name, StrCat("pods ", n.pod_cidr.ToString())};
    if (s.cni_mode && s.cni.node_routes == config::NodeRoutes::kPlugin) {
      lines.push_back("routes to other nodes: the CNI plugin's");
    } else {
      for (const config::NodeSpec& peer : s.nodes)
        if (peer.name != n.name) lines.push_back(RouteLine(s, peer));
    }
    lines.push_back(s.proxy_mode == config::ProxyMode::kUserspace
                        ? StrCat("Services: userspace NAT on ", net::kNodeProxyTun)
                        : StrCat("Services: nftables table ", net::kNftTable));
    b.AddVertex(group, VertexKind::kNode, std::move(lines), group);
    const int uplink_len =
        s.routed_underlay ? s.racks[static_cast<size_t>(n.rack)].cidr.len : s.underlay_cidr.len;
    b.AddEdge(UplinkId(s, n), group, EdgeKind::kLink, n.name,
              StrCat(net::kNodeUplinkIf, " ", WithLen(n.underlay_ip, uplink_len)));
    if (!s.cni_mode) {
      const std::string br = StrCat("bridge/", n.name);
      b.AddVertex(br, VertexKind::kBridge,
                  {std::string(net::kNodeBridge), WithLen(n.gateway, n.pod_cidr.len)}, group);
      b.AddEdge(group, br, EdgeKind::kLink);
    }
    if (vxlan) {
      const std::string vx = StrCat("vxlan/", n.name);
      b.AddVertex(vx, VertexKind::kTunnel,
                  {std::string(net::kNodeVxlan), StrCat(WithLen(n.vtep_ip, 32), ", VNI ", s.vni)},
                  group);
      b.AddEdge(group, vx, EdgeKind::kLink);
      b.AddEdge(vx, UplinkId(s, n), EdgeKind::kTunnel, "", "",
                StrCat("VXLAN over ", net::kNodeUplinkIf, ", UDP ", config::kVxlanPort));
    }
    if (geneve) {
      // A TAP, not a kernel tunnel: the minikube-net process carries its frames (vnet/geneve).
      const std::string gnv = StrCat("geneve/", n.name);
      b.AddVertex(gnv, VertexKind::kTunnel,
                  {std::string(net::kNodeGeneve),
                   StrCat(WithLen(n.vtep_ip, 32), ", VNI ", s.vni, ", TAP served by minikube-net")},
                  group);
      b.AddEdge(group, gnv, EdgeKind::kLink);
      b.AddEdge(gnv, UplinkId(s, n), EdgeKind::kTunnel, "", "",
                StrCat("Geneve over ", net::kNodeUplinkIf, ", UDP ", geneve::kPort));
    }
  }

  // Pods: the lab's, or the running cluster's.
  struct PodView {
    std::string name, node, ip, veth;
  };
  std::vector<PodView> pods;
  if (live) {
    for (const LivePod& p : live->pods) {
      const config::PodSpec* spec_pod = s.FindPod(p.name);
      pods.push_back({p.name, p.node, p.ip,
                      spec_pod ? spec_pod->host_veth : net::PodVethName(s.name, p.name)});
    }
  } else {
    for (const config::PodSpec& p : s.pods) {
      pods.push_back({p.name, s.nodes[static_cast<size_t>(p.node)].name,
                      s.cni_mode ? "" : p.ip.ToString(), p.host_veth});
    }
  }
  for (const PodView& p : pods) {
    const config::NodeSpec* node = s.FindNode(p.node);
    const std::string group = node ? NodeId(node->name) : "";
    b.AddVertex(PodId(p.name), VertexKind::kPod,
                {p.name, p.ip.empty() ? "address from the CNI chain" : p.ip}, group);
    if (!node) continue;
    if (s.cni_mode) {
      b.AddEdge(PodId(p.name), group, EdgeKind::kLink,
                p.ip.empty() ? node->cni.ifname : StrCat(node->cni.ifname, " ", p.ip), "", "CNI");
    } else {
      b.AddEdge(PodId(p.name), StrCat("bridge/", node->name), EdgeKind::kLink,
                StrCat(net::kPodIf, " ", p.ip, "/", node->pod_cidr.len), p.veth);
    }
  }

  for (const config::ServiceSpec& svc : s.services) {
    std::vector<std::string> lines = {
        SvcId(svc.name),
        StrCat(config::ToString(svc.type), " ", svc.headless ? "None" : svc.cluster_ip.ToString())};
    for (const config::ServicePortSpec& p : svc.ports) lines.push_back(PortLine(p));
    b.AddVertex(SvcId(svc.name), VertexKind::kService, std::move(lines));
    std::vector<std::string> endpoints;
    if (live && live->endpoints.count(svc.name)) {
      endpoints = live->endpoints.at(svc.name);
    } else {
      for (int e : svc.endpoints) endpoints.push_back(s.pods[static_cast<size_t>(e)].name);
    }
    for (const std::string& e : endpoints) {
      if (b.ids.count(PodId(e))) b.AddEdge(SvcId(svc.name), PodId(e), EdgeKind::kService);
    }
  }

  for (const config::ListenerSpec& l : s.listeners) {
    const std::string id = StrCat("listener/", l.name);
    std::vector<std::string> lines = {
        StrCat("listener ", l.name),
        StrCat(l.protocol == config::ListenerProtocol::kHttps ? "HTTPS " : "HTTP ",
               l.address.ToString(), ":", l.port, " (host)")};
    if (l.redirect_to_https) {
      lines.push_back("redirects to HTTPS");
    } else {
      lines.push_back(StrCat("upstream from ", s.nodes[static_cast<size_t>(l.node)].name,
                             l.upstream == config::UpstreamMode::kService ? " to the ClusterIP"
                                                                          : " to the endpoints"));
    }
    b.AddVertex(id, VertexKind::kListener, std::move(lines));
    if (l.redirect_to_https) continue;
    // Route labels per Service, in the order routes are written.
    std::vector<std::pair<std::string, std::string>> routes;
    auto add = [&](const std::string& svc, const std::string& label) {
      for (auto& [name, text] : routes) {
        if (name == svc) {
          StrAppend(&text, "\n", label);
          return;
        }
      }
      routes.emplace_back(svc, label);
    };
    for (const config::IngressSpec& ing : s.ingresses) {
      for (const config::IngressRuleSpec& r : ing.rules) {
        for (const config::IngressPathSpec& p : r.paths) {
          add(p.backend.service, StrCat(r.host.empty() ? "*" : r.host, p.path,
                                        p.type == config::PathType::kExact ? " (exact)" : ""));
        }
      }
      if (ing.default_backend) add(ing.default_backend->service, "default");
    }
    for (const config::HttpRouteSpec& r : s.http_routes) {
      if (!r.parents.empty() &&
          std::find(r.parents.begin(), r.parents.end(), l.name) == r.parents.end())
        continue;
      const std::string host = r.hostnames.empty() ? "*" : r.hostnames.front();
      for (const config::HttpRouteRuleSpec& rule : r.rules) {
        const std::string path = rule.matches.empty() ? "/" : rule.matches.front().path;
        for (const config::BackendRefSpec& be : rule.backends) {
          add(be.service, StrCat(host, path, " (route ", r.name, ")"));
        }
      }
    }
    for (const auto& [svc, label] : routes) {
      if (b.ids.count(SvcId(svc))) b.AddEdge(id, SvcId(svc), EdgeKind::kRoute, "", "", label);
    }
  }
  return b.g;
}

// --- rendering -----------------------------------------------------------------------------------

std::string DotQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string MermaidEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "#quot;";
        break;
      case '#':
        out += "#35;";
        break;
      case '<':
        out += "#lt;";
        break;
      case '>':
        out += "#gt;";
        break;
      case '&':
        out += "#amp;";
        break;
      case '\n':
        out += "<br/>";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

namespace {

std::string_view FillOf(VertexKind k) {
  switch (k) {
    case VertexKind::kUnderlay:
      return "#e0e0e0";
    case VertexKind::kNode:
      return "#cfe2ff";
    case VertexKind::kBridge:
    case VertexKind::kTunnel:
      return "#fff3cd";
    case VertexKind::kPod:
      return "#d1e7dd";
    case VertexKind::kService:
      return "#f8d7da";
    case VertexKind::kListener:
      return "#e2d9f3";
  }
  return "#ffffff";
}

std::string_view ClassOf(VertexKind k) {
  switch (k) {
    case VertexKind::kUnderlay:
      return "underlay";
    case VertexKind::kNode:
      return "knode";
    case VertexKind::kBridge:
    case VertexKind::kTunnel:
      return "device";
    case VertexKind::kPod:
      return "pod";
    case VertexKind::kService:
      return "service";
    case VertexKind::kListener:
      return "listener";
  }
  return "pod";
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) StrAppend(&out, out.empty() ? "" : "\n", l);
  return out;
}

}  // namespace

std::string RenderDot(const Graph& g) {
  std::string out = StrCat("graph ", DotQuote(g.name), " {\n");
  StrAppend(&out, "  label=", DotQuote(g.title),
            "; labelloc=t; fontname=\"Helvetica\"; fontsize=12; newrank=true;\n");
  out +=
      "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [fontname=\"Helvetica\", fontsize=8, labelfontsize=8];\n";
  auto vertex = [&](const Vertex& v, std::string_view indent) {
    StrAppend(&out, indent, DotQuote(v.id), " [label=", DotQuote(Join(v.lines)),
              ", fillcolor=", DotQuote(FillOf(v.kind)), "];\n");
  };
  for (const Vertex& v : g.vertices)
    if (v.group.empty()) vertex(v, "  ");
  for (const Group& gr : g.groups) {
    StrAppend(&out, "  subgraph ", DotQuote(StrCat("cluster_", gr.id)),
              " {\n    label=", DotQuote(gr.label), "; style=rounded; color=\"#6c757d\";\n");
    for (const Vertex& v : g.vertices)
      if (v.group == gr.id) vertex(v, "    ");
    out += "  }\n";
  }
  for (const Edge& e : g.edges) {
    StrAppend(&out, "  ", DotQuote(e.from), " -- ", DotQuote(e.to));
    std::vector<std::string> attrs;
    if (!e.from_end.empty()) attrs.push_back(StrCat("taillabel=", DotQuote(e.from_end)));
    if (!e.to_end.empty()) attrs.push_back(StrCat("headlabel=", DotQuote(e.to_end)));
    if (!e.label.empty()) attrs.push_back(StrCat("label=", DotQuote(e.label)));
    switch (e.kind) {
      case EdgeKind::kLink:
        break;
      case EdgeKind::kTunnel:
        attrs.push_back("style=dashed, color=\"#b58900\"");
        break;
      case EdgeKind::kService:
        attrs.push_back("dir=forward, style=dotted, color=\"#c0392b\"");
        break;
      case EdgeKind::kRoute:
        attrs.push_back("dir=forward, color=\"#6f42c1\"");
        break;
    }
    if (!attrs.empty()) {
      out += " [";
      for (size_t i = 0; i < attrs.size(); ++i) StrAppend(&out, i ? ", " : "", attrs[i]);
      out += "]";
    }
    out += ";\n";
  }
  out += "}\n";
  return out;
}

std::string RenderMermaid(const Graph& g) {
  std::map<std::string, std::string> id;  // vertex id -> n<i>
  for (size_t i = 0; i < g.vertices.size(); ++i) id[g.vertices[i].id] = StrCat("n", i);
  std::string out = StrCat("%% ", MermaidEscape(g.title), "\nflowchart TB\n");
  auto vertex = [&](const Vertex& v, std::string_view indent) {
    std::string label;
    for (const std::string& l : v.lines)
      StrAppend(&label, label.empty() ? "" : "<br/>", MermaidEscape(l));
    StrAppend(&out, indent, id[v.id], "[\"", label, "\"]:::", ClassOf(v.kind), "\n");
  };
  for (const Vertex& v : g.vertices)
    if (v.group.empty()) vertex(v, "  ");
  for (size_t i = 0; i < g.groups.size(); ++i) {
    StrAppend(&out, "  subgraph g", i, "[\"", MermaidEscape(g.groups[i].label), "\"]\n");
    for (const Vertex& v : g.vertices)
      if (v.group == g.groups[i].id) vertex(v, "    ");
    out += "  end\n";
  }
  for (const Edge& e : g.edges) {
    std::string label;
    if (!e.from_end.empty() || !e.to_end.empty()) {
      label =
          StrCat(e.from_end.empty() ? "-" : e.from_end, " — ", e.to_end.empty() ? "-" : e.to_end);
    }
    if (!e.label.empty()) StrAppend(&label, label.empty() ? "" : "\n", e.label);
    std::string_view arrow = "---";
    switch (e.kind) {
      case EdgeKind::kLink:
        break;
      case EdgeKind::kTunnel:
        arrow = "-.-";
        break;
      case EdgeKind::kService:
        arrow = "-.->";
        break;
      case EdgeKind::kRoute:
        arrow = "==>";
        break;
    }
    StrAppend(&out, "  ", id[e.from], " ", arrow);
    if (!label.empty()) StrAppend(&out, "|\"", MermaidEscape(label), "\"|");
    StrAppend(&out, " ", id[e.to], "\n");
  }
  out +=
      "  classDef underlay fill:#e0e0e0,stroke:#555\n"
      "  classDef knode fill:#cfe2ff,stroke:#0d6efd\n"
      "  classDef device fill:#fff3cd,stroke:#b58900\n"
      "  classDef pod fill:#d1e7dd,stroke:#198754\n"
      "  classDef service fill:#f8d7da,stroke:#c0392b\n"
      "  classDef listener fill:#e2d9f3,stroke:#6f42c1\n";
  return out;
}

}  // namespace mkn::graph
