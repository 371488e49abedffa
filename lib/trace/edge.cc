// lib/trace/edge — the edge leg of trace: `trace host http://HOST[:PORT]/PATH`. ParseEdgeRequest
// reads the URL against the lab's listeners and asks lib/ingress's router (the one the edge runs)
// where the request goes; PredictEdge composes the hops: the client's request on the caller's lo,
// the edge, the upstream leg as the listener's node's own connection (PredictPath's rows for a node
// to a Service or a pod), and the way back.
#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "lib/ingress/router.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"
#include "lib/trace/trace.h"

namespace mkn::trace {
namespace {

using config::ClusterSpec;
using config::ListenerSpec;
using config::NodeSpec;
using config::PodSpec;

std::string ListenerText(const ListenerSpec& l) {
  return StrCat(l.protocol == config::ListenerProtocol::kHttps ? "https " : "http ",
                l.address.ToString(), ":", l.port);
}

// The hop a packet socket on the caller's lo sees: loopback copies are kept once, as received.
Hop LoHop(Leg leg, const Flow& f, std::string_view role) {
  Hop h;
  h.leg = leg;
  h.object = std::string(kHostObject);
  h.kind = "host";
  h.ifname = "lo";
  h.dir = Direction::kIn;
  h.role = std::string(role);
  h.flow = f;
  h.http = true;
  return h;
}

Hop EdgeHop(Leg leg, const Flow& f, std::string role) {
  Hop h;
  h.leg = leg;
  h.object = "edge";
  h.kind = "edge";
  h.dir = Direction::kOut;
  h.role = std::move(role);
  h.flow = f;
  h.why = "edge";
  h.http = true;
  return h;
}

}  // namespace

bool IsEdgeUrl(std::string_view dst) {
  return dst.starts_with("http://") || dst.starts_with("https://");
}

absl::StatusOr<Request> ParseEdgeRequest(const ClusterSpec& spec, std::string_view src,
                                         std::string_view url, std::string_view proto) {
  // First, since nothing else matters then: a lab without an edge has nothing listening for a
  // URL (not a kind trace has yet to learn).
  if (IsEdgeUrl(url) && spec.listeners.empty()) {
    return absl::InvalidArgumentError(
        StrCat("trace: DST ", url, ": this lab has no ingress (no [[ingress]] or [[http_route]], ",
               "so nothing listens for a URL); trace a pod, svc/NAME[:PORT] or a NodePort from a ",
               "pod or node instead"));
  }
  if (src != kHostObject) {
    return absl::InvalidArgumentError(
        StrCat("trace: DST ", url, ": an edge URL is traced from SRC host (the namespace trace ",
               "runs in, where the edge listens), not from ", src));
  }
  if (!IsEdgeUrl(url)) {
    return absl::InvalidArgumentError(
        StrCat("trace: SRC host reaches the cluster through the edge only: DST must be an edge ",
               "URL (http://HOST:PORT/PATH), not ", url));
  }
  if (url.starts_with("https://")) {
    return absl::UnimplementedError(
        StrCat("trace: DST ", url, ": the edge over TLS is not traced yet (the marker trace ",
               "follows would be inside TLS on the client's leg); trace the same route over an ",
               "http listener"));
  }
  if (!proto.empty() && proto != "tcp") {
    return absl::InvalidArgumentError(
        StrCat("trace: DST ", url, ": the edge carries HTTP over TCP, not ", proto));
  }
  std::string_view rest = url.substr(7);
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  // Userinfo (RFC 3986 3.2.1) is no part of Host: curl sends it as Authorization, so the edge
  // routes http://user:pw@web/ as http://web/.
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  // The authority becomes the request's Host line: a CR or LF there would add headers (a forged
  // marker) or a second request.
  for (char ch : authority) {
    if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) {
      return absl::InvalidArgumentError(
          StrCat("trace: DST ", url, ": the host has a space or a control character"));
    }
  }
  if (authority.starts_with("[")) {
    return absl::InvalidArgumentError(
        StrCat("trace: DST ", url, ": an IPv6 literal; the edge listens on IPv4 only"));
  }
  std::string target(slash == std::string_view::npos ? "/" : rest.substr(slash));
  if (const size_t hash = target.find('#'); hash != std::string::npos) target.resize(hash);
  if (target.empty() || target[0] == '?') target.insert(0, "/");
  std::string_view host = authority;
  int port = 80;
  if (const size_t c = authority.rfind(':'); c != std::string_view::npos) {
    host = authority.substr(0, c);
    if (!absl::SimpleAtoi(AsAbsl(authority.substr(c + 1)), &port) || port < 1 || port > 65535)
      return absl::InvalidArgumentError(StrCat("trace: DST ", url, ": the port must be 1..65535"));
  }
  if (host.empty()) return absl::InvalidArgumentError(StrCat("trace: DST ", url, ": no host"));
  for (char ch : target) {
    if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) {
      return absl::InvalidArgumentError(
          StrCat("trace: DST ", url, ": the path has a space or a control character"));
    }
  }
  // HOST an address names the listener; a name is sent as Host to the one on PORT (as curl
  // --resolve would).
  const std::optional<net::Ipv4> ip = net::Ipv4::Parse(host);
  int listener = -1;
  std::string have;
  for (size_t i = 0; i < spec.listeners.size(); ++i) {
    const ListenerSpec& l = spec.listeners[i];
    StrAppend(&have, have.empty() ? "" : ", ", ListenerText(l));
    if (listener >= 0 || l.protocol != config::ListenerProtocol::kHttp || l.port != port) continue;
    if (!ip || *ip == l.address) listener = static_cast<int>(i);
  }
  if (listener < 0) {
    return absl::InvalidArgumentError(StrCat("trace: DST ", url, ": no http listener on ",
                                             ip ? StrCat(ip->ToString(), ":") : "port ", port,
                                             " (the edge listens on ", have, ")"));
  }
  const ListenerSpec& l = spec.listeners[listener];
  Request r;
  r.proto = Proto::kTcp;
  r.src = {std::string(src),
           "host",
           "",
           "",
           std::string(kHostObject),
           "",
           net::Ipv4{0x7f000001},  // lo's address: the kernel's source toward 127.0.0.0/8
           0};
  r.dst.word = std::string(url);
  r.dst.kind = "edge URL";
  r.dst.ip = l.address;
  r.dst.port = static_cast<uint16_t>(l.port);
  EdgeRequest e;
  e.listener = listener;
  e.host = std::string(authority);
  e.target = target;

  absl::StatusOr<ingress::Router> router = ingress::Router::Build(spec);
  if (!router.ok()) return router.status();
  const size_t q = target.find('?');
  ingress::Request hr;
  hr.listener = l.name;
  hr.method = "GET";
  hr.host = e.host;
  hr.path = std::string_view(target).substr(0, q);
  if (q != std::string::npos) hr.query = std::string_view(target).substr(q + 1);
  // A weighted split picks by a random number modulo the weights' sum: every number below a
  // bound on that sum finds every backend the rule has.
  std::set<std::string> seen;
  for (uint64_t pick = 0; pick < 1000; ++pick) {
    const ingress::Decision d = router->Route(hr, pick);
    e.route = d.route;
    if (d.kind == ingress::Decision::Kind::kNoRoute) {
      e.own_status = 404;
      e.own_reason = StrCat("no route for ", host, target);
      break;
    }
    if (d.kind == ingress::Decision::Kind::kRedirect) {
      e.own_status = d.redirect_status;
      e.own_reason = StrCat("a redirect to ", d.location);
      break;
    }
    if (seen.insert(d.backend.service).second) e.services.push_back(d.backend.service);
  }
  if (e.own_status == 0) {
    // A backend without endpoints is answered 503 by the edge; the others are branches.
    std::vector<std::string> serving;
    for (const std::string& name : e.services) {
      for (const config::ServiceSpec& svc : spec.services)
        if (svc.name == name && !svc.endpoints.empty()) serving.push_back(name);
    }
    if (serving.empty()) {
      e.own_status = 503;
      e.own_reason =
          StrCat("Service ", e.services.empty() ? "?" : e.services.front(), " has no endpoints");
    }
    e.services = serving;
  }
  r.edge = std::move(e);
  return r;
}

absl::StatusOr<Path> PredictEdge(const ClusterSpec& spec, const Request& r) {
  if (!r.edge || r.edge->listener < 0 ||
      static_cast<size_t>(r.edge->listener) >= spec.listeners.size())
    return absl::InvalidArgumentError("trace: the edge's listener is gone");
  const EdgeRequest& e = *r.edge;
  const ListenerSpec& l = spec.listeners[e.listener];
  Path p;
  p.request = r;
  p.network = spec.network;
  p.proxy = spec.proxy_mode;
  p.cni_lab = spec.cni_mode;
  const Flow client{Proto::kTcp, r.src.ip, r.dst.ip, r.id, r.dst.port};
  p.hops.push_back(LoHop(Leg::kRequest, client, "client -> listener (HTTP request)"));
  p.hops.push_back(EdgeHop(Leg::kRequest, client,
                           e.own_status != 0 ? StrCat("answers ", e.own_status, " itself")
                                             : StrCat("upstream from ", spec.nodes[l.node].name)));
  std::vector<Hop> replies;  // the upstream legs' replies, after every request hop
  if (e.own_status == 0) {
    const NodeSpec& n = spec.nodes[l.node];
    // One upstream leg: the node's own connection, its hops re-branched and marked as the edge's
    // (HTTP data, the client port the edge's).
    auto add = [&](const Request& sub, int branch, const std::string& endpoint) -> absl::Status {
      absl::StatusOr<Path> leg = PredictPath(spec, sub);
      if (!leg.ok()) return leg.status();
      const int base = static_cast<int>(p.endpoints.size());
      if (branch < 0) {
        p.endpoints.insert(p.endpoints.end(), leg->endpoints.begin(), leg->endpoints.end());
      } else {
        p.endpoints.push_back(endpoint);
      }
      // A hop common to the Service's endpoints (its translation) is on each of their branches.
      const int count = branch >= 0 ? 1 : static_cast<int>(leg->endpoints.size());
      for (Hop h : leg->hops) {
        h.http = true;
        h.random_port = true;
        if (h.Sniffed()) h.filter = FilterFor(h);
        std::vector<Hop>& out = h.leg == Leg::kRequest ? p.hops : replies;
        if (branch >= 0 || h.branch >= 0) {
          h.branch = branch >= 0 ? base : base + h.branch;
          out.push_back(std::move(h));
          continue;
        }
        for (int k = 0; k < count; ++k) {
          Hop c = h;
          c.branch = base + k;
          out.push_back(std::move(c));
        }
      }
      return absl::OkStatus();
    };
    for (const std::string& name : e.services) {
      const config::ServiceSpec* svc = nullptr;
      for (const config::ServiceSpec& s : spec.services)
        if (s.name == name) svc = &s;
      if (svc == nullptr || svc->ports.empty()) continue;
      // The route's port of the Service (the router named it by number).
      const config::ServicePortSpec* sp = &svc->ports.front();
      Request sub;
      sub.proto = Proto::kTcp;
      sub.src = {n.name, "node", "", n.name, n.name, n.netns, {}, 0};
      // A CNI lab: the node's source and device toward the upstream are its kernel's answers.
      sub.routes = r.routes;
      auto cni_source = [&](net::Ipv4 dst) {
        for (const RouteAnswer& a : r.routes) {
          if (a.query.netns != n.netns || a.query.dst != dst || !a.ok) continue;
          sub.src.ip = a.src;
          sub.src_dev = a.dev;
        }
      };
      if (l.upstream == config::UpstreamMode::kService) {
        sub.src.ip = NodeSourceTowardServices(spec, n);
        if (spec.cni_mode) cni_source(svc->cluster_ip);
        sub.dst = {StrCat("svc/", svc->name),      "ClusterIP", "", "", "", "", svc->cluster_ip,
                   static_cast<uint16_t>(sp->port)};
        sub.service = svc->name;
        if (absl::Status st = add(sub, -1, ""); !st.ok()) return st;
        continue;
      }
      // upstream = "endpoints": the edge balances, straight to each endpoint pod.
      for (int ep : svc->endpoints) {
        const PodSpec& pod = spec.pods[ep];
        int port = sp->target_port;
        for (const config::ContainerSpec& c : pod.containers)
          for (const config::ContainerPort& cp : c.ports)
            if (port == 0 && cp.name == sp->target_port_name) port = cp.port;
        sub.src.ip = NodeSourceToward(spec, n, &pod);
        if (spec.cni_mode) cni_source(pod.ip);
        sub.dst = {pod.name, "pod", pod.name, "", "", "", pod.ip, static_cast<uint16_t>(port)};
        sub.service.clear();
        if (absl::Status st = add(sub, 0, pod.name); !st.ok()) return st;
      }
    }
  }
  for (Hop& h : replies) p.hops.push_back(std::move(h));
  if (e.own_status == 0) {
    p.hops.push_back(EdgeHop(Leg::kReply, client.Reversed(), "relays the response"));
  }
  p.hops.push_back(LoHop(Leg::kReply, client.Reversed(), "listener -> client (HTTP response)"));
  for (Hop& h : p.hops)
    if (h.object == kHostObject) h.filter = FilterFor(h);
  return p;
}

std::optional<EdgeLogEntry> ParseEdgeLogLine(std::string_view line, std::string_view marker) {
  if (marker.empty()) return std::nullopt;
  const std::string tail = StrCat(" trace=", marker);
  if (!line.ends_with(tail)) return std::nullopt;
  line.remove_suffix(tail.size());
  // The request line is quoted; the status and the fields follow its closing quote.
  const size_t close = line.rfind("\" ");
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(close + 2);
  EdgeLogEntry e;
  bool status = false;
  while (!rest.empty()) {
    const size_t sp = rest.find(' ');
    const std::string_view word = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    if (!status) {
      if (!absl::SimpleAtoi(AsAbsl(word), &e.status)) return std::nullopt;
      status = true;
    } else if (word.starts_with("route=")) {
      e.route = std::string(word.substr(6));
    } else if (word.starts_with("backend=")) {
      e.backend = std::string(word.substr(8));
    } else if (word.starts_with("upstream_ms=")) {
      if (!absl::SimpleAtoi(AsAbsl(word.substr(12)), &e.upstream_ms)) return std::nullopt;
    }
  }
  if (!status) return std::nullopt;
  return e;
}

void ExplainEdge(const Path& p, const std::optional<EdgeLogEntry>& log, std::string_view body,
                 std::vector<Observation>& seen) {
  if (!p.request.edge) return;
  // The lo hops' times frame the edge's.
  int64_t asked = 0, answered = 0;
  bool lo_answer = false;
  for (size_t i = 0; i < p.hops.size() && i < seen.size(); ++i) {
    if (p.hops[i].object != kHostObject || !seen[i].seen) continue;
    (p.hops[i].leg == Leg::kRequest ? asked : answered) = seen[i].offset_ns;
    lo_answer = lo_answer || p.hops[i].leg == Leg::kReply;
  }
  std::string first(body.substr(0, body.find('\n')));
  if (first.size() > 120) first.resize(120);
  for (char& c : first)
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) c = '?';
  for (size_t i = 0; i < p.hops.size() && i < seen.size(); ++i) {
    const Hop& h = p.hops[i];
    if (h.kind != "edge") continue;
    Observation& o = seen[i];
    o.flow = h.flow;
    if (!log) {
      o.why = StrCat("no access-log line with trace=", p.request.edge->marker);
      continue;
    }
    const bool own = log->upstream_ms < 0;
    if (h.leg == Leg::kRequest) {
      o.seen = true;
      o.offset_ns = asked;
      o.why = StrCat("route ", log->route,
                     log->backend == "-" ? "" : StrCat(", backend ", log->backend),
                     own ? StrCat(": answered ", log->status, " itself")
                         : StrCat(": ", log->status, " from upstream in ", log->upstream_ms, " ms"),
                     " (access log)");
      if (own && log->status >= 400) {
        o.refused = StrCat("the edge answered ", log->status, " itself",
                           first.empty() ? "" : StrCat(" (", first, ")"));
      }
    } else if (!own && lo_answer) {
      o.seen = true;
      o.offset_ns = answered;
      o.why = StrCat("relayed ", log->status, " to the client");
    }
  }
}

}  // namespace mkn::trace
