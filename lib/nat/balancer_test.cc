#include "lib/nat/balancer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lib/nat/testing.h"

namespace mkn::nat {
namespace {

using testing::Ip;

ServicePort Port(config::Algorithm algorithm, int n, bool affinity = false) {
  ServicePort p;
  p.id = 0;
  p.algorithm = algorithm;
  p.affinity_client_ip = affinity;
  p.affinity_timeout_ms = 10'000;
  for (int i = 0; i < n; ++i) {
    p.endpoints.push_back(Endpoint{net::Ipv4{0x0af40100u + static_cast<uint32_t>(i)}, 8080, ""});
  }
  return p;
}

// Each of n endpoints got picks/n within `sigmas` binomial standard deviations.
void ExpectUniform(const std::vector<int>& counts, int picks, double sigmas) {
  const double n = static_cast<double>(counts.size());
  const double mean = picks / n;
  const double sd = std::sqrt(picks * (1 / n) * (1 - 1 / n));
  for (size_t i = 0; i < counts.size(); ++i) {
    EXPECT_NEAR(counts[i], mean, sigmas * sd) << "endpoint " << i;
  }
}

TEST(Balancer, RandomIsUniformLikeTheIptablesProbabilityChain) {
  for (int n : {1, 2, 3, 5, 10}) {
    Balancer b(/*seed=*/12345);
    ServicePort p = Port(config::Algorithm::kRandom, n);
    std::vector<int> counts(n);
    for (int i = 0; i < 10000; ++i) ++counts[*b.Pick(p, Ip("10.244.9.9"), i)];
    ExpectUniform(counts, 10000, 4.5);
  }
}

TEST(Balancer, RandomIsDeterministicForASeed) {
  ServicePort p = Port(config::Algorithm::kRandom, 4);
  Balancer a(7), b(7), c(8);
  std::vector<size_t> sa, sb, sc;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(*a.Pick(p, Ip("10.0.0.1"), 0));
    sb.push_back(*b.Pick(p, Ip("10.0.0.1"), 0));
    sc.push_back(*c.Pick(p, Ip("10.0.0.1"), 0));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(Balancer, RoundRobinCyclesLikeIpvsRr) {
  Balancer b(1);
  ServicePort p = Port(config::Algorithm::kRoundRobin, 3);
  std::vector<size_t> picks;
  for (int i = 0; i < 7; ++i) picks.push_back(*b.Pick(p, Ip("10.0.0.1"), 0));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0}));
  std::vector<int> counts(3);
  for (int i = 0; i < 9999; ++i) ++counts[*b.Pick(p, Ip("10.0.0.1"), 0)];
  EXPECT_EQ(counts, (std::vector<int>{3333, 3333, 3333}));
  // Fewer endpoints: the cursor wraps, never indexes out of range.
  p.endpoints.pop_back();
  for (int i = 0; i < 5; ++i) EXPECT_LT(*b.Pick(p, Ip("10.0.0.1"), 0), 2u);
}

Flow FlowTo(const ServicePort& p, size_t i, FlowState state = FlowState::kEstablished) {
  Flow f;
  f.service_port_id = p.id;
  f.original.protocol = 6;
  f.reply.src = p.endpoints[i].ip;
  f.reply.src_port = p.endpoints[i].port;
  f.state = state;
  return f;
}

TEST(Balancer, LeastConnSpreadsHeldConnectionsLikeIpvsLc) {
  Balancer b(1);
  ServicePort p = Port(config::Algorithm::kLeastConn, 4);
  // 10000 connections held open: each new one goes where the fewest are.
  std::vector<int> counts(4);
  for (int i = 0; i < 10000; ++i) {
    size_t e = *b.Pick(p, Ip("10.0.0.1"), 0);
    ++counts[e];
    b.OnFlowClassChange(FlowTo(p, e), FlowClass::kNone, FlowClass::kActive);
  }
  EXPECT_EQ(counts, (std::vector<int>{2500, 2500, 2500, 2500}));
  // Close 100 on endpoint 2: the next 100 go there.
  for (int i = 0; i < 100; ++i)
    b.OnFlowClassChange(FlowTo(p, 2), FlowClass::kActive, FlowClass::kNone);
  EXPECT_EQ(b.LoadOf(0, p.endpoints[2].ip, 8080).active, 2400u);
  for (int i = 0; i < 100; ++i) {
    size_t e = *b.Pick(p, Ip("10.0.0.1"), 0);
    ASSERT_EQ(e, 2u);
    b.OnFlowClassChange(FlowTo(p, e), FlowClass::kNone, FlowClass::kActive);
  }
}

TEST(Balancer, LeastConnWeighsActiveOver256Inactive) {
  Balancer b(1);
  ServicePort p = Port(config::Algorithm::kLeastConn, 2);
  b.OnFlowClassChange(FlowTo(p, 0), FlowClass::kNone, FlowClass::kActive);  // overhead 256
  for (int i = 0; i < 255; ++i) {
    b.OnFlowClassChange(FlowTo(p, 1), FlowClass::kNone, FlowClass::kInactive);
  }
  EXPECT_EQ(*b.Pick(p, Ip("10.0.0.1"), 0), 1u);  // 255 < 256
  b.OnFlowClassChange(FlowTo(p, 1), FlowClass::kNone, FlowClass::kInactive);
  EXPECT_EQ(*b.Pick(p, Ip("10.0.0.1"), 0), 0u);  // tie at 256: the first, as IPVS
}

TEST(Balancer, SourceHashKeepsAClientAndSpreadsClients) {
  Balancer b(1);
  ServicePort p = Port(config::Algorithm::kSourceHash, 3);
  std::vector<int> counts(3);
  for (uint32_t c = 0; c < 10000; ++c) {
    net::Ipv4 client{0x0af40000u + c};
    size_t e = *b.Pick(p, client, 0);
    ++counts[e];
    ASSERT_EQ(*b.Pick(p, client, 0), e);
  }
  // 256 buckets over 3 endpoints is 86/85/85: uniform within a few percent, not exactly.
  for (int c : counts) EXPECT_NEAR(c, 3333, 250);
}

TEST(Balancer, ClientIpAffinitySticksUntilIdleLongerThanTheTimeout) {
  Balancer b(1);
  ServicePort p = Port(config::Algorithm::kRoundRobin, 3, /*affinity=*/true);
  net::Ipv4 alice = Ip("10.244.5.5"), bob = Ip("10.244.5.6");
  EXPECT_EQ(*b.Pick(p, alice, 0), 0u);
  EXPECT_EQ(*b.Pick(p, bob, 0), 1u);
  // Each new flow within the timeout refreshes it: 9 s apart, 100 times.
  for (int i = 1; i <= 100; ++i) {
    ASSERT_EQ(*b.Pick(p, alice, i * 9'000), 0u);
  }
  // Bob was idle for 900 s > 10 s: chosen afresh (round-robin's next is 2).
  EXPECT_EQ(*b.Pick(p, bob, 900'000), 2u);
  EXPECT_EQ(*b.Pick(p, bob, 900'001), 2u);
  // Exactly the timeout is still sticky; one ms more is not.
  EXPECT_EQ(*b.Pick(p, bob, 910'001), 2u);
  EXPECT_EQ(*b.Pick(p, bob, 920'002), 0u);
}

TEST(Balancer, AffinityToAVanishedEndpointIsForgotten) {
  Balancer b(1);
  ServicePort p = Port(config::Algorithm::kRoundRobin, 3, true);
  net::Ipv4 alice = Ip("10.244.5.5");
  EXPECT_EQ(*b.Pick(p, alice, 0), 0u);
  p.endpoints.erase(p.endpoints.begin());
  b.EndpointsChanged(p);
  EXPECT_EQ(b.affinity_entries(), 0u);
  size_t e = *b.Pick(p, alice, 1);
  EXPECT_EQ(*b.Pick(p, alice, 2), e);
  EXPECT_EQ(b.ExpireAffinity(1'000'000), 1u);
}

TEST(Balancer, NoEndpointsNoPick) {
  Balancer b(1);
  for (auto a : {config::Algorithm::kRandom, config::Algorithm::kRoundRobin,
                 config::Algorithm::kLeastConn, config::Algorithm::kSourceHash}) {
    EXPECT_FALSE(b.Pick(Port(a, 0), Ip("10.0.0.1"), 0));
  }
}

}  // namespace
}  // namespace mkn::nat
