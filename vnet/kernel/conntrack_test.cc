#include "vnet/kernel/conntrack.h"

#include <gtest/gtest.h>

namespace mkn::vnet {
namespace {

// Lines as /proc/net/nf_conntrack prints them (nf_conntrack_acct off, then on).
TEST(ParseNfConntrack, ReadsBothTuplesStateAndTimeout) {
  std::vector<KernelFlow> f = ParseNfConntrack(
      "ipv4     2 tcp      6 117 TIME_WAIT src=10.244.0.2 dst=10.96.0.10 sport=53066 dport=80 "
      "src=10.244.1.3 dst=10.244.0.2 sport=8080 dport=53066 [ASSURED] mark=0 zone=0 use=2\n"
      "ipv4     2 udp      17 29 src=10.244.0.2 dst=10.96.0.53 sport=46974 dport=53 packets=1 "
      "bytes=32 "
      "src=10.244.1.4 dst=10.244.0.2 sport=5353 dport=46974 packets=1 bytes=32 mark=0 zone=0 "
      "use=2\n"
      "ipv6     10 udp      17 20 src=::1 dst=::1 sport=1 dport=2 src=::1 dst=::1 sport=2 dport=1 "
      "use=1\n"
      "garbage\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].protocol, "tcp");
  EXPECT_EQ(f[0].state, "TIME_WAIT");
  EXPECT_EQ(f[0].expires_s, 117);
  EXPECT_EQ(f[0].orig_src.ToString(), "10.244.0.2");
  EXPECT_EQ(f[0].orig_dst.ToString(), "10.96.0.10");
  EXPECT_EQ(f[0].orig_sport, 53066);
  EXPECT_EQ(f[0].orig_dport, 80);
  EXPECT_EQ(f[0].reply_src.ToString(), "10.244.1.3");
  EXPECT_EQ(f[0].reply_dst.ToString(), "10.244.0.2");
  EXPECT_EQ(f[0].reply_sport, 8080);
  EXPECT_EQ(f[0].reply_dport, 53066);
  EXPECT_EQ(f[1].protocol, "udp");
  EXPECT_EQ(f[1].state, "");
  EXPECT_EQ(f[1].reply_src.ToString(), "10.244.1.4");
  EXPECT_EQ(f[1].reply_sport, 5353);
  EXPECT_EQ(f[1].packets, 2u);
  EXPECT_EQ(f[1].bytes, 64u);
}

}  // namespace
}  // namespace mkn::vnet
