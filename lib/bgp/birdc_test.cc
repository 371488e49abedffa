// The control socket's replies as BIRD 2.0.12 sends them (captured from the daemons of
// examples/bgp in the sandbox; "\t" as sent), read into sessions and routes.
#include "lib/bgp/birdc.h"

#include <gtest/gtest.h>

namespace mkn::bgp {
namespace {

constexpr char kProtocols[] =
    "2002-Name       Proto      Table      State  Since         Info\n"
    "1002-device1    Device     ---        up     2026-12-06 03:39:52  \n"
    " kernel1    Kernel     master4    up     2026-12-06 03:39:52  \n"
    " POD_CIDR   Static     master4    up     2026-12-06 03:39:52  \n"
    " tor_r1     BGP        ---        up     2026-12-06 03:39:53  Established   \n"
    "1006-  Description:    tor-r1\n"
    "  BGP state:          Established\n"
    "    Neighbor address: 172.18.1.1\n"
    "    Neighbor AS:      64513\n"
    "    Local AS:         4200000001\n"
    "    Neighbor ID:      172.18.1.1\n"
    "    Local capabilities\n"
    "      Multiprotocol\n"
    "        AF announced: ipv4\n"
    "    Session:          external AS4\n"
    "    Hold timer:       2.943/3\n"
    "  Channel ipv4\n"
    "    State:          UP\n"
    "    Routes:         3 imported, 1 exported, 3 preferred\n"
    "    Route change stats:     received   rejected   filtered    ignored   accepted\n"
    "      Import updates:              4          0          0          0          4\n"
    "    BGP Next hop:   172.18.1.2\n"
    " \n"
    "1002-node2      BGP        ---        start  2026-12-06 03:40:10  Active        Socket: "
    "Connection refused\n"
    "1006-  Description:    node2\n"
    "  BGP state:          Active\n"
    "    Neighbor address: 172.18.1.3\n"
    "    Neighbor AS:      4200000002\n"
    "    Local AS:         64513\n"
    "    Last error:       Socket: Connection refused\n"
    " \n"
    "0000 \n";

TEST(Birdc, ReplyFraming) {
  EXPECT_TRUE(ReplyComplete("0001 BIRD 2.0.12 ready.\n"));
  EXPECT_FALSE(ReplyComplete("0001 BIRD 2.0.12 ready."));  // no newline yet
  EXPECT_FALSE(ReplyComplete("1007-Table master4:\n"));    // more follows
  EXPECT_FALSE(ReplyComplete(" 10.244.0.0/24 blackhole\n"));
  EXPECT_TRUE(ReplyComplete(kProtocols));
  EXPECT_FALSE(ReplyComplete(""));
  absl::StatusOr<Reply> err = ParseReply("8003 No protocols match\n");
  EXPECT_TRUE(absl::IsFailedPrecondition(err.status()));
  EXPECT_EQ(err.status().message(), "bird: No protocols match");
  EXPECT_TRUE(absl::IsFailedPrecondition(
      ParseReply("9001 syntax error, unexpected CF_SYM_UNDEFINED\n").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseReply("no code\n0000 \n").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseReply("1007-Table\n").status()));
}

TEST(Birdc, ContinuationLinesKeepTheirCode) {
  absl::StatusOr<Reply> r = ParseReply("1007-Table master4:\n 10.0.0.0/8 unicast\n0000 \n");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->lines.size(), 3u);
  EXPECT_EQ(r->lines[1].code, 1007);
  EXPECT_EQ(r->lines[1].text, "10.0.0.0/8 unicast");
  EXPECT_EQ(r->code, 0);
}

TEST(Birdc, ProtocolsGiveTheBgpSessionsOnly) {
  absl::StatusOr<Reply> r = ParseReply(kProtocols);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<Session> s = ParseProtocols(*r);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].protocol, "tor_r1");
  EXPECT_EQ(s[0].peer, "tor-r1");  // its description
  EXPECT_EQ(s[0].proto_state, "up");
  EXPECT_EQ(s[0].since, "2026-12-06 03:39:53");
  EXPECT_EQ(s[0].state, "Established");
  EXPECT_EQ(s[0].info, "");
  EXPECT_EQ(s[0].neighbor, "172.18.1.1");
  EXPECT_EQ(s[0].neighbor_as, 64513);
  EXPECT_EQ(s[0].local_as, 4200000001);
  EXPECT_EQ(s[0].imported, 3);
  EXPECT_EQ(s[0].exported, 1);
  EXPECT_EQ(s[1].protocol, "node2");
  EXPECT_EQ(s[1].proto_state, "start");
  EXPECT_EQ(s[1].state, "Active");
  EXPECT_EQ(s[1].info, "Socket: Connection refused");
  EXPECT_EQ(s[1].imported, 0);
}

TEST(Birdc, RoutesWithTheirNextHopsAndPaths) {
  absl::StatusOr<Reply> r = ParseReply(
      "1007-Table master4:\n"
      " 10.244.0.0/24        blackhole [POD_CIDR 2026-12-06 03:39:52] * (200)\n"
      "1008-\tType: static univ\n"
      "1007-10.244.1.0/24        unicast [tor_r1 03:39:54.815 from 172.18.1.1] * (100) "
      "[AS4200000002i]\n"
      " \tvia 172.18.1.3 on eth0\n"
      "1008-\tType: BGP univ\n"
      "1012-\tBGP.origin: IGP\n"
      " \tBGP.as_path: 64513 4200000002\n"
      " \tBGP.next_hop: 172.18.1.3\n"
      "1007-                     unicast [other 03:39:55.000] (100) [AS65000i]\n"
      " \tvia 172.18.1.9 on eth0\n"
      "0000 \n");
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<Route> routes = ParseRoutes(*r);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].prefix, "10.244.0.0/24");
  EXPECT_EQ(routes[0].type, "blackhole");
  EXPECT_EQ(routes[0].protocol, "POD_CIDR");
  EXPECT_TRUE(routes[0].best);
  EXPECT_EQ(routes[0].via, "");
  EXPECT_EQ(routes[1].prefix, "10.244.1.0/24");
  EXPECT_EQ(routes[1].protocol, "tor_r1");
  EXPECT_EQ(routes[1].via, "172.18.1.3");
  EXPECT_EQ(routes[1].dev, "eth0");
  EXPECT_EQ(routes[1].as_path, "64513 4200000002");
  // A second route of the same prefix: its line starts with blanks, and it is not the best.
  EXPECT_EQ(routes[2].prefix, "10.244.1.0/24");
  EXPECT_EQ(routes[2].protocol, "other");
  EXPECT_FALSE(routes[2].best);
}

TEST(Birdc, Since) {
  std::optional<CivilTime> t = ParseSince("2026-12-06 03:39:53");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->year, 2026);
  EXPECT_EQ(t->month, 12);
  EXPECT_EQ(t->day, 6);
  EXPECT_EQ(t->hour, 3);
  EXPECT_EQ(t->minute, 39);
  EXPECT_EQ(t->second, 53);
  EXPECT_TRUE(ParseSince("2026-12-06 03:39:53.549"));
  for (const char* bad : {"", "03:39:53.549", "2026-12-06", "2026-12-06 03:39", "x"}) {
    EXPECT_FALSE(ParseSince(bad)) << bad;
  }
}

}  // namespace
}  // namespace mkn::bgp
