#include "lib/net/naming.h"

#include <gtest/gtest.h>

#include <set>

namespace mkn::net {
namespace {

TEST(Naming, FixedInterfaceNamesFitIfnamsiz) {
  for (std::string_view n :
       {kUnderlayBridge, kPodIf, kNodeUplinkIf, kNodeBridge, kNodeVxlan, kTorSpinePort}) {
    EXPECT_LE(n.size(), kMaxIfName) << n;
  }
}

TEST(Naming, VethNamesFitIfnamsizAndDiffer) {
  std::set<std::string> seen;
  std::string longest_pod(kMaxPodName, 'p');
  std::string longest_cluster(kMaxClusterName, 'c');
  EXPECT_LE(PodVethName(longest_cluster, longest_pod).size(), kMaxIfName);
  for (int i = 0; i < 2000; ++i) {
    std::string name = PodVethName("lab", "web-" + std::to_string(i));
    EXPECT_EQ(name.size(), 12u);
    EXPECT_EQ(name.substr(0, 4), "veth");
    seen.insert(name);
  }
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_NE(PodVethName("lab", "web-0", 0), PodVethName("lab", "web-0", 1));
  EXPECT_NE(PodVethName("a", "b"), PodVethName("b", "a"));
}

TEST(Naming, NetnsAndStatePaths) {
  EXPECT_EQ(NetnsName("quickstart", "web-0"), "mkn-quickstart-web-0");
  EXPECT_EQ(NetnsPath("quickstart", "underlay"), "/run/netns/mkn-quickstart-underlay");
  EXPECT_EQ(StateDir("lab"), "/run/minikube-net/lab");
  EXPECT_EQ(OwnerMarker("lab"), "minikube-net:lab");
}

TEST(Naming, RoutedUnderlayNamesFit) {
  // The spine's port to a ToR is "tor-<rack>": the longest rack name still fits IFNAMSIZ.
  EXPECT_EQ(TorObject(std::string(kMaxRackName, 'r')).size(), kMaxIfName);
  EXPECT_EQ(TorObject("r1"), "tor-r1");
  EXPECT_EQ(NetnsName("bgp", TorObject("r1")), "mkn-bgp-tor-r1");
  // A BIRD control socket path fits sockaddr_un's 108 bytes for the longest cluster and object.
  std::string longest_cluster(kMaxClusterName, 'c');
  EXPECT_LT(BirdSocketPath(longest_cluster, std::string(kMaxIfName, 'o')).size(), 108u);
  EXPECT_EQ(BirdSocketPath("bgp", "tor-r1"), "/run/minikube-net/bgp/bird/tor-r1.ctl");
  EXPECT_EQ(BirdConfigPath("bgp", "node1"), "/run/minikube-net/bgp/bird/node1.conf");
  EXPECT_EQ(BirdLogPath("bgp", "spine"), "/run/minikube-net/bgp/logs/bird-spine.log");
}

TEST(Naming, DnsLabel) {
  EXPECT_TRUE(IsDnsLabel("web-0"));
  EXPECT_TRUE(IsDnsLabel("a"));
  EXPECT_FALSE(IsDnsLabel(""));
  EXPECT_FALSE(IsDnsLabel("-web"));
  EXPECT_FALSE(IsDnsLabel("web-"));
  EXPECT_FALSE(IsDnsLabel("Web"));
  EXPECT_FALSE(IsDnsLabel("web_0"));
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
  EXPECT_FALSE(IsDnsLabel("node-one-two-three", kMaxIfName));
}

}  // namespace
}  // namespace mkn::net
