// The NAT with NetworkPolicy (lib/nat/nat.h's banner, lib/netpol/flow_policy): each new flow is
// judged after translation, against the backend the balancer chose (named ports are that backend's
// own), a denied SYN or datagram is dropped and counted under the policy drop counter its verdict
// names, an allowed one is translated as without policy, and a policy change leaves established
// flows passing. The fixture's cluster (lib/nat/testing.h) with two nodes, two client pods and a
// policy or two.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "lib/nat/nat.h"
#include "lib/nat/testing.h"
#include "lib/netpol/flow_policy.h"
#include "lib/packet/packet.h"
#include "lib/packet/packet_builder.h"
#include "lib/packet/testing.h"

namespace mkn::nat {
namespace {

using packet::kTcpAck;
using packet::kTcpSyn;
using packet::PacketBuilder;
using packet::testing::ChecksumErrors;
using packet::testing::Hex;
using testing::Ip;
using Action = Verdict::Action;

const net::Ipv4 kClient = Ip("10.244.1.2");    // app=client: web allows it
const net::Ipv4 kOther = Ip("10.244.1.3");     // app=other: web does not, and its egress is denied
const net::Ipv4 kStranger = Ip("10.244.1.4");  // app=stranger: web does not admit it
const net::Ipv4 kProxy = Ip("10.244.1.254");
const net::Ipv4 kNode = Ip("172.18.0.2");
const net::Ipv4 kWebVip = Ip("10.96.0.10"), kDnsVip = Ip("10.96.0.53");
const net::Ipv4 kWeb0 = Ip("10.244.1.10"), kWeb1 = Ip("10.244.1.11"), kWeb2 = Ip("10.244.2.12");
const net::Ipv4 kDns0 = Ip("10.244.1.20");

config::LabelSelector App(const char* app) {
  config::LabelSelector s;
  s.match_labels = {{"app", app}};
  return s;
}

// web: ingress from app=client on its named port "http" only (8080 on web-0/1, 8081 on web-2);
// other: egress denied entirely.
config::ClusterSpec PolicyCluster() {
  config::ClusterSpec spec = testing::TestCluster();
  for (int i = 0; i < 2; ++i) {
    config::NodeSpec n;
    n.name = i == 0 ? "node1" : "node2";
    n.index = i;
    n.gateway = Ip(i == 0 ? "10.244.1.1" : "10.244.2.1");
    n.proxy_ip = Ip(i == 0 ? "10.244.1.254" : "10.244.2.254");
    n.underlay_ip = Ip(i == 0 ? "172.18.0.2" : "172.18.0.3");
    spec.nodes.push_back(n);
  }
  for (config::PodSpec& p : spec.pods) p.labels = {{"app", p.name.substr(0, 3)}};
  config::PodSpec client = testing::Pod("client", "10.244.1.2", "x", 1, config::Protocol::kTcp);
  client.labels = {{"app", "client"}};
  config::PodSpec other = testing::Pod("other", "10.244.1.3", "x", 1, config::Protocol::kTcp);
  other.labels = {{"app", "other"}};
  config::PodSpec stranger = testing::Pod("stranger", "10.244.1.4", "x", 1, config::Protocol::kTcp);
  stranger.labels = {{"app", "stranger"}};
  spec.pods.push_back(client);
  spec.pods.push_back(other);
  spec.pods.push_back(stranger);
  config::NetworkPolicySpec web;
  web.name = "web-from-client";
  web.pod_selector = App("web");
  config::PolicyPeerSpec peer;
  peer.has_pod_selector = true;
  peer.pod_selector = App("client");
  web.ingress_rules.push_back({{peer}, {{config::PolicyProtocol::kTcp, 0, "http", 0}}});
  config::NetworkPolicySpec deny;
  deny.name = "other-no-egress";
  deny.pod_selector = App("other");
  deny.ingress = false;
  deny.egress = true;
  spec.network_policies = {web, deny};
  return spec;
}

std::unique_ptr<Nat> MakeNat(const config::ClusterSpec& spec) {
  NatOptions o;
  o.proxy_ip = kProxy;
  o.node_ips = {kNode};
  auto nat = Nat::Create(*ServiceTable::Build(spec), o);
  EXPECT_TRUE(nat.ok()) << nat.status();
  (*nat)->SetPolicy(std::make_shared<const netpol::FlowPolicy>(netpol::FlowPolicy::Build(spec)));
  return std::move(*nat);
}

std::vector<uint8_t> Syn(net::Ipv4 src, uint16_t sport, net::Ipv4 dst, uint16_t dport) {
  return PacketBuilder::Tcp(src, sport, dst, dport).Flags(kTcpSyn).Seq(1000).Build();
}

uint64_t Drops(const Nat& nat, std::string_view counter) {
  auto it = nat.netpol_drops().find(counter);
  return it == nat.netpol_drops().end() ? 0 : it->second;
}

TEST(NatPolicy, DeniedNewFlowsAreDroppedAndCountedAllowedOnesPass) {
  const config::ClusterSpec spec = PolicyCluster();
  auto nat = MakeNat(spec);
  const int web = nat->table().Lookup(kWebVip, 80, config::Protocol::kTcp)->id;
  struct Row {
    const char* description;
    std::vector<uint8_t> input;
    Action action;
    std::vector<uint8_t> expected;  // kForward: the translated frame
    const char* counter;            // kDrop: the policy counter charged
  } rows[] = {
      {"client -> web: round-robin picks web-0, its port http allows client: translated",
       Syn(kClient, 40000, kWebVip, 80), Action::kForward, Syn(kProxy, 40000, kWeb0, 8080), ""},
      {"stranger -> web: web-1 chosen, stranger is no peer of its ingress: dropped, web-1's "
       "ingress",
       Syn(kStranger, 40001, kWebVip, 80),
       Action::kDrop,
       {},
       "drops-ingress/default/web-1"},
      {"stranger retries: no flow was made, judged again against web-2 (on node2), dropped",
       Syn(kStranger, 40001, kWebVip, 80),
       Action::kDrop,
       {},
       "drops-ingress/default/web-2"},
      {"other -> web: web-0 chosen; both ends deny, the client's egress is charged (checked first)",
       Syn(kOther, 40008, kWebVip, 80),
       Action::kDrop,
       {},
       "drops-egress/default/other"},
      {"client -> web again: web-1; its named port http is 8080 there",
       Syn(kClient, 40002, kWebVip, 80), Action::kForward, Syn(kProxy, 40002, kWeb1, 8080), ""},
      {"client -> web: web-2, whose http is 8081: the named port resolved on the backend",
       Syn(kClient, 40004, kWebVip, 80), Action::kForward, Syn(kProxy, 40004, kWeb2, 8081), ""},
      {"other -> dns (udp): other's egress denies every destination: dropped, other's egress",
       PacketBuilder::Udp(kOther, 5000, kDnsVip, 53).Payload("q").Build(),
       Action::kDrop,
       {},
       "drops-egress/default/other"},
      {"client -> dns (udp): dns-0 is isolated by nothing: translated",
       PacketBuilder::Udp(kClient, 5000, kDnsVip, 53).Payload("q").Build(), Action::kForward,
       PacketBuilder::Udp(kProxy, 5000, kDns0, 5353).Payload("q").Build(), ""},
      {"the node itself (its underlay address) -> web-0 on this node: its own node, allowed",
       Syn(kNode, 40005, kWebVip, 80), Action::kForward, Syn(kProxy, 40005, kWeb0, 8080), ""},
      {"the node itself -> web-1 on this node: allowed", Syn(kNode, 40006, kWebVip, 80),
       Action::kForward, Syn(kProxy, 40006, kWeb1, 8080), ""},
      {"the node itself -> web-2 on node2: not its own node, no ip_block: dropped",
       Syn(kNode, 40007, kWebVip, 80),
       Action::kDrop,
       {},
       "drops-ingress/default/web-2"},
  };
  uint64_t dropped = 0;
  for (const Row& r : rows) {
    SCOPED_TRACE(r.description);
    const size_t flows = nat->conntrack().size();
    std::vector<uint8_t> frame = r.input;
    const uint64_t before = Drops(*nat, r.counter);
    Verdict v = nat->Process(frame, 0);
    ASSERT_EQ(static_cast<int>(v.action), static_cast<int>(r.action)) << ToString(v.reason);
    if (r.action == Action::kForward) {
      EXPECT_EQ(Hex(frame), Hex(r.expected));
      EXPECT_EQ(ChecksumErrors(frame), "");
      EXPECT_EQ(nat->conntrack().size(), flows + 1);
    } else {
      EXPECT_EQ(v.reason, DropReason::kNetworkPolicy);
      EXPECT_EQ(nat->conntrack().size(), flows) << "a denied flow makes no conntrack entry";
      EXPECT_EQ(Drops(*nat, r.counter), before + 1);
      ++dropped;
    }
  }
  uint64_t total = 0;
  for (const auto& [name, n] : nat->netpol_drops()) total += n;
  EXPECT_EQ(total, dropped);
  EXPECT_EQ(nat->counters().drops[static_cast<int>(DropReason::kNetworkPolicy)], dropped);
  EXPECT_EQ(nat->service_counters(web).drops[static_cast<int>(DropReason::kNetworkPolicy)],
            dropped - 1);  // one was dns's
}

// As conntrack's `ct state established accept` in the nftables modes (e2e.netpol_live): a policy
// change judges new flows only.
TEST(NatPolicy, APolicyChangeLeavesEstablishedFlowsPassing) {
  config::ClusterSpec spec = PolicyCluster();
  spec.network_policies.resize(1);  // web from client only
  auto nat = MakeNat(spec);
  std::vector<uint8_t> syn = Syn(kClient, 41000, kWebVip, 80);
  ASSERT_EQ(nat->Process(syn, 0).action, Action::kForward);
  std::vector<uint8_t> synack = PacketBuilder::Tcp(kWeb0, 8080, kProxy, 41000)
                                    .Flags(kTcpSyn | kTcpAck)
                                    .Seq(5000)
                                    .AckNum(1001)
                                    .Build();
  ASSERT_EQ(nat->Process(synack, 1).action, Action::kForward);
  // Another pod is not admitted: counted against web's ingress.
  std::vector<uint8_t> other = Syn(kOther, 42000, kWebVip, 80);
  ASSERT_EQ(nat->Process(other, 1).action, Action::kDrop);
  ASSERT_EQ(nat->netpol_drops().size(), 1u);
  const std::string counter = nat->netpol_drops().begin()->first;  // the chosen web pod's ingress
  EXPECT_EQ(Drops(*nat, counter), 1u);
  auto total = [&] {
    uint64_t n = 0;
    for (const auto& [name, drops] : nat->netpol_drops()) n += drops;
    return n;
  };

  // Now web admits no one: its ingress has no rule left.
  spec.network_policies[0].ingress_rules.clear();
  nat->SetPolicy(std::make_shared<const netpol::FlowPolicy>(netpol::FlowPolicy::Build(spec)));
  std::vector<uint8_t> data = PacketBuilder::Tcp(kClient, 41000, kWebVip, 80)
                                  .Flags(kTcpAck)
                                  .Seq(1001)
                                  .AckNum(5001)
                                  .Payload("GET /")
                                  .Build();
  EXPECT_EQ(nat->Process(data, 2).action, Action::kForward) << "the established flow passes";
  std::vector<uint8_t> again = Syn(kClient, 41001, kWebVip, 80);
  Verdict v = nat->Process(again, 3);
  EXPECT_EQ(v.action, Action::kDrop);
  EXPECT_EQ(v.reason, DropReason::kNetworkPolicy);
  EXPECT_EQ(Drops(*nat, counter), 1u) << "web is still isolated: its counter is kept";
  EXPECT_EQ(total(), 2u);

  // Deleted: everything passes again, and web's counter goes with its isolation, as the kernel's
  // goes with web's chain; applied again, it counts from zero.
  nat->SetPolicy(nullptr);
  std::vector<uint8_t> third = Syn(kClient, 41002, kWebVip, 80);
  EXPECT_EQ(nat->Process(third, 4).action, Action::kForward);
  EXPECT_TRUE(nat->netpol_drops().empty());
  nat->SetPolicy(std::make_shared<const netpol::FlowPolicy>(netpol::FlowPolicy::Build(spec)));
  std::vector<uint8_t> fourth = Syn(kOther, 42001, kWebVip, 80);
  ASSERT_EQ(nat->Process(fourth, 5).action, Action::kDrop);
  EXPECT_EQ(total(), 1u);
}

}  // namespace
}  // namespace mkn::nat
