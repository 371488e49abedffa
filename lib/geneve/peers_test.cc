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
  s.pod_mtu = 1442;
  for (int i = 0; i < 3; ++i) {
    config::NodeSpec n;
    n.name = "node" + std::to_string(i + 1);
    n.index = i;
    n.underlay_ip = net::Ipv4{0xac120002u + static_cast<uint32_t>(i)};
    n.vtep_mac = *net::Mac::Parse("0e:58:0a:f4:0" + std::to_string(i) + ":00");
    n.pod_cidr = net::Prefix{net::Ipv4{0x0af40000u + (static_cast<uint32_t>(i) << 8)}, 24};
    s.nodes.push_back(n);
  }
  return s;
}

net::Ipv4 Ip(const char* s) { return *net::Ipv4::Parse(s); }

// An IPv4 frame from `src` (at least 60 bytes: the minimum Ethernet frame), or of `ether_type`
// with `src` where ARP keeps its sender's address.
Bytes Frame(const char* dst_mac, const char* src = "10.244.0.2", size_t size = 60,
            uint16_t ether_type = 0x0800) {
  net::Mac m = *net::Mac::Parse(dst_mac);
  Bytes f(m.bytes.begin(), m.bytes.end());
  f.resize(size, 0);
  f[12] = static_cast<uint8_t>(ether_type >> 8);
  f[13] = static_cast<uint8_t>(ether_type);
  const uint32_t a = Ip(src).value;
  const size_t at = ether_type == 0x0806 ? 14 + 14 : 14 + 12;
  for (int i = 0; i < 4 && at + 4 <= size; ++i) f[at + i] = static_cast<uint8_t>(a >> (24 - 8 * i));
  return f;
}

Bytes Datagram(uint32_t vni, uint32_t source_node, const char* dst_mac,
               const char* src = "10.244.0.2", size_t size = 60, uint16_t ether_type = 0x0800) {
  Bytes d(kHeaderWithOption);
  EncodeHeader(d, vni, source_node);
  Bytes f = Frame(dst_mac, src, size, ether_type);
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
      {"from node3, for us", Ip("172.18.0.4"), Datagram(7, 3, me, "10.244.2.7"), DropReason::kNone,
       "node3"},
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
      // The inner source may not be another node's: its pods or its address. The sender's own pod
      // CIDR covers its pods, gnv0's .0 and what it SNATs or masquerades to.
      {"node1's gnv0 address (masqueraded NodePort traffic)", Ip("172.18.0.2"),
       Datagram(7, 1, me, "10.244.0.0"), DropReason::kNone, "node1"},
      {"node1's proxy address", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.0.254"),
       DropReason::kNone, "node1"},
      {"node1's underlay address", Ip("172.18.0.2"), Datagram(7, 1, me, "172.18.0.2"),
       DropReason::kNone, "node1"},
      {"node1 speaking for node3's pod", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.2.99"),
       DropReason::kForeignSource, "node1"},
      {"node1 speaking for node3's address", Ip("172.18.0.2"), Datagram(7, 1, me, "172.18.0.4"),
       DropReason::kForeignSource, "node1"},
      {"node1 speaking for one of our pods", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.1.2"),
       DropReason::kForeignSource, "node1"},
      {"node1 speaking for node3's gnv0", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.2.0"),
       DropReason::kForeignSource, "node1"},
      {"node1 speaking for our own address", Ip("172.18.0.2"), Datagram(7, 1, me, "172.18.0.3"),
       DropReason::kForeignSource, "node1"},
      // A node routes what comes from outside the cluster as a router does.
      {"node1 forwarding the underlay gateway's packet", Ip("172.18.0.2"),
       Datagram(7, 1, me, "172.18.0.1"), DropReason::kNone, "node1"},
      {"node1 forwarding from beyond", Ip("172.18.0.2"), Datagram(7, 1, me, "8.8.8.8"),
       DropReason::kNone, "node1"},
      {"an ARP from node1's gnv0", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.0.0", 60, 0x0806),
       DropReason::kNone, "node1"},
      {"an ARP for node3's address", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.2.0", 60, 0x0806),
       DropReason::kForeignSource, "node1"},
      {"an EtherType the node routes nothing of", Ip("172.18.0.2"),
       Datagram(7, 1, me, "10.244.2.0", 60, 0x88b5), DropReason::kNone, "node1"},
      // gnv0's MTU is 1442: a frame up to 1456 bytes fits.
      {"a frame of MTU + 14 bytes", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.0.2", 1456),
       DropReason::kNone, "node1"},
      {"a frame of MTU + 15 bytes", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.0.2", 1457),
       DropReason::kTooBig, "node1"},
      {"a frame of 65042 bytes", Ip("172.18.0.2"), Datagram(7, 1, me, "10.244.0.2", 65042),
       DropReason::kTooBig, "node1"},
      {"too big and foreign: too big first", Ip("172.18.0.2"),
       Datagram(7, 1, me, "10.244.2.99", 1500), DropReason::kTooBig, "node1"},
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
      EXPECT_EQ(v.inner.size(), c.datagram.size() - kHeaderWithOption);
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
