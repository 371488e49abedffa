// lib/trace/cni — a CNI lab's trace (network = "cni"): the plugins named and wired everything
// between the ends, so only the ends' own interfaces (a pod's; a node's or the underlay's, the
// device its kernel routes DST to, asked through CniRouteQueries/ApplyCniRoutes) and a Service's
// nft translation are predicted; the ends', the endpoints' and their nodes' namespaces are sniffed
// whole and the path is composed from what was seen. Split from trace.cc, which predicts the
// built-in networks' paths.
#include <algorithm>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "lib/trace/trace.h"

namespace mkn::trace {

using config::ClusterSpec;
using config::NodeSpec;
using config::PodSpec;

namespace {

const RouteAnswer* FindAnswer(const Request& r, std::string_view netns, net::Ipv4 dst) {
  for (const RouteAnswer& a : r.routes)
    if (a.query.netns == netns && a.query.dst == dst) return &a;
  return nullptr;
}

// The node that translates a request to a Service: a NodePort's own node, else the client's (a
// pod's node, or the node itself).
const NodeSpec* TranslatingNode(const ClusterSpec& spec, const Request& r) {
  if (r.dst.kind == "NodePort") return spec.FindNode(r.dst.node);
  if (r.src.kind == "node") return spec.FindNode(r.src.node);
  const PodSpec* pod = spec.FindPod(r.src.pod);
  return pod != nullptr ? &spec.nodes[pod->node] : nullptr;
}

// The endpoints of r's Service the chain gave an address (a pod whose ADD failed is no endpoint),
// and the Service's port DST names; FailedPrecondition without endpoints.
absl::Status Backends(const ClusterSpec& spec, const Request& r,
                      std::vector<const PodSpec*>& backends, const config::ServicePortSpec** port) {
  const config::ServiceSpec* svc = nullptr;
  for (const config::ServiceSpec& s : spec.services)
    if (s.name == r.service) svc = &s;
  if (svc == nullptr) return absl::InvalidArgumentError("trace: the Service is gone");
  const bool node_port = r.dst.kind == "NodePort";
  *port = nullptr;
  for (const config::ServicePortSpec& sp : svc->ports)
    if ((node_port ? sp.node_port : sp.port) == r.dst.port && ProtoOf(sp) == r.proto) *port = &sp;
  if (*port == nullptr) return absl::InvalidArgumentError("trace: the Service's port is gone");
  // A pod the chain gave no address, or without the named target port, is no endpoint of it.
  for (int ep : svc->endpoints)
    if (spec.pods[ep].ip.value != 0 && TargetPort(**port, spec.pods[ep]) != 0)
      backends.push_back(&spec.pods[ep]);
  if (backends.empty()) {
    return absl::FailedPreconditionError(
        StrCat("trace: Service ", svc->name, " has no endpoints: nothing to trace to"));
  }
  return absl::OkStatus();
}

// Adds `place` to the namespaces sniffed whole, once.
void SniffWhole(Path& p, const Place& place) {
  for (const Place& q : p.sniff_all)
    if (q.netns == place.netns) return;
  p.sniff_all.push_back(place);
}

}  // namespace

int TargetPort(const config::ServicePortSpec& port, const PodSpec& backend) {
  if (port.target_port != 0) return port.target_port;
  for (const config::ContainerSpec& c : backend.containers)
    for (const config::ContainerPort& cp : c.ports)
      if (cp.name == port.target_port_name) return cp.port;
  return 0;
}

std::vector<RouteQuery> CniRouteQueries(const ClusterSpec& spec, const Request& r) {
  std::vector<RouteQuery> q;
  if (!spec.cni_mode) return q;
  if (r.edge) {
    // The edge's upstream: the listener's node's own connection to each routed Service's
    // ClusterIP (masqueraded toward each endpoint), or straight to each endpoint.
    if (r.edge->listener < 0 || static_cast<size_t>(r.edge->listener) >= spec.listeners.size())
      return q;
    const config::ListenerSpec& l = spec.listeners[r.edge->listener];
    const NodeSpec& n = spec.nodes[l.node];
    for (const std::string& name : r.edge->services) {
      for (const config::ServiceSpec& svc : spec.services) {
        if (svc.name != name) continue;
        if (l.upstream == config::UpstreamMode::kService) q.push_back({n.netns, svc.cluster_ip});
        for (int ep : svc.endpoints)
          if (spec.pods[ep].ip.value != 0) q.push_back({n.netns, spec.pods[ep].ip});
      }
    }
    return q;
  }
  const bool to_node = r.dst.kind == "node" || r.dst.kind == "node IP";
  if (r.src.kind != "pod" && !to_node) q.push_back({r.src.netns, r.dst.ip});
  if (r.src.kind == "pod" && to_node) {
    // A pod to a node: the node takes the packet in (and answers) on the device its kernel routes
    // the pod by, which the plugins chose.
    const PodSpec* src = spec.FindPod(r.src.pod);
    const NodeSpec* dst = spec.FindNode(r.dst.node);
    if (src != nullptr && dst != nullptr) q.push_back({dst->netns, src->ip});
  }
  if (!r.service.empty()) {
    // Toward each endpoint from the translating node: the address a masquerade gives the packet.
    std::vector<const PodSpec*> backends;
    const config::ServicePortSpec* port = nullptr;
    const NodeSpec* at = TranslatingNode(spec, r);
    if (at != nullptr && Backends(spec, r, backends, &port).ok())
      for (const PodSpec* b : backends) q.push_back({at->netns, b->ip});
  }
  return q;
}

absl::Status ApplyCniRoutes(const ClusterSpec& spec, Request& r, std::vector<RouteAnswer> answers) {
  r.routes = std::move(answers);
  const bool to_node = r.dst.kind == "node" || r.dst.kind == "node IP";
  if (!spec.cni_mode || r.edge || r.src.kind == "pod" || to_node) return absl::OkStatus();
  const RouteAnswer* a = FindAnswer(r, r.src.netns, r.dst.ip);
  if (a == nullptr) {
    return absl::InternalError(
        StrCat("trace: no route lookup toward ", r.dst.ip.ToString(), " in ", r.src.netns));
  }
  if (!a->ok && r.src.kind == "node") {
    // A node without a route to DST: its probe's send fails the same way, so the packet dies in
    // its routing decision (exit 1, vnet/trace: DiedAtSource), as a node's does in every lab. It
    // is sent from the node's own address; no device of its is predicted.
    if (const NodeSpec* n = spec.FindNode(r.src.node); n != nullptr) {
      r.src.ip = n->underlay_ip;
      return absl::OkStatus();
    }
  }
  if (!a->ok) {
    return absl::InvalidArgumentError(StrCat(
        "trace: SRC ", r.src.word, " has no route to ", r.dst.word, " (", r.dst.ip.ToString(),
        "): `ip -n ", r.src.netns, " route get ", r.dst.ip.ToString(), "` answers \"", a->error,
        "\"",
        r.src.kind == "node" ? ""
                             : "; in a CNI lab the underlay reaches the pods only where it was "
                               "given a route to them (a node daemon, BGP, or by hand)"));
  }
  r.src.ip = a->src;
  r.src_dev = a->dev;
  return absl::OkStatus();
}

// network = "cni": the plugins named and wired everything between the ends, so only the ends'
// own interfaces are predicted (a pod's as its node's chain names it; a node's or the underlay's,
// the device the kernel routes DST to); the rest is sniffed (Path::sniff_all) and composed from
// what was seen. A ClusterIP: kube-proxy's nftables DNAT in the client's node (prerouting for a
// pod, output for the node's own stack, no interface shows it: proved by its conntrack entry); a
// NodePort: DNAT and masquerade in DST's node. Then each endpoint's interface a branch, the reply
// the way back with the translation undone.
absl::StatusOr<Path> PredictCni(const ClusterSpec& spec, const Request& r) {
  Path p;
  p.request = r;
  p.network = spec.network;
  p.proxy = spec.proxy_mode;
  p.cni = true;
  const PodSpec* src = nullptr;
  if (r.src.kind == "pod") {
    src = spec.FindPod(r.src.pod);
    if (src == nullptr) return absl::InvalidArgumentError("trace: the source pod is gone");
  }
  const NodeSpec* src_node = src != nullptr ? &spec.nodes[src->node] : spec.FindNode(r.src.node);
  const bool node_port = r.dst.kind == "NodePort";
  const Flow f{r.proto, r.src.ip, r.dst.ip, r.id, r.proto == Proto::kIcmp ? r.id : r.dst.port};
  // One end's own interface: a pod's (as its node's chain names it), or the device a node's or
  // the underlay's route points at.
  auto end_hop = [&](Leg leg, int branch, std::string_view object, std::string_view kind,
                     std::string_view netns, std::string_view ifname, std::string_view role,
                     Direction dir, const Flow& fl) {
    Hop h;
    h.leg = leg;
    h.branch = branch;
    h.object = std::string(object);
    h.kind = std::string(kind);
    h.netns = std::string(netns);
    h.ifname = std::string(ifname);
    h.dir = dir;
    h.role = StrCat(role, " ", ifname);
    h.flow = fl;
    h.why = dir == Direction::kOut ? "route" : "local";
    h.filter = FilterFor(h);
    p.hops.push_back(std::move(h));
  };
  auto hop = [&](Leg leg, int branch, const PodSpec& pod, Direction dir, const Flow& fl) {
    end_hop(leg, branch, pod.name, "pod", pod.netns, spec.nodes[pod.node].cni.ifname, "pod", dir,
            fl);
  };
  // A node's or the underlay's own stack: the device its route to DST points at.
  auto stack_hop = [&](Leg leg, Direction dir, const Flow& fl) {
    end_hop(leg, -1, r.src.object,
            r.src.kind == "underlay" && spec.routed_underlay ? "router" : r.src.kind, r.src.netns,
            r.src_dev, r.src.kind, dir, fl);
  };
  auto src_hop = [&](Leg leg, Direction dir, const Flow& fl) {
    if (src != nullptr) {
      hop(leg, -1, *src, dir, fl);
    } else if (!r.src_dev.empty()) {
      stack_hop(leg, dir, fl);
    }
  };
  const NodeSpec* at = TranslatingNode(spec, r);
  // Translated in the node's own output hook (its connection to a ClusterIP or to its own
  // NodePort): no device sees the packet before it, and the answer is un-translated on input
  // (the probe's socket proves it).
  const bool in_output = r.src.kind == "node" && at == src_node;
  auto nat = [&](Leg leg, int branch, std::string_view role, const Flow& fl) {
    Hop h;
    h.leg = leg;
    h.branch = branch;
    h.object = at->name;
    h.kind = "node";
    h.netns = at->netns;
    h.dir = leg == Leg::kRequest ? Direction::kIn : Direction::kOut;
    h.role = std::string(role);
    h.flow = fl;
    h.why = "nat";
    p.hops.push_back(std::move(h));
  };
  // Masqueraded (fully-random): the port the endpoint sees is the kernel's pick, left out of the
  // filter and the match.
  auto random_port = [](Hop& h, bool masqueraded) {
    if (!masqueraded) return;
    h.random_port = true;
    h.filter = FilterFor(h);
  };
  std::vector<const PodSpec*> ends;
  if (src != nullptr) ends.push_back(src);
  const NodeSpec* dst_node =
      r.dst.kind == "node" || r.dst.kind == "node IP" ? spec.FindNode(r.dst.node) : nullptr;
  if (src != nullptr && dst_node != nullptr) {
    // A pod to a node: in and out of the node's own stack by the device its route back to the pod
    // points at (the plugins' wiring, asked of its kernel: CniRouteQueries).
    const RouteAnswer* a = FindAnswer(r, dst_node->netns, src->ip);
    if (a == nullptr || !a->ok) {
      return absl::FailedPreconditionError(
          StrCat("trace: ", dst_node->name, " has no route back to ", src->name, " (",
                 src->ip.ToString(), "): `ip -n ", dst_node->netns, " route get ",
                 src->ip.ToString(), "` answers \"", a == nullptr ? "nothing" : a->error, "\""));
    }
    auto node_hop = [&](Leg leg, Direction dir, const Flow& fl) {
      end_hop(leg, -1, dst_node->name, "node", dst_node->netns, a->dev, "node", dir, fl);
    };
    src_hop(Leg::kRequest, Direction::kOut, f);
    node_hop(Leg::kRequest, Direction::kIn, f);
    node_hop(Leg::kReply, Direction::kOut, f.Reversed());
    src_hop(Leg::kReply, Direction::kIn, f.Reversed());
    SniffWhole(p, {src->name, "pod", src->netns});
    SniffWhole(p, {spec.nodes[src->node].name, "node", spec.nodes[src->node].netns});
    SniffWhole(p, {dst_node->name, "node", dst_node->netns});
    return p;
  }
  if (r.service.empty()) {
    const PodSpec* dst = spec.FindPod(r.dst.pod);
    if (dst == nullptr) return absl::InvalidArgumentError("trace: the destination pod is gone");
    ends.push_back(dst);
    src_hop(Leg::kRequest, Direction::kOut, f);
    hop(Leg::kRequest, -1, *dst, Direction::kIn, f);
    hop(Leg::kReply, -1, *dst, Direction::kOut, f.Reversed());
    src_hop(Leg::kReply, Direction::kIn, f.Reversed());
  } else {
    if (at == nullptr) return absl::InvalidArgumentError("trace: the translating node is gone");
    std::vector<const PodSpec*> backends;
    const config::ServicePortSpec* port = nullptr;
    MKN_RETURN_IF_ERROR(Backends(spec, r, backends, &port));
    // kube-proxy masquerades a NodePort's traffic, and a ClusterIP's from outside the pod network
    // (the node's own address): to the address of the device toward the endpoint, fully-random.
    const bool masquerade = node_port || !spec.pod_cidr.Contains(r.src.ip);
    const std::string_view dnat = node_port   ? kNodePortDnatRole
                                  : in_output ? kNftOutputDnatRole
                                              : kNftDnatRole;
    const std::string_view undnat = node_port   ? kNodePortUnDnatRole
                                    : in_output ? kNftOutputUnDnatRole
                                                : kNftUnDnatRole;
    if (!in_output) src_hop(Leg::kRequest, Direction::kOut, f);
    nat(Leg::kRequest, -1, dnat, f);
    std::vector<Flow> translated;
    std::vector<bool> masqueraded;
    for (const PodSpec* backend : backends) {
      Flow t = f;
      t.dst = backend->ip;
      t.dport = static_cast<uint16_t>(TargetPort(*port, *backend));
      // An endpoint that picked itself: the table's @hairpin rule masquerades it too.
      masqueraded.push_back(masquerade || backend == src);
      if (masqueraded.back()) {
        const RouteAnswer* a = FindAnswer(r, at->netns, backend->ip);
        t.src = a != nullptr && a->ok ? a->src : net::Ipv4{};
      }
      translated.push_back(t);
      const int branch = static_cast<int>(p.endpoints.size());
      p.endpoints.push_back(backend->name);
      hop(Leg::kRequest, branch, *backend, Direction::kIn, t);
      random_port(p.hops.back(), masqueraded.back());
      ends.push_back(backend);
    }
    for (size_t b = 0; b < backends.size(); ++b) {
      const int branch = static_cast<int>(b);
      hop(Leg::kReply, branch, *backends[b], Direction::kOut, translated[b].Reversed());
      random_port(p.hops.back(), masqueraded[b]);
      nat(Leg::kReply, branch, undnat, f.Reversed());
      if (!in_output) {
        const size_t before = p.hops.size();
        src_hop(Leg::kReply, Direction::kIn, f.Reversed());
        for (size_t k = before; k < p.hops.size(); ++k) p.hops[k].branch = branch;
      }
    }
  }
  // Sniffed whole: the ends' namespaces and their nodes', the translating node's, the underlay
  // (or ToR) SRC is, and the node a route of SRC's goes through.
  auto sniff = [&](const Place& place) {
    for (const Place& q : p.sniff_all)
      if (q.netns == place.netns) return;
    p.sniff_all.push_back(place);
  };
  if (src == nullptr && !r.src.netns.empty()) {
    sniff({r.src.object, r.src.kind == "underlay" && spec.routed_underlay ? "router" : r.src.kind,
           r.src.netns});
    if (const RouteAnswer* a = FindAnswer(r, r.src.netns, r.dst.ip); a != nullptr && a->via) {
      for (const NodeSpec& n : spec.nodes)
        if (n.underlay_ip == *a->via) sniff({n.name, "node", n.netns});
    }
  }
  if (at != nullptr && !r.service.empty() && node_port) sniff({at->name, "node", at->netns});
  for (const PodSpec* pod : ends) {
    const NodeSpec& n = spec.nodes[pod->node];
    sniff({pod->name, "pod", pod->netns});
    sniff({n.name, "node", n.netns});
  }
  return p;
}

std::optional<std::pair<Leg, int>> CniCopyOf(const Path& p, const Flow& f) {
  if (p.hops.empty()) return std::nullopt;
  // The probe as the client sent it, or its answer as the client gets it: on every branch.
  const Flow& sent = p.hops.front().flow;
  if (f == sent) return std::make_pair(Leg::kRequest, -1);
  if (f == sent.Reversed()) return std::make_pair(Leg::kReply, -1);
  std::optional<std::pair<Leg, int>> found;
  for (const Hop& h : p.hops) {
    if (!h.Sniffed() || !h.Carries(f)) continue;
    // The same flow on several branches (the reply after the translation is undone): common.
    if (found && found->second != h.branch) return std::make_pair(h.leg, -1);
    found = std::make_pair(h.leg, h.branch);
  }
  return found;
}

void ComposeSeen(Path& p, const std::vector<SeenCopy>& copies, std::vector<Observation>& seen) {
  // Through a Service: the endpoint the balancer chose is the one whose translated packet was
  // seen; the path is composed for it (for the first one when none was: lost before it).
  int chosen = p.endpoints.empty() ? -1 : 0;
  for (const SeenCopy& c : copies) {
    if (c.branch >= 0) {
      chosen = c.branch;
      break;
    }
  }
  std::vector<Hop> hops;
  std::vector<Observation> obs;
  for (Leg leg : {Leg::kRequest, Leg::kReply}) {
    std::vector<size_t> predicted;
    for (size_t i = 0; i < p.hops.size(); ++i)
      if (p.hops[i].leg == leg && (p.hops[i].branch == -1 || p.hops[i].branch == chosen))
        predicted.push_back(i);
    auto is = [](const Hop& h, const SeenCopy& c) {
      return h.netns == c.place.netns && h.ifname == c.ifname && h.dir == c.dir;
    };
    auto was_seen = [&](size_t i) { return i < seen.size() && seen[i].seen; };
    // A predicted hop placed as it is, with what was observed of it (a translation undone on the
    // node's own input is proved by the probe's socket, not by a copy).
    std::vector<size_t> placed;
    auto place = [&](size_t i) {
      if (std::find(placed.begin(), placed.end(), i) != placed.end()) return;
      placed.push_back(i);
      hops.push_back(p.hops[i]);
      obs.push_back(i < seen.size() ? seen[i] : Observation{});
    };
    // The Service's translation (no interface shows it) goes where the packet changes: the
    // request before the first copy carrying the endpoint, the reply before the first one
    // carrying the ClusterIP again.
    int nat = -1;
    for (size_t i : predicted)
      if (!p.hops[i].Sniffed()) nat = static_cast<int>(i);
    // The source's interface first, whether or not it saw the probe (or, translated in the
    // node's own output hook, the translation).
    if (!predicted.empty() && !was_seen(predicted.front())) place(predicted.front());
    auto add_nat = [&] {
      if (nat < 0) return;
      place(static_cast<size_t>(nat));
      nat = -1;
    };
    std::vector<const SeenCopy*> done;
    for (const SeenCopy& c : copies) {
      if (c.leg != leg) continue;
      bool dup = false;
      for (const SeenCopy* d : done)
        dup = dup || (d->place.netns == c.place.netns && d->ifname == c.ifname && d->dir == c.dir);
      if (dup) continue;
      done.push_back(&c);
      if ((leg == Leg::kRequest) == (c.branch >= 0)) add_nat();
      Hop h;
      h.leg = leg;
      h.branch = c.branch;
      h.object = c.place.object;
      h.kind = c.place.kind;
      h.netns = c.place.netns;
      h.ifname = c.ifname;
      h.dir = c.dir;
      h.role = "seen";
      h.flow = c.ob.flow;
      h.outer = c.ob.outer;
      if (h.outer) h.encap = "encapsulated";
      for (size_t i : predicted)
        if (is(p.hops[i], c)) h = p.hops[i];
      // In a node, the route that sends it on (or says there is none), whichever way it was seen;
      // but for the ClusterIP, which no route serves: the translation's entry after it says why.
      const bool untranslated = !p.endpoints.empty() && c.branch < 0;
      if (h.why.empty() && !(untranslated && h.kind == "node"))
        h.why = h.kind == "node" || h.dir == Direction::kOut ? "route" : "";
      hops.push_back(std::move(h));
      obs.push_back(c.ob);
    }
    add_nat();
    // The destination's interface last, if it never saw it.
    if (predicted.size() > 1 && !was_seen(predicted.back())) place(predicted.back());
  }
  p.hops = std::move(hops);
  seen = std::move(obs);
}

}  // namespace mkn::trace
