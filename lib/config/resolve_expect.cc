// The expectations of Resolve() (resolver.h): each [[expect]] row's ends (pods, selectors, nodes,
// Services, addresses, the edge), its protocol, port and result, checked against the lab resolved
// so far, so that a row `check` cannot probe is a lab error with its line and column, not a cell
// that fails at run time.

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/resolver.h"
#include "lib/strings/edit_distance.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {

std::string_view ToString(AddressFamily f) { return f == AddressFamily::kIpv6 ? "ipv6" : "ipv4"; }

std::string_view ToString(ExpectProto p) {
  switch (p) {
    case ExpectProto::kTcp:
      return "tcp";
    case ExpectProto::kUdp:
      return "udp";
    case ExpectProto::kIcmp:
      return "icmp";
    case ExpectProto::kHttp:
      return "http";
    case ExpectProto::kHttps:
      return "https";
  }
  return "tcp";
}

std::string_view ToString(ExpectResult r) { return r == ExpectResult::kDeny ? "deny" : "allow"; }

namespace internal {
namespace {

constexpr std::string_view kHostEdge = "host-edge";
constexpr std::string_view kHost = "host";
constexpr std::string_view kServicePrefix = "svc/";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The one place that knows which address families a row may name: IPv4 today. An IPv6 literal is
// recognised (a ':' in it) and refused with the reason, so that dual stack only has to accept it.
std::optional<IpAddress> ParseExpectAddress(std::string_view text, std::string& error) {
  if (text.find(':') != std::string_view::npos) {
    error = StrCat("\"", text, "\" is an IPv6 address: IPv6 comes with dual stack");
    return std::nullopt;
  }
  std::optional<net::Ipv4> v4 = net::Ipv4::Parse(text);
  if (!v4) {
    error = StrCat("\"", text, "\" is not an IPv4 address");
    return std::nullopt;
  }
  return IpAddress{AddressFamily::kIpv4, v4->ToString()};
}

bool LooksLikeAddress(std::string_view s) {
  if (s.empty()) return false;
  if (s.find(':') != std::string_view::npos) return true;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '.' || std::isdigit(static_cast<unsigned char>(c));
  });
}

std::string SelectorText(const std::map<std::string, std::string>& sel) {
  std::string out = "{ ";
  bool first = true;
  for (const auto& [k, v] : sel) {
    StrAppend(&out, first ? "" : ", ", k, " = \"", v, "\"");
    first = false;
  }
  return out + " }";
}

bool Selects(const std::map<std::string, std::string>& sel,
             const std::map<std::string, std::string>& labels) {
  return std::all_of(sel.begin(), sel.end(), [&](const auto& kv) {
    auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

}  // namespace

std::optional<ExpectEnd> Resolver::ResolveExpectEnd(const RawExpectEnd& raw, bool from,
                                                    const std::string& what) {
  const std::string key = from ? "from" : "to";
  if (raw.name.bad || raw.selector.bad) return std::nullopt;  // reported by Parse()
  ExpectEnd e;
  if (raw.selector.set) {
    if (raw.selector.value.empty()) {
      d_.Error(raw.pos, StrCat(what, ": ", key,
                               ": an empty selector would pick every pod; name the labels, like "
                               "{ app = \"web\" }"));
      return std::nullopt;
    }
    const bool any = std::any_of(spec_.pods.begin(), spec_.pods.end(), [&](const PodSpec& p) {
      return Selects(raw.selector.value, p.labels);
    });
    if (!any) {
      d_.Error(raw.pos,
               StrCat(what, ": ", key, ": selector ", SelectorText(raw.selector.value),
                      " matches no pod (labels are set by [[pod]] labels and a deployment's "
                      "template)"));
      return std::nullopt;
    }
    e.kind = ExpectEnd::Kind::kSelector;
    e.selector = raw.selector.value;
    return e;
  }
  const std::string& name = raw.name.value;
  if (from && name == kHost) {
    e.kind = ExpectEnd::Kind::kHost;
    return e;
  }
  if (!from && name == kHostEdge) {
    e.kind = ExpectEnd::Kind::kHostEdge;
    return e;
  }
  if (!from && name.rfind(kServicePrefix, 0) == 0) {
    e.kind = ExpectEnd::Kind::kService;
    e.name = name.substr(kServicePrefix.size());  // the ":PORT" is ResolveExpect's
    return e;
  }
  if (!from && LooksLikeAddress(name)) {
    std::string error;
    std::optional<IpAddress> a = ParseExpectAddress(name, error);
    if (!a) {
      d_.Error(raw.pos, StrCat(what, ": to: ", error));
      return std::nullopt;
    }
    e.kind = ExpectEnd::Kind::kAddress;
    e.address = *a;
    return e;
  }
  if (spec_.FindPod(name) != nullptr) {
    e.kind = ExpectEnd::Kind::kPod;
    e.name = name;
    return e;
  }
  if (spec_.FindNode(name) != nullptr) {
    e.kind = ExpectEnd::Kind::kNode;
    e.name = name;
    return e;
  }
  if (from && (name == kHostEdge || name.rfind(kServicePrefix, 0) == 0 || LooksLikeAddress(name))) {
    d_.Error(raw.pos, StrCat(what, ": from: \"", name,
                             "\" cannot send: a row starts at a pod, a selector, a node, or "
                             "\"host\" (for to = \"host-edge\")"));
    return std::nullopt;
  }
  std::vector<std::string> names;
  for (const PodSpec& p : spec_.pods) names.push_back(p.name);
  for (const NodeSpec& n : spec_.nodes) names.push_back(n.name);
  for (const DeploymentSpec& dep : spec_.deployments) names.push_back(dep.name);
  const std::string near = Closest(name, names, 2);
  std::string hint;
  if (spec_.FindDeployment(name) != nullptr) {
    hint = StrCat(" (a deployment: its pods are \"", name,
                  "-0\"..., or select them with { app = ", "\"...\" })");
  } else if (!near.empty()) {
    hint = StrCat(" (did you mean \"", near, "\"?)");
  }
  d_.Error(raw.pos, StrCat(what, ": ", key, ": unknown pod or node \"", name, "\"", hint));
  return std::nullopt;
}

void Resolver::ResolveExpect(const RawExpect& re, const std::string& what) {
  ExpectSpec x;
  x.pos = re.pos;
  bool ok = true;

  // result: the verdict the row wants.
  if (!re.result.set) {
    if (!re.result.bad)
      d_.Error(re.pos, StrCat(what, ": missing \"result\" (\"allow\" or \"deny\")"));
    ok = false;
  } else if (Lower(re.result.value) == "allow") {
    x.result = ExpectResult::kAllow;
  } else if (Lower(re.result.value) == "deny") {
    x.result = ExpectResult::kDeny;
  } else {
    d_.Error(re.result.pos,
             StrCat(what, ": result \"", re.result.value, "\" is not \"allow\" or \"deny\""));
    ok = false;
  }

  // to first: it decides what `from` may be and which protocol is the default.
  std::optional<ExpectEnd> to;
  if (!re.to.present()) {
    d_.Error(re.pos, StrCat(what, ": missing \"to\""));
  } else {
    to = ResolveExpectEnd(re.to, false, what);
  }
  std::optional<ExpectEnd> from;
  if (!re.from.present()) {
    if (to && to->kind == ExpectEnd::Kind::kHostEdge) {
      from = ExpectEnd{ExpectEnd::Kind::kHost, "", {}, {}};
    } else {
      d_.Error(re.pos, StrCat(what, ": missing \"from\""));
    }
  } else {
    from = ResolveExpectEnd(re.from, true, what);
  }
  if (!to || !from) return;
  x.to = *to;
  x.from = *from;
  const bool edge = x.to.kind == ExpectEnd::Kind::kHostEdge;
  if (edge != (x.from.kind == ExpectEnd::Kind::kHost)) {
    d_.Error(re.from.pos,
             edge ? StrCat(what,
                           ": from: the edge listens on the host's loopback: only "
                           "from = \"host\" (or no from) reaches it")
                  : StrCat(what,
                           ": from: \"host\" only sends to to = \"host-edge\": the host "
                           "has no route into the lab's namespaces"));
    return;
  }

  // proto: a word, else the default of the destination.
  std::optional<ExpectProto> proto;
  if (re.proto.set) {
    const std::string p = Lower(re.proto.value);
    if (p == "tcp") proto = ExpectProto::kTcp;
    if (p == "udp") proto = ExpectProto::kUdp;
    if (p == "icmp") proto = ExpectProto::kIcmp;
    if (p == "http") proto = ExpectProto::kHttp;
    if (p == "https") proto = ExpectProto::kHttps;
    if (!proto) {
      d_.Error(re.proto.pos, StrCat(what, ": proto \"", re.proto.value,
                                    "\" is not \"tcp\", \"udp\", \"icmp\" (or, to the edge, "
                                    "\"http\" or \"https\")"));
      return;
    }
    const bool web = *proto == ExpectProto::kHttp || *proto == ExpectProto::kHttps;
    if (web != edge) {
      d_.Error(re.proto.pos,
               edge ? StrCat(what, ": proto \"", re.proto.value,
                             "\": the edge is probed with an HTTP request: \"http\" or \"https\"")
                    : StrCat(what, ": proto \"", re.proto.value,
                             "\" is for to = \"host-edge\"; here: \"tcp\", \"udp\" or \"icmp\""));
      return;
    }
  }
  if (re.port.set && !CheckPort(re.port, what)) return;
  if (!edge && (re.host.present() || re.path.present())) {
    d_.Error(re.host.present() ? re.host.pos : re.path.pos,
             StrCat(what,
                    ": host and path are for to = \"host-edge\" (an HTTP request "
                    "through the ingress)"));
    return;
  }

  switch (x.to.kind) {
    case ExpectEnd::Kind::kService: {
      // svc/NAME[:PORT]: PORT a number or a port's name; or the port key; or the only port.
      std::string name = x.to.name, port_text;
      if (size_t colon = name.find(':'); colon != std::string::npos) {
        port_text = name.substr(colon + 1);
        name = name.substr(0, colon);
      }
      const ServiceSpec* svc = nullptr;
      std::vector<std::string> names;
      for (const ServiceSpec& s : spec_.services) {
        names.push_back(s.name);
        if (s.name == name) svc = &s;
      }
      if (svc == nullptr) {
        const std::string near = Closest(name, names, 2);
        d_.Error(re.to.pos, StrCat(what, ": to: unknown service \"", name, "\"",
                                   near.empty() ? "" : StrCat(" (did you mean \"", near, "\"?)")));
        return;
      }
      const ServicePortSpec* sp = nullptr;
      for (const ServicePortSpec& p : svc->ports) {
        const bool by_text =
            !port_text.empty() && (p.name == port_text || std::to_string(p.port) == port_text);
        const bool by_key = port_text.empty() && re.port.set && p.port == re.port.value;
        if (by_text || by_key) sp = &p;
      }
      if (port_text.empty() && !re.port.set && svc->ports.size() == 1) sp = &svc->ports[0];
      if (sp == nullptr) {
        std::string ports;
        for (const ServicePortSpec& p : svc->ports)
          StrAppend(&ports, ports.empty() ? "" : ", ", p.port);
        const std::string asked = !port_text.empty() ? port_text
                                  : re.port.set      ? std::to_string(re.port.value)
                                                     : "";
        d_.Error(re.to.pos, asked.empty()
                                ? StrCat(what, ": to: service \"", name, "\" has several ports (",
                                         ports, "); say which: \"svc/", name, ":PORT\" or port = N")
                                : StrCat(what, ": to: service \"", name, "\" has no port ", asked,
                                         " (its ports: ", ports, ")"));
        return;
      }
      if (re.port.set && !port_text.empty() && sp->port != re.port.value) {
        d_.Error(re.port.pos, StrCat(what, ": port ", re.port.value, " contradicts to = \"svc/",
                                     name, ":", port_text, "\" (port ", sp->port, ")"));
        return;
      }
      const ExpectProto own =
          sp->protocol == Protocol::kUdp ? ExpectProto::kUdp : ExpectProto::kTcp;
      if (proto && *proto == ExpectProto::kIcmp) {
        d_.Error(re.proto.pos, StrCat(what,
                                      ": proto \"icmp\" to a Service: a ClusterIP is "
                                      "virtual and answers no ping; probe its port"));
        return;
      }
      if (proto && *proto != own) {
        d_.Error(re.proto.pos, StrCat(what, ": proto \"", re.proto.value, "\": service \"", name,
                                      "\" port ", sp->port, " is ", ToString(own)));
        return;
      }
      x.to.name = name;
      x.port = sp->port;
      x.proto = own;
      break;
    }
    case ExpectEnd::Kind::kHostEdge: {
      if (spec_.listeners.empty()) {
        d_.Error(re.to.pos, StrCat(what,
                                   ": to: \"host-edge\": the lab has no edge (no [[ingress]], "
                                   "[[http_route]] or [[listener]])"));
        return;
      }
      const ListenerSpec* l = nullptr;
      for (const ListenerSpec& cand : spec_.listeners) {
        const bool https = cand.protocol == ListenerProtocol::kHttps;
        const bool proto_fits = !proto || (*proto == ExpectProto::kHttps) == https;
        const bool port_fits = !re.port.set || cand.port == re.port.value;
        if (proto_fits && port_fits && l == nullptr) l = &cand;
      }
      if (l == nullptr) {
        std::string ports;
        for (const ListenerSpec& cand : spec_.listeners) {
          StrAppend(&ports, ports.empty() ? "" : ", ", cand.name, " ",
                    cand.protocol == ListenerProtocol::kHttps ? "https" : "http", " :", cand.port);
        }
        d_.Error(
            re.port.set ? re.port.pos : re.proto.pos,
            StrCat(what, ": to: \"host-edge\": no listener", re.port.set ? " on port " : "",
                   re.port.set ? std::to_string(re.port.value) : "",
                   proto ? StrCat(" speaks ", ToString(*proto)) : "", " (listeners: ", ports, ")"));
        return;
      }
      x.port = l->port;
      x.proto = l->protocol == ListenerProtocol::kHttps ? ExpectProto::kHttps : ExpectProto::kHttp;
      x.edge_address = IpAddress{AddressFamily::kIpv4, l->address.ToString()};
      if (re.host.set) {
        if (!IsHostName(re.host.value) || re.host.value.rfind("*.", 0) == 0) {
          d_.Error(re.host.pos,
                   StrCat(what, ": host \"", re.host.value,
                          "\" is not a DNS name (the Host header the request carries)"));
          return;
        }
        x.host = re.host.value;
      }
      if (re.path.set) {
        if (re.path.value.empty() || re.path.value[0] != '/' ||
            re.path.value.find_first_of(" \t\r\n") != std::string::npos) {
          d_.Error(re.path.pos, StrCat(what, ": path \"", re.path.value,
                                       "\" must start with '/' and have no spaces"));
          return;
        }
        x.path = re.path.value;
      }
      break;
    }
    default: {  // pods, selectors, nodes, addresses: the port and protocol are the row's own
      x.proto = proto.value_or(ExpectProto::kTcp);
      if (x.proto == ExpectProto::kIcmp) {
        if (re.port.set) {
          d_.Error(re.port.pos, StrCat(what, ": port ", re.port.value,
                                       " with proto \"icmp\": a ping has no port"));
          return;
        }
      } else if (!re.port.set) {
        if (!re.port.bad) {
          d_.Error(re.pos, StrCat(what, ": missing \"port\" (proto \"", ToString(x.proto),
                                  "\" to a pod, a node or an address needs one)"));
        }
        return;
      } else {
        x.port = static_cast<int>(re.port.value);
      }
      break;
    }
  }
  if (ok) spec_.expects.push_back(std::move(x));
}

void Resolver::ResolveExpects() {
  for (size_t i = 0; i < raw_.expects.size(); ++i) {
    ResolveExpect(raw_.expects[i], StrCat("expect #", i + 1));
  }
}

}  // namespace internal
}  // namespace mkn::config
