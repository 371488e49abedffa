// Request head checks and path normalization as tables: {description, input, expected}. The last
// table runs heads through the checks and then the router, as the edge does: what a hostile target
// is routed by.
#include "lib/ingress/request_head.h"

#include <gtest/gtest.h>

#include "lib/config/toml/load.h"
#include "lib/ingress/router.h"
#include "lib/strings/str_cat.h"

// The tables name only the fields a case needs; the rest keep their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace mkn::ingress {
namespace {

TEST(NormalizePath, Table) {
  struct Case {
    std::string description, in, out;  // out "" = kNormal (unchanged), "!" = kInvalid
  } cases[] = {
      {"root", "/", ""},
      {"a plain path", "/a/b/c.txt", ""},
      {"a trailing slash stays", "/a/b/", ""},
      {"dots inside names are names", "/a/.hidden/b..c/...", ""},
      {"a dot segment", "/a/./b", "/a/b"},
      {"a trailing dot segment leaves the directory", "/a/.", "/a/"},
      {"dot-dot removes the segment before", "/a/b/../c", "/a/c"},
      {"a trailing dot-dot", "/a/b/..", "/a/"},
      {"dot-dot stops at the root", "/../../etc/passwd", "/etc/passwd"},
      {"only dot-dot", "/..", "/"},
      {"%2e is a dot (lowercase)", "/public/%2e%2e/admin", "/admin"},
      {"%2E is a dot (uppercase), mixed with a real one", "/public/.%2E/admin", "/admin"},
      {"%2e as a single dot", "/a/%2e/b", "/a/b"},
      {"unreserved escapes decoded", "/%41%62%7e%5f%2D", "/Ab~_-"},
      {"other escapes keep, hex uppercased", "/a%2fb%3f%20", "/a%2Fb%3F%20"},
      {"an escaped slash never separates: no dot-segment across it", "/a%2f..%2fb", "/a%2F..%2Fb"},
      {"escapes already normal are unchanged", "/a%2Fb%20c", ""},
      {"slashes merged", "//a///b//", "/a/b/"},
      {"merged before dot-segments, as nginx and path.Clean", "/a//../b", "/b"},
      {"a leading double slash", "//admin", "/admin"},
      {"a '%' at the end", "/a%", "!"},
      {"a '%' with one digit", "/a%4", "!"},
      {"a '%' with no hex", "/a%zz/b", "!"},
      {"a decoded %00 is not unreserved: kept", "/a%00", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description + ": " + c.in);
    std::string out = "untouched";
    PathResult r = NormalizePath(c.in, out);
    if (c.out.empty()) {
      EXPECT_EQ(r, PathResult::kNormal);
    } else if (c.out == "!") {
      EXPECT_EQ(r, PathResult::kInvalid);
    } else {
      EXPECT_EQ(r, PathResult::kNormalized);
      EXPECT_EQ(out, c.out);
    }
  }
}

TEST(IsValidHost, Table) {
  struct Case {
    std::string host;
    bool valid;
  } cases[] = {
      {"", true},  // an empty authority (RFC 9110 §7.2)
      {"app.test", true},
      {"App.Test:8080", true},
      {"127.0.0.1:80", true},
      {"[::1]:8443", true},
      {"[::1]", true},
      {"a%2eb", true},
      {"xn--bcher-kva.test", true},
      {"app.test:", true},  // port = *DIGIT (RFC 3986 §3.2.3)
      {"app test", false},
      {"app.test/x", false},
      {"app.test:80:80", false},
      {"app.test:http", false},
      {"app.test:65536", false},
      {"app.test:000080", false},
      {"user@app.test", false},
      {"[::1", false},
      {"[]", false},
      {"[::1]x", false},
      {"a%zz", false},
      {"a\"b", false},
  };
  for (const Case& c : cases) EXPECT_EQ(IsValidHost(c.host), c.valid) << c.host;
}

// A head as the edge's parser reports it: "METHOD TARGET HTTP/x.y", then Host and
// Transfer-Encoding lines.
struct Head {
  std::string method = "GET", target = "/";
  unsigned version = 11;
  std::vector<std::string> hosts = {"app.test"};
  std::vector<std::string> te;
};

HeadCheck Check(const Head& h, std::string& buf) {
  std::vector<std::string_view> te(h.te.begin(), h.te.end());
  RequestHead r;
  r.method = h.method;
  r.target = h.target;
  r.version = h.version;
  r.host_fields = static_cast<int>(h.hosts.size());
  if (!h.hosts.empty()) r.host = h.hosts[0];
  r.transfer_encodings = te;
  return CheckRequestHead(r, buf);
}

TEST(CheckRequestHead, RefusalsTable) {
  struct Case {
    std::string description;
    Head head;
    int status;
    std::string why;  // a part of the answer's text
  } cases[] = {
      {"HTTP/2.0 over an HTTP/1 connection", {.version = 20}, 505, "HTTP/2.0 is not supported"},
      {"HTTP/0.9", {.version = 9}, 505, "HTTP/0.9"},
      {"HTTP/1.2", {.version = 12}, 505, "HTTP/1.2"},
      {"CONNECT", {.method = "CONNECT", .target = "app.test:443"}, 501, "CONNECT"},
      {"OPTIONS *", {.method = "OPTIONS", .target = "*"}, 501, "OPTIONS *"},
      {"* with another method", {.target = "*"}, 400, "for OPTIONS only"},
      {"authority-form without CONNECT", {.target = "app.test:80"}, 400, "neither a path"},
      {"a relative target", {.target = "index.html"}, 400, "neither a path"},
      {"another scheme", {.target = "ftp://app.test/x"}, 400, "neither a path"},
      {"a fragment", {.target = "/a#frag"}, 400, "fragment"},
      {"absolute-form with userinfo", {.target = "http://u:p@app.test/"}, 400, "userinfo"},
      {"absolute-form without a host", {.target = "http:///x"}, 400, "without a host"},
      {"absolute-form with only a port", {.target = "http://:80/x"}, 400, "without a host"},
      {"absolute-form with a bad authority", {.target = "http://a b/"}, 400, "not a host"},
      {"two Host fields", {.hosts = {"app.test", "evil.test"}}, 400, "two Host fields"},
      {"two equal Host fields too", {.hosts = {"app.test", "app.test"}}, 400, "two Host"},
      {"HTTP/1.1 without Host", {.hosts = {}}, 400, "without Host"},
      {"HTTP/1.1 absolute-form without Host",
       {.target = "http://app.test/", .hosts = {}},
       400,
       "without Host"},
      {"a Host with a path", {.hosts = {"app.test/evil"}}, 400, "is not a host[:port]"},
      {"a Host with a space", {.hosts = {"app .test"}}, 400, "is not a host[:port]"},
      {"chunked, identity: chunked not final (the desync)",
       {.te = {"chunked, identity"}},
       400,
       "does not end in chunked"},
      {"identity alone", {.te = {"identity"}}, 400, "does not end in chunked"},
      {"gzip alone", {.te = {"gzip"}}, 400, "does not end in chunked"},
      {"an empty Transfer-Encoding", {.te = {""}}, 400, "does not end in chunked"},
      {"only commas", {.te = {" , ,"}}, 400, "does not end in chunked"},
      {"chunked then identity in two fields",
       {.te = {"chunked", "identity"}},
       400,
       "does not end in chunked"},
      {"chunked twice, one field", {.te = {"chunked, chunked"}}, 400, "chunked twice"},
      {"chunked twice, two fields", {.te = {"chunked", "chunked"}}, 400, "chunked twice"},
      {"chunked with a parameter", {.te = {"chunked;x=1"}}, 400, "no parameters"},
      {"gzip before chunked: a coding not implemented",
       {.te = {"gzip, chunked"}},
       501,
       "\"gzip\" is not implemented"},
      {"identity before chunked, in two fields",
       {.te = {"identity", "chunked"}},
       501,
       "\"identity\" is not implemented"},
      {"chunked in an HTTP/1.0 request",
       {.version = 10, .hosts = {}, .te = {"chunked"}},
       400,
       "HTTP/1.0"},
      {"a path with a broken escape", {.target = "/a%zz"}, 400, "two hex digits"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    std::string buf;
    HeadCheck r = Check(c.head, buf);
    EXPECT_EQ(r.status, c.status) << r.why;
    EXPECT_NE(r.why.find(c.why), std::string::npos) << r.why;
  }
}

TEST(CheckRequestHead, AcceptedTable) {
  struct Case {
    std::string description;
    Head head;
    std::string authority, path, query;
    bool absolute_form = false, path_changed = false, has_query = false;
  } cases[] = {
      {"origin-form", {.target = "/a/b?x=1"}, "app.test", "/a/b", "x=1", false, false, true},
      {"an empty query keeps its '?'", {.target = "/a?"}, "app.test", "/a", "", false, false, true},
      {"HTTP/1.0 without Host", {.version = 10, .hosts = {}}, "", "/"},
      {"an empty Host", {.hosts = {""}}, "", "/"},
      {"chunked", {.te = {"chunked"}}, "app.test", "/"},
      {"Chunked in any case, with spaces", {.te = {" ChUnKeD "}}, "app.test", "/"},
      {"empty list elements around chunked", {.te = {", chunked ,"}}, "app.test", "/"},
      {"absolute-form: its authority overrides Host",
       {.target = "http://other.test:8080/x?q", .hosts = {"app.test"}},
       "other.test:8080",
       "/x",
       "q",
       true,
       false,
       true},
      {"absolute-form, scheme in capitals, no path",
       {.target = "HTTPS://other.test"},
       "other.test",
       "/",
       "",
       true},
      {"absolute-form, query but no path",
       {.target = "http://other.test?q=1"},
       "other.test",
       "/",
       "q=1",
       true,
       false,
       true},
      {"absolute-form's path normalized",
       {.target = "http://other.test/a/../b"},
       "other.test",
       "/b",
       "",
       true,
       true},
      {"a path normalized, the query untouched",
       {.target = "/a/%2e%2e/b?p=/../x"},
       "app.test",
       "/b",
       "p=/../x",
       false,
       true,
       true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    std::string buf;
    HeadCheck r = Check(c.head, buf);
    EXPECT_EQ(r.status, 0) << r.why;
    EXPECT_EQ(r.authority, c.authority);
    EXPECT_EQ(r.path, c.path);
    EXPECT_EQ(r.query, c.query);
    EXPECT_EQ(r.absolute_form, c.absolute_form);
    EXPECT_EQ(r.path_changed, c.path_changed);
    EXPECT_EQ(r.has_query, c.has_query);
  }
}

// What the router decides for hostile targets once the head checks have run: the route a
// backend's own reading of the path would take, never one a prefix match on the raw bytes picks.
TEST(CheckRequestHead, RoutesByTheNormalizedPathAndTheTargetsAuthority) {
  config::LoadResult lab = config::Load(R"([cluster]
name = "t"
[[service]]
name = "public"
port = [{ port = 80 }]
[[service]]
name = "admin"
port = [{ port = 80 }]
[[service]]
name = "other"
port = [{ port = 80 }]
[[http_route]]
name = "public"
hostnames = ["app.test"]
  [[http_route.rule]]
  matches = [{ path = "/public" }]
  backend_refs = [{ service = "public", port = 80 }]
  [[http_route.rule]]
  matches = [{ path = "/admin" }]
  backend_refs = [{ service = "admin", port = 80 }]
[[http_route]]
name = "other"
hostnames = ["other.test"]
  [[http_route.rule]]
  backend_refs = [{ service = "other", port = 80 }]
)",
                                        "t.toml");
  ASSERT_TRUE(lab.spec) << lab.diags.FormatAll();
  absl::StatusOr<Router> router = Router::Build(*lab.spec);
  ASSERT_TRUE(router.ok()) << router.status();
  struct Case {
    std::string description, target, host, route;  // route "404": none
  } cases[] = {
      {"a plain public path", "/public/a", "app.test", "http_route/public/1"},
      {"dot-dot out of /public is /admin's", "/public/../admin/users", "app.test",
       "http_route/public/2"},
      {"%2e%2e out of /public is /admin's", "/public/%2e%2e/admin", "app.test",
       "http_route/public/2"},
      {"//admin is /admin", "//admin", "app.test", "http_route/public/2"},
      {"an escaped slash is no separator: /public%2F.. is one segment, no route", "/public%2F..",
       "app.test", "404"},
      {"%61dmin is admin", "/%61dmin", "app.test", "http_route/public/2"},
      {"absolute-form routes by its authority, not Host", "http://other.test/public", "app.test",
       "http_route/other/1"},
      {"and Host when origin-form", "/public", "other.test", "http_route/other/1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    std::string buf;
    const Head head{.target = c.target, .hosts = {c.host}};  // the result's views point into it
    HeadCheck h = Check(head, buf);
    ASSERT_EQ(h.status, 0) << h.why;
    Request r;
    r.listener = "http";
    r.method = "GET";
    r.host = h.authority;
    r.path = h.path;
    r.query = h.query;
    Decision d = router->Route(r, 0);
    EXPECT_EQ(d.kind == Decision::Kind::kNoRoute ? "404" : d.route, c.route);
  }
}

}  // namespace
}  // namespace mkn::ingress
