#include <gtest/gtest.h>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {
namespace {

constexpr char kLab[] = R"(
[cluster]
name = "demo"

nodes = 2

[[pod]]
name = "client"
node = "node2"
  [[pod.container]]
  command = ["sleep", "infinity"]

[[deployment]]
name = "web"
replicas = 3
  [deployment.template]
  labels = { app = "web" }
  [[deployment.template.container]]
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]

[[service]]
name = "web"
selector = { app = "web" }
  [[service.port]]
  port = 80
  target_port = "http"
)";

TEST(Config, ResolvesDefaultsAddressesAndPlacement) {
  LoadResult r = Load(kLab, "lab.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  const ClusterSpec& s = *r.spec;
  EXPECT_EQ(s.name, "demo");
  EXPECT_EQ(s.network, NetworkMode::kVxlan);
  EXPECT_EQ(s.pod_mtu, 1450);
  ASSERT_EQ(s.nodes.size(), 2u);
  EXPECT_EQ(s.nodes[0].name, "node1");
  EXPECT_EQ(s.nodes[0].pod_cidr.ToString(), "10.244.0.0/24");
  EXPECT_EQ(s.nodes[1].pod_cidr.ToString(), "10.244.1.0/24");
  EXPECT_EQ(s.nodes[1].gateway.ToString(), "10.244.1.1");
  EXPECT_EQ(s.nodes[0].underlay_ip.ToString(), "172.18.0.2");
  EXPECT_EQ(s.underlay_gateway.ToString(), "172.18.0.1");
  ASSERT_EQ(s.pods.size(), 5u);  // and the cluster DNS's, last, on node1 (outside the spread)
  EXPECT_EQ(s.pods[4].name, "kube-system/coredns");
  EXPECT_EQ(s.pods[4].node, 0);
  // client is pinned to node2; replicas go to the least loaded node, lowest index first.
  EXPECT_EQ(s.pods[0].name, "client");
  EXPECT_EQ(s.pods[0].node, 1);
  EXPECT_EQ(s.pods[1].name, "web-0");
  EXPECT_EQ(s.pods[1].node, 0);
  EXPECT_EQ(s.pods[2].node, 0);
  EXPECT_EQ(s.pods[3].node, 1);
  EXPECT_EQ(s.pods[0].ip.ToString(), "10.244.1.2");
  EXPECT_EQ(s.pods[3].ip.ToString(), "10.244.1.3");
  EXPECT_EQ(s.pods[1].ip.ToString(), "10.244.0.2");
  EXPECT_EQ(s.pods[1].mac.ToString(), "0a:58:0a:f4:00:02");
  EXPECT_EQ(s.pods[1].netns, "mkn-demo-web-0");
  ASSERT_EQ(s.services.size(), 2u);  // and kube-system/kube-dns, last, at the 10th address
  EXPECT_EQ(s.services[1].cluster_ip.ToString(), "10.96.0.10");
  EXPECT_EQ(s.services[0].cluster_ip.ToString(), "10.96.0.1");
  EXPECT_EQ(s.services[0].endpoints, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(s.services[0].ports[0].target_port_name, "http");
  EXPECT_FALSE(r.diags.HasErrors());
  EXPECT_TRUE(r.diags.all().empty()) << r.diags.FormatAll();
}

TEST(Config, HostGwKeepsFullMtu) {
  LoadResult r = Load("[cluster]\nname = \"x\"\nnetwork = \"host-gw\"\nmtu = 9000\n", "x.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  EXPECT_EQ(r.spec->pod_mtu, 9000);
  EXPECT_EQ(r.spec->nodes.size(), 1u);
}

TEST(Config, WarningDoesNotFailTheLoad) {
  LoadResult r = Load(R"([cluster]
name = "x"
[[service]]
name = "lonely"
selector = { app = "none" }
port = [{ port = 80 }]
)",
                      "x.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  EXPECT_EQ(r.diags.FormatAll(),
            "x.toml:5:12: warning: service \"lonely\": selector matches no pod\n");
}

// A named target_port some selected pods lack leaves those pods out of the Service's endpoints, as
// kube-proxy does; a policy port name no container declares matches nothing. Both load, warned.
TEST(Config, NamedPortsSomePodsLackAreWarned) {
  LoadResult r = Load(R"([cluster]
name = "x"
[[pod]]
name = "a"
labels = { app = "web" }
  [[pod.container]]
  name = "c"
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]
[[pod]]
name = "b"
labels = { app = "web" }
  [[pod.container]]
  name = "c"
  app = "http-echo"
  ports = [{ name = "web", port = 8080 }]
[[service]]
name = "web"
selector = { app = "web" }
port = [{ port = 80, target_port = "http" }]
[[network_policy]]
name = "p"
pod_selector = {}
  [[network_policy.ingress]]
  ports = [{ port = "htp" }]
)",
                      "x.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  EXPECT_EQ(r.diags.FormatAll(),
            "x.toml:20:36: warning: service \"web\": port #1: target_port \"http\" names no TCP "
            "container port of b: those pods are not endpoints of this port\n"
            "x.toml:25:21: warning: network_policy \"p\": ingress #1: ports: port \"htp\" names "
            "no TCP container port of any pod: this port matches nothing\n");
}

TEST(Config, ReportsEveryErrorNotJustTheFirst) {
  LoadResult r = Load("[cluster]\nname = \"Bad\"\nmtu = \"big\"\nfoo = 1\n", "x.toml");
  EXPECT_FALSE(r.spec);
  EXPECT_EQ(r.diags.all().size(), 3u) << r.diags.FormatAll();
}

TEST(Config, OverriddenNodeCidrIsSkippedByAutomaticCarving) {
  LoadResult r = Load(R"([cluster]
name = "x"
[[node]]
name = "a"
[[node]]
name = "b"
pod_cidr = "10.244.0.0/24"
)",
                      "x.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  EXPECT_EQ(r.spec->nodes[0].pod_cidr.ToString(), "10.244.1.0/24");
  EXPECT_EQ(r.spec->nodes[1].pod_cidr.ToString(), "10.244.0.0/24");
}

}  // namespace
}  // namespace mkn::config

namespace mkn::config {
namespace {

// A built-in app without `port` serves the first port it declares with its own protocol: a
// Service's named target port then reaches what the app really serves.
TEST(Config, AppServesItsDeclaredPort) {
  LoadResult r = Load(R"([cluster]
name = "x"
[[pod]]
name = "dns"
  [[pod.container]]
  app = "udp-echo"
  ports = [{ name = "metrics", port = 9100 }, { name = "dns", port = 5353, protocol = "UDP" }]
[[pod]]
name = "web"
  [[pod.container]]
  app = "http-echo"
[[pod]]
name = "pinned"
  [[pod.container]]
  app = "tcp-echo"
  port = 7000
  ports = [{ name = "echo", port = 9000 }]
)",
                      "x.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  const auto& dns = r.spec->FindPod("dns")->containers[0].ports;
  ASSERT_EQ(dns.size(), 2u);
  EXPECT_EQ(dns[0].port, 5353);  // served first
  EXPECT_EQ(dns[0].protocol, Protocol::kUdp);
  EXPECT_EQ(dns[0].name, "dns");
  EXPECT_EQ(dns[1].port, 9100);
  EXPECT_EQ(r.spec->FindPod("web")->containers[0].ports[0].port, 8080);  // default
  const auto& pinned = r.spec->FindPod("pinned")->containers[0].ports;
  ASSERT_EQ(pinned.size(), 2u);
  EXPECT_EQ(pinned[0].port, 7000);  // `port` wins
  EXPECT_EQ(pinned[1].port, 9000);
}

}  // namespace
}  // namespace mkn::config

// --- the edge ------------------------------------------------------------------------------------

namespace mkn::config {
namespace {

constexpr char kEdgeApps[] = R"([cluster]
name = "x"
nodes = 2
[[pod]]
name = "web"
labels = { app = "web" }
  [[pod.container]]
  app = "http-echo"
[[service]]
name = "web"
selector = { app = "web" }
  [[service.port]]
  name = "http"
  port = 80
  target_port = 8080
)";

TEST(Edge, DefaultListenersFollowTheRoutes) {
  // No routes: no listener at all.
  LoadResult none = Load(kEdgeApps, "/labs/x/lab.toml");
  ASSERT_TRUE(none.spec) << none.diags.FormatAll();
  EXPECT_TRUE(none.spec->listeners.empty());

  // An ingress without TLS: "http" on 127.0.0.1:8080 only.
  LoadResult http = Load(StrCat(kEdgeApps, R"(
[[ingress]]
name = "i"
default_backend = { service = "web" }
)"),
                         "/labs/x/lab.toml");
  ASSERT_TRUE(http.spec) << http.diags.FormatAll();
  ASSERT_EQ(http.spec->listeners.size(), 1u);
  const ListenerSpec& l = http.spec->listeners[0];
  EXPECT_EQ(l.name, "http");
  EXPECT_EQ(l.address.ToString(), "127.0.0.1");
  EXPECT_EQ(l.port, 8080);
  EXPECT_EQ(l.protocol, ListenerProtocol::kHttp);
  EXPECT_EQ(l.upstream, UpstreamMode::kService);
  EXPECT_EQ(l.node, 0);
  EXPECT_EQ(l.max_connections, 1024) << "an implicit listener has the default cap";
  EXPECT_EQ(http.spec->ingresses[0].default_backend->port, 80);

  // Ingress TLS: "https" on :8443 too, serving the ingress certificates, paths resolved against the
  // lab file's directory.
  LoadResult tls = Load(StrCat(kEdgeApps, R"(
[[ingress]]
name = "i"
default_backend = { service = "web" }
  [[ingress.tls]]
  hosts = ["web.lab"]
  cert = "certs/web.pem"
  key = "../keys/web-key.pem"
)"),
                        "/labs/x/lab.toml");
  ASSERT_TRUE(tls.spec) << tls.diags.FormatAll();
  ASSERT_EQ(tls.spec->listeners.size(), 2u);
  const ListenerSpec& s = tls.spec->listeners[1];
  EXPECT_EQ(s.name, "https");
  EXPECT_EQ(s.port, 8443);
  EXPECT_EQ(s.protocol, ListenerProtocol::kHttps);
  ASSERT_EQ(s.tls.size(), 1u);
  EXPECT_EQ(s.tls[0].hosts, std::vector<std::string>{"web.lab"});
  EXPECT_EQ(s.tls[0].cert, "/labs/x/certs/web.pem");
  EXPECT_EQ(s.tls[0].key, "/labs/keys/web-key.pem");
  EXPECT_EQ(s.tls[0].pos.line, 20);                                // the [[ingress.tls]] line
  EXPECT_EQ(tls.spec->ingresses[0].tls[0].cert, "certs/web.pem");  // as written

  // auto_tls alone also makes "https", with no certificate of its own (vnet/ makes them).
  LoadResult autotls2 =
      Load(StrCat("[cluster]\nauto_tls = true\n", std::string(kEdgeApps).substr(10), R"(
[[http_route]]
name = "r"
  [[http_route.rule]]
  backend_refs = [{ service = "web" }]
)"),
           "lab.toml");
  ASSERT_TRUE(autotls2.spec) << autotls2.diags.FormatAll();
  EXPECT_TRUE(autotls2.spec->auto_tls);
  ASSERT_EQ(autotls2.spec->listeners.size(), 2u);
  EXPECT_TRUE(autotls2.spec->listeners[1].tls.empty());
}

TEST(Edge, RelativeLabFileKeepsRelativeCertPaths) {
  LoadResult r = Load(StrCat(kEdgeApps, R"(
[[listener]]
name = "tls"
protocol = "HTTPS"
  [[listener.tls]]
  cert = "/etc/ssl/web.pem"
  key = "./web-key.pem"
)"),
                      "examples/x/lab.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  ASSERT_EQ(r.spec->listeners.size(), 1u);
  EXPECT_EQ(r.spec->listeners[0].port, 8443);
  EXPECT_EQ(r.spec->listeners[0].tls[0].cert, "/etc/ssl/web.pem");
  EXPECT_EQ(r.spec->listeners[0].tls[0].key, "examples/x/web-key.pem");
}

TEST(Edge, ListenersAndRoutesResolve) {
  LoadResult r = Load(StrCat(kEdgeApps, R"(
[[listener]]
name = "plain"
address = "127.0.0.5"
port = 80
redirect_to_https = true
node = "node2"
upstream = "endpoints"
max_connections = 3
[[listener]]
name = "tls"
protocol = "HTTPS"
port = 443
address = "127.0.0.5"
  [[listener.tls]]
  hosts = ["*.lab"]
  cert = "c.pem"
  key = "k.pem"
[[http_route]]
name = "r"
parents = ["tls"]
hostnames = ["web.lab", "*.web.lab"]
  [[http_route.rule]]
  matches = [{ path = { type = "Exact", value = "/a" }, method = "PUT", headers = [{ name = "X-A", value = "1" }], query_params = [{ name = "Q", value = "v" }] },
             { path = "/b" }]
  backend_refs = [{ service = "web", port = "http", weight = 0 }, { service = "web", port = 80, weight = 5 }]
  request_header_modifier = { set = [{ name = "X-Set", value = "s" }], add = [{ name = "x-add", value = "a" }], remove = ["X-Gone"] }
  [[http_route.rule]]
  request_redirect = { scheme = "https", port = 443 }
)"),
                      "/l/lab.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  const ClusterSpec& s = *r.spec;
  ASSERT_EQ(s.listeners.size(), 2u);
  EXPECT_EQ(s.listeners[0].address.ToString(), "127.0.0.5");
  EXPECT_EQ(s.listeners[0].port, 80);
  EXPECT_TRUE(s.listeners[0].redirect_to_https);
  EXPECT_EQ(s.listeners[0].node, 1);
  EXPECT_EQ(s.listeners[0].upstream, UpstreamMode::kEndpoints);
  EXPECT_EQ(s.listeners[0].max_connections, 3);
  EXPECT_EQ(s.listeners[1].max_connections, ListenerSpec::kDefaultMaxConnections);
  EXPECT_EQ(s.listeners[1].tls[0].cert, "/l/c.pem");
  ASSERT_EQ(s.http_routes.size(), 1u);
  const HttpRouteSpec& hr = s.http_routes[0];
  EXPECT_EQ(hr.parents, std::vector<std::string>{"tls"});
  ASSERT_EQ(hr.rules.size(), 2u);
  ASSERT_EQ(hr.rules[0].matches.size(), 2u);
  const HttpRouteMatchSpec& m = hr.rules[0].matches[0];
  EXPECT_EQ(m.path_type, PathType::kExact);
  EXPECT_EQ(m.path, "/a");
  EXPECT_EQ(m.method, "PUT");
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.headers[0].name, "x-a");     // header names are case-insensitive: stored lowercase
  EXPECT_EQ(m.query_params[0].name, "Q");  // query parameter names are not
  EXPECT_EQ(hr.rules[0].matches[1].path_type, PathType::kPrefix);
  EXPECT_EQ(hr.rules[0].matches[1].path, "/b");
  ASSERT_EQ(hr.rules[0].backends.size(), 2u);
  EXPECT_EQ(hr.rules[0].backends[0].port, 80);
  EXPECT_EQ(hr.rules[0].backends[0].weight, 0);
  EXPECT_EQ(hr.rules[0].backends[1].weight, 5);
  EXPECT_EQ(hr.rules[0].request_headers.set[0].first, "x-set");
  EXPECT_EQ(hr.rules[0].request_headers.remove, std::vector<std::string>{"x-gone"});
  ASSERT_TRUE(hr.rules[1].redirect);
  EXPECT_EQ(hr.rules[1].redirect->scheme, "https");
  EXPECT_EQ(hr.rules[1].redirect->port, 443);
  EXPECT_EQ(hr.rules[1].redirect->status_code, 302);
  EXPECT_TRUE(hr.rules[1].backends.empty());
}

TEST(Edge, CamelCaseKeysGetTheSnakeCaseSuggestion) {
  LoadResult r = Load(StrCat(kEdgeApps, R"(
[[http_route]]
name = "r"
  [[http_route.rule]]
  backendRefs = [{ service = "web" }]
)"),
                      "x.toml");
  EXPECT_FALSE(r.spec);
  EXPECT_NE(
      r.diags.FormatAll().find("unknown key \"backendRefs\" (did you mean \"backend_refs\"?)"),
      std::string::npos)
      << r.diags.FormatAll();
}

// Namespaces: a pod's key is "<ns>/<name>" outside "default"; pods of two namespaces may share a
// name, and their netns names then carry the namespace (a lab without namespaces keeps its names).
TEST(Config, NamespacesKeyPodsServicesAndSelectors) {
  LoadResult r = Load(R"(
[cluster]
name = "ns"
nodes = 1
[[namespace]]
name = "x"
labels = { team = "blue" }
[[pod]]
name = "a"
labels = { app = "a" }
  [[pod.container]]
  app = "http-echo"
[[pod]]
name = "a"
namespace = "x"
labels = { app = "a" }
  [[pod.container]]
  app = "http-echo"
[[deployment]]
name = "web"
namespace = "y"
replicas = 1
  [deployment.template]
  labels = { app = "a" }
  [[deployment.template.container]]
  app = "http-echo"
[[service]]
name = "a"
namespace = "x"
selector = { app = "a" }
  [[service.port]]
  port = 80
  target_port = 8080
[[service]]
name = "a"
selector = { app = "a" }
  [[service.port]]
  port = 80
  target_port = 8080
)",
                      "ns.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  const ClusterSpec& s = *r.spec;
  ASSERT_EQ(s.pods.size(), 4u);  // and kube-system/coredns, last
  EXPECT_EQ(s.pods[3].name, "kube-system/coredns");
  EXPECT_EQ(s.pods[0].name, "a");
  EXPECT_EQ(s.pods[0].netns, "mkn-ns-a");
  EXPECT_EQ(s.pods[1].name, "x/a");
  EXPECT_EQ(s.pods[1].ns, "x");
  EXPECT_EQ(s.pods[1].netns, "mkn-ns-x-a");
  EXPECT_EQ(s.pods[2].name, "y/web-0");
  EXPECT_EQ(s.pods[2].netns, "mkn-ns-y-web-0");
  EXPECT_NE(s.pods[1].host_veth, s.pods[0].host_veth);
  ASSERT_EQ(s.namespaces.size(), 4u);  // kube-system: the cluster DNS's
  EXPECT_EQ(s.namespaces[0].name, "default");
  EXPECT_EQ(s.namespaces[1].name, "kube-system");
  EXPECT_EQ(s.namespaces[2].name, "x");
  EXPECT_EQ(s.namespaces[2].labels.at("team"), "blue");
  EXPECT_EQ(s.namespaces[2].labels.at("kubernetes.io/metadata.name"), "x");
  EXPECT_EQ(s.namespaces[3].name, "y");
  EXPECT_TRUE(s.HasNamespaces());
  // A Service selects in its own namespace only.
  ASSERT_EQ(s.services.size(), 3u);  // and kube-system/kube-dns, last
  EXPECT_EQ(s.services[0].name, "x/a");
  EXPECT_EQ(s.services[0].endpoints, std::vector<int>{1});
  EXPECT_EQ(s.services[1].name, "a");
  EXPECT_EQ(s.services[1].endpoints, std::vector<int>{0});
}

TEST(Config, NamespacedPodNetnsNamesMustNotCollide) {
  LoadResult r = Load(R"(
[cluster]
name = "ns"
nodes = 1
[[pod]]
name = "x-a"
  [[pod.container]]
  app = "http-echo"
[[pod]]
name = "a"
namespace = "x"
  [[pod.container]]
  app = "http-echo"
)",
                      "ns.toml");
  EXPECT_FALSE(r.spec);
  EXPECT_NE(r.diags.FormatAll().find("ns.toml:10:8: pod \"x/a\": its namespace name mkn-ns-x-a is "
                                     "taken by another pod"),
            std::string::npos)
      << r.diags.FormatAll();
}

}  // namespace
}  // namespace mkn::config
