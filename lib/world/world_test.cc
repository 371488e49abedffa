// lib/world: the world's names and each node's egress masquerade, and the lab keys behind them.
#include "lib/world/world.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/config/toml/load.h"
#include "lib/plan/plan.h"

namespace mkn::world {
namespace {

config::LoadResult LoadLab(const std::string& cluster_extra, const std::string& rest = "") {
  return config::Load("[cluster]\nname = \"w\"\n" + cluster_extra + "\n[[node]]\nname = \"n1\"\n" +
                          "[[node]]\nname = \"n2\"\n" + rest,
                      "w.toml");
}

TEST(World, OnByDefaultWithTestNet3) {
  config::LoadResult r = LoadLab("");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  const config::WorldSpec& w = r.spec->world;
  EXPECT_TRUE(w.enabled);
  EXPECT_TRUE(w.masquerade);
  EXPECT_EQ(w.cidr.ToString(), "203.0.113.0/24");
  EXPECT_EQ(w.gateway.ToString(), "203.0.113.1");
  EXPECT_EQ(w.netns, "mkn-w-world");
  EXPECT_EQ(w.attach_netns, "mkn-w-underlay");
  ASSERT_EQ(w.hosts.size(), 3u);
  EXPECT_EQ(w.hosts[0].name, "example.test");
  EXPECT_EQ(w.hosts[0].addr.ToString(), "203.0.113.2");
  EXPECT_EQ(w.hosts[2].name, "echo.example.test");
  EXPECT_EQ(w.hosts[2].addr.ToString(), "203.0.113.4");
}

TEST(World, OffLeavesNoTrace) {
  config::LoadResult r = LoadLab("world = false");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  EXPECT_FALSE(r.spec->world.enabled);
  EXPECT_EQ(RenderEgress(*r.spec, 0), "");
  const plan::Plan p = plan::BuildPlan(*r.spec);
  EXPECT_EQ(plan::RenderShell(p).find("world"), std::string::npos);
  EXPECT_EQ(plan::RenderShell(p).find("mkn-egress"), std::string::npos);
  // No node routes by default (the cluster DNS pod's own default route, via its node, is a pod's).
  EXPECT_EQ(plan::RenderShell(p).find("mkn-w-n1 route add default"), std::string::npos);
  EXPECT_EQ(plan::RenderShell(p).find("mkn-w-n2 route add default"), std::string::npos);
}

TEST(World, ItsAddressesMoveNothingElse) {
  const std::string rest =
      "[[pod]]\nname = \"a\"\nlabels = {app = \"x\"}\n  [[pod.container]]\n  name = \"c\"\n"
      "  app = \"http-echo\"\n  port = 80\n[[service]]\nname = \"s\"\nselector = {app = \"x\"}\n"
      "  [[service.port]]\n  port = 80\n";
  config::LoadResult on = LoadLab("", rest);
  config::LoadResult off = LoadLab("world = false", rest);
  ASSERT_TRUE(on.spec && off.spec) << on.diags.FormatAll() << off.diags.FormatAll();
  EXPECT_EQ(on.spec->pods[0].ip, off.spec->pods[0].ip);
  EXPECT_EQ(on.spec->services[0].cluster_ip, off.spec->services[0].cluster_ip);
  for (size_t i = 0; i < on.spec->nodes.size(); ++i) {
    EXPECT_EQ(on.spec->nodes[i].underlay_ip, off.spec->nodes[i].underlay_ip);
    EXPECT_EQ(on.spec->nodes[i].pod_cidr, off.spec->nodes[i].pod_cidr);
  }
}

TEST(World, EgressMasqueradesOnlyWhatLeavesTheCluster) {
  config::LoadResult r = LoadLab("");
  ASSERT_TRUE(r.spec);
  EXPECT_EQ(RenderEgress(*r.spec, 1),
            "table ip mkn-egress {}\n"
            "delete table ip mkn-egress\n"
            "table ip mkn-egress {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            "    ip saddr 10.244.0.0/16 ip daddr != { 10.244.0.0/16, 10.96.0.0/12, "
            "172.18.0.0/16 } oifname \"eth0\" counter masquerade comment \"pods to the world: "
            "SNAT to the node\"\n"
            "  }\n"
            "}\n");
}

TEST(World, RoutedUnderlaysAttachAtTheSpineOrTheOneTor) {
  config::LoadResult two = LoadLab("racks = 2");
  ASSERT_TRUE(two.spec) << two.diags.FormatAll();
  EXPECT_EQ(two.spec->world.attach_netns, "mkn-w-spine");
  config::LoadResult bgp = LoadLab("network = \"bgp\"");
  ASSERT_TRUE(bgp.spec) << bgp.diags.FormatAll();
  EXPECT_EQ(bgp.spec->world.attach_netns, "mkn-w-tor-r1");
}

TEST(World, CniLabsHaveItOnlyWhenAsked) {
  const std::string cni = "network = \"cni\"\n";
  const std::string chain =
      "[cni]\nconflist = '{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":"
      "\"bridge\"}]}'\n";
  config::LoadResult def = LoadLab(cni, chain);
  ASSERT_TRUE(def.spec) << def.diags.FormatAll();
  EXPECT_FALSE(def.spec->world.enabled);
  config::LoadResult on = LoadLab(cni + "world = true", chain);
  ASSERT_TRUE(on.spec) << on.diags.FormatAll();
  EXPECT_TRUE(on.spec->world.enabled);
  EXPECT_FALSE(on.spec->world.masquerade);  // the chain's (ipMasq)
  EXPECT_EQ(RenderEgress(*on.spec, 0), "");
}

TEST(World, LookupAnswersItsZoneOnly) {
  config::LoadResult r = LoadLab("world_cidr = \"198.51.100.0/24\"");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  const config::WorldSpec& w = r.spec->world;
  LookupResult a = Lookup(w, "WWW.Example.Test.");
  ASSERT_EQ(a.answer, Answer::kAddress);
  ASSERT_EQ(a.addrs.size(), 1u);
  EXPECT_EQ(a.addrs[0].ToString(), "198.51.100.3");
  EXPECT_EQ(Lookup(w, "example.test").addrs[0].ToString(), "198.51.100.2");
  EXPECT_EQ(Lookup(w, "nope.example.test").answer, Answer::kNxDomain);
  EXPECT_EQ(Lookup(w, "notexample.test").answer, Answer::kRefused);
  EXPECT_EQ(Lookup(w, "example.com").answer, Answer::kRefused);
  EXPECT_EQ(Lookup(w, "web.default.svc.cluster.local").answer, Answer::kRefused);
  EXPECT_TRUE(IsWorldAddress(w, *net::IpAddr::Parse("198.51.100.4")));
  EXPECT_FALSE(IsWorldAddress(w, *net::IpAddr::Parse("198.51.100.1")));
}

TEST(World, BadKeysAreReported) {
  struct Case {
    std::string cluster, rest, want;
  } cases[] = {
      {"world_cidr = \"2001:db8::/64\"", "",
       "is IPv6: the world is IPv4 until the lab is dual-stack"},
      {"world_cidr = \"203.0.113.1/24\"", "", "has host bits set (did you mean 203.0.113.0/24?)"},
      {"world_cidr = \"203.0.113.0/30\"", "", "is too small; use /29 or larger"},
      {"world_cidr = \"10.244.128.0/24\"", "", "overlaps pod_cidr 10.244.0.0/16"},
      {"world_cidr = \"172.18.5.0/24\"", "", "overlaps underlay_cidr 172.18.0.0/16"},
      {"world_cidr = \"nope\"", "", "is not a CIDR like 203.0.113.0/24"},
      {"world = false\nworld_cidr = \"198.51.100.0/24\"", "", "the world is off"},
      {"", "[[pod]]\nname = \"world\"\n", "the name is taken by the world outside the cluster"},
  };
  for (const Case& c : cases) {
    config::LoadResult r = LoadLab(c.cluster, c.rest);
    EXPECT_FALSE(r.spec) << c.cluster;
    EXPECT_NE(r.diags.FormatAll().find(c.want), std::string::npos)
        << c.cluster << ": " << r.diags.FormatAll();
  }
}

}  // namespace
}  // namespace mkn::world
