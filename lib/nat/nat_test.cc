// The NAT as katran-style fixtures: {description, input frame, expected frame, verdict}, run in
// order through one Nat (the steps build on each other's flows). Every expected frame is built from
// scratch by PacketBuilder (full checksums), and every output frame is also checked by the
// independent checksum in lib/packet/testing.h, so the incremental updates are checked twice.
#include "lib/nat/nat.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "lib/nat/testing.h"
#include "lib/packet/checksum.h"
#include "lib/packet/packet.h"
#include "lib/packet/packet_builder.h"
#include "lib/packet/testing.h"

namespace mkn::nat {
namespace {

using packet::kTcpAck;
using packet::kTcpFin;
using packet::kTcpPsh;
using packet::kTcpRst;
using packet::kTcpSyn;
using packet::PacketBuilder;
using packet::testing::ChecksumErrors;
using packet::testing::Hex;
using testing::Ip;
using Action = Verdict::Action;

// Addresses of the fixture (pods and services: lib/nat/testing.h).
const net::Ipv4 kClient = Ip("10.244.1.2");    // a pod on node 0
const net::Ipv4 kClient2 = Ip("172.18.0.9");   // a host on the underlay
const net::Ipv4 kProxy = Ip("10.96.255.254");  // P, the node's proxy address
const net::Ipv4 kNode = Ip("172.18.0.2");      // node 0's underlay address
const net::Ipv4 kRouter = Ip("10.244.1.1");    // cbr0, sends ICMP errors
const net::Ipv4 kWebVip = Ip("10.96.0.10");
const net::Ipv4 kDnsVip = Ip("10.96.0.53");
const net::Ipv4 kEmptyVip = Ip("10.96.0.99");
const net::Ipv4 kWeb0 = Ip("10.244.1.10"), kWeb1 = Ip("10.244.1.11"), kWeb2 = Ip("10.244.2.12");
const net::Ipv4 kDns0 = Ip("10.244.1.20");

std::unique_ptr<Nat> MakeNat(config::Algorithm algorithm = config::Algorithm::kRoundRobin,
                             bool affinity = false, size_t max_flows = kDefaultMaxFlows) {
  NatOptions o;
  o.proxy_ip = kProxy;
  o.node_ips = {kNode};
  o.max_flows = max_flows;
  auto nat = Nat::Create(*ServiceTable::Build(testing::TestCluster(algorithm, affinity)), o);
  EXPECT_TRUE(nat.ok()) << nat.status();
  return std::move(*nat);
}

struct Case {
  std::string description;
  std::vector<uint8_t> input;
  Action action;
  std::vector<uint8_t> expected;  // kForward: the rewritten input; kReply: the reply; kDrop: unused
  DropReason reason = DropReason::kNone;
  int64_t now = 0;
};

void RunCases(Nat& nat, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    std::vector<uint8_t> frame = c.input;
    Verdict v = nat.Process(frame, c.now);
    ASSERT_EQ(static_cast<int>(v.action), static_cast<int>(c.action))
        << "reason " << ToString(v.reason);
    EXPECT_EQ(v.reason, c.reason) << ToString(v.reason);
    if (c.action == Action::kForward) {
      EXPECT_EQ(Hex(frame), Hex(c.expected));
      EXPECT_EQ(ChecksumErrors(frame), "");
    } else if (c.action == Action::kReply) {
      EXPECT_EQ(Hex(v.reply), Hex(c.expected));
      EXPECT_EQ(ChecksumErrors(v.reply), "");
    }
  }
}

PacketBuilder Tcp(net::Ipv4 s, uint16_t sp, net::Ipv4 d, uint16_t dp, uint8_t flags, uint32_t seq,
                  uint32_t ack = 0) {
  return PacketBuilder::Tcp(s, sp, d, dp).Flags(flags).Seq(seq).AckNum(ack);
}

TEST(Nat, FixtureTable) {
  auto nat = MakeNat();
  const std::vector<uint8_t> dns_query =
      PacketBuilder::Udp(kClient, 5353, kDnsVip, 53).Payload("query").Build();
  const std::vector<uint8_t> dns_query_natted =
      PacketBuilder::Udp(kProxy, 5353, kDns0, 5353).Payload("query").Build();
  const std::vector<uint8_t> dns_answer_natted =
      PacketBuilder::Udp(kDnsVip, 53, kClient, 5353).Payload("answer").Build();
  const std::vector<uint8_t> web1_data_natted =
      Tcp(kProxy, 40000, kWeb1, 8080, kTcpAck | kTcpPsh, 9001, 7001)
          .Payload(std::string(1400, 'd'))
          .Build();
  const std::vector<uint8_t> web1_data =
      Tcp(kClient, 40000, kWebVip, 80, kTcpAck | kTcpPsh, 9001, 7001)
          .Payload(std::string(1400, 'd'))
          .Build();
  const std::vector<uint8_t> empty_udp =
      PacketBuilder::Udp(kClient, 6000, kEmptyVip, 81).Payload("x").Build();

  std::vector<Case> cases = {
      // The whole life of a TCP connection through the ClusterIP.
      {"tcp syn to a clusterip: dnat to web-0 (round-robin's first), snat to the proxy, client port kept",
       Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1000).Build(), Action::kForward,
       Tcp(kProxy, 40000, kWeb0, 8080, kTcpSyn, 1000).Build()},
      {"retransmitted syn follows the flow",
       Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1000).Build(), Action::kForward,
       Tcp(kProxy, 40000, kWeb0, 8080, kTcpSyn, 1000).Build()},
      {"syn-ack from web-0 to the proxy goes back to the client from the vip",
       Tcp(kWeb0, 8080, kProxy, 40000, kTcpSyn | kTcpAck, 5000, 1001).Build(), Action::kForward,
       Tcp(kWebVip, 80, kClient, 40000, kTcpSyn | kTcpAck, 5000, 1001).Build()},
      {"ack completes the handshake",
       Tcp(kClient, 40000, kWebVip, 80, kTcpAck, 1001, 5001).Build(), Action::kForward,
       Tcp(kProxy, 40000, kWeb0, 8080, kTcpAck, 1001, 5001).Build()},
      {"request data",
       Tcp(kClient, 40000, kWebVip, 80, kTcpAck | kTcpPsh, 1001, 5001).Payload("GET / HTTP/1.1\r\n\r\n").Build(),
       Action::kForward,
       Tcp(kProxy, 40000, kWeb0, 8080, kTcpAck | kTcpPsh, 1001, 5001).Payload("GET / HTTP/1.1\r\n\r\n").Build()},
      {"response data, odd length",
       Tcp(kWeb0, 8080, kProxy, 40000, kTcpAck | kTcpPsh, 5001, 1019).Payload("HTTP/1.1 200 OK\r\n\r\n!").Build(),
       Action::kForward,
       Tcp(kWebVip, 80, kClient, 40000, kTcpAck | kTcpPsh, 5001, 1019).Payload("HTTP/1.1 200 OK\r\n\r\n!").Build()},
      {"client fin", Tcp(kClient, 40000, kWebVip, 80, kTcpFin | kTcpAck, 1019, 5022).Build(),
       Action::kForward, Tcp(kProxy, 40000, kWeb0, 8080, kTcpFin | kTcpAck, 1019, 5022).Build()},
      {"server fin", Tcp(kWeb0, 8080, kProxy, 40000, kTcpFin | kTcpAck, 5022, 1020).Build(),
       Action::kForward, Tcp(kWebVip, 80, kClient, 40000, kTcpFin | kTcpAck, 5022, 1020).Build()},
      {"last ack", Tcp(kClient, 40000, kWebVip, 80, kTcpAck, 1020, 5023).Build(), Action::kForward,
       Tcp(kProxy, 40000, kWeb0, 8080, kTcpAck, 1020, 5023).Build()},
      {"a new syn from the same port after time-wait is a new flow: web-1, round-robin's next",
       Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 9000).Build(), Action::kForward,
       Tcp(kProxy, 40000, kWeb1, 8080, kTcpSyn, 9000).Build()},
      {"data on the new flow (no handshake reply yet: conntrack is lenient, the endpoint decides)",
       web1_data, Action::kForward, web1_data_natted},
      // NodePort.
      {"syn to a nodeport on the node's address: web-2, its own named target port 8081",
       Tcp(kClient2, 50000, kNode, 30080, kTcpSyn, 1).Build(), Action::kForward,
       Tcp(kProxy, 50000, kWeb2, 8081, kTcpSyn, 1).Build()},
      {"web-2's syn-ack goes back from the node address and node port",
       Tcp(kWeb2, 8081, kProxy, 50000, kTcpSyn | kTcpAck, 77, 2).Build(), Action::kForward,
       Tcp(kNode, 30080, kClient2, 50000, kTcpSyn | kTcpAck, 77, 2).Build()},
      {"node port on an address that is no node's is no service",
       Tcp(kClient2, 50001, Ip("172.18.0.3"), 30080, kTcpSyn, 1).Build(), Action::kDrop, {},
       DropReason::kNoService},
      // UDP.
      {"udp to a clusterip: dnat to dns-0:5353", dns_query, Action::kForward, dns_query_natted},
      {"udp answer back to the client",
       PacketBuilder::Udp(kDns0, 5353, kProxy, 5353).Payload("answer").Build(), Action::kForward,
       dns_answer_natted},
      {"udp without checksum keeps checksum 0",
       PacketBuilder::Udp(kClient, 5354, kDnsVip, 53).Payload("q2").NoUdpChecksum().Build(),
       Action::kForward,
       PacketBuilder::Udp(kProxy, 5354, kDns0, 5353).Payload("q2").NoUdpChecksum().Build()},
      {"a client port below the snat range gets the range's first free port",
       PacketBuilder::Udp(Ip("10.244.1.3"), 53, kDnsVip, 53).Payload("q3").Build(), Action::kForward,
       PacketBuilder::Udp(kProxy, 1024, kDns0, 5353).Payload("q3").Build()},
      {"a second client with the same port towards the same endpoint gets another snat port",
       PacketBuilder::Udp(Ip("10.244.1.4"), 5353, kDnsVip, 53).Payload("q4").Build(), Action::kForward,
       PacketBuilder::Udp(kProxy, 1025, kDns0, 5353).Payload("q4").Build()},
      // ICMP errors about NATed packets.
      {"port unreachable from dns-0 about a forwarded datagram: from the vip to the client, "
       "quoting the client's own datagram",
       PacketBuilder::IcmpError(kDns0, kProxy, 3, 3, dns_query_natted).Build(), Action::kForward,
       PacketBuilder::IcmpError(kDnsVip, kClient, 3, 3, dns_query).Build()},
      {"frag-needed from a router about a tcp segment to web-1, quote cut to 8 bytes of tcp",
       PacketBuilder::IcmpError(kRouter, kProxy, 3, 4, web1_data_natted).RestOfHeader(1400).QuoteLength(28).Build(),
       Action::kForward,
       PacketBuilder::IcmpError(kWebVip, kClient, 3, 4, web1_data).RestOfHeader(1400).QuoteLength(28).Build()},
      {"frag-needed quoting the whole tcp header: the quoted tcp checksum is translated too",
       PacketBuilder::IcmpError(kRouter, kProxy, 3, 4, web1_data_natted).RestOfHeader(1400).QuoteLength(60).Build(),
       Action::kForward,
       PacketBuilder::IcmpError(kWebVip, kClient, 3, 4, web1_data).RestOfHeader(1400).QuoteLength(60).Build()},
      {"time exceeded about an answer on its way to the client: back to dns-0 from the proxy",
       PacketBuilder::IcmpError(kRouter, kDnsVip, 11, 0, dns_answer_natted).Build(), Action::kForward,
       PacketBuilder::IcmpError(kProxy, kDns0, 11, 0,
                                PacketBuilder::Udp(kDns0, 5353, kProxy, 5353).Payload("answer").Build())
           .Build()},
      {"an icmp error about no known flow",
       PacketBuilder::IcmpError(kRouter, kProxy, 3, 3,
                                PacketBuilder::Udp(kProxy, 9, kDns0, 5353).Build()).Build(),
       Action::kDrop, {}, DropReason::kIcmpNoFlow},
      // No endpoints: answered like kube-proxy.
      {"tcp syn to a service without endpoints: reset from the vip",
       Tcp(kClient, 41000, kEmptyVip, 80, kTcpSyn, 3000).Build(), Action::kReply,
       Tcp(kEmptyVip, 80, kClient, 41000, kTcpRst | kTcpAck, 0, 3001).Window(0).Build(),
       DropReason::kNoEndpoints},
      {"tcp ack with data to a service without endpoints: reset with seq = its ack",
       Tcp(kClient, 41001, kEmptyVip, 80, kTcpAck | kTcpPsh, 3000, 777).Payload("hello").Build(),
       Action::kReply, Tcp(kEmptyVip, 80, kClient, 41001, kTcpRst, 777).Window(0).Build(),
       DropReason::kNoEndpoints},
      {"a reset is never answered with a reset",
       Tcp(kClient, 41002, kEmptyVip, 80, kTcpRst, 3000).Build(), Action::kDrop, {},
       DropReason::kNoEndpoints},
      {"udp to a service without endpoints: icmp port unreachable from the vip", empty_udp,
       Action::kReply, PacketBuilder::IcmpError(kEmptyVip, kClient, 3, 3, empty_udp).Build(),
       DropReason::kNoEndpoints},
      // Answered or dropped, and counted.
      {"tcp ack with no flow (flushed or expired): a reset from the vip, seq = its ack",
       Tcp(kClient, 42000, kWebVip, 80, kTcpAck, 1, 1).Build(), Action::kReply,
       PacketBuilder::Tcp(kWebVip, 80, kClient, 42000).Flags(kTcpRst).Seq(1).Window(0).Build(),
       DropReason::kInvalidTcp},
      {"a reply to the proxy with no flow",
       Tcp(kWeb0, 8080, kProxy, 42001, kTcpSyn | kTcpAck, 1, 1).Build(), Action::kDrop, {},
       DropReason::kNoFlow},
      {"tcp to no service", Tcp(kClient, 42002, Ip("10.96.0.11"), 80, kTcpSyn, 1).Build(),
       Action::kDrop, {}, DropReason::kNoService},
      {"udp to the web vip (tcp only)", PacketBuilder::Udp(kClient, 1, kWebVip, 80).Build(),
       Action::kDrop, {}, DropReason::kNoService},
      {"ping to a clusterip (kube-proxy does not answer either)",
       PacketBuilder::IcmpEcho(kClient, kWebVip, 8, 1, 1).Build(), Action::kDrop, {},
       DropReason::kUnsupportedProtocol},
      {"a first fragment is held for reassembly",
       PacketBuilder::Udp(kClient, 5353, kDnsVip, 53).Fragment(true, 0).Build(), Action::kHeld, {}},
      {"bad ip header checksum", Tcp(kClient, 40000, kWebVip, 80, kTcpAck, 1).BadIpChecksum().Build(),
       Action::kDrop, {}, DropReason::kBadChecksum},
      {"bad icmp checksum on an error",
       [&] {
         auto f = PacketBuilder::IcmpError(kDns0, kProxy, 3, 3, dns_query_natted).Build();
         f[22] ^= 0xff;
         return f;
       }(),
       Action::kDrop, {}, DropReason::kBadChecksum},
      {"empty frame", {}, Action::kDrop, {}, DropReason::kTruncated},
      {"ipv6", {0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Action::kDrop, {},
       DropReason::kMalformed},
      {"frame shorter than its total length",
       [&] {
         auto f = Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1).Build();
         f.pop_back();
         return f;
       }(),
       Action::kDrop, {}, DropReason::kTruncated},
      {"tcp header cut (consistent ip header)",
       PacketBuilder::IcmpEcho(kClient, kWebVip, 8, 0, 0).Build() /* placeholder, replaced below */,
       Action::kDrop, {}, DropReason::kTruncated},
      {"udp length larger than the ip payload",
       [&] {
         auto f = PacketBuilder::Udp(kClient, 5353, kDnsVip, 53).Payload("abc").Build();
         packet::Store16(&f[24], 99);
         return f;
       }(),
       Action::kDrop, {}, DropReason::kTruncated},
      {"udp length smaller than its header",
       [&] {
         auto f = PacketBuilder::Udp(kClient, 5353, kDnsVip, 53).Payload("abc").Build();
         packet::Store16(&f[24], 4);
         return f;
       }(),
       Action::kDrop, {}, DropReason::kMalformed},
      {"icmp error quoting less than 8 bytes of the packet",
       PacketBuilder::IcmpError(kDns0, kProxy, 3, 3, dns_query_natted).QuoteLength(27).Build(),
       Action::kDrop, {}, DropReason::kTruncated},
      {"icmp error about a known flow whose quoted total length stops before the ports",
       [&] {
         auto q = dns_query_natted;
         packet::Store16(&q[2], 24);  // header + 4: the bytes after it are not the packet's
         packet::Store16(&q[10], 0);
         packet::Store16(&q[10], packet::InternetChecksum(std::span<const uint8_t>(q).first(20)));
         return PacketBuilder::IcmpError(kDns0, kProxy, 3, 3, q).Build();
       }(),
       Action::kDrop, {}, DropReason::kMalformed},
  };
  // A TCP segment whose IP header says 30 bytes: the IP layer is fine, TCP is cut.
  for (Case& c : cases) {
    if (c.description != "tcp header cut (consistent ip header)") continue;
    std::vector<uint8_t> f = Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1).Build();
    f.resize(30);
    packet::Store16(&f[2], 30);
    packet::Store16(&f[10], 0);
    packet::Store16(&f[10], packet::InternetChecksum(std::span<const uint8_t>(f).first(20)));
    c.input = f;
  }
  RunCases(*nat, cases);

  const NatCounters& n = nat->counters();
  EXPECT_EQ(n.packets, cases.size());
  EXPECT_EQ(n.held, 1u);
  EXPECT_EQ(n.packets, n.forwarded + n.replied + n.dropped + n.held);
  uint64_t drops = 0;
  for (uint64_t d : n.drops) drops += d;
  EXPECT_EQ(drops, n.dropped);
  EXPECT_EQ(n.replied, 4u);
  const ServicePort* web = nat->table().Lookup(kWebVip, 80, config::Protocol::kTcp);
  EXPECT_EQ(nat->service_counters(web->id).new_flows, 3u);
  EXPECT_EQ(nat->service_counters(web->id).icmp_errors, 2u);
  EXPECT_EQ(nat->service_counters(web->id).drops[static_cast<int>(DropReason::kInvalidTcp)], 1u);
  const ServicePort* empty = nat->table().Lookup(kEmptyVip, 80, config::Protocol::kTcp);
  EXPECT_EQ(nat->service_counters(empty->id).drops[static_cast<int>(DropReason::kNoEndpoints)], 3u);
  EXPECT_EQ(nat->conntrack().counters().inserts, 7u);
}

TEST(Nat, TcpLifecycleStatesInConntrack) {
  auto nat = MakeNat();
  auto state = [&] {
    std::optional<FlowState> s;
    nat->conntrack().ForEach([&](const Flow& f) { s = f.state; });
    return s;
  };
  struct Step {
    std::vector<uint8_t> frame;
    FlowState state;
  };
  std::vector<Step> steps = {
      {Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1).Build(), FlowState::kSynSent},
      {Tcp(kWeb0, 8080, kProxy, 40000, kTcpSyn | kTcpAck, 1, 2).Build(), FlowState::kSynRecv},
      {Tcp(kClient, 40000, kWebVip, 80, kTcpAck, 2, 2).Build(), FlowState::kEstablished},
      {Tcp(kWeb0, 8080, kProxy, 40000, kTcpFin | kTcpAck, 2, 2).Build(), FlowState::kFinWait},
      {Tcp(kClient, 40000, kWebVip, 80, kTcpFin | kTcpAck, 2, 3).Build(), FlowState::kLastAck},
      {Tcp(kWeb0, 8080, kProxy, 40000, kTcpAck, 3, 3).Build(), FlowState::kTimeWait},
  };
  int64_t now = 0;
  for (auto& s : steps) {
    ASSERT_EQ(nat->Process(s.frame, now += 5).action, Action::kForward);
    EXPECT_EQ(state(), s.state);
  }
  // Least-conn bookkeeping followed the states: nothing active, one inactive (TIME_WAIT).
  auto load = nat->balancer().LoadOf(0, kWeb0, 8080);
  EXPECT_EQ(load.active, 0u);
  EXPECT_EQ(load.inactive, 1u);
  // TIME_WAIT expires; a late segment of the old connection is then invalid.
  nat->Expire(now + kTcpTimeWaitTimeoutMs);
  EXPECT_EQ(nat->conntrack().size(), 0u);
  EXPECT_EQ(nat->balancer().LoadOf(0, kWeb0, 8080).inactive, 0u);
  auto late = Tcp(kClient, 40000, kWebVip, 80, kTcpAck, 3, 4).Build();
  EXPECT_EQ(nat->Process(late, now + kTcpTimeWaitTimeoutMs + 1).reason, DropReason::kInvalidTcp);
  // RST closes at once.
  auto syn = Tcp(kClient, 40001, kWebVip, 80, kTcpSyn, 1).Build();
  auto rst = Tcp(kWeb1, 8080, kProxy, 40001, kTcpRst | kTcpAck, 0, 2).Build();
  ASSERT_EQ(nat->Process(syn, now).action, Action::kForward);
  ASSERT_EQ(nat->Process(rst, now).action, Action::kForward);
  EXPECT_EQ(state(), FlowState::kClose);
}

TEST(Nat, ClientIpAffinity) {
  auto nat = MakeNat(config::Algorithm::kRoundRobin, /*affinity=*/true);  // timeout 10 s
  auto endpoint_of = [&](net::Ipv4 client, uint16_t port, int64_t now) {
    auto f = Tcp(client, port, kWebVip, 80, kTcpSyn, 1).Build();
    Verdict v = nat->Process(f, now);
    EXPECT_EQ(v.action, Action::kForward);
    return packet::Ipv4View::Parse(f)->dst();
  };
  EXPECT_EQ(endpoint_of(kClient, 1000, 0), kWeb0);
  EXPECT_EQ(endpoint_of(Ip("10.244.1.3"), 1000, 0), kWeb1);
  // Connections from the same client, each within 10 s of the last: same endpoint.
  for (int i = 1; i <= 20; ++i) EXPECT_EQ(endpoint_of(kClient, 1000 + i, i * 9'000), kWeb0);
  // Idle for more than 10 s: chosen afresh (round-robin's next is web-2).
  EXPECT_EQ(endpoint_of(kClient, 2000, 20 * 9'000 + 10'001), kWeb2);
}

TEST(Nat, ReplacedEndpointsFlushFlowsToTheDeadPod) {
  auto nat = MakeNat();
  auto syn = Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1).Build();
  ASSERT_EQ(nat->Process(syn, 0).action, Action::kForward);  // -> web-0
  auto syn2 = Tcp(kClient, 40001, kWebVip, 80, kTcpSyn, 1).Build();
  ASSERT_EQ(nat->Process(syn2, 0).action, Action::kForward);  // -> web-1
  EXPECT_EQ(nat->conntrack().size(), 2u);
  // web-0 is killed and recreated as a new pod with a new address.
  auto spec = testing::TestCluster();
  config::PodSpec reborn = spec.pods[0];
  reborn.ip = Ip("10.244.1.50");
  ASSERT_TRUE(nat->ReplaceEndpoints("web", {reborn, spec.pods[1], spec.pods[2]}).ok());
  EXPECT_EQ(nat->conntrack().size(), 1u);
  EXPECT_EQ(nat->conntrack().counters().flushed, 1u);
  // The old pod's late reply has no flow; the client's retransmitted SYN starts over.
  auto late = Tcp(kWeb0, 8080, kProxy, 40000, kTcpSyn | kTcpAck, 1, 2).Build();
  EXPECT_EQ(nat->Process(late, 1).reason, DropReason::kNoFlow);
  syn = Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1).Build();
  ASSERT_EQ(nat->Process(syn, 1).action, Action::kForward);
  EXPECT_EQ(packet::Ipv4View::Parse(syn)->dst(), kWeb2);  // round-robin's third
  EXPECT_EQ(nat->ReplaceEndpoints("nope", {}).code(), absl::StatusCode::kNotFound);
  // All endpoints gone: resets.
  ASSERT_TRUE(nat->ReplaceEndpoints("web", {}).ok());
  EXPECT_EQ(nat->conntrack().size(), 0u);
  auto syn3 = Tcp(kClient, 40002, kWebVip, 80, kTcpSyn, 1).Build();
  EXPECT_EQ(nat->Process(syn3, 2).action, Action::kReply);
}

TEST(Nat, LeastConnThroughConntrack) {
  auto nat = MakeNat(config::Algorithm::kLeastConn);
  // 30 connections established and held: 10 on each endpoint.
  std::map<uint32_t, int> per_endpoint;
  for (uint16_t p = 1; p <= 30; ++p) {
    auto syn = Tcp(kClient, 40000 + p, kWebVip, 80, kTcpSyn, 1).Build();
    ASSERT_EQ(nat->Process(syn, 0).action, Action::kForward);
    auto ip = *packet::Ipv4View::Parse(syn);
    auto tcp = *packet::TcpView::Parse(ip.payload());
    auto synack =
        Tcp(ip.dst(), tcp.dst_port(), kProxy, tcp.src_port(), kTcpSyn | kTcpAck, 1, 2).Build();
    ASSERT_EQ(nat->Process(synack, 0).action, Action::kForward);
    auto ack = Tcp(kClient, 40000 + p, kWebVip, 80, kTcpAck, 2, 2).Build();
    ASSERT_EQ(nat->Process(ack, 0).action, Action::kForward);
    ++per_endpoint[ip.dst().value];
  }
  EXPECT_EQ(per_endpoint[kWeb0.value], 10);
  EXPECT_EQ(per_endpoint[kWeb1.value], 10);
  EXPECT_EQ(per_endpoint[kWeb2.value], 10);
}

TEST(Nat, FullTableEvictsAndCounts) {
  auto nat = MakeNat(config::Algorithm::kRoundRobin, false, /*max_flows=*/8);
  for (uint16_t p = 0; p < 100; ++p) {
    auto f = PacketBuilder::Udp(kClient, 10000 + p, kDnsVip, 53).Build();
    ASSERT_EQ(nat->Process(f, p).action, Action::kForward);
  }
  EXPECT_EQ(nat->conntrack().size(), 8u);
  EXPECT_EQ(nat->conntrack().counters().evictions, 92u);
}

TEST(Nat, CreateValidatesOptions) {
  NatOptions o;
  EXPECT_EQ(Nat::Create(ServiceTable(), o).status().code(), absl::StatusCode::kInvalidArgument);
  o.proxy_ip = kProxy;
  o.node_ips = {kProxy};
  EXPECT_EQ(Nat::Create(ServiceTable(), o).status().code(), absl::StatusCode::kInvalidArgument);
  o.node_ips = {};
  o.port_min = 2000;
  o.port_max = 1000;
  EXPECT_EQ(Nat::Create(ServiceTable(), o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Nat, PortsExhaustedIsCounted) {
  NatOptions o;
  o.proxy_ip = kProxy;
  o.port_min = 5000;
  o.port_max = 5001;
  auto nat = *Nat::Create(*ServiceTable::Build(testing::TestCluster()), o);
  for (uint16_t p = 0; p < 3; ++p) {
    auto f = PacketBuilder::Udp(kClient, 10000 + p, kDnsVip, 53).Build();
    Verdict v = nat->Process(f, 0);
    EXPECT_EQ(v.action, p < 2 ? Action::kForward : Action::kDrop);
    if (p == 2) {
      EXPECT_EQ(v.reason, DropReason::kPortsExhausted);
    }
  }
}

}  // namespace
}  // namespace mkn::nat

namespace mkn::nat {
namespace {

// What the TUN hands over for an offloaded segment: the L4 checksum field holds the folded
// pseudo-header sum, not complemented (CHECKSUM_PARTIAL).
void MakePartial(std::vector<uint8_t>& frame, size_t check_offset) {
  packet::Ipv4View ip = *packet::Ipv4View::Parse(frame);
  std::span<uint8_t> l4 = ip.payload();
  uint16_t pseudo = static_cast<uint16_t>(
      ~packet::FoldChecksum(packet::PseudoHeaderSum(ip.src(), ip.dst(), ip.protocol(), l4.size())));
  packet::Store16(&l4[check_offset], pseudo);
}

// What the kernel (or NIC) does later: sum the L4 bytes on top of the partial field.
void FinishChecksum(std::vector<uint8_t>& frame, size_t check_offset) {
  packet::Ipv4View ip = *packet::Ipv4View::Parse(frame);
  std::span<uint8_t> l4 = ip.payload();
  packet::Store16(&l4[check_offset], packet::FoldChecksum(packet::PartialChecksum(l4)));
}

TEST(Nat, PartialChecksumsAreUpdatedForTheAddressesOnly) {
  for (bool udp : {false, true}) {
    SCOPED_TRACE(udp ? "udp" : "tcp");
    auto nat = MakeNat();
    const size_t off = udp ? packet::UdpView::kChecksumOffset : packet::TcpView::kChecksumOffset;
    std::vector<uint8_t> frame =
        udp ? PacketBuilder::Udp(kClient, 5353, kDnsVip, 53).Payload(std::string(3000, 'q')).Build()
            : PacketBuilder::Tcp(kClient, 40000, kWebVip, 80)
                  .Flags(kTcpSyn)
                  .Seq(1)
                  .Payload(std::string(3000, 'p'))
                  .Build();
    MakePartial(frame, off);
    Verdict v = nat->Process(frame, 0, /*l4_partial=*/true);
    ASSERT_EQ(v.action, Action::kForward) << ToString(v.reason);
    packet::Ipv4View ip = *packet::Ipv4View::Parse(frame);
    EXPECT_EQ(ip.src(), kProxy);
    // Still partial: exactly the pseudo-header sum of the new addresses.
    std::vector<uint8_t> expected = frame;
    MakePartial(expected, off);
    EXPECT_EQ(Hex(frame), Hex(expected));
    // Finished as the kernel would, it verifies with an independent checksum.
    FinishChecksum(frame, off);
    EXPECT_EQ(ChecksumErrors(frame), "");
  }
}

// Process() on a frame of its own (it rewrites in place).
Verdict Send(Nat& nat, std::vector<uint8_t> frame, int64_t now) { return nat.Process(frame, now); }

// A UDP datagram too big for the pod's MTU arrives as fragments: the NAT holds them, translates the
// whole datagram once it is complete, and hands it back to be sent (the kernel fragments it again).
// The reply comes back fragmented too and is translated the same way.
TEST(Nat, FragmentedUdpIsReassembledTranslatedAndCounted) {
  auto nat = MakeNat();
  std::string body(8000, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  const auto query = PacketBuilder::Udp(kClient, 5353, kDnsVip, 53)
                         .Id(4242)
                         .DontFragment(false)
                         .Payload(body)
                         .Build();
  const size_t payload = query.size() - 20;
  std::vector<std::vector<uint8_t>> frags;
  for (size_t off = 0; off < payload; off += 1424) {
    const size_t len = std::min<size_t>(1424, payload - off);
    frags.push_back(packet::testing::Fragment(query, off, len, off + len < payload));
  }
  ASSERT_EQ(frags.size(), 6u);
  // Out of order: the last first, as a reordering network may deliver them.
  std::swap(frags.front(), frags.back());
  Verdict v;
  for (size_t i = 0; i < frags.size(); ++i) {
    v = nat->Process(frags[i], 10);
    if (i + 1 < frags.size()) {
      ASSERT_EQ(v.action, Action::kHeld) << i;
    }
  }
  ASSERT_EQ(v.action, Action::kForwardFrame) << ToString(v.reason);
  EXPECT_EQ(ChecksumErrors(v.reply), "");
  auto out = packet::Ipv4View::Parse(v.reply);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->is_fragment());
  EXPECT_EQ(out->src(), kProxy);
  EXPECT_EQ(out->dst(), kDns0);
  EXPECT_EQ(out->total_length(), query.size());
  EXPECT_EQ(std::string(v.reply.end() - 8000, v.reply.end()), body);

  // The answer, fragmented by the endpoint, back to the client as from the ClusterIP.
  const uint16_t snat_port = packet::Load16(&out->payload()[0]);
  const auto answer = PacketBuilder::Udp(kDns0, 5353, kProxy, snat_port)
                          .Id(77)
                          .DontFragment(false)
                          .Payload(body)
                          .Build();
  Verdict back;
  for (size_t off = 0; off < payload; off += 1424) {
    const size_t len = std::min<size_t>(1424, payload - off);
    back = Send(*nat, packet::testing::Fragment(answer, off, len, off + len < payload), 11);
  }
  ASSERT_EQ(back.action, Action::kForwardFrame) << ToString(back.reason);
  auto in = packet::Ipv4View::Parse(back.reply);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->src(), kDnsVip);
  EXPECT_EQ(in->dst(), kClient);
  EXPECT_EQ(ChecksumErrors(back.reply), "");

  const NatCounters& c = nat->counters();
  EXPECT_EQ(c.datagrams, 2u);
  EXPECT_EQ(c.reassembled, 12u);
  EXPECT_EQ(c.held, 0u);
  EXPECT_EQ(c.forwarded, 2u);
  EXPECT_EQ(c.packets, c.forwarded + c.replied + c.dropped + c.held + c.reassembled);
  EXPECT_EQ(nat->reassembler().datagrams(), 0u);
}

TEST(Nat, AnIncompleteDatagramTimesOutAndIsCountedAsDropped) {
  auto nat = MakeNat();
  const auto query = PacketBuilder::Udp(kClient, 5353, kDnsVip, 53)
                         .DontFragment(false)
                         .Payload(std::string(3000, 'q'))
                         .Build();
  ASSERT_EQ(Send(*nat, packet::testing::Fragment(query, 0, 1480, true), 0).action, Action::kHeld);
  nat->Expire(29'999);
  EXPECT_EQ(nat->counters().held, 1u);
  nat->Expire(30'000);
  const NatCounters& c = nat->counters();
  EXPECT_EQ(c.held, 0u);
  EXPECT_EQ(c.dropped, 1u);
  EXPECT_EQ(c.drops[static_cast<int>(DropReason::kFragTimeout)], 1u);
  EXPECT_EQ(c.fragments_dropped, 1u);
  EXPECT_EQ(c.packets, c.forwarded + c.replied + c.dropped + c.held + c.reassembled);
}

// `get proxy` shows fragments dropped per node: every fragment that went, held ones and refused
// ones alike, and no whole packet (a malformed one shares its reason with a malformed fragment).
TEST(Nat, FragmentsDroppedCountsFragmentsOnly) {
  auto nat = MakeNat();
  const auto query = PacketBuilder::Udp(kClient, 5353, kDnsVip, 53)
                         .DontFragment(false)
                         .Payload(std::string(3000, 'q'))
                         .Build();
  ASSERT_EQ(Send(*nat, packet::testing::Fragment(query, 0, 1480, true), 0).action, Action::kHeld);
  // Overlaps the held one without repeating it: the whole datagram goes, both fragments.
  EXPECT_EQ(Send(*nat, packet::testing::Fragment(query, 8, 1480, true), 1).action, Action::kDrop);
  // Not the last fragment, and its data not a multiple of 8 bytes: refused on its own.
  EXPECT_EQ(Send(*nat, packet::testing::Fragment(query, 1480, 100, true), 2).action, Action::kDrop);
  // A whole packet that is malformed: dropped, but no fragment.
  auto bad = Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1).Build();
  bad[0] = 0x44;  // IHL 4: shorter than an IPv4 header
  EXPECT_EQ(Send(*nat, bad, 3).action, Action::kDrop);
  const NatCounters& c = nat->counters();
  EXPECT_EQ(c.fragments_dropped, 3u);
  EXPECT_EQ(c.dropped, 4u);
  EXPECT_EQ(c.drops[static_cast<int>(DropReason::kFragOverlap)], 2u);
  EXPECT_EQ(c.drops[static_cast<int>(DropReason::kMalformed)], 2u);
  EXPECT_EQ(c.held, 0u);
}

// The hardening issue's flood, through the NAT: a connection is established, then one client sends
// SYNs from every port; the connection's next segment is still translated, not reset; once the
// table holds only assured flows, new flows are dropped and counted instead of evicting them.
TEST(Nat, ASynFloodNeverResetsAnEstablishedConnection) {
  auto nat = MakeNat(config::Algorithm::kRoundRobin, false, /*max_flows=*/64);
  auto syn = Tcp(kClient, 40000, kWebVip, 80, kTcpSyn, 1).Build();
  ASSERT_EQ(nat->Process(syn, 0).action, Action::kForward);
  auto ip = *packet::Ipv4View::Parse(syn);
  const net::Ipv4 web = ip.dst();
  const uint16_t snat = packet::Load16(&ip.payload()[0]);  // rewritten in place: P:snat -> E:8080
  auto synack = Tcp(web, 8080, kProxy, snat, kTcpSyn | kTcpAck, 500, 2).Build();
  ASSERT_EQ(nat->Process(synack, 1).action, Action::kForward);
  auto ack = Tcp(kClient, 40000, kWebVip, 80, kTcpAck, 2, 501).Build();
  ASSERT_EQ(nat->Process(ack, 2).action, Action::kForward);

  const net::Ipv4 flooder = Ip("10.244.1.66");
  for (uint16_t p = 1024; p < 1024 + 5000; ++p) {
    auto f = Tcp(flooder, p, kWebVip, 80, kTcpSyn, p).Build();
    ASSERT_EQ(nat->Process(f, 3).action, Action::kForward) << p;
  }
  EXPECT_EQ(nat->conntrack().size(), 64u);
  auto data = Tcp(kClient, 40000, kWebVip, 80, kTcpAck | kTcpPsh, 2, 501).Payload("hi").Build();
  Verdict v = nat->Process(data, 4);
  EXPECT_EQ(v.action, Action::kForward) << ToString(v.reason);
  EXPECT_EQ(nat->conntrack().counters().refused, 0u);

  // A table that holds only established connections refuses the next new one.
  auto full = MakeNat(config::Algorithm::kRoundRobin, false, /*max_flows=*/1);
  auto s1 = Tcp(kClient, 41000, kWebVip, 80, kTcpSyn, 1).Build();
  ASSERT_EQ(full->Process(s1, 0).action, Action::kForward);
  auto ip1 = *packet::Ipv4View::Parse(s1);
  const uint16_t snat1 = packet::Load16(&ip1.payload()[0]);
  ASSERT_EQ(
      Send(*full, Tcp(ip1.dst(), 8080, kProxy, snat1, kTcpSyn | kTcpAck, 9, 2).Build(), 1).action,
      Action::kForward);
  ASSERT_EQ(Send(*full, Tcp(kClient, 41000, kWebVip, 80, kTcpAck, 2, 10).Build(), 2).action,
            Action::kForward);
  Verdict refused = Send(*full, Tcp(flooder, 1, kWebVip, 80, kTcpSyn, 1).Build(), 3);
  EXPECT_EQ(refused.action, Action::kDrop);
  EXPECT_EQ(refused.reason, DropReason::kTableFull);
  const ServicePort* port = full->table().Lookup(kWebVip, 80, config::Protocol::kTcp);
  EXPECT_EQ(full->service_counters(port->id).drops[static_cast<int>(DropReason::kTableFull)], 1u);
}

}  // namespace
}  // namespace mkn::nat
