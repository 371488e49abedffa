// lib/geneve/peers: which node a frame goes to, and every verdict on a received datagram.
#include "lib/geneve/peers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mkn::geneve {
namespace {

using Bytes = std::vector<uint8_t>;

// Three nodes as Resolve() lays them out: underlay 172.18.0.(2+i), gnv0 MAC 0e:58:0a:f4:0i:00.
config::ClusterSpec ThreeNodes() {
  config::ClusterSpec s;
  s.vni = 7;
  for (int i = 0; i < 3; ++i) {
    config::NodeSpec n;
    n.name = "node" + std::to_string(i + 1);
    n.index = i;
    n.underlay_ip = net::Ipv4{0xac120002u + static_cast<uint32_t>(i)};
    n.vtep_mac = *net::Mac::Parse("0e:58:0a:f4:0" + std::to_string(i) + ":00");
    s.nodes.push_back(n);
  }
  return s;
}

net::Ipv4 Ip(const char* s) { return *net::Ipv4::Parse(s); }

Bytes Frame(const char* dst_mac) {
  net::Mac m = *net::Mac::Parse(dst_mac);
  Bytes f(m.bytes.begin(), m.bytes.end());
  f.resize(60, 0);
  f[12] = 0x08;
  return f;
}

Bytes Datagram(uint32_t vni, uint32_t source_node, const char* dst_mac) {
  Bytes d(kHeaderWithOption);
  EncodeHeader(d, vni, source_node);
  Bytes f = Frame(dst_mac);
  d.insert(d.end(), f.begin(), f.end());
  return d;
}

TEST(Peers, RouteByDestinationMac) {
  const Peers p = Peers::Build(ThreeNodes(), 0);
  EXPECT_EQ(p.self().name, "node1");
  EXPECT_EQ(p.vni(), 7u);
  ASSERT_EQ(p.all().size(), 3u);
  EXPECT_EQ(p.all()[2].number, 3u);
  struct Case {
    std::string name;
    Bytes frame;
    const char* want;  // node name, or null
  };
  const std::vector<Case> cases = {
      {"node2's gnv0", Frame("0e:58:0a:f4:01:00"), "node2"},
      {"node3's gnv0", Frame("0e:58:0a:f4:02:00"), "node3"},
      {"this node's own", Frame("0e:58:0a:f4:00:00"), nullptr},
      {"broadcast (an ARP request)", Frame("ff:ff:ff:ff:ff:ff"), nullptr},
      {"a pod's MAC", Frame("0a:58:0a:f4:01:02"), nullptr},
      {"5 bytes", Bytes{0x0e, 0x58, 0x0a, 0xf4, 0x01}, nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Peer* got = p.Route(c.frame);
    if (c.want == nullptr) {
      EXPECT_EQ(got, nullptr);
    } else {
      ASSERT_NE(got, nullptr);
      EXPECT_EQ(got->name, c.want);
    }
  }
}

TEST(Peers, CheckTable) {
  const Peers p = Peers::Build(ThreeNodes(), 1);  // node2: 172.18.0.3, 0e:58:0a:f4:01:00
  struct Case {
    std::string name;
    net::Ipv4 from;
    Bytes datagram;
    DropReason want;
    const char* peer = nullptr;
  };
  const char* me = "0e:58:0a:f4:01:00";
  const std::vector<Case> cases = {
      {"from node1, for us", Ip("172.18.0.2"), Datagram(7, 1, me), DropReason::kNone, "node1"},
      {"from node3, for us", Ip("172.18.0.4"), Datagram(7, 3, me), DropReason::kNone, "node3"},
      {"from the underlay's gateway", Ip("172.18.0.1"), Datagram(7, 1, me),
       DropReason::kUnknownPeer},
      {"from our own address", Ip("172.18.0.3"), Datagram(7, 2, me), DropReason::kUnknownPeer},
      {"node1 claiming to be node3", Ip("172.18.0.2"), Datagram(7, 3, me),
       DropReason::kSourceMismatch, "node1"},
      {"another VNI", Ip("172.18.0.2"), Datagram(8, 1, me), DropReason::kWrongVni, "node1"},
      {"for node3's gnv0", Ip("172.18.0.2"), Datagram(7, 1, "0e:58:0a:f4:02:00"),
       DropReason::kNotForThisNode, "node1"},
      {"broadcast", Ip("172.18.0.2"), Datagram(7, 1, "ff:ff:ff:ff:ff:ff"),
       DropReason::kNotForThisNode, "node1"},
      {"truncated", Ip("172.18.0.2"), Bytes{0x00, 0x00}, DropReason::kTruncated, "node1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RxVerdict v = p.Check(c.from, c.datagram);
    EXPECT_EQ(ToString(v.drop), ToString(c.want));
    if (c.peer == nullptr) {
      EXPECT_EQ(v.from, nullptr);
    } else {
      ASSERT_NE(v.from, nullptr);
      EXPECT_EQ(v.from->name, c.peer);
    }
    if (c.want == DropReason::kNone) {
      EXPECT_EQ(v.inner.size(), 60u);
    } else {
      EXPECT_TRUE(v.inner.empty());
    }
  }
  // Without the option (another Geneve endpoint's datagram): accepted on the address alone.
  Bytes plain(8);
  Encode(plain, HeaderFields{0, false, false, kProtoEthernet, 7}, {});
  Bytes f = Frame(me);
  plain.insert(plain.end(), f.begin(), f.end());
  EXPECT_EQ(p.Check(Ip("172.18.0.2"), plain).drop, DropReason::kNone);
}

}  // namespace
}  // namespace mkn::geneve
