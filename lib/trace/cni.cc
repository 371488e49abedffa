// lib/trace/cni — a CNI lab's trace (network = "cni"): the plugins named and wired everything
// between the pods, so only the pods' own interfaces (and a Service's nft DNAT) are predicted; the
// pods' and their nodes' namespaces are sniffed whole and the path is composed from what was seen.
// Split from trace.cc, which predicts the built-in networks' paths.
#include <algorithm>

#include "lib/strings/str_cat.h"
#include "lib/trace/trace.h"

namespace mkn::trace {

using config::ClusterSpec;
using config::NodeSpec;
using config::PodSpec;

namespace {

// A Service port's target port on `backend`: a number, or the backend's container port of that
// name.
int TargetPort(const config::ServicePortSpec& port, const PodSpec& backend) {
  if (port.target_port != 0) return port.target_port;
  for (const config::ContainerSpec& c : backend.containers)
    for (const config::ContainerPort& cp : c.ports)
      if (cp.name == port.target_port_name) return cp.port;
  return 0;
}

}  // namespace

// network = "cni": the plugins named and wired everything between the two pods, so only their own
// interfaces are predicted; the rest is sniffed (Path::sniff_all) and composed from what was seen.
// A ClusterIP: kube-proxy's nftables DNAT in the client's node (no interface shows it: proved by
// its conntrack entry), then each endpoint's interface a branch, the reply the way back with the
// translation undone; the client's, every endpoint's and their nodes' namespaces are sniffed.
absl::StatusOr<Path> PredictCni(const ClusterSpec& spec, const Request& r) {
  Path p;
  p.request = r;
  p.network = spec.network;
  p.proxy = spec.proxy_mode;
  p.cni = true;
  const PodSpec* src = spec.FindPod(r.src.pod);
  if (src == nullptr) return absl::InvalidArgumentError("trace: the source pod is gone");
  const Flow f{r.proto, r.src.ip, r.dst.ip, r.id, r.proto == Proto::kIcmp ? r.id : r.dst.port};
  auto hop = [&](Leg leg, int branch, const PodSpec& pod, Direction dir, const Flow& fl) {
    Hop h;
    h.leg = leg;
    h.branch = branch;
    h.object = pod.name;
    h.kind = "pod";
    h.netns = pod.netns;
    h.ifname = spec.nodes[pod.node].cni.ifname;
    h.dir = dir;
    h.role = StrCat("pod ", h.ifname);
    h.flow = fl;
    h.why = dir == Direction::kOut ? "route" : "local";
    h.filter = FilterFor(h);
    p.hops.push_back(std::move(h));
  };
  auto nat = [&](Leg leg, int branch, std::string_view role, const Flow& fl) {
    Hop h;
    h.leg = leg;
    h.branch = branch;
    const NodeSpec& n = spec.nodes[src->node];
    h.object = n.name;
    h.kind = "node";
    h.netns = n.netns;
    h.dir = leg == Leg::kRequest ? Direction::kIn : Direction::kOut;
    h.role = std::string(role);
    h.flow = fl;
    h.why = "nat";
    p.hops.push_back(std::move(h));
  };
  std::vector<const PodSpec*> ends = {src};
  if (r.service.empty()) {
    const PodSpec* dst = spec.FindPod(r.dst.pod);
    if (dst == nullptr) return absl::InvalidArgumentError("trace: the destination pod is gone");
    ends.push_back(dst);
    hop(Leg::kRequest, -1, *src, Direction::kOut, f);
    hop(Leg::kRequest, -1, *dst, Direction::kIn, f);
    hop(Leg::kReply, -1, *dst, Direction::kOut, f.Reversed());
    hop(Leg::kReply, -1, *src, Direction::kIn, f.Reversed());
  } else {
    const config::ServiceSpec* svc = nullptr;
    for (const config::ServiceSpec& s : spec.services)
      if (s.name == r.service) svc = &s;
    if (svc == nullptr) return absl::InvalidArgumentError("trace: the Service is gone");
    const config::ServicePortSpec* port = nullptr;
    for (const config::ServicePortSpec& sp : svc->ports)
      if (sp.port == r.dst.port) port = &sp;
    if (port == nullptr) return absl::InvalidArgumentError("trace: the Service's port is gone");
    // The endpoints the chain gave an address (a pod whose ADD failed is no endpoint).
    std::vector<const PodSpec*> backends;
    for (int ep : svc->endpoints)
      if (spec.pods[ep].ip.value != 0) backends.push_back(&spec.pods[ep]);
    if (backends.empty()) {
      return absl::FailedPreconditionError(
          StrCat("trace: Service ", svc->name, " has no endpoints: nothing to trace to"));
    }
    hop(Leg::kRequest, -1, *src, Direction::kOut, f);
    nat(Leg::kRequest, -1, kNftDnatRole, f);
    std::vector<Flow> translated;
    for (const PodSpec* backend : backends) {
      Flow t = f;
      t.dst = backend->ip;
      t.dport = static_cast<uint16_t>(TargetPort(*port, *backend));
      translated.push_back(t);
      const int branch = static_cast<int>(p.endpoints.size());
      p.endpoints.push_back(backend->name);
      hop(Leg::kRequest, branch, *backend, Direction::kIn, t);
      ends.push_back(backend);
    }
    for (size_t b = 0; b < backends.size(); ++b) {
      const int branch = static_cast<int>(b);
      hop(Leg::kReply, branch, *backends[b], Direction::kOut, translated[b].Reversed());
      nat(Leg::kReply, branch, kNftUnDnatRole, f.Reversed());
      hop(Leg::kReply, branch, *src, Direction::kIn, f.Reversed());
    }
  }
  for (const PodSpec* pod : ends) {
    const NodeSpec& n = spec.nodes[pod->node];
    for (const Place& place :
         {Place{pod->name, "pod", pod->netns}, Place{n.name, "node", n.netns}}) {
      bool have = false;
      for (const Place& q : p.sniff_all) have = have || q.netns == place.netns;
      if (!have) p.sniff_all.push_back(place);
    }
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
    if (!h.Sniffed() || h.flow != f) continue;
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
    // The source pod's interface first, whether or not it saw the probe.
    if (!predicted.empty() && !was_seen(predicted.front())) {
      hops.push_back(p.hops[predicted.front()]);
      obs.emplace_back();
    }
    // The Service's translation (no interface shows it) goes where the packet changes: the
    // request before the first copy carrying the endpoint, the reply before the first one
    // carrying the ClusterIP again.
    int nat = -1;
    for (size_t i : predicted)
      if (!p.hops[i].Sniffed()) nat = static_cast<int>(i);
    auto add_nat = [&] {
      if (nat < 0) return;
      hops.push_back(p.hops[nat]);
      obs.emplace_back();
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
    if (predicted.size() > 1 && !was_seen(predicted.back())) {
      hops.push_back(p.hops[predicted.back()]);
      obs.emplace_back();
    }
  }
  p.hops = std::move(hops);
  seen = std::move(obs);
}

}  // namespace mkn::trace
