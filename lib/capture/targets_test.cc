#include "lib/capture/targets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mkn::capture {
namespace {

std::vector<LabObject> Lab() {
  return {{"underlay", ObjectKind::kUnderlay, "mkn-l-underlay", "", ""},
          {"node1", ObjectKind::kNode, "mkn-l-node1", "", ""},
          {"node2", ObjectKind::kNode, "mkn-l-node2", "", ""},
          {"web-0", ObjectKind::kPod, "mkn-l-web-0", "node1", ""},
          {"web.1", ObjectKind::kPod, "mkn-l-web.1", "node2", ""}};
}

// examples/bgp's shape: two racks of two nodes, their ToRs and the spine; no underlay namespace.
std::vector<LabObject> Racks() {
  return {{"tor-r1", ObjectKind::kRouter, "mkn-b-tor-r1", "", "r1"},
          {"tor-r2", ObjectKind::kRouter, "mkn-b-tor-r2", "", "r2"},
          {"spine", ObjectKind::kRouter, "mkn-b-spine", "", ""},
          {"node1", ObjectKind::kNode, "mkn-b-node1", "", "r1"},
          {"node2", ObjectKind::kNode, "mkn-b-node2", "", "r1"},
          {"node3", ObjectKind::kNode, "mkn-b-node3", "", "r2"},
          {"client", ObjectKind::kPod, "mkn-b-client", "node1", ""}};
}

// Each selection as "object[if,if]" in order.
std::string Selected(const std::vector<std::string>& words,
                     const std::vector<LabObject>& lab = Lab()) {
  absl::StatusOr<std::vector<Target>> t = SelectTargets(lab, words);
  if (!t.ok()) return std::string(t.status().message());
  std::string out;
  for (const Target& x : *t) {
    if (!out.empty()) out += " ";
    out += x.object.name;
    if (!x.interfaces.empty()) {
      out += "[";
      for (size_t i = 0; i < x.interfaces.size(); ++i) out += (i ? "," : "") + x.interfaces[i];
      out += "]";
    }
  }
  return out;
}

TEST(SelectTargets, Table) {
  struct Row {
    std::vector<std::string> words;
    std::string want;
  };
  const Row rows[] = {
      {{}, "underlay node1 node2 web-0 web.1"},
      {{"web-0", "node2"}, "node2 web-0"},  // the lab's order, not the words'
      {{"web-0:eth0"}, "web-0[eth0]"},
      {{"web-0:eth0", "web-0:lo", "web-0:eth0"}, "web-0[eth0,lo]"},
      {{"web-0:eth0", "web-0"}, "web-0"},  // the whole namespace absorbs its interfaces
      {{"underlay:br0", "web.1"}, "underlay[br0] web.1"},
      {{"web-1"},
       "capture target \"web-1\": the lab has no pod, node or router of that name: did you "
       "mean \"web-0\"?"},
      {{"zzzzzzzz"},
       "capture target \"zzzzzzzz\": the lab has no pod, node or router of that name (it has "
       "underlay, node1, node2, web-0, web.1)"},
      {{"spine"},  // a flat lab has no routers
       "capture target \"spine\": the lab has no pod, node or router of that name (it has "
       "underlay, node1, node2, web-0, web.1)"},
      {{"web-0:"},
       "capture target \"web-0:\": say a pod, a node, a router (tor-<rack>, spine), underlay, "
       "or OBJECT:IFACE (e.g. web-0:eth0)"},
      {{":eth0"},
       "capture target \":eth0\": say a pod, a node, a router (tor-<rack>, spine), underlay, "
       "or OBJECT:IFACE (e.g. web-0:eth0)"},
  };
  for (const Row& r : rows) EXPECT_EQ(Selected(r.words), r.want) << testing::PrintToString(r.words);
}

// A routed lab: the routers are targets and part of everything; `underlay` is the whole fabric,
// and `underlay:IFACE` finds IFACE in it, so the same word works on either shape of lab.
TEST(SelectTargets, RoutedUnderlay) {
  struct Row {
    std::vector<std::string> words;
    std::string want;
  };
  const Row rows[] = {
      {{}, "tor-r1 tor-r2 spine node1 node2 node3 client"},
      {{"spine", "tor-r1:spine"}, "tor-r1[spine] spine"},
      {{"underlay"}, "tor-r1 tor-r2 spine"},
      {{"underlay", "node1"}, "tor-r1 tor-r2 spine node1"},
      {{"underlay:node1"}, "tor-r1[node1]"},  // node1's port on its rack's switch
      {{"underlay:node3", "underlay:node1"}, "tor-r1[node1] tor-r2[node3]"},
      {{"underlay:br0"}, "tor-r1[br0] tor-r2[br0]"},  // every rack's bridge
      {{"underlay:spine"}, "tor-r1[spine] tor-r2[spine]"},
      {{"underlay:tor-r2"}, "spine[tor-r2]"},
      {{"underlay:br0", "tor-r1"}, "tor-r1 tor-r2[br0]"},
      {{"underlay:eth0"},
       "capture target \"underlay:eth0\": the routed underlay has no eth0: it has a port per node "
       "(underlay:node1) in its rack's ToR, br0 and spine in each ToR, and tor-<rack> in the "
       "spine; or name a router's interface (tor-r1:br0)"},
      {{"underlay:client"},  // a pod has no port on the fabric
       "capture target \"underlay:client\": the routed underlay has no client: it has a port per "
       "node (underlay:node1) in its rack's ToR, br0 and spine in each ToR, and tor-<rack> in the "
       "spine; or name a router's interface (tor-r1:br0)"},
      {{"tor-r3"},
       "capture target \"tor-r3\": the lab has no pod, node or router of that name: did you mean "
       "\"tor-r1\"?"},
      {{"undrlay"},
       "capture target \"undrlay\": the lab has no pod, node or router of that name: did you "
       "mean \"underlay\"?"},
  };
  for (const Row& r : rows)
    EXPECT_EQ(Selected(r.words, Racks()), r.want) << testing::PrintToString(r.words);
  // One rack (network = "bgp" on one rack): a ToR and no spine, so no port to it.
  std::vector<LabObject> one = {Racks()[0], Racks()[3]};
  EXPECT_EQ(Selected({"underlay"}, one), "tor-r1");
  EXPECT_EQ(Selected({"underlay:node1"}, one), "tor-r1[node1]");
  EXPECT_NE(Selected({"underlay:spine"}, one).find("the routed underlay has no spine"),
            std::string::npos);
}

TEST(SelectTargets, UnknownNameIsInvalidArgument) {
  EXPECT_TRUE(absl::IsInvalidArgument(SelectTargets(Lab(), {"nope"}).status()));
}

TEST(InterfaceNaming, NameIsTheTargetWordAndDescriptionSaysWhere) {
  const std::vector<LabObject> lab = Lab();
  EXPECT_EQ(InterfaceName(lab[3], "eth0"), "web-0:eth0");
  EXPECT_EQ(DescribeInterface(lab[3], "eth0", {"10.244.1.2/24"}),
            "pod web-0 on node1, netns mkn-l-web-0, eth0 10.244.1.2/24");
  EXPECT_EQ(DescribeInterface(lab[1], "cbr0", {"10.244.1.1/24", "fe80::1/64"}),
            "node node1, netns mkn-l-node1, cbr0 10.244.1.1/24 fe80::1/64");
  EXPECT_EQ(DescribeInterface(lab[0], "br0", {}), "underlay, netns mkn-l-underlay, br0");
  const std::vector<LabObject> racks = Racks();
  EXPECT_EQ(InterfaceName(racks[0], "node1"), "tor-r1:node1");
  EXPECT_EQ(DescribeInterface(racks[0], "br0", {"172.18.1.1/24"}),
            "ToR tor-r1 of rack r1, netns mkn-b-tor-r1, br0 172.18.1.1/24");
  EXPECT_EQ(DescribeInterface(racks[2], "tor-r1", {"172.18.0.1/30"}),
            "spine router spine, netns mkn-b-spine, tor-r1 172.18.0.1/30");
  EXPECT_EQ(DescribeInterface(racks[3], "eth0", {"172.18.1.2/24"}),
            "node node1 in rack r1, netns mkn-b-node1, eth0 172.18.1.2/24");
}

}  // namespace
}  // namespace mkn::capture
