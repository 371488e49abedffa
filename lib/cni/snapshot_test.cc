#include "lib/cni/snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/cni/testing.h"

namespace mkn::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Testdata;

std::vector<std::string> Norm(const std::string& section, const std::string& file) {
  auto lines = NormalizeIpJson(section, Testdata(file));
  EXPECT_TRUE(lines.ok()) << file << ": " << lines.status();
  return lines.ok() ? *lines : std::vector<std::string>{};
}

Snapshot Node(const std::string& phase) {
  Snapshot s;
  s.sections["links"] = Norm("links", "ip_link_" + phase + ".json");
  s.sections["addresses"] = Norm("addresses", "ip_addr_" + phase + ".json");
  s.sections["routes"] = Norm("routes", "ip_route_" + phase + ".json");
  s.sections["neighbours"] = Norm("neighbours", "ip_neigh_" + phase + ".json");
  return s;
}

TEST(NormalizeIpJson, RealNodeAfterAdd) {
  EXPECT_THAT(Norm("links", "ip_link_added.json"),
              ElementsAre("cni0 kind=bridge mtu=1500", "lo kind=loopback mtu=65536",
                          "veth0107230b kind=veth mtu=1500", "veth2745bc26 kind=veth mtu=1500",
                          "veth2d895a01 kind=veth master=cni0 mtu=1500",
                          "veth62ba9a9b kind=veth master=cni0 mtu=1500",
                          "veth836f99c3 kind=veth master=cni0 mtu=1500",
                          "veth8dfd9997 kind=veth mtu=1500"));
  EXPECT_THAT(Norm("addresses", "ip_addr_added.json"),
              ElementsAre("cni0 10.244.1.1/24", "lo 127.0.0.1/8", "lo ::1/128",
                          "veth0107230b 10.244.1.1/32", "veth2745bc26 10.244.1.1/32",
                          "veth8dfd9997 10.244.1.1/32"));
  EXPECT_THAT(Norm("routes", "ip_route_added.json"),
              ElementsAre("10.244.1.0/24 dev cni0", "10.244.1.2 dev veth8dfd9997",
                          "10.244.1.3 dev veth2745bc26", "10.244.1.4 dev veth0107230b"));
  // The REACHABLE entry from the ping is dropped, the static one kept.
  EXPECT_THAT(Norm("neighbours", "ip_neigh_added.json"),
              ElementsAre("10.244.1.200 dev cni0 lladdr 02:00:00:00:00:c8"));
  EXPECT_THAT(Norm("routes", "ip_route_pod.json"),
              ElementsAre("10.244.1.0/24 dev eth0", "default via 10.244.1.1 dev eth0"));
  // ip without -d: no linkinfo, the link_type stands in.
  EXPECT_THAT(Norm("links", "ip_link_pod.json"),
              ElementsAre("eth0 kind=ether mtu=1500", "lo kind=loopback mtu=65536"));
}

TEST(CniDiff, RealAddThenDel) {
  // After ADD: every pod's veth, the ptp host addresses and routes, the bridge.
  SnapshotDiff added = Diff(Node("before"), Node("added"));
  EXPECT_EQ(added.added["links"].size(), 7u);
  EXPECT_EQ(added.added["routes"].size(), 4u);
  EXPECT_THAT(added.removed, IsEmpty());
  // After DEL, what bridge 1.1.1 leaves by design: cni0, its address and its subnet route. The
  // flags of cni0 changed (LOWER_UP went away) and do not show.
  SnapshotDiff left = Diff(Node("before"), Node("deleted"));
  EXPECT_EQ(left.ToString(),
            "addresses:\n  + cni0 10.244.1.1/24\n"
            "links:\n  + cni0 kind=bridge mtu=1500\n"
            "routes:\n  + 10.244.1.0/24 dev cni0\n");
  // Between "added" and "deleted" only removals: cni0 itself compares equal.
  SnapshotDiff del = Diff(Node("added"), Node("deleted"));
  EXPECT_THAT(del.added, IsEmpty());
  EXPECT_THAT(del.removed["links"],
              ::testing::Not(::testing::Contains("cni0 kind=bridge mtu=1500")));
  EXPECT_TRUE(Diff(Node("deleted"), Node("deleted")).empty());
  EXPECT_EQ(Diff(Node("deleted"), Node("deleted")).ToString(), "");
}

TEST(CniDiff, MultisetsAndMissingSections) {
  Snapshot before, after;
  before.sections["files"] = {"b", "a", "a"};
  after.sections["files"] = {"a", "c"};
  after.sections["nft"] = {"x"};
  SnapshotDiff d = Diff(before, after);
  EXPECT_THAT(d.added["files"], ElementsAre("c"));
  EXPECT_THAT(d.removed["files"], ElementsAre("a", "b"));
  EXPECT_THAT(d.added["nft"], ElementsAre("x"));
  EXPECT_FALSE(d.empty());
  EXPECT_EQ(d.ToString(), "files:\n  + c\n  - a\n  - b\nnft:\n  + x\n");
}

TEST(NormalizeIpJson, Errors) {
  EXPECT_EQ(NormalizeIpJson("rules", "[]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(NormalizeIpJson("links", "{").ok());
  EXPECT_FALSE(NormalizeIpJson("links", "{}").ok());
  auto empty = NormalizeIpJson("routes", "\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(*empty, IsEmpty());
}

TEST(NormalizeIpJson, RouteFieldsKept) {
  auto r =
      NormalizeIpJson("routes",
                      R"([{"dst":"10.0.0.0/8","gateway":"172.18.0.3","dev":"eth0","table":"100",
      "metric":50,"protocol":"static","flags":["onlink"]},{"type":"blackhole","dst":"10.1.0.0/16",
      "flags":[]},{"dst":"fd00::/64","dev":"eth0","metric":256,"pref":"medium","flags":[]}])");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ElementsAre("10.0.0.0/8 via 172.18.0.3 dev eth0 table 100 metric 50",
                              "10.1.0.0/16 type blackhole", "fd00::/64 dev eth0 metric 256"));
}

TEST(NormalizeNftRuleset, ContextAndCounters) {
  constexpr char kBefore[] = R"(table ip nat {
	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.244.1.0/24 counter packets 0 bytes 0 masquerade
	}
}
)";
  constexpr char kAfter[] = R"(table ip nat {
	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.244.1.0/24 counter packets 12 bytes 3400 masquerade # handle 4
		ip saddr 10.244.1.7 jump CNI-abc
	}
	chain CNI-abc {
		counter packets 1 bytes 2 accept
	}
}
)";
  EXPECT_THAT(
      NormalizeNftRuleset(kBefore),
      ElementsAre("table ip nat", "table ip nat / chain POSTROUTING",
                  "table ip nat / chain POSTROUTING: ip saddr 10.244.1.0/24 counter masquerade",
                  "table ip nat / chain POSTROUTING: type nat hook postrouting priority srcnat; "
                  "policy accept;"));
  Snapshot b, a;
  b.sections["nft"] = NormalizeNftRuleset(kBefore);
  a.sections["nft"] = NormalizeNftRuleset(kAfter);
  EXPECT_EQ(
      Diff(b, a).ToString(),
      "nft:\n  + table ip nat / chain CNI-abc\n  + table ip nat / chain CNI-abc: counter accept\n"
      "  + table ip nat / chain POSTROUTING: ip saddr 10.244.1.7 jump CNI-abc\n");
}

TEST(NormalizeIptablesSave, DropsCommentsAndCounters) {
  EXPECT_THAT(
      NormalizeIptablesSave("# Generated by iptables-save v1.8.9 on Tue Nov 25 11:02:00 2026\n"
                            "*nat\n:POSTROUTING ACCEPT [3:180]\n:CNI-abc - [0:0]\n"
                            "[5:300] -A POSTROUTING -s 10.244.1.7/32 -j CNI-abc\nCOMMIT\n"
                            "# Completed on Tue Nov 25 11:02:00 2026\n"),
      ElementsAre("nat: -A POSTROUTING -s 10.244.1.7/32 -j CNI-abc", "nat: :CNI-abc -",
                  "nat: :POSTROUTING ACCEPT"));
  EXPECT_THAT(NormalizeLines("b  \n\na\n"), ElementsAre("a", "b"));
}

}  // namespace
}  // namespace mkn::cni
