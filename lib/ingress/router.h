// lib/ingress/router — which backend an HTTP request goes to: Kubernetes Ingress and Gateway API
// HTTPRoute matching, as pure functions over the lab's routes.
//
// Built once from a ClusterSpec (and again when it changes). Route() is pure and deterministic: the
// weighted choice among a rule's backends takes a caller-supplied random number.
//
// Precedence, per listener and request:
//   1. Host. An exact hostname beats a wildcard ("*.example.com" matches one or more labels in
//      front of example.com, not example.com itself), which beats a route without hostnames.
//      Host matching ignores case and a port suffix. Two refinements: an Ingress wildcard covers
//      exactly one label, as kubernetes.io's Ingress docs define it ("*.foo.com" does not match
//      "baz.bar.foo.com"), an HTTPRoute's one or more, as the Gateway API does; among wildcards
//      the longest suffix wins. The winning host's rules are the only candidates: no fall-back to
//      less specific hosts.
//   2. Among the rules of the winning host (Ingress paths and HTTPRoute matches together), as the
//      Gateway API orders them: an Exact path beats a Prefix path; a longer Prefix beats a shorter
//      one; then a match with a method beats one without; then more header matches; then more query
//      parameter matches; then the older object (file order). Ingress paths count as matches with
//      no method, header or query condition.
//   3. Prefix matching is by path element, as Kubernetes defines it: "/foo" matches "/foo",
//      "/foo/" and "/foo/bar", not "/foobar"; a trailing "/" in the prefix is ignored, and "/"
//      matches everything. Exact compares the whole path, case-sensitively.
//   4. No match on any host: an Ingress default backend if one exists, else kNoRoute (404).
// An HTTPRoute attaches to the listeners it names as parents (all when none); an Ingress attaches
// to every listener. A listener with redirect_to_https answers every request with a 308 to the
// first HTTPS listener (route "redirect_to_https"), before any route is looked at.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"

namespace mkn::ingress {

struct Request {
  std::string_view listener;  // ListenerSpec::name it arrived on
  std::string_view method;    // "GET"
  std::string_view host;      // the Host header (or :authority), as received; port allowed
  std::string_view path;      // without the query string
  std::string_view query;     // after '?', without it; may be empty
  // Header names lowercase; a name may repeat.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Backend {
  std::string service;
  int port = 0;  // the service port number
};

struct Decision {
  enum class Kind { kNoRoute, kForward, kRedirect };
  Kind kind = Kind::kNoRoute;
  // Which rule matched, for logs and counters: "ingress/<name>/<host>/<path>" or
  // "http_route/<name>/<rule index>"; "default" for an Ingress default backend; "" for kNoRoute.
  // <host> is "*" for a rule without host; <path> keeps its leading "/" ("ingress/shop/*/api");
  // the rule index counts from 1, as the lab file's diagnostics do ("rule #1").
  std::string route;
  Backend backend;                    // kForward
  config::HeaderModifierSpec modify;  // kForward: applied to the request before it is sent
  int redirect_status = 0;            // kRedirect
  std::string location;               // kRedirect: the Location header value
};

class Router {
 public:
  // kInvalidArgument if a route names an unknown service, port or listener (Resolve prevents it).
  static absl::StatusOr<Router> Build(const config::ClusterSpec& spec);

  // `random` is any uniformly distributed number: it picks among weighted backends.
  Decision Route(const Request& request, uint64_t random) const;

  // Every route label Route() can return, for zeroed counters.
  std::vector<std::string> Routes() const;

  // Whether any route matches on headers: when none does, Route() never reads Request::headers
  // and a caller may leave them empty.
  bool MatchesHeaders() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// Whether `path` is matched by a Prefix `prefix`, by path element (see the banner).
bool PrefixMatches(std::string_view prefix, std::string_view path);

}  // namespace mkn::ingress
