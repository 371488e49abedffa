// Router: Kubernetes Ingress and Gateway API HTTPRoute matching (the rules are in router.h's
// banner).
//
// Build() flattens every Ingress path and every HTTPRoute match into an Entry (one per host name it
// carries), sorts them once by the Gateway API precedence, and indexes them per listener by host:
// exact names in a hash map, wildcards longest suffix first, host-less entries last. Route() then
// picks the winning host class and takes the first entry, in precedence order, whose conditions
// hold.

#include "lib/ingress/router.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "lib/strings/hex.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::ingress {
namespace {

using config::PathType;

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(AsAbsl(s)); }

// "Shop.LAB:8080" → "shop.lab"; "[::1]:8443" → "[::1]"; a trailing dot is dropped.
std::string HostName(std::string_view host, std::string_view* port = nullptr) {
  std::string_view name = host;
  std::string_view p;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string_view::npos) {
      name = host.substr(0, close + 1);
      if (close + 1 < host.size() && host[close + 1] == ':') p = host.substr(close + 2);
    }
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    p = host.substr(colon + 1);
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (port != nullptr) *port = p;
  return Lower(name);
}

// application/x-www-form-urlencoded decoding of one query component ("+" is a space).
std::string DecodeQuery(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigitValue(s[i + 1]) >= 0 &&
               HexDigitValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigitValue(s[i + 1]) * 16 + HexDigitValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The first value of query parameter `name` (names compare exactly, after decoding).
std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (DecodeQuery(pair.substr(0, eq)) != name) continue;
    return eq == std::string_view::npos ? std::string() : DecodeQuery(pair.substr(eq + 1));
  }
  return std::nullopt;
}

// A Prefix path without its trailing "/" (but "/" stays "/"), as Kubernetes compares them.
std::string_view TrimPrefix(std::string_view prefix) {
  while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  return prefix;
}

enum class HostKind { kExact, kWildcard, kAny };

struct Action {
  bool redirect = false;
  config::RedirectSpec redirect_spec;
  std::vector<config::BackendRefSpec> backends;
  uint64_t total_weight = 0;
  config::HeaderModifierSpec modify;
};

struct Entry {
  // Where it applies.
  std::vector<std::string> listeners;  // empty = every listener
  HostKind host_kind = HostKind::kAny;
  std::string host;  // exact name, or the wildcard's suffix with its dot (".shop.lab")
  bool one_label =
      false;  // an Ingress wildcard covers exactly one label; an HTTPRoute's one or more
  // What it matches.
  PathType path_type = PathType::kPrefix;
  std::string path;  // Prefix paths trimmed of a trailing "/"
  std::string method;
  std::vector<config::HttpHeaderMatch> headers, query;
  // What it does.
  int action = 0;  // index into Impl::actions
  std::string label;
  size_t order = 0;  // file order: Ingresses, then HTTPRoutes; rules and matches in order
};

// Gateway API precedence: Exact over Prefix, longer paths, a method, more headers, more query
// parameters, then file order.
bool Precedes(const Entry& a, const Entry& b) {
  if (a.path_type != b.path_type) return a.path_type == PathType::kExact;
  if (a.path.size() != b.path.size()) return a.path.size() > b.path.size();
  if (a.method.empty() != b.method.empty()) return !a.method.empty();
  if (a.headers.size() != b.headers.size()) return a.headers.size() > b.headers.size();
  if (a.query.size() != b.query.size()) return a.query.size() > b.query.size();
  return a.order < b.order;
}

bool HostMatches(const Entry& e, std::string_view host) {
  switch (e.host_kind) {
    case HostKind::kExact:
      return host == e.host;
    case HostKind::kAny:
      return true;
    case HostKind::kWildcard: {
      // ".shop.lab" needs at least one label in front: "a.shop.lab", not "shop.lab" or ".shop.lab".
      if (host.size() <= e.host.size() || host.substr(host.size() - e.host.size()) != e.host)
        return false;
      std::string_view front = host.substr(0, host.size() - e.host.size());
      return !e.one_label || front.find('.') == std::string_view::npos;
    }
  }
  return false;
}

bool PathMatches(const Entry& e, std::string_view path) {
  return e.path_type == PathType::kExact ? path == e.path : PrefixMatches(e.path, path);
}

bool ConditionsHold(const Entry& e, const Request& r) {
  if (!PathMatches(e, r.path)) return false;
  if (!e.method.empty() && r.method != e.method) return false;
  for (const config::HttpHeaderMatch& h : e.headers) {
    bool found = std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& kv) {
      return kv.second == h.value && (kv.first == h.name || Lower(kv.first) == h.name);
    });
    if (!found) return false;
  }
  for (const config::HttpHeaderMatch& q : e.query) {
    std::optional<std::string> v = QueryParam(r.query, q.name);
    if (!v || *v != q.value) return false;
  }
  return true;
}

// The entries one listener sees, by host class, each list in precedence order.
struct HostIndex {
  absl::flat_hash_map<std::string, std::vector<int>> exact;
  std::vector<int> wildcard;  // longest suffix first, then precedence
  std::vector<int> any;
};

struct ListenerInfo {
  bool https = false;
  int port = 0;
  bool redirect_to_https = false;
};

int DefaultPort(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

}  // namespace

struct Router::Impl {
  std::vector<Entry> entries;  // in precedence order
  std::vector<Action> actions;
  std::map<std::string, HostIndex, std::less<>> by_listener;
  HostIndex unknown_listener;  // entries attached to every listener
  std::map<std::string, ListenerInfo, std::less<>> listeners;
  std::optional<config::BackendRef> default_backend;
  int https_port = 0;  // of the first HTTPS listener, for redirect_to_https
  std::vector<std::string> labels;
  bool matches_headers = false;  // some entry has a header match

  Decision Forward(const Entry& e, uint64_t random) const {
    const Action& a = actions[e.action];
    Decision d;
    d.route = e.label;
    if (a.redirect) {
      d.kind = Decision::Kind::kRedirect;
      return d;  // Location is built by the caller, which has the request
    }
    d.kind = Decision::Kind::kForward;
    d.modify = a.modify;
    // Weighted choice: random mod the total lands in one backend's share (weight 0 = no share).
    uint64_t pick = random % a.total_weight;
    for (const config::BackendRefSpec& b : a.backends) {
      if (pick < static_cast<uint64_t>(b.weight)) {
        d.backend = Backend{b.service, b.port};
        break;
      }
      pick -= static_cast<uint64_t>(b.weight);
    }
    return d;
  }

  std::string Location(const config::RedirectSpec& r, const Request& req) const {
    auto li = listeners.find(req.listener);
    std::string_view scheme_now = li != listeners.end() && li->second.https ? "https" : "http";
    std::string_view port_text;
    std::string host = HostName(req.host, &port_text);
    int port_now = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port_now > 65535) {
        port_now = 0;
        break;
      }
      port_now = port_now * 10 + (c - '0');
    }
    if (port_now == 0 && li != listeners.end()) port_now = li->second.port;
    if (port_now == 0) port_now = DefaultPort(scheme_now);
    std::string scheme = r.scheme.empty() ? std::string(scheme_now) : r.scheme;
    int port = r.port != 0 ? r.port : (scheme != scheme_now ? DefaultPort(scheme) : port_now);
    std::string out = StrCat(scheme, "://", r.hostname.empty() ? host : r.hostname);
    if (port != DefaultPort(scheme)) StrAppend(&out, ":", port);
    StrAppend(&out, req.path.empty() ? std::string_view("/") : req.path);
    if (!req.query.empty()) StrAppend(&out, "?", req.query);
    return out;
  }
};

absl::StatusOr<Router> Router::Build(const config::ClusterSpec& spec) {
  auto impl = std::make_shared<Impl>();
  std::set<std::string> listener_names;
  for (const config::ListenerSpec& l : spec.listeners) {
    listener_names.insert(l.name);
    bool https = l.protocol == config::ListenerProtocol::kHttps;
    impl->listeners[l.name] = ListenerInfo{https, l.port, l.redirect_to_https};
    if (https && impl->https_port == 0) impl->https_port = l.port;
  }
  auto check_backend = [&](std::string_view service, int port,
                           std::string_view where) -> absl::Status {
    for (const config::ServiceSpec& s : spec.services) {
      if (s.name != service) continue;
      for (const config::ServicePortSpec& p : s.ports) {
        if (p.port == port) return absl::OkStatus();
      }
      return absl::InvalidArgumentError(
          StrCat(where, ": service \"", service, "\" has no port ", port));
    }
    return absl::InvalidArgumentError(StrCat(where, ": unknown service \"", service, "\""));
  };
  auto set_host = [](Entry& e, std::string_view host, bool one_label) {
    if (host.empty()) {
      e.host_kind = HostKind::kAny;
    } else if (host.substr(0, 2) == "*.") {
      e.host_kind = HostKind::kWildcard;
      e.host = Lower(host.substr(1));
      e.one_label = one_label;
    } else {
      e.host_kind = HostKind::kExact;
      e.host = Lower(host);
    }
  };
  auto add_label = [&](const std::string& label) {
    if (std::find(impl->labels.begin(), impl->labels.end(), label) == impl->labels.end()) {
      impl->labels.push_back(label);
    }
  };
  size_t order = 0;
  std::vector<Entry> entries;

  for (const config::IngressSpec& ing : spec.ingresses) {
    if (ing.default_backend) {
      const config::BackendRef& b = *ing.default_backend;
      absl::Status st =
          check_backend(b.service, b.port, StrCat("ingress \"", ing.name, "\": default_backend"));
      if (!st.ok()) return st;
      if (!impl->default_backend) impl->default_backend = b;  // the first Ingress's, as file order
    }
    for (const config::IngressRuleSpec& rule : ing.rules) {
      for (const config::IngressPathSpec& p : rule.paths) {
        absl::Status st =
            check_backend(p.backend.service, p.backend.port, StrCat("ingress \"", ing.name, "\""));
        if (!st.ok()) return st;
        Action a;
        a.backends.push_back(config::BackendRefSpec{p.backend.service, p.backend.port, 1});
        a.total_weight = 1;
        impl->actions.push_back(std::move(a));
        Entry e;
        set_host(e, rule.host, /*one_label=*/true);
        e.path_type = p.type;
        e.path = p.type == PathType::kPrefix ? std::string(TrimPrefix(p.path)) : p.path;
        e.action = static_cast<int>(impl->actions.size()) - 1;
        e.label = StrCat("ingress/", ing.name, "/", rule.host.empty() ? "*" : rule.host, p.path);
        e.order = order++;
        add_label(e.label);
        entries.push_back(std::move(e));
      }
    }
  }
  if (impl->default_backend) add_label("default");

  for (const config::HttpRouteSpec& route : spec.http_routes) {
    for (const std::string& parent : route.parents) {
      if (!listener_names.count(parent)) {
        return absl::InvalidArgumentError(
            StrCat("http_route \"", route.name, "\": parent \"", parent, "\" is not a listener"));
      }
    }
    for (size_t i = 0; i < route.rules.size(); ++i) {
      const config::HttpRouteRuleSpec& rule = route.rules[i];
      std::string label = StrCat("http_route/", route.name, "/", i + 1);
      Action a;
      if (rule.redirect) {
        a.redirect = true;
        a.redirect_spec = *rule.redirect;
      } else {
        for (const config::BackendRefSpec& b : rule.backends) {
          absl::Status st =
              check_backend(b.service, b.port, StrCat("http_route \"", route.name, "\""));
          if (!st.ok()) return st;
          a.total_weight += static_cast<uint64_t>(std::max(0, b.weight));
        }
        if (a.total_weight == 0) {
          return absl::InvalidArgumentError(StrCat("http_route \"", route.name, "\": rule #", i + 1,
                                                   " has no backend with a weight"));
        }
        a.backends = rule.backends;
        a.modify = rule.request_headers;
      }
      impl->actions.push_back(std::move(a));
      int action = static_cast<int>(impl->actions.size()) - 1;
      std::vector<config::HttpRouteMatchSpec> matches = rule.matches;
      if (matches.empty()) matches.emplace_back();  // "/" PathPrefix
      std::vector<std::string> hosts = route.hostnames;
      if (hosts.empty()) hosts.emplace_back();
      for (const config::HttpRouteMatchSpec& m : matches) {
        for (const std::string& h : hosts) {
          Entry e;
          e.listeners = route.parents;
          set_host(e, h, /*one_label=*/false);
          e.path_type = m.path_type;
          e.path = m.path_type == PathType::kPrefix ? std::string(TrimPrefix(m.path)) : m.path;
          e.method = m.method;
          e.headers = m.headers;
          for (auto& hm : e.headers) hm.name = Lower(hm.name);
          e.query = m.query_params;
          e.action = action;
          e.label = label;
          e.order = order;
          entries.push_back(std::move(e));
        }
        ++order;
      }
      add_label(label);
    }
  }
  bool any_redirect_to_https = false;
  for (const auto& [name, info] : impl->listeners) any_redirect_to_https |= info.redirect_to_https;
  if (any_redirect_to_https) add_label("redirect_to_https");

  std::stable_sort(entries.begin(), entries.end(), Precedes);
  impl->entries = std::move(entries);
  auto index = [&](HostIndex& idx, std::string_view listener) {
    for (size_t i = 0; i < impl->entries.size(); ++i) {
      const Entry& e = impl->entries[i];
      bool attached = e.listeners.empty() ||
                      (!listener.empty() && std::find(e.listeners.begin(), e.listeners.end(),
                                                      listener) != e.listeners.end());
      if (!attached) continue;
      int n = static_cast<int>(i);
      switch (e.host_kind) {
        case HostKind::kExact:
          idx.exact[e.host].push_back(n);
          break;
        case HostKind::kWildcard:
          idx.wildcard.push_back(n);
          break;
        case HostKind::kAny:
          idx.any.push_back(n);
          break;
      }
    }
    std::stable_sort(idx.wildcard.begin(), idx.wildcard.end(), [&](int a, int b) {
      return impl->entries[a].host.size() > impl->entries[b].host.size();
    });
  };
  for (const std::string& name : listener_names) index(impl->by_listener[name], name);
  index(impl->unknown_listener, "");

  impl->matches_headers = std::any_of(impl->entries.begin(), impl->entries.end(),
                                      [](const Entry& e) { return !e.headers.empty(); });
  Router r;
  r.impl_ = std::move(impl);
  return r;
}

Decision Router::Route(const Request& request, uint64_t random) const {
  const Impl& impl = *impl_;
  auto li = impl.listeners.find(request.listener);
  if (li != impl.listeners.end() && li->second.redirect_to_https && impl.https_port != 0) {
    Decision d;
    d.kind = Decision::Kind::kRedirect;
    d.route = "redirect_to_https";
    d.redirect_status = 308;  // keeps the method and body, unlike 301/302
    config::RedirectSpec r;
    r.scheme = "https";
    r.port = impl.https_port;
    d.location = impl.Location(r, request);
    return d;
  }
  auto it = impl.by_listener.find(request.listener);
  const HostIndex& idx = it != impl.by_listener.end() ? it->second : impl.unknown_listener;
  std::string host = HostName(request.host);

  // 1. The winning host class: exact, else the longest matching wildcard, else host-less entries.
  const std::vector<int>* candidates = nullptr;
  std::vector<int> wild;
  if (auto e = idx.exact.find(host); e != idx.exact.end()) {
    candidates = &e->second;
  } else {
    size_t best = 0;
    for (int n : idx.wildcard) {
      const Entry& e = impl.entries[n];
      if (e.host.size() < best) break;  // sorted longest first: nothing longer follows
      if (!HostMatches(e, host)) continue;
      best = e.host.size();
      wild.push_back(n);
    }
    if (!wild.empty()) {
      std::sort(wild.begin(), wild.end());  // back to precedence order
      candidates = &wild;
    } else {
      candidates = &idx.any;
    }
  }
  // 2. The first entry in precedence order whose conditions hold.
  for (int n : *candidates) {
    const Entry& e = impl.entries[n];
    if (!ConditionsHold(e, request)) continue;
    Decision d = impl.Forward(e, random);
    if (d.kind == Decision::Kind::kRedirect) {
      const Action& a = impl.actions[e.action];
      d.redirect_status = a.redirect_spec.status_code;
      d.location = impl.Location(a.redirect_spec, request);
    }
    return d;
  }
  // 3. Nothing matched: the Ingress default backend, else 404.
  Decision d;
  if (impl.default_backend) {
    d.kind = Decision::Kind::kForward;
    d.route = "default";
    d.backend = Backend{impl.default_backend->service, impl.default_backend->port};
  }
  return d;
}

std::vector<std::string> Router::Routes() const { return impl_->labels; }

bool Router::MatchesHeaders() const { return impl_->matches_headers; }

bool PrefixMatches(std::string_view prefix, std::string_view path) {
  prefix = TrimPrefix(prefix);
  if (prefix.empty() || prefix == "/") return true;
  if (path.size() < prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

}  // namespace mkn::ingress
