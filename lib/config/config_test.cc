#include <gtest/gtest.h>

#include "lib/config/spec.h"

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
  ASSERT_EQ(s.pods.size(), 4u);
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
  ASSERT_EQ(s.services.size(), 1u);
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
  EXPECT_EQ(r.diags.FormatAll(), "x.toml:5:12: warning: service \"lonely\": selector matches no pod\n");
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
