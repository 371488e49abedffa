#include "vnet/kernel/conntrack.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

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
      "garbage\n"
      "ipv4     2 icmp     1 29 src=10.244.0.2 dst=203.0.113.2 type=8 code=0 id=4242 "
      "src=203.0.113.2 dst=172.18.0.2 type=0 code=0 id=4243 mark=0 zone=0 use=2\n");
  ASSERT_EQ(f.size(), 3u);
  // A masqueraded echo: the identifier stands for both ports, and the reply's is the rewrite.
  EXPECT_EQ(f[2].protocol, "icmp");
  EXPECT_EQ(f[2].orig_sport, 4242);
  EXPECT_EQ(f[2].orig_dport, 4242);
  EXPECT_EQ(f[2].reply_dst.ToString(), "172.18.0.2");
  EXPECT_EQ(f[2].reply_dport, 4243);
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

// /proc/net/stat/nf_conntrack as kernel 6.x prints it: one line per CPU, in hexadecimal.
TEST(ParseProcStatTable, SumsEachColumnOverCpus) {
  absl::StatusOr<std::map<std::string, uint64_t>> t = ParseProcStatTable(
      "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop "
      "early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"
      "00000003  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 "
      "0000000a 00001170 00000000  00000000 00000000 00000000 00000000\n"
      "00000003  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
      "00000006 00000000 00000000  00000000 00000000 00000000 00000002\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->at("early_drop"), 0x1170u);
  EXPECT_EQ(t->at("drop"), 16u);
  EXPECT_EQ(t->at("insert_failed"), 1u);
  EXPECT_EQ(t->at("search_restart"), 2u);
  EXPECT_EQ(t->size(), 17u);
  // No CPU line yet: every column 0.
  t = ParseProcStatTable("entries drop early_drop\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->at("drop"), 0u);

  EXPECT_FALSE(ParseProcStatTable("").ok());
  EXPECT_EQ(ParseProcStatTable("entries drop\n00000001\n").status().message(),
            "line 2: 1 values under 2 names");
  EXPECT_EQ(ParseProcStatTable("entries drop\n00000001 zz\n").status().message(),
            "line 2: \"zz\" is not a hexadecimal count");
}

TEST(ParseSnmpSection, ReadsOneSectionByName) {
  const std::string snmp =
      "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams "
      "InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout "
      "ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits\n"
      "Ip: 1 64 120 0 0 100 0 3 20 30 0 0 0 12 2 1 0 0 0 130\n"
      "Icmp: InMsgs InErrors\n"
      "Icmp: 4 0\n"
      "Tcp: RtoAlgorithm MaxConn\n"
      "Tcp: 1 -1\n";
  absl::StatusOr<std::map<std::string, uint64_t>> ip = ParseSnmpSection(snmp, "Ip");
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(ip->at("ReasmReqds"), 12u);
  EXPECT_EQ(ip->at("ReasmOKs"), 2u);
  EXPECT_EQ(ip->at("ReasmFails"), 1u);
  EXPECT_EQ(ip->at("InDiscards"), 3u);
  EXPECT_FALSE(ip->contains("InMsgs"));
  // A value that is no count is left out, not an error.
  absl::StatusOr<std::map<std::string, uint64_t>> tcp = ParseSnmpSection(snmp, "Tcp");
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_FALSE(tcp->contains("MaxConn"));
  EXPECT_EQ(tcp->at("RtoAlgorithm"), 1u);

  EXPECT_FALSE(ParseSnmpSection(snmp, "Udp").ok());
  EXPECT_FALSE(ParseSnmpSection("Ip: A B\nIp: 1\n", "Ip").ok());
}

}  // namespace
}  // namespace mkn::vnet
