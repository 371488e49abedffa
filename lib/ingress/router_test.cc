// Router tables: {description, routes (lab TOML), request, expected decision}. The routes go
// through config::Load so every case is also a lab a student could write.
#include "lib/ingress/router.h"

#include <gtest/gtest.h>

#include <map>

#include "lib/config/toml/load.h"
#include "lib/strings/str_cat.h"

// The tables name only the request fields a case needs ({.line = ...}); the rest keep their
// defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace mkn::ingress {
namespace {

constexpr char kServices[] = R"([cluster]
name = "t"
[[service]]
name = "a"
[[service.port]]
name = "http"
port = 80
[[service.port]]
name = "alt"
port = 8080
[[service]]
name = "b"
port = [{ port = 80 }]
[[service]]
name = "c"
port = [{ port = 80 }]
[[service]]
name = "d"
port = [{ port = 80 }]
)";

struct Req {
  std::string listener = "http";
  std::string line;  // "GET host /path?query"
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Case {
  std::string description;
  std::string routes;
  Req request;
  std::string expected;  // "b:80 <route>", "404", "301 <location>"
};

absl::StatusOr<Router> BuildFrom(const std::string& routes) {
  config::LoadResult r = config::Load(StrCat(kServices, routes), "t.toml");
  if (!r.spec) return absl::InvalidArgumentError(r.diags.FormatAll());
  return Router::Build(*r.spec);
}

std::string Render(const Decision& d) {
  switch (d.kind) {
    case Decision::Kind::kNoRoute:
      return d.route.empty() ? "404" : StrCat("404 but route ", d.route);
    case Decision::Kind::kForward:
      return StrCat(d.backend.service, ":", d.backend.port, " ", d.route);
    case Decision::Kind::kRedirect:
      return StrCat(d.redirect_status, " ", d.location, " ", d.route);
  }
  return "?";
}

Decision RouteLine(const Router& router, const Req& req, uint64_t random = 0) {
  std::string_view line = req.line;
  size_t s1 = line.find(' '), s2 = line.find(' ', s1 + 1);
  std::string_view target = line.substr(s2 + 1);
  size_t q = target.find('?');
  Request r;
  r.listener = req.listener;
  r.method = line.substr(0, s1);
  r.host = line.substr(s1 + 1, s2 - s1 - 1);
  r.path = target.substr(0, q);
  r.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  r.headers = req.headers;
  return router.Route(r, random);
}

void RunTable(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    absl::StatusOr<Router> router = BuildFrom(c.routes);
    ASSERT_TRUE(router.ok()) << router.status();
    EXPECT_EQ(Render(RouteLine(*router, c.request)), c.expected) << c.request.line;
    // MatchesHeaders() false promises that the headers are never looked at.
    const bool has_header_match = c.routes.find("headers =") != std::string::npos;
    EXPECT_EQ(router->MatchesHeaders(), has_header_match);
    if (!router->MatchesHeaders() && !c.request.headers.empty()) {
      Req without = c.request;
      without.headers.clear();
      EXPECT_EQ(Render(RouteLine(*router, without)), c.expected) << "without headers";
    }
  }
}

// One Ingress, any host, one path per service: which path won shows as the service.
std::string IngressPaths(std::vector<std::tuple<std::string, std::string, std::string>> paths,
                         bool default_backend = false) {
  std::string out = "[[ingress]]\nname = \"i\"\n";
  if (default_backend) out += "default_backend = { service = \"d\" }\n";
  out += "[[ingress.rule]]\n";
  for (const auto& [type, path, svc] : paths) {
    StrAppend(&out, "[[ingress.rule.path]]\npath_type = \"", type, "\"\npath = \"", path,
              "\"\nservice = \"", svc, "\"\nport = 80\n");
  }
  return out;
}

// The path matching examples of kubernetes.io/docs/concepts/services-networking/ingress ("Examples"
// under "Path types"), one row each.
TEST(Router, KubernetesIngressPathExamples) {
  using P = std::vector<std::tuple<std::string, std::string, std::string>>;
  std::vector<Case> cases = {
      {"Prefix / matches all paths",
       IngressPaths(P{{"Prefix", "/", "b"}}),
       {.line = "GET x /any/thing"},
       "b:80 ingress/i/*/"},
      {"Exact /foo matches /foo",
       IngressPaths(P{{"Exact", "/foo", "b"}}),
       {.line = "GET x /foo"},
       "b:80 ingress/i/*/foo"},
      {"Exact /foo does not match /bar",
       IngressPaths(P{{"Exact", "/foo", "b"}}),
       {.line = "GET x /bar"},
       "404"},
      {"Exact /foo does not match /foo/",
       IngressPaths(P{{"Exact", "/foo", "b"}}),
       {.line = "GET x /foo/"},
       "404"},
      {"Exact /foo/ does not match /foo",
       IngressPaths(P{{"Exact", "/foo/", "b"}}),
       {.line = "GET x /foo"},
       "404"},
      {"Prefix /foo matches /foo",
       IngressPaths(P{{"Prefix", "/foo", "b"}}),
       {.line = "GET x /foo"},
       "b:80 ingress/i/*/foo"},
      {"Prefix /foo matches /foo/",
       IngressPaths(P{{"Prefix", "/foo", "b"}}),
       {.line = "GET x /foo/"},
       "b:80 ingress/i/*/foo"},
      {"Prefix /foo/ matches /foo",
       IngressPaths(P{{"Prefix", "/foo/", "b"}}),
       {.line = "GET x /foo"},
       "b:80 ingress/i/*/foo/"},
      {"Prefix /foo/ matches /foo/",
       IngressPaths(P{{"Prefix", "/foo/", "b"}}),
       {.line = "GET x /foo/"},
       "b:80 ingress/i/*/foo/"},
      {"Prefix /aaa/bb does not match /aaa/bbb",
       IngressPaths(P{{"Prefix", "/aaa/bb", "b"}}),
       {.line = "GET x /aaa/bbb"},
       "404"},
      {"Prefix /aaa/bbb matches /aaa/bbb",
       IngressPaths(P{{"Prefix", "/aaa/bbb", "b"}}),
       {.line = "GET x /aaa/bbb"},
       "b:80 ingress/i/*/aaa/bbb"},
      {"Prefix /aaa/bbb/ matches /aaa/bbb (trailing slash ignored)",
       IngressPaths(P{{"Prefix", "/aaa/bbb/", "b"}}),
       {.line = "GET x /aaa/bbb"},
       "b:80 ingress/i/*/aaa/bbb/"},
      {"Prefix /aaa/bbb matches /aaa/bbb/ (trailing slash matched)",
       IngressPaths(P{{"Prefix", "/aaa/bbb", "b"}}),
       {.line = "GET x /aaa/bbb/"},
       "b:80 ingress/i/*/aaa/bbb"},
      {"Prefix /aaa/bbb matches /aaa/bbb/ccc (subpath)",
       IngressPaths(P{{"Prefix", "/aaa/bbb", "b"}}),
       {.line = "GET x /aaa/bbb/ccc"},
       "b:80 ingress/i/*/aaa/bbb"},
      {"Prefix /aaa/bbb does not match /aaa/bbbxyz (not a string prefix)",
       IngressPaths(P{{"Prefix", "/aaa/bbb", "b"}}),
       {.line = "GET x /aaa/bbbxyz"},
       "404"},
      {"Prefix /, /aaa: /aaa/ccc matches /aaa",
       IngressPaths(P{{"Prefix", "/", "b"}, {"Prefix", "/aaa", "c"}}),
       {.line = "GET x /aaa/ccc"},
       "c:80 ingress/i/*/aaa"},
      {"Prefix /, /aaa, /aaa/bbb: /aaa/bbb matches /aaa/bbb",
       IngressPaths(P{{"Prefix", "/", "b"}, {"Prefix", "/aaa", "c"}, {"Prefix", "/aaa/bbb", "a"}}),
       {.line = "GET x /aaa/bbb"},
       "a:80 ingress/i/*/aaa/bbb"},
      {"Prefix /, /aaa, /aaa/bbb: /ccc matches /",
       IngressPaths(P{{"Prefix", "/", "b"}, {"Prefix", "/aaa", "c"}, {"Prefix", "/aaa/bbb", "a"}}),
       {.line = "GET x /ccc"},
       "b:80 ingress/i/*/"},
      {"Prefix /aaa: /ccc uses the default backend",
       IngressPaths(P{{"Prefix", "/aaa", "b"}}, true),
       {.line = "GET x /ccc"},
       "d:80 default"},
      {"Prefix /foo and Exact /foo: /foo prefers Exact",
       IngressPaths(P{{"Prefix", "/foo", "b"}, {"Exact", "/foo", "c"}}),
       {.line = "GET x /foo"},
       "c:80 ingress/i/*/foo"},
      {"Exact is case-sensitive",
       IngressPaths(P{{"Exact", "/foo", "b"}}),
       {.line = "GET x /FOO"},
       "404"},
      {"Prefix is case-sensitive",
       IngressPaths(P{{"Prefix", "/foo", "b"}}),
       {.line = "GET x /Foo/bar"},
       "404"},
  };
  RunTable(cases);
}

std::string IngressHosts(std::vector<std::pair<std::string, std::string>> hosts,
                         bool default_backend = false) {
  std::string out = "[[ingress]]\nname = \"h\"\n";
  if (default_backend) out += "default_backend = { service = \"d\" }\n";
  for (const auto& [host, svc] : hosts) {
    out += "[[ingress.rule]]\n";
    if (!host.empty()) StrAppend(&out, "host = \"", host, "\"\n");
    StrAppend(&out, "[[ingress.rule.path]]\npath = \"/\"\nservice = \"", svc, "\"\nport = 80\n");
  }
  return out;
}

constexpr char kWildRoute[] = R"(
[[http_route]]
name = "w"
hostnames = ["*.foo.com"]
[[http_route.rule]]
backend_refs = [{ service = "c", port = 80 }]
)";

TEST(Router, Hosts) {
  using H = std::vector<std::pair<std::string, std::string>>;
  std::vector<Case> cases = {
      // kubernetes.io's hostname wildcard examples (an Ingress wildcard is one label).
      {"Ingress *.foo.com matches bar.foo.com",
       IngressHosts(H{{"*.foo.com", "b"}}),
       {.line = "GET bar.foo.com /"},
       "b:80 ingress/h/*.foo.com/"},
      {"Ingress *.foo.com does not match baz.bar.foo.com",
       IngressHosts(H{{"*.foo.com", "b"}}),
       {.line = "GET baz.bar.foo.com /"},
       "404"},
      {"Ingress *.foo.com does not match foo.com",
       IngressHosts(H{{"*.foo.com", "b"}}),
       {.line = "GET foo.com /"},
       "404"},
      // Gateway API: an HTTPRoute wildcard is one or more labels.
      {"HTTPRoute *.foo.com matches baz.bar.foo.com",
       kWildRoute,
       {.line = "GET baz.bar.foo.com /"},
       "c:80 http_route/w/1"},
      {"HTTPRoute *.foo.com does not match foo.com", kWildRoute, {.line = "GET foo.com /"}, "404"},
      {"exact beats wildcard",
       IngressHosts(H{{"*.foo.com", "b"}, {"bar.foo.com", "c"}}),
       {.line = "GET bar.foo.com /"},
       "c:80 ingress/h/bar.foo.com/"},
      {"wildcard beats no host",
       IngressHosts(H{{"", "b"}, {"*.foo.com", "c"}}),
       {.line = "GET bar.foo.com /"},
       "c:80 ingress/h/*.foo.com/"},
      {"no host catches the others",
       IngressHosts(H{{"", "b"}, {"*.foo.com", "c"}}),
       {.line = "GET other.lab /"},
       "b:80 ingress/h/*/"},
      {"longer wildcard beats shorter",
       StrCat(IngressHosts(H{{"*.foo.com", "b"}}), R"(
[[http_route]]
name = "w"
hostnames = ["*.com"]
[[http_route.rule]]
backend_refs = [{ service = "c", port = 80 }]
[[http_route]]
name = "x"
hostnames = ["*.bar.foo.com"]
[[http_route.rule]]
backend_refs = [{ service = "a", port = 80 }]
)"),
       {.line = "GET q.bar.foo.com /"},
       "a:80 http_route/x/1"},
      {"host is matched without case and port",
       IngressHosts(H{{"bar.foo.com", "b"}}),
       {.line = "GET Bar.FOO.com:8080 /"},
       "b:80 ingress/h/bar.foo.com/"},
      {"a trailing dot is the same host",
       IngressHosts(H{{"bar.foo.com", "b"}}),
       {.line = "GET bar.foo.com. /"},
       "b:80 ingress/h/bar.foo.com/"},
      {"an IPv6 literal host falls to the host-less rules",
       IngressHosts(H{{"", "b"}, {"bar.foo.com", "c"}}),
       {.line = "GET [::1]:8080 /"},
       "b:80 ingress/h/*/"},
      {"an unknown host with no host-less rule: 404",
       IngressHosts(H{{"bar.foo.com", "b"}}),
       {.line = "GET other /"},
       "404"},
      {"an unknown host uses the default backend",
       IngressHosts(H{{"bar.foo.com", "b"}}, true),
       {.line = "GET other /"},
       "d:80 default"},
      {"the winning host does not fall back to host-less rules",
       StrCat(IngressPaths({{"Prefix", "/", "b"}}), R"(
[[ingress]]
name = "j"
[[ingress.rule]]
host = "api.lab"
[[ingress.rule.path]]
path = "/api"
service = "c"
)"),
       {.line = "GET api.lab /web"},
       "404"},
      {"an Ingress and an HTTPRoute for one host share it",
       StrCat(IngressHosts(H{{"api.lab", "b"}}), R"(
[[http_route]]
name = "r"
hostnames = ["api.lab"]
[[http_route.rule]]
matches = [{ path = "/v2" }]
backend_refs = [{ service = "c", port = 80 }]
)"),
       {.line = "GET api.lab /v2/x"},
       "c:80 http_route/r/1"},
  };
  RunTable(cases);
}

TEST(Router, GatewayApiMatchPrecedence) {
  std::vector<Case> cases = {
      {"a method match beats none on the same path",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
matches = [{ path = "/", method = "POST" }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "POST x /a"},
       "c:80 http_route/r/2"},
      {"the method must be the request's",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ method = "POST" }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /a"},
       "404"},
      {"more header matches beat fewer",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ headers = [{ name = "x-a", value = "1" }] }]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
matches = [{ headers = [{ name = "x-a", value = "1" }, { name = "X-B", value = "2" }] }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /", .headers = {{"x-a", "1"}, {"x-b", "2"}}},
       "c:80 http_route/r/2"},
      {"every header must match, values exactly",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ headers = [{ name = "x-a", value = "1" }, { name = "x-b", value = "Two" }] }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /", .headers = {{"x-a", "1"}, {"x-b", "two"}}},
       "404"},
      {"a repeated request header matches on any of its values",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ headers = [{ name = "x-a", value = "2" }] }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /", .headers = {{"x-a", "1"}, {"x-a", "2"}}},
       "c:80 http_route/r/1"},
      {"a method beats header matches",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ headers = [{ name = "x-a", value = "1" }] }]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
matches = [{ method = "GET" }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /", .headers = {{"x-a", "1"}}},
       "c:80 http_route/r/2"},
      {"headers beat query parameters",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ query_params = [{ name = "q", value = "1" }, { name = "r", value = "2" }] }]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
matches = [{ headers = [{ name = "x-a", value = "1" }] }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /?q=1&r=2", .headers = {{"x-a", "1"}}},
       "c:80 http_route/r/2"},
      {"more query matches beat fewer; values are decoded",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ query_params = [{ name = "q", value = "a b" }] }]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
matches = [{ query_params = [{ name = "q", value = "a b" }, { name = "v", value = "2/3" }] }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /?q=a+b&v=2%2F3"},
       "c:80 http_route/r/2"},
      {"a query parameter must be present",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ query_params = [{ name = "q", value = "" }] }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /?qq="},
       "404"},
      {"the longer path beats a method",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ path = "/a", method = "GET" }]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
matches = [{ path = "/a/b" }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /a/b/c"},
       "c:80 http_route/r/2"},
      {"Exact beats a longer Prefix",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ path = { type = "PathPrefix", value = "/a/b/c" } }]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
matches = [{ path = { type = "Exact", value = "/a/b/c" } }]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /a/b/c"},
       "c:80 http_route/r/2"},
      {"an Exact route beats an Ingress Prefix",
       StrCat(IngressPaths({{"Prefix", "/a", "b"}}), R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ path = { type = "Exact", value = "/a" } }]
backend_refs = [{ service = "c", port = 80 }]
)"),
       {.line = "GET x /a"},
       "c:80 http_route/r/1"},
      {"a tie goes to the older object: Ingresses, then routes, in file order",
       StrCat(IngressPaths({{"Prefix", "/a", "b"}}), R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ path = "/a" }]
backend_refs = [{ service = "c", port = 80 }]
)"),
       {.line = "GET x /a"},
       "b:80 ingress/i/*/a"},
      {"a tie within a route goes to the earlier rule",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
backend_refs = [{ service = "c", port = 80 }]
)",
       {.line = "GET x /"},
       "b:80 http_route/r/1"},
      {"any match of a rule selects it (matches are ORed)",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
matches = [{ path = "/a" }, { path = "/b" }]
backend_refs = [{ service = "c", port = 80, weight = 3 }]
)",
       {.line = "GET x /b/1"},
       "c:80 http_route/r/1"},
      {"a rule without matches is \"/\" PathPrefix",
       R"(
[[http_route]]
name = "r"
[[http_route.rule]]
backend_refs = [{ service = "a", port = "alt" }]
)",
       {.line = "DELETE x /what/ever"},
       "a:8080 http_route/r/1"},
  };
  RunTable(cases);
}

TEST(Router, ListenersAndParents) {
  constexpr char kLab[] = R"(
[[listener]]
name = "web"
[[listener]]
name = "secure"
protocol = "HTTPS"
[[listener.tls]]
cert = "c.pem"
key = "k.pem"
[[http_route]]
name = "s"
parents = ["secure"]
[[http_route.rule]]
backend_refs = [{ service = "c", port = 80 }]
[[http_route]]
name = "all"
[[http_route.rule]]
matches = [{ path = "/all" }]
backend_refs = [{ service = "b", port = 80 }]
)";
  std::vector<Case> cases = {
      {"a route attached to its parent",
       kLab,
       {.listener = "secure", .line = "GET x /"},
       "c:80 http_route/s/1"},
      {"not on other listeners", kLab, {.listener = "web", .line = "GET x /"}, "404"},
      {"a route without parents is on every listener",
       kLab,
       {.listener = "web", .line = "GET x /all"},
       "b:80 http_route/all/1"},
      {"an unknown listener sees only routes without parents",
       kLab,
       {.listener = "zzz", .line = "GET x /all"},
       "b:80 http_route/all/1"},
      {"an Ingress is on every listener",
       IngressPaths({{"Prefix", "/", "b"}}),
       {.listener = "https", .line = "GET x /"},
       "b:80 ingress/i/*/"},
  };
  RunTable(cases);
}

TEST(Router, Redirects) {
  auto redirect = [](std::string spec) {
    return StrCat(
        "[[listener]]\nname = \"http\"\n[[listener]]\nname = \"tls\"\nprotocol = \"HTTPS\"\n"
        "[[listener.tls]]\ncert = \"c.pem\"\nkey = \"k.pem\"\n"
        "[[http_route]]\nname = \"r\"\n[[http_route.rule]]\nrequest_redirect = ",
        spec, "\n");
  };
  std::vector<Case> cases = {
      {"to https: the scheme's default port, path and query kept",
       redirect("{ scheme = \"https\" }"),
       {.line = "GET api.lab:8080 /a/b?x=1&y=2"},
       "302 https://api.lab/a/b?x=1&y=2 http_route/r/1"},
      {"to https on a port",
       redirect("{ scheme = \"https\", port = 8443, status_code = 301 }"),
       {.line = "GET api.lab:8080 /a"},
       "301 https://api.lab:8443/a http_route/r/1"},
      {"hostname only: scheme and port kept",
       redirect("{ hostname = \"new.lab\", status_code = 308 }"),
       {.line = "GET old.lab:8080 /p?q"},
       "308 http://new.lab:8080/p?q http_route/r/1"},
      {"no port in Host: the listener's",
       redirect("{ hostname = \"new.lab\" }"),
       {.line = "GET old.lab /p"},
       "302 http://new.lab:8080/p http_route/r/1"},
      {"from the HTTPS listener: https kept",
       redirect("{ hostname = \"new.lab\", status_code = 307 }"),
       {.listener = "tls", .line = "GET old.lab:8443 /"},
       "307 https://new.lab:8443/ http_route/r/1"},
      {"to http from https: port 80 left out",
       redirect("{ scheme = \"http\", status_code = 303 }"),
       {.listener = "tls", .line = "POST old.lab:8443 /form"},
       "303 http://old.lab/form http_route/r/1"},
      {"port given as the scheme default is left out",
       redirect("{ port = 80 }"),
       {.line = "GET a.lab:8080 /"},
       "302 http://a.lab/ http_route/r/1"},
      {"redirect_to_https: 308 to the first HTTPS listener",
       R"(
[[listener]]
name = "plain"
redirect_to_https = true
[[listener]]
name = "tls"
protocol = "HTTPS"
port = 9443
[[listener.tls]]
cert = "c.pem"
key = "k.pem"
[[http_route]]
name = "r"
[[http_route.rule]]
backend_refs = [{ service = "b", port = 80 }]
)",
       {.listener = "plain", .line = "POST shop.lab:8080 /cart?id=7"},
       "308 https://shop.lab:9443/cart?id=7 redirect_to_https"},
  };
  RunTable(cases);
}

TEST(Router, HeaderModifierIsPassedThrough) {
  absl::StatusOr<Router> router = BuildFrom(R"(
[[http_route]]
name = "r"
[[http_route.rule]]
backend_refs = [{ service = "b", port = 80 }]
request_header_modifier = { set = [{ name = "X-Env", value = "lab" }], add = [{ name = "x-via", value = "edge" }], remove = ["x-debug"] }
)");
  ASSERT_TRUE(router.ok()) << router.status();
  Decision d = RouteLine(*router, {.line = "GET x /"});
  ASSERT_EQ(d.kind, Decision::Kind::kForward);
  EXPECT_EQ(d.modify.set, (std::vector<std::pair<std::string, std::string>>{{"x-env", "lab"}}));
  EXPECT_EQ(d.modify.add, (std::vector<std::pair<std::string, std::string>>{{"x-via", "edge"}}));
  EXPECT_EQ(d.modify.remove, std::vector<std::string>{"x-debug"});
}

// The weighted choice over a sweep of random numbers is exactly proportional; weight 0 gets
// nothing.
TEST(Router, WeightsSplitProportionally) {
  absl::StatusOr<Router> router = BuildFrom(R"(
[[http_route]]
name = "canary"
[[http_route.rule]]
backend_refs = [{ service = "a", port = 80, weight = 1 }, { service = "b", port = 80, weight = 2 },
                { service = "c", port = 80, weight = 0 }, { service = "d", port = 80, weight = 3 }]
)");
  ASSERT_TRUE(router.ok()) << router.status();
  std::map<std::string, int> count;
  for (uint64_t r = 0; r < 6000; ++r)
    ++count[RouteLine(*router, {.line = "GET x /"}, r).backend.service];
  EXPECT_EQ(count, (std::map<std::string, int>{{"a", 1000}, {"b", 2000}, {"d", 3000}}));
  // Large random numbers (a full 64-bit generator) still land in range.
  EXPECT_EQ(RouteLine(*router, {.line = "GET x /"}, ~uint64_t{0}).backend.service,
            "d");  // 2^64-1 mod 6 = 3

  absl::StatusOr<Router> split = BuildFrom(R"(
[[http_route]]
name = "s"
[[http_route.rule]]
backend_refs = [{ service = "a", port = 80, weight = 90 }, { service = "b", port = 80, weight = 10 }]
)");
  ASSERT_TRUE(split.ok());
  int to_b = 0;
  for (uint64_t r = 0; r < 1000; ++r)
    to_b += RouteLine(*split, {.line = "GET x /"}, r * 7919).backend.service == "b";
  EXPECT_EQ(to_b, 100);
}

TEST(Router, RoutesListsEveryLabel) {
  absl::StatusOr<Router> router =
      BuildFrom(StrCat(IngressPaths({{"Prefix", "/", "b"}, {"Exact", "/x", "c"}}, true), R"(
[[http_route]]
name = "r"
hostnames = ["a.lab", "b.lab"]
[[http_route.rule]]
matches = [{ path = "/1" }, { path = "/2" }]
backend_refs = [{ service = "b", port = 80 }]
[[http_route.rule]]
request_redirect = { scheme = "https" }
)"));
  ASSERT_TRUE(router.ok()) << router.status();
  EXPECT_EQ(router->Routes(), (std::vector<std::string>{"ingress/i/*/", "ingress/i/*/x", "default",
                                                        "http_route/r/1", "http_route/r/2"}));
}

TEST(Router, BuildRefusesWhatResolvePrevents) {
  config::LoadResult r = config::Load(StrCat(kServices, R"(
[[http_route]]
name = "r"
parents = ["http"]
[[http_route.rule]]
backend_refs = [{ service = "b", port = 80 }]
)"),
                                      "t.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  config::ClusterSpec spec = *r.spec;
  spec.http_routes[0].rules[0].backends[0].service = "nope";
  EXPECT_EQ(Router::Build(spec).status().code(), absl::StatusCode::kInvalidArgument);
  spec = *r.spec;
  spec.http_routes[0].rules[0].backends[0].port = 81;
  EXPECT_EQ(Router::Build(spec).status().code(), absl::StatusCode::kInvalidArgument);
  spec = *r.spec;
  spec.http_routes[0].parents = {"gateway"};
  EXPECT_EQ(Router::Build(spec).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Router::Build(*r.spec).ok());
}

TEST(Router, NoRoutesIs404) {
  absl::StatusOr<Router> router = BuildFrom("");
  ASSERT_TRUE(router.ok());
  Decision d = RouteLine(*router, {.line = "GET x /"});
  EXPECT_EQ(d.kind, Decision::Kind::kNoRoute);
  EXPECT_EQ(d.route, "");
  EXPECT_TRUE(router->Routes().empty());
}

TEST(PrefixMatches, ByPathElement) {
  struct {
    std::string_view prefix, path;
    bool match;
  } cases[] = {
      {"/", "/", true},        {"/", "/x", true},          {"/foo", "/foo", true},
      {"/foo", "/foo/", true}, {"/foo", "/foo/bar", true}, {"/foo", "/foobar", false},
      {"/foo/", "/foo", true}, {"/foo//", "/foo/x", true}, {"/foo", "/fo", false},
      {"/foo", "/", false},    {"/a/b", "/a/b/c/d", true}, {"/a/b", "/a/bc", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(PrefixMatches(c.prefix, c.path), c.match) << c.prefix << " " << c.path;
  }
}

}  // namespace
}  // namespace mkn::ingress
