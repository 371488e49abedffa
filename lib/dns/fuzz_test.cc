// lib/dns: Respond() over hostile input — random bytes, every truncation and bit flip of real
// queries, compression loops — bounded in count (about a second), never crashing, and whatever
// it answers parses back as a response to the same ID.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "lib/dns/answer.h"
#include "lib/dns/message.h"
#include "lib/dns/testing.h"
#include "lib/dns/zone.h"

namespace mkn::dns {
namespace {

void Check(const Zone& zone, const std::vector<uint8_t>& wire, Counters& c) {
  for (Transport t : {Transport::kUdp, Transport::kTcp}) {
    Reply r = Respond(zone, wire, t);
    c.Count(r);
    if (r.verdict != Verdict::kAnswer) {
      EXPECT_TRUE(r.wire.empty());
      continue;
    }
    ASSERT_GE(wire.size(), 12u);
    absl::StatusOr<ParsedResponse> p = ParseResponse(r.wire);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_TRUE(p->qr);
    EXPECT_EQ(p->response.id, (wire[0] << 8) | wire[1]);
    if (t == Transport::kUdp) {
      EXPECT_LE(r.wire.size(), kMaxUdpEdns);
    }
  }
}

std::vector<std::vector<uint8_t>> Seeds() {
  std::vector<std::vector<uint8_t>> out;
  const char* names[] = {"web.default.svc.cluster.local",
                         "_pg._tcp.db-hl.data.svc.cluster.local",
                         "db-hl.data.svc.cluster.local",
                         "5.0.96.10.in-addr.arpa",
                         "example.test",
                         "cluster.local"};
  for (const char* n : names) {
    for (uint16_t type : {kTypeA, kTypeSrv, kTypePtr, kTypeAny}) {
      Query q;
      q.id = static_cast<uint16_t>(out.size());
      q.qname = FromText(n);
      q.qtype = type;
      q.qclass = kClassIn;
      q.edns = out.size() % 2 == 0;
      q.edns_udp_size = 1232;
      out.push_back(*EncodeQuery(q));
    }
  }
  return out;
}

TEST(DnsFuzz, NeverCrashes) {
  config::ClusterSpec spec = testing::LoadLab();
  Zone zone = BuildZone(spec, std::nullopt);
  zone.forwarders.push_back({"example.test", *net::IpAddr::Parse("192.0.2.53"), 53});
  std::mt19937 rng(20261206);  // fixed: a failure reproduces
  Counters c;
  std::vector<std::vector<uint8_t>> seeds = Seeds();
  for (const auto& s : seeds) {
    for (size_t len = 0; len <= s.size(); ++len) {
      Check(zone, std::vector<uint8_t>(s.begin(), s.begin() + len), c);
    }
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 6000; ++i) {
    std::vector<uint8_t> w = seeds[i % seeds.size()];
    int flips = 1 + i % 4;
    for (int f = 0; f < flips; ++f) w[rng() % w.size()] ^= static_cast<uint8_t>(1 << (rng() % 8));
    if (i % 3 == 0) {  // a compression pointer somewhere, possibly at itself or backwards
      size_t at = 12 + rng() % (w.size() - 12);
      w[at] = static_cast<uint8_t>(0xc0 | (rng() % 4));
      if (at + 1 < w.size()) w[at + 1] = static_cast<uint8_t>(rng() % w.size());
    }
    w[2] &= 0x7f;  // keep QR clear, so that most reach the parser
    Check(zone, w, c);
  }
  for (int i = 0; i < 4000; ++i) {
    std::vector<uint8_t> w(rng() % 600);
    for (uint8_t& b : w) b = static_cast<uint8_t>(byte(rng));
    if (w.size() > 2) w[2] &= 0x7f;
    if (w.size() > 5) {
      w[4] = 0;
      w[5] = 1;
    }
    Check(zone, w, c);
  }
  // Self-referencing and mutually referencing pointers, at every offset of a short message.
  for (uint8_t target = 0; target < 40; ++target) {
    std::vector<uint8_t> w = {0, 1, 0,    0,      0,    1,  0, 0, 0, 0,
                              0, 0, 0xc0, target, 0xc0, 12, 0, 1, 0, 1};
    Check(zone, w, c);
  }
  EXPECT_GT(c.Dropped(), 0u);
  EXPECT_GT(c.rcodes[0] + c.rcodes[3] + c.rcodes[5], 0u);
}

}  // namespace
}  // namespace mkn::dns
