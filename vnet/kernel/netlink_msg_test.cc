// The rtnetlink messages byte for byte, the parsers on hand-made bytes, the reply and retry rules,
// and the errno table. No socket, no root.
//
// Every expected message is written out field by field, in the host byte order of x86-64 and
// arm64 (little-endian) for netlink's own integers, network order for addresses and ports.
// Cross-checked against what iproute2 6.1 sends for the same command (strace -e write=all inside
// ci/sandbox.sh, same arguments and ifindex): `ip addr add`, `ip neigh add ... nud permanent`,
// `ip neigh add proxy`, `ip route add ... via ... onlink proto boot`, `bridge link set ... hairpin
// on` and `ip link del` send exactly these bytes but for the sequence number. `ip rule add` sends
// the same attributes with FRA_TABLE last; `ip rule del` leaves the action 0 (any); `bridge fdb
// add ... permanent` sets NUD_NOARP as well; `ip link add` orders its attributes differently and
// sets no NLA_F_NESTED on IFLA_LINKINFO. The kernel reads all of these alike.
#include "vnet/kernel/netlink_msg.h"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <set>

#include "vnet/kernel/errors.h"

namespace mkn::vnet {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the expected bytes below are written for a little-endian host");

// Bytes from hex digits; spaces, '|' and line breaks are for the reader.
NlBytes Hex(std::string_view s) {
  NlBytes out;
  int hi = -1;
  for (char c : s) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  EXPECT_EQ(hi, -1) << "odd number of hex digits";
  return out;
}

// Groups of 4 bytes, so that a failure shows which field differs.
std::string Dump(const NlBytes& b) {
  std::string s;
  char t[3];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(t, sizeof(t), "%02x", b[i]);
    s += t;
    if (i % 4 == 3) s += ' ';
  }
  return s;
}

#define EXPECT_BYTES(actual, hex) EXPECT_EQ(Dump(actual), Dump(Hex(hex)))

const net::Mac kMac{{0x02, 0x00, 0x0a, 0x00, 0x00, 0x01}};

net::Ipv4 Ip(const char* s) { return *net::Ipv4::Parse(s); }
net::Prefix Pfx(const char* s) { return *net::Prefix::Parse(s); }

// --- builders ----------------------------------------------------------------------------------
// nlmsghdr: len, type, flags (REQUEST 0001, ACK 0004, EXCL 0200, CREATE 0400, DUMP 0300), seq 0,
// pid 0. Attribute: len (without padding), type (NESTED 8000), payload, zeros to 4 bytes.

TEST(NetlinkBuild, NewVeth) {
  VethSpec v{"va", 1400, 5, "vb", 7, kMac};
  EXPECT_BYTES(
      BuildNewVeth(v),
      "84000000 1000 0506 00000000 00000000"     // 132 bytes, RTM_NEWLINK, REQ|ACK|EXCL|CREATE
      "00 00 0000 00000000 00000000 00000000"    // ifinfomsg: AF_UNSPEC, index 0, flags 0
      "0700 0300 76610000"                       // IFLA_IFNAME "va\0" + 1 pad
      "0800 0400 78050000"                       // IFLA_MTU 1400
      "0800 0a00 05000000"                       // IFLA_MASTER 5
      "4c00 1280"                                // IFLA_LINKINFO, nested, 76 bytes
      "  0900 0100 76657468 00 000000"           //   IFLA_INFO_KIND "veth\0" + 3 pad
      "  3c00 0280"                              //   IFLA_INFO_DATA, nested, 60 bytes
      "    3800 0180"                            //     VETH_INFO_PEER, nested, 56 bytes
      "    00000000 00000000 00000000 00000000"  //   the peer's ifinfomsg
      "    0700 0300 76620000"                   //     IFLA_IFNAME "vb\0"
      "    0800 0400 78050000"                   //     IFLA_MTU 1400
      "    0a00 0100 02000a00 0001 0000"         //     IFLA_ADDRESS 02:00:0a:00:00:01
      "    0800 1c00 07000000");                 //     IFLA_NET_NS_FD 7
}

TEST(NetlinkBuild, NewVethLeavesOutWhatIsUnset) {
  VethSpec v{"va", 0, 0, "vb", -1, std::nullopt};
  EXPECT_BYTES(BuildNewVeth(v),
               "58000000 1000 0506 00000000 00000000"  // 88 bytes
               "00000000 00000000 00000000 00000000"
               "0700 0300 76610000"  // IFLA_IFNAME "va": no MTU, no master
               "3000 1280"           // IFLA_LINKINFO, 48 bytes
               "  0900 0100 76657468 00000000"
               "  2000 0280"    //   IFLA_INFO_DATA, 32 bytes
               "    1c00 0180"  //     VETH_INFO_PEER, 28 bytes
               "    00000000 00000000 00000000 00000000"
               "    0700 0300 76620000");  //    IFLA_IFNAME "vb": same netns, kernel's MAC
}

TEST(NetlinkBuild, NewBridge) {
  EXPECT_BYTES(BuildNewBridge("br9", 1400, kMac),
               "4c000000 1000 0506 00000000 00000000"  // 76 bytes, RTM_NEWLINK, create
               "00000000 00000000 00000000 00000000"
               "0800 0300 62723900"              // IFLA_IFNAME "br9\0"
               "0800 0400 78050000"              // IFLA_MTU 1400
               "0a00 0100 02000a00 0001 0000"    // IFLA_ADDRESS
               "1000 1280"                       // IFLA_LINKINFO, 16 bytes
               "  0b00 0100 62726964 676500 00"  //   IFLA_INFO_KIND "bridge\0" + 1 pad
  );
}

TEST(NetlinkBuild, NewVxlan) {
  VxlanSpec x{"vx9", 7, Ip("10.0.0.1"), 2, 4789, 1350, kMac};
  EXPECT_BYTES(BuildNewVxlan(x),
               "78000000 1000 0506 00000000 00000000"  // 120 bytes
               "00000000 00000000 00000000 00000000"
               "0800 0300 76783900"              // IFLA_IFNAME "vx9\0"
               "0800 0400 46050000"              // IFLA_MTU 1350
               "0a00 0100 02000a00 0001 0000"    // IFLA_ADDRESS
               "3c00 1280"                       // IFLA_LINKINFO, 60 bytes
               "  0a00 0100 76786c61 6e00 0000"  //   IFLA_INFO_KIND "vxlan\0" + 2 pad
               "  2c00 0280"                     //   IFLA_INFO_DATA, 44 bytes
               "    0800 0100 07000000"          //     IFLA_VXLAN_ID 7
               "    0800 0400 0a000001"          //     IFLA_VXLAN_LOCAL 10.0.0.1 (network order)
               "    0800 0300 02000000"          //     IFLA_VXLAN_LINK 2
               "    0600 0f00 12b5 0000"         //     IFLA_VXLAN_PORT 4789 (network order)
               "    0500 0700 00 000000");       //     IFLA_VXLAN_LEARNING 0
}

TEST(NetlinkBuild, SetUpWithAlias) {
  EXPECT_BYTES(BuildSetUpWithAlias("lo", "minikube-net:t"),
               "3c000000 1000 0500 00000000 00000000"   // 60 bytes, RTM_NEWLINK, REQ|ACK: no create
               "00 00 0000 00000000 01000000 01000000"  // ifi_flags IFF_UP, ifi_change IFF_UP
               "0700 0300 6c6f0000"                     // IFLA_IFNAME "lo\0"
               "1300 1400 6d696e69 6b756265 2d6e6574 3a7400 00");  // IFLA_IFALIAS, 15 + 1 pad
}

TEST(NetlinkBuild, SetHairpin) {
  EXPECT_BYTES(BuildSetHairpin(4),
               "2c000000 1300 0500 00000000 00000000"   // 44 bytes, RTM_SETLINK, REQ|ACK
               "07 00 0000 04000000 00000000 00000000"  // AF_BRIDGE, index 4
               "0c00 0c80"                              // IFLA_PROTINFO, nested, 12 bytes
               "  0500 0400 01 000000");                //   IFLA_BRPORT_MODE 1 (hairpin)
}

TEST(NetlinkBuild, DelLink) {
  EXPECT_BYTES(BuildDelLink(9),
               "20000000 1100 0500 00000000 00000000"  // 32 bytes, RTM_DELLINK, REQ|ACK
               "00 00 0000 09000000 00000000 00000000");
}

TEST(NetlinkBuild, CtDelete) {
  EXPECT_BYTES(BuildCtDelete({6, Ip("10.244.1.2"), Ip("10.96.0.10"), 40000, 80}),
               "48000000 0201 0500 00000000 00000000"  // 72 bytes, CTNETLINK << 8 | CT_DELETE
               "02 00 0000"                            // nfgenmsg: AF_INET, v0, res_id 0
               "3400 0180"                             // CTA_TUPLE_ORIG, nested, 52 bytes
               "  1400 0180"                           //   CTA_TUPLE_IP, nested, 20 bytes
               "    0800 0100 0af40102"                //     CTA_IP_V4_SRC 10.244.1.2
               "    0800 0200 0a60000a"                //     CTA_IP_V4_DST 10.96.0.10
               "  1c00 0280"                           //   CTA_TUPLE_PROTO, nested, 28 bytes
               "    0500 0100 06 000000"               //     CTA_PROTO_NUM 6 (tcp)
               "    0600 0200 9c40 0000"               //     CTA_PROTO_SRC_PORT 40000
               "    0600 0300 0050 0000");             //     CTA_PROTO_DST_PORT 80
}

// A dump of every state, and a destroy of one socket by the id the dump gave (cookie included), as
// iproute2's ss -K sends it after its own dump.
TEST(NetlinkBuild, SockDiagDumpAndDestroy) {
  EXPECT_BYTES(BuildDumpInetSocks(6),
               "48000000 1400 0103 00000000 00000000"  // 72 bytes, SOCK_DIAG_BY_FAMILY, dump
               "02 06 00 00 ffffffff"                  // AF_INET, tcp, no ext, every state
               "0000 0000 00000000 00000000 00000000 00000000"  // id: ports, src
               "00000000 00000000 00000000 00000000"            // dst
               "00000000 00000000 00000000");                   // if, cookie
  InetSock s{17, Ip("10.244.1.2"), Ip("10.244.0.3"), 40000, 5353, 0, {0x1234, 0x1}};
  EXPECT_BYTES(BuildDestroyInetSock(s),
               "48000000 1500 0500 00000000 00000000"  // 72 bytes, SOCK_DESTROY, ack
               "02 11 00 00 ffffffff"                  // AF_INET, udp, every state
               "9c40 14e9"                             // sport 40000, dport 5353
               "0af40102 00000000 00000000 00000000"   // src 10.244.1.2
               "0af40003 00000000 00000000 00000000"   // dst 10.244.0.3
               "00000000 34120000 01000000");          // if 0, cookie
}

TEST(NetlinkBuild, NewAddr) {
  EXPECT_BYTES(BuildNewAddr(3, Pfx("10.244.1.1/24")),
               "28000000 1400 0506 00000000 00000000"  // 40 bytes, RTM_NEWADDR, create
               "02 18 00 00 03000000"                  // ifaddrmsg: AF_INET, /24, index 3
               "0800 0200 0af40101"                    // IFA_LOCAL 10.244.1.1
               "0800 0100 0af40101");                  // IFA_ADDRESS 10.244.1.1
}

TEST(NetlinkBuild, NewRouteViaAGatewayOnlink) {
  EXPECT_BYTES(BuildNewRoute(Pfx("10.244.2.0/24"), Ip("172.18.0.3"), 2, true, 0),
               "34000000 1800 0506 00000000 00000000"  // 52 bytes, RTM_NEWROUTE, create
               // rtmsg: AF_INET, dst /24, src 0, tos 0, table main (254), proto boot (3),
               // scope universe (0), unicast (1), flags RTNH_F_ONLINK (4)
               "02 18 00 00 fe 03 00 01 04000000"
               "0800 0100 0af40200"    // RTA_DST 10.244.2.0
               "0800 0500 ac120003"    // RTA_GATEWAY 172.18.0.3
               "0800 0400 02000000");  // RTA_OIF 2
}

TEST(NetlinkBuild, NewRouteDefaultInALargeTable) {
  EXPECT_BYTES(BuildNewRoute(Pfx("0.0.0.0/0"), std::nullopt, 3, false, 1000),
               "2c000000 1800 0506 00000000 00000000"  // 44 bytes
               // dst /0, table unspec (0: it is in RTA_TABLE), proto boot, scope link (253)
               "02 00 00 00 00 03 fd 01 00000000"
               "0800 0400 03000000"    // RTA_OIF 3; no RTA_DST for a default route
               "0800 0f00 e8030000");  // RTA_TABLE 1000
}

TEST(NetlinkBuild, NewRouteInASmallTable) {
  EXPECT_BYTES(BuildNewRoute(Pfx("10.96.0.0/12"), std::nullopt, 0, false, 100),
               "24000000 1800 0506 00000000 00000000"  // 36 bytes
               "02 0c 00 00 64 03 fd 01 00000000"      // table 100 in rtm_table, no RTA_TABLE
               "0800 0100 0a600000");                  // RTA_DST; no RTA_OIF for oif 0
}

TEST(NetlinkBuild, NewNeigh) {
  EXPECT_BYTES(BuildNewNeigh(3, Ip("10.244.1.5"), kMac),
               "30000000 1c00 0506 00000000 00000000"  // 48 bytes, RTM_NEWNEIGH, create
               // ndmsg: AF_INET, pad, pad, index 3, state NUD_PERMANENT (0x80), flags 0, type 0
               "02 00 0000 03000000 8000 00 00"
               "0800 0100 0af40105"              // NDA_DST 10.244.1.5
               "0a00 0200 02000a00 0001 0000");  // NDA_LLADDR
}

TEST(NetlinkBuild, NewProxyNeigh) {
  EXPECT_BYTES(BuildNewProxyNeigh(3, Ip("10.96.0.1")),
               "24000000 1c00 0506 00000000 00000000"  // 36 bytes
               "02 00 0000 03000000 8000 08 00"        // flags NTF_PROXY (0x08)
               "0800 0100 0a600001");                  // NDA_DST 10.96.0.1
}

TEST(NetlinkBuild, NewFdb) {
  EXPECT_BYTES(BuildNewFdb(4, kMac, Ip("172.18.0.3")),
               "30000000 1c00 0506 00000000 00000000"  // 48 bytes
               "07 00 0000 04000000 8000 02 00"        // AF_BRIDGE, index 4, NTF_SELF (0x02)
               "0a00 0200 02000a00 0001 0000"          // NDA_LLADDR
               "0800 0100 ac120003");                  // NDA_DST 172.18.0.3
}

TEST(NetlinkBuild, NewRuleWithAllSelectors) {
  EXPECT_BYTES(BuildNewRule(100, Pfx("10.96.0.0/12"), 6, 80, 80, 1000),
               "44000000 2000 0506 00000000 00000000"  // 68 bytes, RTM_NEWRULE, create
               // fib_rule_hdr: AF_INET, dst /12, src 0, tos 0, table unspec (1000 is in
               // FRA_TABLE), res 0 0, action FR_ACT_TO_TBL (1), flags 0
               "02 0c 00 00 00 00 00 01 00000000"
               "0800 0600 64000000"     // FRA_PRIORITY 100
               "0800 0f00 e8030000"     // FRA_TABLE 1000
               "0800 0100 0a600000"     // FRA_DST 10.96.0.0
               "0500 1600 06 000000"    // FRA_IP_PROTO 6 (TCP)
               "0800 1800 5000 5000");  // FRA_DPORT_RANGE 80-80
}

TEST(NetlinkBuild, NewRuleWithoutSelectors) {
  EXPECT_BYTES(BuildNewRule(200, std::nullopt, 0, 0, 0, 200),
               "2c000000 2000 0506 00000000 00000000"  // 44 bytes
               "02 00 00 00 c8 00 00 01 00000000"      // table 200 in the header too
               "0800 0600 c8000000"                    // FRA_PRIORITY 200
               "0800 0f00 c8000000");                  // FRA_TABLE 200
}

TEST(NetlinkBuild, DelRule) {
  EXPECT_BYTES(BuildDelRule(100, 200),
               "2c000000 2100 0500 00000000 00000000"  // 44 bytes, RTM_DELRULE, REQ|ACK
               "02 00 00 00 c8 00 00 01 00000000"
               "0800 0600 64000000"
               "0800 0f00 c8000000");
}

TEST(NetlinkBuild, GetLinkAndDump) {
  EXPECT_BYTES(BuildGetLink("eth0"),
               "2c000000 1200 0100 00000000 00000000"  // 44 bytes, RTM_GETLINK, REQUEST only
               "00000000 00000000 00000000 00000000"
               "0900 0300 65746830 00 000000");  // IFLA_IFNAME "eth0\0" + 3 pad
  EXPECT_BYTES(BuildGetLink(7),
               "20000000 1200 0100 00000000 00000000"
               "00 00 0000 07000000 00000000 00000000");
  EXPECT_BYTES(BuildDumpLinks(),
               "20000000 1200 0103 00000000 00000000"  // REQUEST | DUMP (0x300)
               "00000000 00000000 00000000 00000000");
}

TEST(NetlinkBuild, DumpRoutes) {
  EXPECT_BYTES(BuildDumpRoutes(),
               "1c000000 1a00 0103 00000000 00000000"  // 28 bytes, RTM_GETROUTE, REQUEST | DUMP
               "02 00 00 00 00 00 00 00 00000000");    // AF_INET, everything else 0
}

// trace's "why": `ip route get 10.244.1.3 fibmatch`.
TEST(NetlinkBuild, GetRouteAsksForTheMatchingRoute) {
  EXPECT_BYTES(BuildGetRoute(*net::Ipv4::Parse("10.244.1.3")),
               "24000000 1a00 0100 00000000 00000000"  // 36 bytes, RTM_GETROUTE, REQUEST only
               "02 20 00 00 00 00 00 00 00300000"  // AF_INET, dst_len 32, FIB_MATCH|LOOKUP_TABLE
               "0800 0100 0af40103");              // RTA_DST 10.244.1.3
  // `ip route get 10.244.1.3`: the resolved route, with the source the kernel picks.
  EXPECT_BYTES(BuildGetRoute(*net::Ipv4::Parse("10.244.1.3"), false),
               "24000000 1a00 0100 00000000 00000000"  // 36 bytes, RTM_GETROUTE, REQUEST only
               "02 20 00 00 00 00 00 00 00100000"      // AF_INET, dst_len 32, RTM_F_LOOKUP_TABLE
               "0800 0100 0af40103");                  // RTA_DST 10.244.1.3
}

// trace's "why" of one packet: `ip route get 172.18.0.2 from 10.244.0.2 iif cbr0 ipproto tcp
// sport 36483 dport 30080 fibmatch`, which the userspace proxy's rule (ipproto tcp dport
// 30000-32767 lookup 100) sends into table 100; a lookup of the address alone says "local".
TEST(NetlinkBuild, GetRouteAsksForOnePacketsRoute) {
  RouteGet q;
  q.dst = *net::Ipv4::Parse("172.18.0.2");
  q.src = *net::Ipv4::Parse("10.244.0.2");
  q.iif = 5;
  q.ipproto = IPPROTO_TCP;
  q.sport = 36483;
  q.dport = 30080;
  EXPECT_BYTES(BuildGetRoute(q),
               "4c000000 1a00 0100 00000000 00000000"  // 76 bytes, RTM_GETROUTE, REQUEST only
               "02 20 20 00 00 00 00 00 00300000"  // dst_len 32, src_len 32, FIB_MATCH|LOOKUP_TABLE
               "0800 0100 ac120002"                // RTA_DST 172.18.0.2
               "0800 0200 0af40002"                // RTA_SRC 10.244.0.2
               "0800 0300 05000000"                // RTA_IIF 5
               "0500 1b00 06 000000"               // RTA_IP_PROTO tcp, padded
               "0600 1c00 8e83 0000"               // RTA_SPORT 36483, big-endian
               "0600 1d00 7580 0000");             // RTA_DPORT 30080
  // ICMP has no ports: none are sent, whatever the key holds (an echo's identifier is no port).
  RouteGet icmp;
  icmp.dst = *net::Ipv4::Parse("10.244.1.3");
  icmp.ipproto = IPPROTO_ICMP;
  icmp.sport = icmp.dport = 7;
  EXPECT_BYTES(BuildGetRoute(icmp),
               "2c000000 1a00 0100 00000000 00000000"  // 44 bytes
               "02 20 00 00 00 00 00 00 00300000"
               "0800 0100 0af40103"     // RTA_DST 10.244.1.3
               "0500 1b00 01 000000");  // RTA_IP_PROTO icmp
}

// trace's "why" at a bridge and a VXLAN device: `bridge fdb show`, `ip neigh show`.
TEST(NetlinkBuild, DumpNeighborsOfAFamily) {
  EXPECT_BYTES(BuildDumpNeighbors(AF_BRIDGE),
               "1c000000 1e00 0103 00000000 00000000"  // 28 bytes, RTM_GETNEIGH, REQUEST | DUMP
               "07 00 0000 00000000 0000 00 00");      // AF_BRIDGE, everything else 0
  EXPECT_BYTES(BuildDumpNeighbors(AF_INET),
               "1c000000 1e00 0103 00000000 00000000"
               "02 00 0000 00000000 0000 00 00");
}

TEST(NetlinkBuild, SetSequenceStampsTheHeader) {
  NlBytes m = BuildDelLink(9);
  SetSequence(m, 0x01020304);
  EXPECT_BYTES(m,
               "20000000 1100 0500 04030201 00000000"
               "00 00 0000 09000000 00000000 00000000");
}

TEST(NetlinkBuild, LongNamesGrowTheMessageInsteadOfOverrunningIt) {
  std::string alias(4000, 'x');
  NlBytes m = BuildSetUpWithAlias("lo", alias);
  ASSERT_EQ(m.size(), 16u + 16 + 8 + 4 + 4004);
  absl::StatusOr<NlMessage> v = ViewMessage(m);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->payload.size(), m.size() - 16);
}

// --- parsers -----------------------------------------------------------------------------------

// What the kernel sends for a veth (trimmed to what ParseLink reads, plus one it skips).
constexpr const char* kVethLink =
    "78000000 1000 0200 07000000 39300000"  // 120 bytes, RTM_NEWLINK, NLM_F_MULTI, seq 7, pid 12345
    "00 00 0100 05000000 43100100 00000000"           // ARPHRD_ETHER, index 5, flags UP|RUNNING|...
    "0a00 0300 76657468 31000000"                     // IFLA_IFNAME "veth1\0"
    "0800 0400 aa050000"                              // IFLA_MTU 1450
    "0800 0a00 03000000"                              // IFLA_MASTER 3
    "0800 0d00 e8030000"                              // IFLA_TXQLEN 1000: not read
    "0a00 0100 02000a00 0001 0000"                    // IFLA_ADDRESS
    "1300 1400 6d696e69 6b756265 2d6e6574 3a7100 00"  // IFLA_IFALIAS "minikube-net:q\0"
    "1400 1200"                      // IFLA_LINKINFO (the kernel sets no NESTED bit)
    "  0900 0100 76657468 00000000"  //   IFLA_INFO_KIND "veth\0"
    "  0400 0200";                   //   IFLA_INFO_DATA, empty

TEST(NetlinkParse, Link) {
  NlBytes bytes = Hex(kVethLink);
  absl::StatusOr<NlMessage> m = ViewMessage(bytes);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, 16);
  EXPECT_EQ(m->seq, 7u);
  EXPECT_EQ(m->pid, 12345u);
  absl::StatusOr<LinkInfo> li = ParseLink(*m);
  ASSERT_TRUE(li.ok()) << li.status();
  EXPECT_EQ(li->index, 5);
  EXPECT_TRUE(li->up);
  EXPECT_EQ(li->name, "veth1");
  EXPECT_EQ(li->mtu, 1450);
  EXPECT_EQ(li->master, 3);
  EXPECT_EQ(li->mac, kMac);
  EXPECT_EQ(li->alias, "minikube-net:q");
  EXPECT_EQ(li->kind, "veth");
}

// A route BIRD installed: 10.244.3.0/24 via 172.18.1.1 dev 2 proto bird metric 32 (trimmed).
constexpr const char* kBirdRoute =
    "44000000 1800 0200 07000000 39300000"  // 68 bytes, RTM_NEWROUTE, NLM_F_MULTI
    "02 18 00 00 fe 0c 00 01 00000000"      // AF_INET, /24, main, RTPROT_BIRD, universe, unicast
    "0800 0f00 fe000000"                    // RTA_TABLE 254
    "0800 0600 20000000"                    // RTA_PRIORITY 32: not read
    "0800 0100 0af40300"                    // RTA_DST 10.244.3.0
    "0800 0500 ac120101"                    // RTA_GATEWAY 172.18.1.1
    "0800 0400 02000000";                   // RTA_OIF 2

TEST(NetlinkParse, Route) {
  NlBytes bytes = Hex(kBirdRoute);
  absl::StatusOr<NlMessage> m = ViewMessage(bytes);
  ASSERT_TRUE(m.ok()) << m.status();
  absl::StatusOr<RouteInfo> r = ParseRoute(*m);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->dst.ToString(), "10.244.3.0/24");
  ASSERT_TRUE(r->gateway);
  EXPECT_EQ(r->gateway->ToString(), "172.18.1.1");
  EXPECT_EQ(r->oif, 2);
  EXPECT_EQ(r->table, 254);
  EXPECT_EQ(r->protocol, 12);
  EXPECT_EQ(r->type, "unicast");
  EXPECT_FALSE(r->prefsrc);
  // A `route get` answer: 10.244.1.3 via 172.18.0.3 dev 2 src 172.18.0.2 (RTA_PREFSRC).
  NlBytes got =
      Hex("3c000000 1800 0000 01000000 00000000"
          "02 20 00 00 fe 02 00 01 00020000"  // /32, main, RTPROT_KERNEL, RTM_F_CLONED
          "0800 0100 0af40103"                // RTA_DST 10.244.1.3
          "0800 0500 ac120003"                // RTA_GATEWAY 172.18.0.3
          "0800 0700 ac120002"                // RTA_PREFSRC 172.18.0.2
          "0800 0400 02000000");              // RTA_OIF 2
  absl::StatusOr<RouteInfo> g = ParseRoute(*ViewMessage(got));
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(g->prefsrc);
  EXPECT_EQ(g->prefsrc->ToString(), "172.18.0.2");
  EXPECT_EQ(g->dst.ToString(), "10.244.1.3/32");
  // A default route has no RTA_DST; an IPv6 route, or a link, is not an IPv4 route.
  NlBytes def =
      Hex("24000000 1800 0200 00000000 00000000"
          "02 00 00 00 fe 03 00 01 00000000"
          "0800 0500 ac120101");
  absl::StatusOr<RouteInfo> d = ParseRoute(*ViewMessage(def));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->dst.ToString(), "0.0.0.0/0");
  NlBytes v6 = bytes;
  v6[16] = 10;  // AF_INET6
  EXPECT_TRUE(absl::IsInvalidArgument(ParseRoute(*ViewMessage(v6)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseRoute(*ViewMessage(Hex(kVethLink))).status()));
  for (size_t n = 16; n < bytes.size(); ++n) {
    NlBytes cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
    uint32_t len = static_cast<uint32_t>(n);
    std::memcpy(cut.data(), &len, 4);
    absl::StatusOr<NlMessage> cm = ViewMessage(cut);
    if (cm.ok()) (void)ParseRoute(*cm);  // an error or a shorter route, never a crash
  }
}

// A VXLAN device's FDB entry (`bridge fdb`: MAC dst 172.18.0.3 self permanent), a bridge port's
// learnt entry (master 3), and an ARP entry; every truncation is an error or a shorter entry.
TEST(NetlinkParse, NeighborsAndFdbEntries) {
  NlBytes vxlan =
      Hex("30000000 1c00 0200 00000000 00000000"  // 48 bytes, RTM_NEWNEIGH, MULTI
          "07 00 0000 05000000 8000 02 00"        // AF_BRIDGE, ifindex 5, PERMANENT, NTF_SELF
          "0a00 0200 0e580af4 0100 0000"          // NDA_LLADDR 0e:58:0a:f4:01:00
          "0800 0100 ac120003");                  // NDA_DST 172.18.0.3
  absl::StatusOr<NeighInfo> n = ParseNeigh(*ViewMessage(vxlan));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->family, AF_BRIDGE);
  EXPECT_EQ(n->ifindex, 5);
  EXPECT_EQ(n->state, 0x80);
  EXPECT_EQ(n->flags, 0x02);
  ASSERT_TRUE(n->mac && n->ip);
  EXPECT_EQ(n->mac->ToString(), "0e:58:0a:f4:01:00");
  EXPECT_EQ(n->ip->ToString(), "172.18.0.3");
  NlBytes port =
      Hex("30000000 1c00 0200 00000000 00000000"
          "07 00 0000 07000000 0200 04 00"  // port 7, REACHABLE, NTF_MASTER
          "0a00 0200 0a580af4 0003 0000"    // NDA_LLADDR 0a:58:0a:f4:00:03
          "0800 0900 03000000");            // NDA_MASTER 3
  n = ParseNeigh(*ViewMessage(port));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->master, 3);
  EXPECT_FALSE(n->ip);
  NlBytes arp =
      Hex("30000000 1c00 0200 00000000 00000000"
          "02 00 0000 04000000 0200 00 01"
          "0800 0100 0af40103"  // NDA_DST 10.244.1.3
          "0a00 0200 0a580af4 0103 0000");
  n = ParseNeigh(*ViewMessage(arp));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->family, AF_INET);
  EXPECT_EQ(n->ip->ToString(), "10.244.1.3");
  EXPECT_EQ(n->mac->ToString(), "0a:58:0a:f4:01:03");
  EXPECT_TRUE(absl::IsInvalidArgument(ParseNeigh(*ViewMessage(Hex(kVethLink))).status()));
  for (size_t len = 16; len < vxlan.size(); ++len) {
    NlBytes cut(vxlan.begin(), vxlan.begin() + static_cast<long>(len));
    uint32_t l = static_cast<uint32_t>(len);
    std::memcpy(cut.data(), &l, 4);
    absl::StatusOr<NlMessage> cm = ViewMessage(cut);
    if (cm.ok()) (void)ParseNeigh(*cm);  // an error or a shorter entry, never a crash
  }
}

TEST(NetlinkParse, LinkDownWithoutKindAndAStringWithoutItsNul) {
  NlBytes bytes =
      Hex("34000000 1000 0000 00000000 00000000"   // 52 bytes
          "00 00 0403 01000000 08000000 00000000"  // ARPHRD_LOOPBACK, index 1, LOOPBACK, not up
          "0600 0300 6c6f 0000"                    // IFLA_IFNAME "lo" without a NUL
          "0a00 0100 00000000 0000 0000");         // an all-zero MAC is still 6 bytes
  absl::StatusOr<LinkInfo> li = ParseLink(*ViewMessage(bytes));
  ASSERT_TRUE(li.ok()) << li.status();
  EXPECT_EQ(li->name, "lo");
  EXPECT_FALSE(li->up);
  EXPECT_EQ(li->kind, "");
}

TEST(NetlinkParse, EveryTruncationOfALinkIsAnErrorNotACrash) {
  NlBytes whole = Hex(kVethLink);
  for (size_t n = 1; n < whole.size(); ++n) {
    NlBytes cut(whole.begin(), whole.begin() + static_cast<long>(n));
    // As received: the header still claims 116 bytes.
    EXPECT_FALSE(SplitDatagram(cut).ok()) << n;
    if (n < 16) continue;
    // With a header that agrees, a cut in the ifinfomsg or inside an attribute is an error; one
    // between two attributes, or in the last one's padding (the kernel's nla_ok accepts that too),
    // leaves a shorter link.
    uint32_t len = static_cast<uint32_t>(n);
    std::memcpy(cut.data(), &len, 4);
    absl::StatusOr<NlMessage> m = ViewMessage(cut);
    ASSERT_TRUE(m.ok()) << n << ": " << m.status();
    absl::StatusOr<LinkInfo> li = ParseLink(*m);
    const std::set<size_t> whole_attrs = {32, 42, 43, 44, 52, 60, 68, 78, 79, 80, 99, 100};
    bool boundary = whole_attrs.count(n) > 0;
    if (boundary) {
      EXPECT_TRUE(li.ok()) << n << ": " << li.status();
    } else {
      EXPECT_EQ(li.status().code(), absl::StatusCode::kInternal) << n;
    }
  }
}

TEST(NetlinkParse, MalformedAttributes) {
  const std::string header = "00 00 0100 05000000 01000000 00000000";
  struct Case {
    const char* name;
    std::string attrs;
  } cases[] = {
      {"attribute length below its header", "0200 0300"},
      {"attribute length past the message", "0c00 0300 6c6f0000"},
      {"attribute header cut short", "0800 0400 78050000 0600"},
      {"u32 attribute of 2 bytes", "0600 0400 7805 0000"},
      {"u32 attribute of 8 bytes", "0c00 0a00 03000000 00000000"},
      {"nest whose child runs past it", "1000 1200 0d00 0100 76657468 00000000"},
  };
  for (const Case& c : cases) {
    NlBytes body = Hex(header + c.attrs);
    NlBytes msg = Hex("00000000 1000 0000 00000000 00000000");
    msg.insert(msg.end(), body.begin(), body.end());
    uint32_t len = static_cast<uint32_t>(msg.size());
    std::memcpy(msg.data(), &len, 4);
    absl::StatusOr<NlMessage> m = ViewMessage(msg);
    ASSERT_TRUE(m.ok()) << c.name << ": " << m.status();
    absl::StatusOr<LinkInfo> li = ParseLink(*m);
    EXPECT_EQ(li.status().code(), absl::StatusCode::kInternal) << c.name;
  }
}

// A dump's answer gives back the id BuildDestroyInetSock sends: the round trip of one socket.
TEST(NetlinkParse, InetSockFromADumpAnswer) {
  NlBytes bytes =
      Hex("58000000 1400 0200 01000000 00000000"  // 88 bytes, SOCK_DIAG_BY_FAMILY, multi
          "02 01 00 00"                           // AF_INET, TCP_ESTABLISHED, timer, retrans
          "9c40 14e9 0af40102 00000000 00000000 00000000 0af40003 00000000 00000000 00000000"
          "00000000 34120000 01000000"                      // if 0, cookie
          "00000000 00000000 00000000 00000000 2a000000");  // expires, queues, uid, inode
  absl::StatusOr<InetSock> s = ParseInetSock(*ViewMessage(bytes), 17);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->src, Ip("10.244.1.2"));
  EXPECT_EQ(s->dst, Ip("10.244.0.3"));
  EXPECT_EQ(s->sport, 40000);
  EXPECT_EQ(s->dport, 5353);
  EXPECT_EQ(s->state, 1);  // TCP_ESTABLISHED
  EXPECT_EQ(s->inode, 42u);
  EXPECT_BYTES(BuildDestroyInetSock(*s),
               "48000000 1500 0500 00000000 00000000 02 11 00 00 ffffffff 9c40 14e9"
               "0af40102 00000000 00000000 00000000 0af40003 00000000 00000000 00000000"
               "00000000 34120000 01000000");
  NlBytes cut(bytes.begin(), bytes.begin() + 40);
  cut[0] = 40;
  EXPECT_EQ(ParseInetSock(*ViewMessage(cut), 17).status().code(), absl::StatusCode::kInternal);
}

TEST(NetlinkParse, ParseLinkRefusesOtherTypesAndShortHeaders) {
  NlBytes ack =
      Hex("24000000 0200 0001 01000000 00000000  00000000 14000000 1000 0500 01000000 00000000");
  EXPECT_EQ(ParseLink(*ViewMessage(ack)).status().code(), absl::StatusCode::kInvalidArgument);
  NlBytes short_link = Hex("18000000 1000 0000 00000000 00000000  00000000 05000000");
  EXPECT_EQ(ParseLink(*ViewMessage(short_link)).status().code(), absl::StatusCode::kInternal);
}

TEST(NetlinkParse, SplitDatagram) {
  // Two messages back to back; a length below the header's own; trailing bytes too short for one.
  NlBytes two =
      Hex("14000000 0300 0200 05000000 00000000 00000000"  // NLMSG_DONE, 20 bytes
          "10000000 0100 0000 06000000 00000000");         // NLMSG_NOOP, 16 bytes
  absl::StatusOr<std::vector<NlMessage>> msgs = SplitDatagram(two);
  ASSERT_TRUE(msgs.ok()) << msgs.status();
  ASSERT_EQ(msgs->size(), 2u);
  EXPECT_EQ((*msgs)[0].type, NLMSG_DONE);
  EXPECT_EQ((*msgs)[0].payload.size(), 4u);
  EXPECT_EQ((*msgs)[1].seq, 6u);
  EXPECT_TRUE(SplitDatagram({}).ok());
  EXPECT_FALSE(SplitDatagram(Hex("08000000 0300 0200 05000000 00000000")).ok());
  EXPECT_FALSE(SplitDatagram(Hex("10000000 0100 0000 06000000 00000000 0000")).ok());
  EXPECT_FALSE(ViewMessage(two).ok());  // two where one was expected
}

// An NLMSG_ERROR for seq 2 from the kernel (pid 0), capped, with an extack message.
constexpr const char* kEexistWithExtack =
    "3c000000 0200 0003 02000000 00000000"  // 60 bytes, NLMSG_ERROR, CAPPED|ACK_TLVS
    "efffffff"                              // error -17 (EEXIST)
    "2c000000 1000 0506 02000000 00000000"  // our request's header, echoed
    "1800 0100 4c696e6b 20616c72 65616479 20657869 73747300"  // NLMSGERR_ATTR_MSG
    "";

TEST(NetlinkParse, AckAndError) {
  NlBytes ok =
      Hex("24000000 0200 0001 02000000 00000000  00000000 20000000 1100 0500 02000000 00000000");
  absl::StatusOr<NlAck> a = ParseAck(*ViewMessage(ok));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->error, 0);
  EXPECT_EQ(a->extack, "");

  NlBytes err = Hex(kEexistWithExtack);
  a = ParseAck(*ViewMessage(err));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->error, EEXIST);
  EXPECT_EQ(a->extack, "Link already exists");
}

TEST(NetlinkParse, AckThatEchoesTheWholeRequest) {
  // Not capped: the request's 32 bytes follow the error, then the TLVs.
  NlBytes err =
      Hex("3c000000 0200 0002 02000000 00000000"  // 60 bytes, ACK_TLVS only
          "edffffff"                              // -19 ENODEV
          "20000000 1100 0500 02000000 00000000"  // the request: RTM_DELLINK...
          "00000000 09000000 00000000 00000000"   // ...with its ifinfomsg
          "0800 0100 6e6f7400");                  // NLMSGERR_ATTR_MSG "not"
  absl::StatusOr<NlAck> a = ParseAck(*ViewMessage(err));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->error, ENODEV);
  EXPECT_EQ(a->extack, "not");
}

TEST(NetlinkParse, MalformedAcks) {
  // Too short for struct nlmsgerr.
  EXPECT_FALSE(ParseAck(*ViewMessage(Hex("14000000 0200 0000 02000000 00000000 00000000"))).ok());
  // Not an NLMSG_ERROR.
  EXPECT_FALSE(ParseAck(*ViewMessage(Hex("14000000 0300 0000 02000000 00000000 00000000"))).ok());
  // The echo claims more than there is.
  EXPECT_FALSE(ParseAck(*ViewMessage(Hex("24000000 0200 0002 02000000 00000000"
                                         "edffffff 40000000 1100 0500 02000000 00000000")))
                   .ok());
  // A TLV that runs past the message.
  EXPECT_FALSE(ParseAck(*ViewMessage(Hex("2c000000 0200 0003 02000000 00000000"
                                         "efffffff 2c000000 1000 0506 02000000 00000000"
                                         "2000 0100 4c696e6b")))
                   .ok());
}

// --- replies -----------------------------------------------------------------------------------

constexpr uint32_t kPortid = 12345;

NlBytes Ack(uint32_t seq, int error) {
  NlBytes m =
      Hex("24000000 0200 0001 00000000 00000000 00000000 10000000 0000 0000 00000000 00000000");
  std::memcpy(m.data() + 8, &seq, 4);
  int e = -error;
  std::memcpy(m.data() + 16, &e, 4);
  return m;
}

// An RTM_NEWLINK of a dump: index `index`, name "l<index>", with `flags` (NLM_F_MULTI 0x2 and
// perhaps NLM_F_DUMP_INTR 0x10).
NlBytes DumpLink(uint32_t seq, int index, uint16_t flags = 0x2) {
  NlBytes m =
      Hex("28000000 1000 0000 00000000 39300000 00000000 00000000 00000000 00000000"
          "0700 0300 6c000000");
  std::memcpy(m.data() + 6, &flags, 2);
  std::memcpy(m.data() + 8, &seq, 4);
  std::memcpy(m.data() + 20, &index, 4);
  m[37] = static_cast<uint8_t>('0' + index);
  return m;
}

NlBytes Done(uint32_t seq, int error = 0, uint16_t flags = 0x2) {
  NlBytes m = Hex("14000000 0300 0000 00000000 39300000 00000000");
  std::memcpy(m.data() + 6, &flags, 2);
  std::memcpy(m.data() + 8, &seq, 4);
  int e = -error;
  std::memcpy(m.data() + 16, &e, 4);
  return m;
}

NlBytes Cat(std::initializer_list<NlBytes> parts) {
  NlBytes out;
  for (const NlBytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(NetlinkReplies, AnAckEndsARequestAndOthersAnswersAreSkipped) {
  NlReplies r(5, kPortid, false);
  // A late answer to request 4 comes first, in the same datagram as ours.
  ASSERT_TRUE(r.Feed(Cat({Ack(4, EEXIST), Ack(5, 0)})).ok());
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.error(), 0);
}

TEST(NetlinkReplies, AnErrorCarriesErrnoAndExtack) {
  NlReplies r(2, kPortid, false);
  ASSERT_TRUE(r.Feed(Hex(kEexistWithExtack)).ok());
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.error(), EEXIST);
  EXPECT_EQ(r.extack(), "Link already exists");
}

TEST(NetlinkReplies, AGetIsAnsweredByItsFirstMessage) {
  NlReplies r(3, kPortid, false);
  ASSERT_TRUE(r.Feed(DumpLink(3, 4, 0)).ok());
  EXPECT_TRUE(r.done());
  ASSERT_EQ(r.messages().size(), 1u);
  EXPECT_EQ(ParseLink(*ViewMessage(r.messages()[0]))->name, "l4");
}

TEST(NetlinkReplies, ADumpRunsUntilDoneAcrossDatagrams) {
  NlReplies r(9, kPortid, true);
  ASSERT_TRUE(r.Feed(Cat({DumpLink(9, 1), DumpLink(9, 2)})).ok());
  EXPECT_FALSE(r.done());
  // Another socket's message (pid 999) with our seq is not ours.
  NlBytes foreign = DumpLink(9, 7);
  uint32_t pid = 999;
  std::memcpy(foreign.data() + 12, &pid, 4);
  ASSERT_TRUE(r.Feed(Cat({foreign, DumpLink(9, 3), Done(9)})).ok());
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.error(), 0);
  EXPECT_FALSE(r.interrupted());
  ASSERT_EQ(r.messages().size(), 3u);
  EXPECT_EQ(ParseLink(*ViewMessage(r.messages()[2]))->index, 3);
}

TEST(NetlinkReplies, ADumpFlaggedInterruptedIsReadToItsEnd) {
  NlReplies r(9, kPortid, true);
  ASSERT_TRUE(r.Feed(Cat({DumpLink(9, 1), DumpLink(9, 2, 0x12)})).ok());
  EXPECT_TRUE(r.interrupted());
  EXPECT_FALSE(r.done());
  ASSERT_TRUE(r.Feed(Done(9, 0, 0x12)).ok());
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.messages().size(), 2u);
}

TEST(NetlinkReplies, ADumpCanEndInAnError) {
  NlReplies r(9, kPortid, true);
  ASSERT_TRUE(r.Feed(Cat({DumpLink(9, 1), Done(9, EPERM)})).ok());
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.error(), EPERM);
}

TEST(NetlinkReplies, AMalformedDatagramIsInternal) {
  NlReplies r(9, kPortid, true);
  NlBytes cut = DumpLink(9, 1);
  cut.resize(30);
  EXPECT_EQ(r.Feed(cut).code(), absl::StatusCode::kInternal);
}

// A fake kernel for RetryInterruptedDump: each try feeds the next scripted dump through NlReplies,
// as NlSocket::ListLinks does with what it receives.
class ScriptedDumps {
 public:
  explicit ScriptedDumps(std::deque<std::vector<NlBytes>> dumps) : dumps_(std::move(dumps)) {}
  absl::StatusOr<DumpResult> operator()() {
    ++calls;
    if (dumps_.empty()) return absl::UnavailableError("script ran out");
    NlReplies r(++seq_, kPortid, true);
    for (NlBytes& d : dumps_.front()) {
      // Every datagram was written for seq 1: renumber it for this try.
      for (size_t off = 0; off + 16 <= d.size();) {
        std::memcpy(d.data() + off + 8, &seq_, 4);
        uint32_t len;
        std::memcpy(&len, d.data() + off, 4);
        off += (len + 3) & ~3u;
      }
      if (absl::Status st = r.Feed(d); !st.ok()) return st;
    }
    dumps_.pop_front();
    if (r.error() != 0) return NetlinkError(r.error(), "list links", r.extack());
    return DumpResult{r.TakeMessages(), r.interrupted()};
  }
  int calls = 0;

 private:
  std::deque<std::vector<NlBytes>> dumps_;
  uint32_t seq_ = 0;
};

std::vector<NlBytes> Interrupted() {
  return {Cat({DumpLink(1, 1), DumpLink(1, 2, 0x12)}), Done(1, 0, 0x12)};
}

TEST(NetlinkRetry, AnInterruptedDumpIsRunAgainUntilItIsWhole) {
  ScriptedDumps k({Interrupted(), Interrupted(), {Cat({DumpLink(1, 1), DumpLink(1, 3), Done(1)})}});
  absl::StatusOr<std::vector<NlBytes>> msgs =
      RetryInterruptedDump([&] { return k(); }, "list links");
  ASSERT_TRUE(msgs.ok()) << msgs.status();
  EXPECT_EQ(k.calls, 3);
  ASSERT_EQ(msgs->size(), 2u);
  EXPECT_EQ(ParseLink(*ViewMessage((*msgs)[1]))->name, "l3");
}

TEST(NetlinkRetry, GivesUpAfterTheLastTry) {
  std::deque<std::vector<NlBytes>> script(kDumpTries + 5, Interrupted());
  ScriptedDumps k(script);
  absl::StatusOr<std::vector<NlBytes>> msgs =
      RetryInterruptedDump([&] { return k(); }, "list links");
  EXPECT_EQ(msgs.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(msgs.status().message().find("list links: dump interrupted"), absl::string_view::npos)
      << msgs.status();
  EXPECT_EQ(k.calls, kDumpTries);
}

TEST(NetlinkRetry, AnErrorIsReturnedAtOnce) {
  ScriptedDumps k({{Done(1, EPERM)}, Interrupted()});
  absl::StatusOr<std::vector<NlBytes>> msgs =
      RetryInterruptedDump([&] { return k(); }, "list links");
  EXPECT_EQ(msgs.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(k.calls, 1);
}

// --- errors ------------------------------------------------------------------------------------

TEST(KernelErrors, TheTable) {
  struct Row {
    int err;
    absl::StatusCode code;
  } rows[] = {
      {0, absl::StatusCode::kOk},
      {EEXIST, absl::StatusCode::kAlreadyExists},
      {EADDRINUSE, absl::StatusCode::kAlreadyExists},
      {ENODEV, absl::StatusCode::kNotFound},
      {ENOENT, absl::StatusCode::kNotFound},
      {ESRCH, absl::StatusCode::kNotFound},
      {EADDRNOTAVAIL, absl::StatusCode::kNotFound},
      {EPERM, absl::StatusCode::kPermissionDenied},
      {EACCES, absl::StatusCode::kPermissionDenied},
      {EINVAL, absl::StatusCode::kInvalidArgument},
      {ERANGE, absl::StatusCode::kInvalidArgument},
      {EBADF, absl::StatusCode::kInvalidArgument},
      {ENETUNREACH, absl::StatusCode::kInvalidArgument},
      {EOPNOTSUPP, absl::StatusCode::kUnimplemented},
      {EAFNOSUPPORT, absl::StatusCode::kUnimplemented},
      {ENOBUFS, absl::StatusCode::kUnavailable},
      {ENOMEM, absl::StatusCode::kUnavailable},
      {EBUSY, absl::StatusCode::kUnavailable},
      {EINTR, absl::StatusCode::kUnavailable},
      {EMFILE, absl::StatusCode::kUnavailable},
      {EIO, absl::StatusCode::kInternal},
      {ENOTCONN, absl::StatusCode::kInternal},
  };
  for (const Row& r : rows) EXPECT_EQ(KernelErrnoCode(r.err), r.code) << r.err;
}

TEST(KernelErrors, Messages) {
  EXPECT_TRUE(NetlinkError(0, "create bridge br0").ok());
  absl::Status st = NetlinkError(EEXIST, "create bridge br0", "Link already exists");
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(st.message(), "create bridge br0: File exists (kernel: Link already exists)");
  st = NetlinkError(EPERM, "create bridge br0");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(),
            "create bridge br0: Operation not permitted; need CAP_NET_ADMIN: run as root or with "
            "sudo");
  st = KernelError(EPERM, "mount /run/netns", "need CAP_SYS_ADMIN");
  EXPECT_EQ(st.message(), "mount /run/netns: Operation not permitted; need CAP_SYS_ADMIN");
  st = KernelError(ENOENT, "open /run/netns/x", "need CAP_SYS_ADMIN");  // the hint only on EPERM
  EXPECT_EQ(st.message(), "open /run/netns/x: No such file or directory");
}

}  // namespace
}  // namespace mkn::vnet
