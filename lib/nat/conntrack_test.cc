#include "lib/nat/conntrack.h"

#include <gtest/gtest.h>

#include "lib/nat/testing.h"

namespace mkn::nat {
namespace {

using testing::Ip;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
constexpr Direction kOrig = Direction::kOriginal, kReply = Direction::kReply;

Tuple Orig(uint16_t client_port, uint8_t proto = 6) {
  return Tuple{Ip("10.244.1.2"), Ip("10.96.0.10"), client_port, 80, proto};
}
Tuple Rep(uint16_t snat_port, uint8_t proto = 6, const char* endpoint = "10.244.2.3") {
  return Tuple{Ip(endpoint), Ip("10.244.0.254"), 8080, snat_port, proto};
}

TEST(Conntrack, FindsAFlowFromEitherDirection) {
  Conntrack ct;
  Flow* f = ct.Insert(Orig(40000), Rep(40000), 3, 60, 0);
  auto a = ct.Find(Orig(40000), 1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->flow, f);
  EXPECT_EQ(a->direction, kOrig);
  auto b = ct.Find(Rep(40000), 1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->flow, f);
  EXPECT_EQ(b->direction, kReply);
  EXPECT_FALSE(ct.Find(Orig(40001), 1));
  EXPECT_FALSE(ct.Find(Orig(40000).Inverted(), 1));
  EXPECT_EQ(f->service_port_id, 3);
  EXPECT_EQ(f->endpoint_ip(), Ip("10.244.2.3"));
  EXPECT_EQ(ToString(f->original), "tcp 10.244.1.2:40000 -> 10.96.0.10:80");
}

TEST(Conntrack, TcpLifecycle) {
  // {who sends, flags, state after}: the whole life of a connection closed by the client.
  struct Step {
    Direction dir;
    uint8_t flags;
    FlowState state;
  };
  const Step steps[] = {
      {kOrig, kSyn, FlowState::kSynSent},  // retransmitted SYN
      {kReply, kSyn | kAck, FlowState::kSynRecv}, {kOrig, kAck, FlowState::kEstablished},
      {kOrig, kAck, FlowState::kEstablished},     {kReply, kAck, FlowState::kEstablished},
      {kOrig, kFin | kAck, FlowState::kFinWait},  {kReply, kAck, FlowState::kFinWait},
      {kReply, kFin | kAck, FlowState::kLastAck}, {kOrig, kAck, FlowState::kTimeWait},
  };
  Conntrack ct;
  Flow* f = ct.Insert(Orig(1), Rep(1), 0, 60, 0);
  EXPECT_EQ(f->state, FlowState::kSynSent);
  EXPECT_EQ(f->expires_ms, kTcpSynSentTimeoutMs);
  int64_t now = 0;
  for (const Step& s : steps) {
    now += 10;
    ct.Track(f, s.dir, s.flags, 40, now);
    EXPECT_EQ(f->state, s.state) << ToString(f->state) << " expected " << ToString(s.state);
    EXPECT_EQ(f->expires_ms, now + TimeoutMs(s.state));
  }
  EXPECT_EQ(f->packets[0], 6u);  // the SYN that created it, then 5
  EXPECT_EQ(f->packets[1], 4u);
  EXPECT_EQ(ct.counters().by_state[static_cast<int>(FlowState::kTimeWait)], 1u);
  EXPECT_EQ(ct.counters().by_state[static_cast<int>(FlowState::kSynSent)], 0u);
  // TIME_WAIT times out.
  EXPECT_TRUE(ct.Find(Orig(1), now + kTcpTimeWaitTimeoutMs - 1));
  EXPECT_FALSE(ct.Find(Orig(1), now + kTcpTimeWaitTimeoutMs));
  EXPECT_EQ(ct.counters().expirations, 1u);
  EXPECT_EQ(ct.size(), 0u);
}

TEST(Conntrack, ServerClosesFirstAndRstCloses) {
  Conntrack ct;
  Flow* f = ct.Insert(Orig(1), Rep(1), 0, 60, 0);
  ct.Track(f, kReply, kSyn | kAck, 60, 1);
  ct.Track(f, kOrig, kAck | kFin, 60, 2);  // ACK of the handshake carrying the client's FIN
  EXPECT_EQ(f->state, FlowState::kFinWait);
  ct.Track(f, kReply, kFin | kAck, 60, 3);
  EXPECT_EQ(f->state, FlowState::kLastAck);
  ct.Track(f, kReply, kAck, 60, 4);  // not the ack of the last FIN (that comes from the client)
  EXPECT_EQ(f->state, FlowState::kLastAck);
  ct.Track(f, kOrig, kAck, 60, 5);
  EXPECT_EQ(f->state, FlowState::kTimeWait);

  Flow* g = ct.Insert(Orig(2), Rep(2), 0, 60, 0);
  ct.Track(g, kReply, kSyn | kAck, 60, 1);
  ct.Track(g, kOrig, kAck, 60, 2);
  ct.Track(g, kReply, kRst, 40, 3);
  EXPECT_EQ(g->state, FlowState::kClose);
  EXPECT_EQ(g->expires_ms, 3 + kTcpCloseTimeoutMs);
  // An ACK from the wrong side in SYN_SENT does not establish.
  Flow* h = ct.Insert(Orig(3), Rep(3), 0, 60, 0);
  ct.Track(h, kOrig, kAck, 40, 1);
  EXPECT_EQ(h->state, FlowState::kSynSent);
}

TEST(Conntrack, UdpUnrepliedThenReplied) {
  Conntrack ct;
  Flow* f = ct.Insert(Orig(5000, 17), Rep(5000, 17), 0, 60, 0);
  EXPECT_EQ(f->state, FlowState::kUdpUnreplied);
  ct.Track(f, kOrig, 0, 60, 1000);
  EXPECT_EQ(f->expires_ms, 1000 + kUdpUnrepliedTimeoutMs);
  ct.Track(f, kReply, 0, 60, 2000);
  EXPECT_EQ(f->state, FlowState::kUdpReplied);
  EXPECT_EQ(f->expires_ms, 2000 + kUdpRepliedTimeoutMs);
  EXPECT_EQ(f->Class(), FlowClass::kActive);
  EXPECT_TRUE(ct.Find(Orig(5000, 17), 2000 + kUdpRepliedTimeoutMs - 1));
}

TEST(Conntrack, FullTablePrefersAnExpiredFlowThenAnUnassuredOneNeverAnAssuredOne) {
  Conntrack ct(3);
  Flow* a = ct.Insert(Orig(1, 17), Rep(1, 17), 0, 1, 0);
  Flow* b = ct.Insert(Orig(2, 17), Rep(2, 17), 0, 1, 0);
  Flow* c = ct.Insert(Orig(3, 17), Rep(3, 17), 0, 1, 0);
  ct.Track(b, kReply, 0, 1,
           10'000);                  // b: replied (assured), lives until 130 s; least recently used
  ct.Track(a, kOrig, 0, 1, 20'000);  // a: unreplied, until 50 s
  ct.Track(c, kOrig, 0, 1, 30'000);  // c: unreplied, until 60 s
  EXPECT_TRUE(b->Assured());
  EXPECT_FALSE(a->Assured());
  // At 55 s a has expired: it goes, as an expiration.
  ct.Insert(Orig(4, 17), Rep(4, 17), 0, 1, 55'000);
  EXPECT_EQ(ct.counters().expirations, 1u);
  EXPECT_EQ(ct.counters().evictions, 0u);
  EXPECT_FALSE(ct.Contains(Orig(1, 17)));
  // Nothing has expired at 56 s: the oldest unassured flow (c) is evicted, not b, which is older
  // but assured.
  ct.Insert(Orig(5, 17), Rep(5, 17), 0, 1, 56'000);
  EXPECT_EQ(ct.counters().evictions, 1u);
  EXPECT_TRUE(ct.Contains(Orig(2, 17)));
  EXPECT_FALSE(ct.Contains(Orig(3, 17)));
  EXPECT_FALSE(ct.Contains(Rep(3, 17)));
  EXPECT_EQ(ct.size(), 3u);
  EXPECT_EQ(ct.counters().inserts, 5u);
  EXPECT_EQ(ct.counters().refused, 0u);
}

TEST(Conntrack, ATableFullOfAssuredFlowsRefusesNewOnes) {
  Conntrack ct(2);
  for (uint16_t p : {1, 2}) {
    Flow* f = ct.Insert(Orig(p), Rep(p), 0, 1, 0);
    ct.Track(f, kReply, kSyn | kAck, 1, 1);
    ct.Track(f, kOrig, kAck, 1, 2);
    ASSERT_EQ(f->state, FlowState::kEstablished);
  }
  EXPECT_EQ(ct.Insert(Orig(3), Rep(3), 0, 1, 3), nullptr);
  EXPECT_EQ(ct.counters().refused, 1u);
  EXPECT_EQ(ct.counters().evictions, 0u);
  EXPECT_TRUE(ct.Contains(Orig(1)) && ct.Contains(Orig(2)));
  // Once one of them has timed out, a new flow fits again.
  EXPECT_NE(ct.Insert(Orig(3), Rep(3), 0, 1, 2 + kTcpEstablishedTimeoutMs), nullptr);
  EXPECT_EQ(ct.counters().expirations, 1u);
}

// The hardening issue's flood: one pod sends SYNs from every port while another holds an
// established connection and is in the middle of opening a new one.
TEST(Conntrack, ASynFloodFromOneClientChurnsItsOwnHalfOpenFlows) {
  const net::Ipv4 flooder = Ip("10.244.1.66");
  auto from = [](net::Ipv4 src, uint16_t port) {
    return Tuple{src, Ip("10.96.0.10"), port, 80, 6};
  };
  Conntrack ct(80);  // fair share: 10 unassured flows per client
  Flow* held = ct.Insert(Orig(1), Rep(1), 0, 1, 0);
  ct.Track(held, kReply, kSyn | kAck, 1, 1);
  ct.Track(held, kOrig, kAck, 1, 2);
  ct.Insert(Orig(2), Rep(2), 0, 1, 3);  // the other client's next handshake, not answered yet
  EXPECT_EQ(ct.unassured_of(Ip("10.244.1.2")), 1u);
  for (uint32_t i = 0; i < 75'000; ++i) {
    const uint16_t port = static_cast<uint16_t>(1024 + i % 60000);
    const Tuple t = from(flooder, port);
    if (ct.Contains(t)) continue;
    ASSERT_NE(ct.Insert(t, Rep(static_cast<uint16_t>(10000 + i % 50000), 6, "10.244.2.9"), 0, 1,
                        10 + i / 100),
              nullptr);
  }
  EXPECT_EQ(ct.size(), 80u);
  EXPECT_TRUE(ct.Find(Orig(1), 1000).has_value()) << "the established connection survives";
  EXPECT_TRUE(ct.Find(Orig(2), 1000).has_value()) << "so does the other client's handshake";
  EXPECT_EQ(ct.unassured_of(flooder), 78u);
  EXPECT_GT(ct.counters().evictions, 70'000u);
  EXPECT_EQ(ct.counters().refused, 0u);
}

TEST(Conntrack, AFlowMovesBetweenAssuredAndUnassuredWithItsState) {
  Conntrack ct;
  Flow* f = ct.Insert(Orig(7), Rep(7), 0, 1, 0);
  EXPECT_EQ(ct.unassured_of(Ip("10.244.1.2")), 1u);
  ct.Track(f, kReply, kSyn | kAck, 1, 1);
  EXPECT_EQ(ct.unassured_of(Ip("10.244.1.2")), 1u);  // SYN_RECV: not up yet
  ct.Track(f, kOrig, kAck, 1, 2);
  EXPECT_EQ(ct.unassured_of(Ip("10.244.1.2")), 0u);
  ct.Track(f, kOrig, kRst, 1, 3);  // reset: done, evictable again
  EXPECT_FALSE(f->Assured());
  EXPECT_EQ(ct.unassured_of(Ip("10.244.1.2")), 1u);
  ct.Remove(f);
  EXPECT_EQ(ct.unassured_of(Ip("10.244.1.2")), 0u);
  int seen = 0;
  ct.ForEach([&](const Flow&) { ++seen; });
  EXPECT_EQ(seen, 0);
}

TEST(Conntrack, EvictionStaysBoundedUnderLoad) {
  Conntrack ct(100);
  for (uint16_t i = 0; i < 10000; ++i) ct.Insert(Orig(i), Rep(i), 0, 1, i);
  EXPECT_EQ(ct.size(), 100u);
  EXPECT_EQ(ct.counters().evictions, 9900u);
  // The survivors are the newest.
  EXPECT_TRUE(ct.Contains(Orig(9999)));
  EXPECT_FALSE(ct.Contains(Orig(9899)));
  EXPECT_TRUE(ct.Contains(Orig(9900)));
}

TEST(Conntrack, FlushesFlowsToOneEndpointAndExpiresInBulk) {
  Conntrack ct;
  ct.Insert(Orig(1), Rep(1, 6, "10.244.2.3"), 0, 1, 0);
  ct.Insert(Orig(2), Rep(2, 6, "10.244.2.4"), 0, 1, 0);
  ct.Insert(Orig(3), Rep(3, 6, "10.244.2.3"), 1, 1, 0);
  EXPECT_EQ(ct.FlushEndpoint(Ip("10.244.2.3"), 8080, /*service_port_id=*/1), 1u);
  EXPECT_EQ(ct.FlushEndpoint(Ip("10.244.2.3")), 1u);
  EXPECT_EQ(ct.size(), 1u);
  EXPECT_EQ(ct.counters().flushed, 2u);
  EXPECT_EQ(ct.Expire(kTcpSynSentTimeoutMs - 1), 0u);
  EXPECT_EQ(ct.Expire(kTcpSynSentTimeoutMs), 1u);
  EXPECT_EQ(ct.size(), 0u);
  uint64_t live = 0;
  for (uint64_t n : ct.counters().by_state) live += n;
  EXPECT_EQ(live, 0u);
}

TEST(Conntrack, ObserverSeesEveryClassChange) {
  Conntrack ct;
  int active = 0, inactive = 0;
  ct.set_observer([&](const Flow&, FlowClass before, FlowClass after) {
    active += (after == FlowClass::kActive) - (before == FlowClass::kActive);
    inactive += (after == FlowClass::kInactive) - (before == FlowClass::kInactive);
  });
  Flow* f = ct.Insert(Orig(1), Rep(1), 0, 1, 0);
  EXPECT_EQ(inactive, 1);
  ct.Track(f, kReply, kSyn | kAck, 1, 1);
  ct.Track(f, kOrig, kAck, 1, 2);
  EXPECT_EQ(active, 1);
  EXPECT_EQ(inactive, 0);
  ct.Track(f, kOrig, kFin, 1, 3);
  EXPECT_EQ(active, 0);
  EXPECT_EQ(inactive, 1);
  ct.Remove(f);
  EXPECT_EQ(inactive, 0);
  ct.Insert(Orig(2, 17), Rep(2, 17), 0, 1, 0);
  EXPECT_EQ(active, 1);
  ct.Expire(1'000'000);
  EXPECT_EQ(active, 0);
}

}  // namespace
}  // namespace mkn::nat
