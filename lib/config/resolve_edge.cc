// The edge of Resolve() (resolver.h): [[ingress]] (rules, paths, TLS), references to a Service
// port (shared with HTTP routes), and [[listener]] (the Gateway listeners on the host loopback,
// their certificates, upstream mode and node), with the default listeners of a lab that has none.

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_join.h"
#include "lib/config/resolver.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::config::internal {

std::optional<BackendRef> Resolver::ResolveBackend(const RawBackend& rb, std::string_view ns,
                                                   const std::string& what) {
  if (!rb.service.set) {
    d_.Error(rb.pos, StrCat(what, ": missing \"service\""));
    return std::nullopt;
  }
  const ServiceSpec* svc = nullptr;
  const std::string key = QualifiedName(ns, rb.service.value);
  for (const ServiceSpec& s : spec_.services) {
    if (s.name == key) svc = &s;
  }
  if (svc == nullptr) {
    d_.Error(rb.service.pos,
             StrCat(what, ": unknown service \"", rb.service.value, "\"",
                    ns == kDefaultNamespace ? "" : StrCat(" in namespace \"", ns, "\"")));
    return std::nullopt;
  }
  BackendRef b;
  b.service = key;
  if (!rb.port.set()) {
    if (svc->ports.size() != 1) {
      d_.Error(rb.pos, StrCat(what, ": service \"", svc->name,
                              "\" has several ports; say which with port"));
      return std::nullopt;
    }
    b.port = svc->ports[0].port;
    return b;
  }
  bool found = false;
  for (const ServicePortSpec& p : svc->ports) {
    if ((rb.port.number.set && p.port == rb.port.number.value) ||
        (rb.port.name.set && p.name == rb.port.name.value)) {
      found = true;
      b.port = p.port;
      b.port_name = p.name;
    }
  }
  if (!found) {
    const auto& pf = rb.port.number.set ? rb.port.number.pos : rb.port.name.pos;
    d_.Error(pf, StrCat(what, ": service \"", svc->name, "\" has no port ",
                        rb.port.number.set ? StrCat(rb.port.number.value)
                                           : StrCat("\"", rb.port.name.value, "\"")));
    return std::nullopt;
  }
  return b;
}

void Resolver::ResolveIngresses() {
  std::set<std::string> names;
  for (size_t i = 0; i < raw_.ingresses.size(); ++i) {
    const RawIngress& ri = raw_.ingresses[i];
    std::string what =
        ri.name.set ? StrCat("ingress \"", ri.name.value, "\"") : StrCat("ingress #", i + 1);
    IngressSpec ing;
    ing.ns = NamespaceOf(ri.ns, what);
    if (ing.ns.empty()) ing.ns = std::string(kDefaultNamespace);  // reported
    ing.name = QualifiedName(ing.ns, ri.name.value);
    if (CheckName(ri.name, what, net::kMaxPodName, "a Kubernetes name") &&
        !names.insert(ing.name).second) {
      d_.Error(ri.name.pos, StrCat(what, ": duplicate ingress name"));
    }
    if (ri.has_default_backend)
      ing.default_backend =
          ResolveBackend(ri.default_backend, ing.ns, StrCat(what, ": default_backend"));
    if (ri.rules.empty() && !ri.has_default_backend) {
      d_.Error(ri.pos, StrCat(what, ": no rules and no default_backend"));
    }
    for (const RawIngressRule& rr : ri.rules) {
      IngressRuleSpec rule;
      if (rr.host.set && !IsHostName(rr.host.value)) {
        d_.Error(rr.host.pos,
                 StrCat(what, ": host \"", rr.host.value,
                        "\" is not a lowercase DNS name (a leading \"*.\" is allowed)"));
      }
      rule.host = rr.host.value;
      if (rr.paths.empty())
        d_.Error(rr.pos, StrCat(what, ": a rule needs at least one [[...path]]"));
      for (const RawIngressPath& rp : rr.paths) {
        IngressPathSpec p;
        p.path = rp.path.set ? rp.path.value : "/";
        if (p.path.empty() || p.path[0] != '/') {
          d_.Error(rp.path.pos, StrCat(what, ": path \"", p.path, "\" must start with \"/\""));
        }
        if (rp.path_type.set && rp.path_type.value != "Prefix" && rp.path_type.value != "Exact") {
          d_.Error(rp.path_type.pos, StrCat(what, ": path_type \"", rp.path_type.value,
                                            "\" is not \"Prefix\" or \"Exact\""));
        }
        p.type = rp.path_type.value == "Exact" ? PathType::kExact : PathType::kPrefix;
        std::optional<BackendRef> b =
            ResolveBackend(rp.backend, ing.ns, StrCat(what, ": path \"", p.path, "\""));
        if (b) p.backend = *b;
        rule.paths.push_back(p);
      }
      ing.rules.push_back(rule);
    }
    for (const RawIngressTls& rt : ri.tls) {
      IngressTlsSpec t;
      if (!rt.cert.set || !rt.key.set) {
        d_.Error(rt.pos, StrCat(what, ": tls needs both cert and key (PEM files)"));
      }
      for (const std::string& h : rt.hosts.value) {
        if (!IsHostName(h))
          d_.Error(rt.hosts.pos, StrCat(what, ": tls host \"", h, "\" is not a DNS name"));
      }
      t.hosts = rt.hosts.value;
      t.cert = rt.cert.value;
      t.key = rt.key.value;
      ing.tls.push_back(t);
    }
    spec_.ingresses.push_back(std::move(ing));
  }
}

std::string Resolver::NodeNames() const {
  std::vector<std::string> names;
  for (const NodeSpec& node : spec_.nodes) names.push_back(node.name);
  return absl::StrJoin(names, ", ");
}

// A certificate entry: hosts checked, cert and key required, paths resolved.
std::optional<TlsCertSpec> Resolver::ResolveTls(const RawListenerTls& rt, const std::string& what) {
  TlsCertSpec t;
  t.pos = rt.pos;
  bool ok = true;
  if (!rt.cert.set || !rt.key.set) {
    if (!rt.cert.bad && !rt.key.bad)
      d_.Error(rt.pos, StrCat(what, ": tls needs both cert and key (PEM files)"));
    ok = false;
  }
  for (const std::string& h : rt.hosts.value) {
    if (!IsHostName(h)) {
      d_.Error(rt.hosts.pos,
               StrCat(what, ": tls host \"", h,
                      "\" is not a lowercase DNS name (a leading \"*.\" is allowed)"));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  t.hosts = rt.hosts.value;
  t.cert = LabPath(rt.cert.value);
  t.key = LabPath(rt.key.value);
  return t;
}

void Resolver::ResolveListeners() {
  // Certificates an HTTPS listener without its own [[listener.tls]] serves: the ingresses' tls.
  std::vector<TlsCertSpec> ingress_certs;
  for (const RawIngress& ri : raw_.ingresses) {
    for (const RawIngressTls& rt : ri.tls) {
      if (!rt.cert.set || !rt.key.set) continue;  // reported by ResolveIngresses
      ingress_certs.push_back(
          TlsCertSpec{rt.hosts.value, LabPath(rt.cert.value), LabPath(rt.key.value), rt.pos});
    }
  }
  if (raw_.listeners.empty()) {
    if (raw_.ingresses.empty() && raw_.http_routes.empty()) return;
    ListenerSpec http;
    http.name = "http";
    http.address = net::Ipv4{0x7f000001};
    http.port = 8080;
    spec_.listeners.push_back(http);
    if (!ingress_certs.empty() || spec_.auto_tls) {
      ListenerSpec https = http;
      https.name = "https";
      https.port = 8443;
      https.protocol = ListenerProtocol::kHttps;
      https.tls = ingress_certs;
      spec_.listeners.push_back(https);
    }
    return;
  }
  bool any_https = std::any_of(raw_.listeners.begin(), raw_.listeners.end(),
                               [](const RawListener& l) { return l.protocol.value == "HTTPS"; });
  std::set<std::string> names;
  std::map<std::pair<uint32_t, int>, std::string> bound;
  for (size_t i = 0; i < raw_.listeners.size(); ++i) {
    const RawListener& rl = raw_.listeners[i];
    std::string what =
        rl.name.set ? StrCat("listener \"", rl.name.value, "\"") : StrCat("listener #", i + 1);
    ListenerSpec l;
    if (CheckName(rl.name, what, net::kMaxPodName, "a Gateway listener name") &&
        !names.insert(rl.name.value).second) {
      d_.Error(rl.name.pos, StrCat(what, ": duplicate listener name"));
    }
    l.name = rl.name.value;
    if (rl.protocol.set && rl.protocol.value != "HTTP" && rl.protocol.value != "HTTPS") {
      d_.Error(rl.protocol.pos,
               StrCat(what, ": protocol \"", rl.protocol.value, "\" is not \"HTTP\" or \"HTTPS\""));
    }
    l.protocol = rl.protocol.value == "HTTPS" ? ListenerProtocol::kHttps : ListenerProtocol::kHttp;
    bool https = l.protocol == ListenerProtocol::kHttps;
    bool addr_ok = true;
    std::string addr_text = rl.address.set ? rl.address.value : "127.0.0.1";
    std::optional<net::Ipv4> addr = net::Ipv4::Parse(addr_text);
    if (rl.address.bad) {
      addr_ok = false;
    } else if (!addr) {
      d_.Error(rl.address.pos,
               StrCat(what, ": address \"", addr_text, "\" is not an IPv4 address"));
      addr_ok = false;
    } else if ((addr->value >> 24) != 127) {
      d_.Error(rl.address.pos,
               StrCat(what, ": address ", addr->ToString(),
                      " is not on the host loopback 127.0.0.0/8 (the edge listens on the host "
                      "only, so a lab never exposes a port to the network)"));
      addr_ok = false;
    } else {
      l.address = *addr;
    }
    l.port = https ? 8443 : 8080;
    bool port_ok = !rl.port.bad;
    if (rl.port.set) {
      port_ok = CheckPort(rl.port, what);
      if (port_ok) l.port = static_cast<int>(rl.port.value);
    }
    if (addr_ok && port_ok) {
      auto [it, fresh] = bound.emplace(std::make_pair(l.address.value, l.port), l.name);
      if (!fresh) {
        d_.Error(rl.port.set      ? rl.port.pos
                 : rl.address.set ? rl.address.pos
                                  : rl.pos,
                 StrCat(what, ": ", l.address.ToString(), ":", l.port,
                        " is already taken by listener \"", it->second, "\""));
      }
    }
    if (!https && !rl.tls.empty()) {
      d_.Error(rl.tls[0].pos, StrCat(what, ": tls needs protocol = \"HTTPS\""));
    }
    for (const RawListenerTls& rt : rl.tls) {
      if (std::optional<TlsCertSpec> t = ResolveTls(rt, what)) l.tls.push_back(*t);
    }
    if (https && rl.tls.empty()) {
      if (!ingress_certs.empty()) {
        l.tls = ingress_certs;
      } else if (!spec_.auto_tls) {
        d_.Error(rl.pos,
                 StrCat(what,
                        ": an HTTPS listener needs a certificate: add a [[listener.tls]] with "
                        "cert and key, an [[ingress.tls]], or [cluster] auto_tls = true"));
      }
    }
    if (rl.redirect_to_https.set && rl.redirect_to_https.value) {
      if (https) {
        d_.Error(rl.redirect_to_https.pos,
                 StrCat(what, ": redirect_to_https is for HTTP listeners"));
      } else if (!any_https) {
        d_.Error(
            rl.redirect_to_https.pos,
            StrCat(what,
                   ": redirect_to_https needs an HTTPS listener to redirect to (add a [[listener]] "
                   "with protocol = \"HTTPS\")"));
      } else {
        l.redirect_to_https = true;
      }
    }
    if (rl.upstream.set && rl.upstream.value != "service" && rl.upstream.value != "endpoints") {
      d_.Error(rl.upstream.pos, StrCat(what, ": upstream \"", rl.upstream.value,
                                       "\" is not \"service\" or \"endpoints\""));
    }
    l.upstream =
        rl.upstream.value == "endpoints" ? UpstreamMode::kEndpoints : UpstreamMode::kService;
    if (rl.upstream_timeout.set) {
      if (rl.upstream_timeout.value < 1 || rl.upstream_timeout.value > 3600) {
        d_.Error(rl.upstream_timeout.pos,
                 StrCat(what, ": upstream_timeout ", rl.upstream_timeout.value,
                        " is out of range 1-3600 (seconds)"));
      } else {
        l.upstream_timeout_s = static_cast<int>(rl.upstream_timeout.value);
      }
    }
    if (rl.max_connections.set) {
      if (rl.max_connections.value < 1 ||
          rl.max_connections.value > ListenerSpec::kMaxMaxConnections) {
        d_.Error(rl.max_connections.pos,
                 StrCat(what, ": max_connections ", rl.max_connections.value, " is out of range 1-",
                        ListenerSpec::kMaxMaxConnections));
      } else {
        l.max_connections = static_cast<int>(rl.max_connections.value);
      }
    }
    if (rl.node.set) {
      if (const NodeSpec* n = spec_.FindNode(rl.node.value)) {
        l.node = n->index;
      } else {
        d_.Error(rl.node.pos,
                 StrCat(what, ": unknown node \"", rl.node.value, "\" (nodes: ", NodeNames(), ")"));
      }
    }
    spec_.listeners.push_back(std::move(l));
  }
}

}  // namespace mkn::config::internal
