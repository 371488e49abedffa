// The HTTP routes of Resolve() (resolver.h): [[http_route]] as a Gateway API HTTPRoute: parents
// (listeners), hostnames, and each rule's matches, weighted backend refs, request header modifier
// and redirect. Runs last: it names listeners and services.

#include <algorithm>
#include <cstdint>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "lib/config/resolver.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::config::internal {
namespace {

// RFC 9110 token characters: what a header (or method) name may hold.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string Resolver::ListenerNames() const {
  std::vector<std::string> names;
  for (const ListenerSpec& l : spec_.listeners) names.push_back(l.name);
  return absl::StrJoin(names, ", ");
}

std::optional<HttpRouteMatchSpec> Resolver::ResolveMatch(const RawHttpRouteMatch& rm,
                                                         const std::string& what) {
  static const std::set<std::string> kMethods = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                 "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  HttpRouteMatchSpec m;
  bool ok = true;
  if (rm.path_type.set) {
    const std::string& t = rm.path_type.value;
    if (t == "Exact") {
      m.path_type = PathType::kExact;
    } else if (t != "PathPrefix") {
      std::string hint = t == "Prefix"              ? " (the Gateway API spells it \"PathPrefix\")"
                         : t == "RegularExpression" ? " (regular expressions are not supported)"
                                                    : "";
      d_.Error(rm.path_type.pos,
               StrCat(what, ": path type \"", t, "\" is not \"Exact\" or \"PathPrefix\"", hint));
      ok = false;
    }
  }
  if (rm.path_value.set) {
    m.path = rm.path_value.value;
    if (m.path.empty() || m.path[0] != '/') {
      d_.Error(rm.path_value.pos, StrCat(what, ": path \"", m.path, "\" must start with \"/\""));
      ok = false;
    }
  }
  if (rm.method.set) {
    if (kMethods.count(rm.method.value)) {
      m.method = rm.method.value;
    } else {
      std::string upper = rm.method.value;
      for (char& c : upper) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
      d_.Error(
          rm.method.pos,
          StrCat(what, ": method \"", rm.method.value, "\" is not an HTTP method",
                 kMethods.count(upper) ? StrCat(" (methods are upper case: \"", upper, "\")")
                                       : std::string(" (GET, HEAD, POST, PUT, DELETE, CONNECT, "
                                                     "OPTIONS, TRACE, PATCH)")));
      ok = false;
    }
  }
  auto conditions = [&](const std::vector<RawNameValue>& raw, std::string_view kind,
                        std::vector<HttpHeaderMatch>& out, bool lower) {
    std::set<std::string> seen;
    for (const RawNameValue& nv : raw) {
      if (nv.type.set && nv.type.value != "Exact") {
        d_.Error(nv.type.pos, StrCat(what, ": ", kind, " match type \"", nv.type.value,
                                     "\" is not supported (only \"Exact\")"));
        ok = false;
      }
      if (!nv.name.set || !nv.value.set) {
        if (!nv.name.bad && !nv.value.bad) {
          d_.Error(nv.pos, StrCat(what, ": a ", kind, " match needs name and value"));
        }
        ok = false;
        continue;
      }
      std::string name = lower ? absl::AsciiStrToLower(nv.name.value) : nv.name.value;
      if (lower && !IsToken(name)) {
        d_.Error(nv.name.pos, StrCat(what, ": \"", nv.name.value, "\" is not a valid header name"));
        ok = false;
      } else if (name.empty()) {
        d_.Error(nv.name.pos, StrCat(what, ": a ", kind, " match needs a non-empty name"));
        ok = false;
      } else if (!seen.insert(name).second) {
        d_.Error(nv.name.pos,
                 StrCat(what, ": ", kind, " \"", nv.name.value, "\" is matched twice"));
        ok = false;
      }
      out.push_back({name, nv.value.value});
    }
  };
  conditions(rm.headers, "header", m.headers, true);
  conditions(rm.query_params, "query parameter", m.query_params, false);
  if (!ok) return std::nullopt;
  return m;
}

void Resolver::ResolveModifier(const RawHeaderModifier& rm, const std::string& what,
                               HeaderModifierSpec& out) {
  std::set<std::string> seen;
  auto check_name = [&](const Field<std::string>& f, SourcePos pos) -> std::optional<std::string> {
    std::string name = absl::AsciiStrToLower(f.value);
    if (!IsToken(name)) {
      d_.Error(f.pos, StrCat(what, ": \"", f.value, "\" is not a valid header name"));
      return std::nullopt;
    }
    if (!seen.insert(name).second) {
      d_.Error(f.set ? f.pos : pos, StrCat(what, ": header \"", f.value, "\" is modified twice"));
      return std::nullopt;
    }
    return name;
  };
  auto pairs = [&](const std::vector<RawNameValue>& raw,
                   std::vector<std::pair<std::string, std::string>>& dst) {
    for (const RawNameValue& nv : raw) {
      if (!nv.name.set || !nv.value.set) {
        if (!nv.name.bad && !nv.value.bad) d_.Error(nv.pos, StrCat(what, ": needs name and value"));
        continue;
      }
      if (std::optional<std::string> n = check_name(nv.name, nv.pos))
        dst.emplace_back(*n, nv.value.value);
    }
  };
  pairs(rm.set, out.set);
  pairs(rm.add, out.add);
  for (const std::string& r : rm.remove.value) {
    if (std::optional<std::string> n =
            check_name(Field<std::string>{r, rm.remove.pos, true}, rm.remove.pos)) {
      out.remove.push_back(*n);
    }
  }
}

std::optional<RedirectSpec> Resolver::ResolveRedirect(const RawRedirect& rr,
                                                      const std::string& what) {
  RedirectSpec r;
  bool ok = true;
  if (rr.scheme.set) {
    if (rr.scheme.value != "http" && rr.scheme.value != "https") {
      d_.Error(rr.scheme.pos,
               StrCat(what, ": scheme \"", rr.scheme.value, "\" is not \"http\" or \"https\""));
      ok = false;
    }
    r.scheme = rr.scheme.value;
  }
  if (rr.hostname.set) {
    if (rr.hostname.value.rfind("*", 0) == 0 || !IsHostName(rr.hostname.value)) {
      d_.Error(rr.hostname.pos,
               StrCat(what, ": hostname \"", rr.hostname.value, "\" is not a lowercase DNS name"));
      ok = false;
    }
    r.hostname = rr.hostname.value;
  }
  if (rr.port.set) {
    ok = CheckPort(rr.port, what) && ok;
    r.port = static_cast<int>(rr.port.value);
  }
  if (rr.status_code.set) {
    int64_t c = rr.status_code.value;
    if (c != 301 && c != 302 && c != 303 && c != 307 && c != 308) {
      d_.Error(rr.status_code.pos,
               StrCat(what, ": status_code ", c, " is not a redirect (301, 302, 303, 307 or 308)"));
      ok = false;
    }
    r.status_code = static_cast<int>(c);
  }
  if (!ok) return std::nullopt;
  return r;
}

void Resolver::ResolveHttpRoutes() {
  std::set<std::string> names;
  for (size_t i = 0; i < raw_.http_routes.size(); ++i) {
    const RawHttpRoute& rr = raw_.http_routes[i];
    std::string what =
        rr.name.set ? StrCat("http_route \"", rr.name.value, "\"") : StrCat("http_route #", i + 1);
    HttpRouteSpec route;
    route.ns = NamespaceOf(rr.ns, what);
    if (route.ns.empty()) route.ns = std::string(kDefaultNamespace);  // reported
    route.name = QualifiedName(route.ns, rr.name.value);
    if (CheckName(rr.name, what, net::kMaxPodName, "a Kubernetes name") &&
        !names.insert(route.name).second) {
      d_.Error(rr.name.pos, StrCat(what, ": duplicate http_route name"));
    }
    for (const std::string& p : rr.parents.value) {
      bool known = std::any_of(spec_.listeners.begin(), spec_.listeners.end(),
                               [&](const ListenerSpec& l) { return l.name == p; });
      if (!known) {
        d_.Error(rr.parents.pos, StrCat(what, ": parent \"", p,
                                        "\" is not a listener (listeners: ", ListenerNames(), ")"));
      } else if (std::find(route.parents.begin(), route.parents.end(), p) == route.parents.end()) {
        route.parents.push_back(p);
      }
    }
    for (const std::string& h : rr.hostnames.value) {
      if (!IsHostName(h)) {
        d_.Error(rr.hostnames.pos,
                 StrCat(what, ": hostname \"", h,
                        "\" is not a lowercase DNS name (a leading \"*.\" is allowed)"));
      }
    }
    route.hostnames = rr.hostnames.value;
    if (rr.rules.empty()) {
      d_.Error(rr.pos, StrCat(what, ": no rules (add a [[http_route.rule]] with backend_refs)"));
    }
    for (size_t j = 0; j < rr.rules.size(); ++j) {
      const RawHttpRouteRule& rule = rr.rules[j];
      std::string rw = StrCat(what, ": rule #", j + 1);
      HttpRouteRuleSpec r;
      for (size_t k = 0; k < rule.matches.size(); ++k) {
        if (auto m = ResolveMatch(rule.matches[k], StrCat(rw, ": match #", k + 1)))
          r.matches.push_back(*m);
      }
      if (rule.has_redirect && !rule.backend_refs.empty()) {
        d_.Error(rule.redirect.pos, StrCat(rw,
                                           ": a rule with request_redirect has no backend_refs "
                                           "(the redirect answers the request itself)"));
      } else if (!rule.has_redirect && rule.backend_refs.empty() && !rule.has_backend_refs) {
        d_.Error(rule.pos, StrCat(rw,
                                  ": needs backend_refs = [{ service = \"...\", port = ... }] or a "
                                  "request_redirect"));
      } else if (!rule.has_redirect && rule.backend_refs.empty()) {
        d_.Error(rule.pos, StrCat(rw, ": backend_refs is empty"));
      }
      int64_t total = 0;
      bool backends_ok = true;
      for (const RawBackendRef& rb : rule.backend_refs) {
        std::optional<BackendRef> b =
            ResolveBackend(rb.backend, route.ns, StrCat(rw, ": backend_refs"));
        int64_t weight = 1;
        if (rb.weight.set) {
          weight = rb.weight.value;
          if (weight < 0 || weight > 1000000) {
            d_.Error(rb.weight.pos,
                     StrCat(rw, ": backend_refs: weight ", weight, " is out of range 0-1000000"));
            backends_ok = false;
            continue;
          }
        }
        if (!b || rb.weight.bad) {
          backends_ok = false;
          continue;
        }
        total += weight;
        r.backends.push_back(BackendRefSpec{b->service, b->port, static_cast<int>(weight)});
      }
      if (backends_ok && !r.backends.empty() && total == 0) {
        d_.Error(rule.pos, StrCat(rw,
                                  ": every backend_ref has weight 0, so no request could be served "
                                  "(give one a weight)"));
      }
      if (rule.has_modifier)
        ResolveModifier(rule.modifier, StrCat(rw, ": request_header_modifier"), r.request_headers);
      if (rule.has_redirect) {
        if (auto red = ResolveRedirect(rule.redirect, StrCat(rw, ": request_redirect")))
          r.redirect = *red;
      }
      route.rules.push_back(std::move(r));
    }
    spec_.http_routes.push_back(std::move(route));
  }
}

}  // namespace mkn::config::internal
