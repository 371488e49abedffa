#include "lib/capture/targets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mkn::capture {
namespace {

std::vector<LabObject> Lab() {
  return {{"underlay", ObjectKind::kUnderlay, "mkn-l-underlay", ""},
          {"node1", ObjectKind::kNode, "mkn-l-node1", ""},
          {"node2", ObjectKind::kNode, "mkn-l-node2", ""},
          {"web-0", ObjectKind::kPod, "mkn-l-web-0", "node1"},
          {"web.1", ObjectKind::kPod, "mkn-l-web.1", "node2"}};
}

// Each selection as "object[if,if]" in order.
std::string Selected(const std::vector<std::string>& words) {
  absl::StatusOr<std::vector<Target>> t = SelectTargets(Lab(), words);
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
       "capture target \"web-1\": no pod, node or underlay of that name: did you "
       "mean \"web-0\"?"},
      {{"zzzzzzzz"}, "capture target \"zzzzzzzz\": no pod, node or underlay of that name"},
      {{"web-0:"},
       "capture target \"web-0:\": say a pod, a node, underlay, or POD:IFACE (e.g. "
       "web-0:eth0)"},
      {{":eth0"},
       "capture target \":eth0\": say a pod, a node, underlay, or POD:IFACE (e.g. "
       "web-0:eth0)"},
  };
  for (const Row& r : rows) EXPECT_EQ(Selected(r.words), r.want) << testing::PrintToString(r.words);
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
}

}  // namespace
}  // namespace mkn::capture
