#include "lib/capture/promisc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace mkn::capture {
namespace {

std::vector<LabObject> SmallLab() {
  return {{"underlay", ObjectKind::kUnderlay, "mkn-l-underlay", "", ""},
          {"node1", ObjectKind::kNode, "mkn-l-node1", "", ""},
          {"web-0", ObjectKind::kPod, "mkn-l-web-0", "node1", ""}};
}

// Each namespace's links as the kernel would list them: the underlay's switch with a port per
// node, a node's cbr0 with a veth per pod (and vxlan0, no port), a pod's eth0.
std::map<std::string, std::vector<NsLink>> Links() {
  return {
      {"underlay", {{"lo", 1}, {"br0", 2, true}, {"node1", 3, false, 2}, {"node2", 4, false, 2}}},
      {"node1",
       {{"lo", 1},
        {"eth0", 2},
        {"cbr0", 3, true},
        {"vethweb0", 4, false, 3},
        {"vethclient", 5, false, 3},
        {"vxlan0", 6},
        {"cni0", 7, true}}},  // a bridge no pod is on yet (a CNI plugin's, before its first ADD)
      {"web-0", {{"lo", 1}, {"eth0", 2}}},
  };
}

// What a capture of `words` does with each interface it listens on, "ns:iface=how" in order.
std::string Decided(const std::vector<std::string>& words, bool promiscuous = true) {
  absl::StatusOr<std::vector<Target>> targets = SelectTargets(SmallLab(), words);
  if (!targets.ok()) return std::string(targets.status().message());
  const std::map<std::string, std::vector<NsLink>> all = Links();
  std::string out;
  for (const Target& t : *targets) {
    std::vector<NsLink> links = all.at(t.object.name);
    for (NsLink& l : links) l.captured = Captures(t, l.name);
    const std::vector<Promiscuity> p = DecidePromiscuity(links, promiscuous);
    for (size_t i = 0; i < links.size(); ++i) {
      if (!links[i].captured) continue;
      constexpr const char* kHow[] = {"off", "on", "spared", "ALONE"};
      out += (out.empty() ? "" : " ") + InterfaceName(t.object, links[i].name) + "=" +
             kHow[static_cast<int>(p[i])];
    }
  }
  return out;
}

// Targets -> which interfaces are promiscuous. A bridge is left alone when the same capture
// listens on every one of its ports (their copies show all it forwards; a promiscuous bridge would
// hand br_netfilter's DNATed frames to its node's stack, which delivers them a second time); it is
// promiscuous, with a warning, when captured without them.
TEST(DecidePromiscuity, Table) {
  struct Row {
    std::vector<std::string> words;
    bool promiscuous;
    std::string want;
  };
  const Row rows[] = {
      {{},  // everything: no bridge promiscuous, every other interface as tcpdump makes it
       true,
       "underlay:br0=spared underlay:node1=on underlay:node2=on node1:eth0=on node1:cbr0=spared "
       "node1:vethweb0=on node1:vethclient=on node1:vxlan0=on node1:cni0=spared web-0:eth0=on"},
      {{"node1"},
       true,
       "node1:eth0=on node1:cbr0=spared node1:vethweb0=on node1:vethclient=on node1:vxlan0=on "
       "node1:cni0=spared"},
      {{"node1:cbr0"}, true, "node1:cbr0=ALONE"},  // asked for the forwarded frames there
      {{"node1:cbr0", "node1:vethweb0"}, true, "node1:cbr0=ALONE node1:vethweb0=on"},
      {{"node1:cbr0", "node1:vethweb0", "node1:vethclient"},
       true,
       "node1:cbr0=spared node1:vethweb0=on node1:vethclient=on"},
      {{"underlay:br0", "web-0"}, true, "underlay:br0=ALONE web-0:eth0=on"},
      {{"underlay:node1", "underlay:node2", "underlay:br0"},
       true,
       "underlay:br0=spared underlay:node1=on underlay:node2=on"},
      {{"node1:cni0"}, true, "node1:cni0=spared"},  // no port: it forwards nothing
      {{"web-0:lo"}, true, "web-0:lo=on"},
      {{},
       false,  // -p: nothing promiscuous
       "underlay:br0=off underlay:node1=off underlay:node2=off node1:eth0=off node1:cbr0=off "
       "node1:vethweb0=off node1:vethclient=off node1:vxlan0=off node1:cni0=off web-0:eth0=off"},
      {{"node1:cbr0"}, false, "node1:cbr0=off"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Decided(r.words, r.promiscuous), r.want)
        << testing::PrintToString(r.words) << (r.promiscuous ? "" : " -p");
  }
}

TEST(DecidePromiscuity, NotCapturedIsOff) {
  const std::vector<NsLink> links = {{"br0", 2, true, 0, false}, {"p1", 3, false, 2, true}};
  EXPECT_THAT(DecidePromiscuity(links, true),
              testing::ElementsAre(Promiscuity::kOff, Promiscuity::kOn));
}

TEST(BridgeAloneWarning, SaysWhatAndHowToAvoidIt) {
  EXPECT_EQ(BridgeAloneWarning({}), "");
  EXPECT_EQ(BridgeAloneWarning({"node1:cbr0"}),
            "minikube-net: capture: node1:cbr0 is promiscuous without all its ports captured, so "
            "it shows the frames it forwards; where the node's nftables rules translate "
            "(proxy_mode nftables, NodePorts in ebpf mode, CNI labs), this can deliver NATed "
            "frames to a pod of that node twice: -p avoids it (or capture the whole node)");
  EXPECT_THAT(BridgeAloneWarning({"node1:cbr0", "underlay:br0"}),
              testing::StartsWith("minikube-net: capture: node1:cbr0 underlay:br0 are promiscuous "
                                  "without all their ports captured"));
}

}  // namespace
}  // namespace mkn::capture
