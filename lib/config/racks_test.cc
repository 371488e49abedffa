// Racks and BGP in Resolve(): which rack each node is in, the routed underlay's addresses, the AS
// numbers of each mode, and the warnings of BGP keys in a lab that runs no speakers. The refusals
// are testdata/bad's (corpus_test.cc).
#include <gtest/gtest.h>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"

namespace mkn::config {
namespace {

ClusterSpec MustLoad(const std::string& text) {
  LoadResult r = Load(text, "lab.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return r.spec ? *r.spec : ClusterSpec{};
}

TEST(Racks, OneRackWithoutBgpIsTheFlatUnderlay) {
  ClusterSpec s = MustLoad("[cluster]\nname = \"x\"\nnodes = 2\n");
  EXPECT_FALSE(s.routed_underlay);
  ASSERT_EQ(s.racks.size(), 1u);
  EXPECT_EQ(s.racks[0].name, "r1");
  EXPECT_EQ(s.racks[0].cidr.ToString(), "172.18.0.0/16");
  EXPECT_EQ(s.racks[0].netns, "");
  EXPECT_EQ(s.spine_netns, "");
  EXPECT_EQ(s.nodes[1].underlay_ip.ToString(), "172.18.0.3");
  EXPECT_EQ(s.nodes[1].asn, 0u);
}

TEST(Racks, NodesSpreadInOrderAndPinnedOnesCount) {
  // 5 nodes on 2 racks: r1 takes 3, r2 2. "c" is pinned to r2, so a, b, d fill r1.
  ClusterSpec s = MustLoad(R"(
[cluster]
name = "x"
racks = 2
[[node]]
name = "a"
[[node]]
name = "b"
[[node]]
name = "c"
rack = "r2"
[[node]]
name = "d"
[[node]]
name = "e"
)");
  ASSERT_EQ(s.nodes.size(), 5u);
  std::vector<int> racks;
  for (const NodeSpec& n : s.nodes) racks.push_back(n.rack);
  EXPECT_EQ(racks, (std::vector<int>{0, 0, 1, 0, 1}));
  EXPECT_EQ(s.racks[0].nodes, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(s.racks[1].nodes, (std::vector<int>{2, 4}));
}

TEST(Racks, RoutedAddressesLinksAndNames) {
  ClusterSpec s = MustLoad("[cluster]\nname = \"lab\"\nracks = 2\nnodes = 4\n");
  EXPECT_TRUE(s.routed_underlay);
  EXPECT_EQ(s.network, NetworkMode::kVxlan);  // VXLAN across racks: the underlay routes it
  EXPECT_EQ(s.spine_netns, "mkn-lab-spine");
  ASSERT_EQ(s.racks.size(), 2u);
  const RackSpec& r2 = s.racks[1];
  EXPECT_EQ(r2.tor, "tor-r2");
  EXPECT_EQ(r2.netns, "mkn-lab-tor-r2");
  EXPECT_EQ(r2.cidr.ToString(), "172.18.2.0/24");
  EXPECT_EQ(r2.gateway.ToString(), "172.18.2.1");
  EXPECT_EQ(r2.uplink.ToString(), "172.18.0.4/30");
  EXPECT_EQ(r2.spine_end.ToString(), "172.18.0.5");
  EXPECT_EQ(r2.tor_end.ToString(), "172.18.0.6");
  EXPECT_EQ(s.nodes[0].underlay_ip.ToString(), "172.18.1.2");
  EXPECT_EQ(s.nodes[1].underlay_ip.ToString(), "172.18.1.3");
  EXPECT_EQ(s.nodes[2].underlay_ip.ToString(), "172.18.2.2");
  EXPECT_EQ(s.nodes[3].underlay_ip.ToString(), "172.18.2.3");
  EXPECT_EQ(s.pod_mtu, 1450);
}

TEST(Racks, ARackCidrIsTakenAndTheDefaultsGoAroundIt) {
  ClusterSpec s = MustLoad(R"(
[cluster]
name = "x"
[[rack]]
name = "a"
[[rack]]
name = "b"
cidr = "172.18.1.0/24"
)");
  EXPECT_EQ(s.racks[0].cidr.ToString(), "172.18.2.0/24");  // 172.18.1.0/24 is b's
  EXPECT_EQ(s.racks[1].cidr.ToString(), "172.18.1.0/24");
}

TEST(Bgp, OneRackBgpLabIsRoutedWithoutSpineAndKeepsFlatAddresses) {
  ClusterSpec s = MustLoad("[cluster]\nname = \"x\"\nnetwork = \"bgp\"\nnodes = 2\n");
  EXPECT_TRUE(s.routed_underlay);
  EXPECT_EQ(s.spine_netns, "");
  EXPECT_EQ(s.racks[0].netns, "mkn-x-tor-r1");
  EXPECT_EQ(s.racks[0].cidr.ToString(), "172.18.0.0/16");
  EXPECT_EQ(s.nodes[0].underlay_ip.ToString(), "172.18.0.2");
  EXPECT_EQ(s.pod_mtu, 1500);  // nothing is encapsulated
  EXPECT_EQ(s.bgp.mode, BgpMode::kEbgp);
  EXPECT_EQ(s.racks[0].asn, 64513u);
  EXPECT_EQ(s.nodes[0].asn, 4200000001u);
  EXPECT_EQ(s.nodes[1].asn, 4200000002u);
}

TEST(Bgp, AsNumbersPerMode) {
  ClusterSpec rr = MustLoad(R"(
[cluster]
name = "x"
network = "bgp"
bgp = { mode = "route-reflector", spine_asn = 65000 }
racks = 2
nodes = 2
)");
  EXPECT_EQ(rr.bgp.mode, BgpMode::kRouteReflector);
  EXPECT_EQ(rr.bgp.spine_asn, 65000u);
  EXPECT_EQ(rr.racks[0].asn, 64513u);
  EXPECT_EQ(rr.racks[1].asn, 64514u);
  EXPECT_EQ(rr.nodes[0].asn, 64513u);  // in its rack's AS
  EXPECT_EQ(rr.nodes[1].asn, 64514u);
  // A default ASN steps over one the lab gave.
  ClusterSpec taken = MustLoad(R"(
[cluster]
name = "x"
network = "bgp"
[[rack]]
name = "a"
[[rack]]
name = "b"
asn = 64513
)");
  EXPECT_EQ(taken.racks[0].asn, 64514u);
  EXPECT_EQ(taken.racks[1].asn, 64513u);
}

TEST(Bgp, BgpKeysInALabWithoutSpeakersAreWarnedAboutNotRefused) {
  LoadResult r = Load(R"(
[cluster]
name = "x"
network = "vxlan"
bgp = { mode = "ebgp" }
[[rack]]
name = "r1"
asn = 64600
)",
                      "lab.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  EXPECT_EQ(r.diags.FormatAll(),
            "lab.toml:5:7: warning: [cluster] bgp: ignored: BGP speakers run only with network = "
            "\"bgp\" (or a CNI lab's node_routes = \"bgp\")\n"
            "lab.toml:8:7: warning: rack \"r1\" asn: ignored: BGP speakers run only with network = "
            "\"bgp\" (or a CNI lab's node_routes = \"bgp\")\n");
}

// Issue 15's new user: `network = "bpg"` gave the error and three warnings about the bgp keys, and
// no suggestion; `mode = "ebpg"` no "did you mean".
TEST(Bgp, TyposGetTheNearestWordAndNoWarningsAboutTheMisnamedMode) {
  LoadResult r = Load(R"(
[cluster]
name = "x"
network = "bpg"
bgp = { mode = "ebgp" }
[[rack]]
name = "r1"
asn = 64600
)",
                      "lab.toml");
  EXPECT_FALSE(r.spec);
  EXPECT_EQ(r.diags.FormatAll(),
            "lab.toml:4:11: [cluster] network: \"bpg\" is not \"vxlan\", \"host-gw\", "
            "\"geneve\", \"bgp\" or \"cni\" (did you mean \"bgp\"?)\n");
  LoadResult m =
      Load("[cluster]\nname = \"x\"\nnetwork = \"bgp\"\nbgp = { mode = \"ebpg\" }\n", "lab.toml");
  EXPECT_FALSE(m.spec);
  EXPECT_NE(m.diags.FormatAll().find("(did you mean \"ebgp\"?)"), std::string::npos)
      << m.diags.FormatAll();
  LoadResult far = Load("[cluster]\nname = \"x\"\nnetwork = \"zzz\"\n", "lab.toml");
  EXPECT_EQ(far.diags.FormatAll().find("did you mean"), std::string::npos) << far.diags.FormatAll();
}

TEST(Bgp, PrivateAsnRanges) {
  EXPECT_FALSE(IsPrivateAsn(64511));
  EXPECT_TRUE(IsPrivateAsn(64512));
  EXPECT_TRUE(IsPrivateAsn(65534));
  EXPECT_FALSE(IsPrivateAsn(65535));
  EXPECT_FALSE(IsPrivateAsn(4199999999));
  EXPECT_TRUE(IsPrivateAsn(4200000000));
  EXPECT_TRUE(IsPrivateAsn(4294967294));
  EXPECT_FALSE(IsPrivateAsn(4294967295));
}

}  // namespace
}  // namespace mkn::config
