// lib/world/dns: the world's DNS answers, over the wire (queries built and answers parsed back with
// lib/dns's ldns-backed message code), and the cluster resolver's forwarder toward it.
#include "lib/world/dns.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/config/toml/load.h"
#include "lib/dns/answer.h"
#include "lib/dns/message.h"
#include "lib/dns/zone.h"

namespace mkn::world {
namespace {

config::ClusterSpec Lab(const std::string& cluster_extra = "") {
  config::LoadResult r =
      config::Load("[cluster]\nname = \"w\"\nnodes = 1\n" + cluster_extra, "w.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return *r.spec;
}

struct Asked {
  std::string name;
  uint16_t type = dns::kTypeA;
  bool tcp = false;
  uint16_t qclass = dns::kClassIn;
  uint8_t opcode = 0;
  int edns_version = -1;  // -1: no OPT record
};

std::optional<dns::ParsedResponse> Ask(const config::WorldSpec& w, const Asked& a) {
  dns::Query q;
  q.id = 0xbeef;
  q.rd = true;
  q.qname = dns::FromText(a.name);
  q.qtype = a.type;
  q.qclass = a.qclass;
  q.opcode = a.opcode;
  if (a.edns_version >= 0) {
    q.edns = true;
    q.edns_udp_size = 1232;
    q.edns_version = static_cast<uint8_t>(a.edns_version);
  }
  absl::StatusOr<std::vector<uint8_t>> wire = dns::EncodeQuery(q);
  EXPECT_TRUE(wire.ok());
  std::optional<std::vector<uint8_t>> out = RespondDns(w, *wire, a.tcp);
  if (!out) return std::nullopt;
  absl::StatusOr<dns::ParsedResponse> r = dns::ParseResponse(*out);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.id, 0xbeef);
  EXPECT_TRUE(r->qr);
  EXPECT_EQ(dns::ToText(r->response.qname), dns::ToText(q.qname));  // echoed as asked
  return *r;
}

TEST(WorldDns, AnswersTable) {
  const config::ClusterSpec spec = Lab();
  const config::WorldSpec& w = spec.world;
  struct Row {
    Asked q;
    dns::Rcode rcode;
    std::string answer;  // the A record's address, "" = none
    bool soa;            // the SOA in authority (negative answers)
    bool aa;
  } rows[] = {
      {{"example.test"}, dns::Rcode::kNoError, "203.0.113.2", false, true},
      {{"www.example.test"}, dns::Rcode::kNoError, "203.0.113.3", false, true},
      {{"ECHO.Example.TEST"}, dns::Rcode::kNoError, "203.0.113.4", false, true},
      {{"www.example.test", dns::kTypeA, /*tcp=*/true},
       dns::Rcode::kNoError,
       "203.0.113.3",
       false,
       true},
      {{"www.example.test", dns::kTypeAaaa}, dns::Rcode::kNoError, "", true, true},  // NODATA
      {{"nope.example.test"}, dns::Rcode::kNxDomain, "", true, true},
      {{"a.b.www.example.test"}, dns::Rcode::kNxDomain, "", true, true},
      {{"example.com"}, dns::Rcode::kRefused, "", false, false},
      {{"web.default.svc.cluster.local"}, dns::Rcode::kRefused, "", false, false},
      {{"notexample.test"}, dns::Rcode::kRefused, "", false, false},
      {{"example.test", dns::kTypeA, false, /*qclass=*/3}, dns::Rcode::kRefused, "", false, false},
      {{"example.test", dns::kTypeA, false, dns::kClassIn, /*opcode=*/2},
       dns::Rcode::kNotImp,
       "",
       false,
       false},
      {{"example.test", dns::kTypeAxfr, /*tcp=*/true}, dns::Rcode::kRefused, "", false, false},
      {{"example.test", dns::kTypeIxfr, /*tcp=*/true}, dns::Rcode::kRefused, "", false, false},
      {{"www.example.test", dns::kTypeA, false, dns::kClassIn, 0, /*edns_version=*/1},
       dns::Rcode::kBadVers,
       "",
       false,
       false},
      {{"www.example.test", dns::kTypeA, false, dns::kClassIn, 0, /*edns_version=*/0},
       dns::Rcode::kNoError,
       "203.0.113.3",
       false,
       true},
  };
  for (const Row& row : rows) {
    std::optional<dns::ParsedResponse> r = Ask(w, row.q);
    ASSERT_TRUE(r) << row.q.name;
    EXPECT_EQ(r->response.rcode, row.rcode) << row.q.name;
    EXPECT_EQ(r->response.aa, row.aa) << row.q.name;
    if (row.answer.empty()) {
      EXPECT_TRUE(r->response.answer.empty()) << row.q.name;
    } else {
      ASSERT_EQ(r->response.answer.size(), 1u) << row.q.name;
      EXPECT_EQ(r->response.answer[0].address.ToString(), row.answer);
      EXPECT_EQ(r->response.answer[0].ttl, kDnsTtl);
    }
    EXPECT_EQ(!r->response.authority.empty(), row.soa) << row.q.name;
  }
}

TEST(WorldDns, MalformedInputIsNotAnswered) {
  const config::ClusterSpec spec = Lab();
  const std::vector<uint8_t> inputs[] = {
      {},
      {0x12, 0x34},
      // A header that says one question, then nothing.
      {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
      // A response (QR set): never answer an answer.
      {0x12, 0x34, 0x81, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
       0x00, 0x01},
      // A compression pointer to itself.
      {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x0c, 0x00,
       0x01, 0x00, 0x01},
  };
  for (const auto& in : inputs) EXPECT_FALSE(RespondDns(spec.world, in, false));
  // Every prefix of a good query, and each byte flipped: never a crash, never a read past it
  // (ASan builds check), and an answer only to what parses.
  dns::Query q;
  q.qname = dns::FromText("www.example.test");
  q.qtype = dns::kTypeA;
  q.qclass = dns::kClassIn;
  std::vector<uint8_t> wire = *dns::EncodeQuery(q);
  for (size_t n = 0; n < wire.size(); ++n)
    (void)RespondDns(spec.world, std::span(wire.data(), n), false);
  for (size_t i = 0; i < wire.size(); ++i) {
    std::vector<uint8_t> w = wire;
    w[i] ^= 0xff;
    (void)RespondDns(spec.world, w, i % 2 == 0);
  }
}

TEST(WorldDns, TheClusterResolverForwardsTheWorldsZoneOnly) {
  const config::ClusterSpec on = Lab();
  dns::Zone z = dns::BuildZone(on, std::nullopt);
  ASSERT_EQ(z.forwarders.size(), 1u);
  EXPECT_EQ(z.forwarders[0].suffix, "example.test");
  EXPECT_EQ(z.forwarders[0].server.ToString(), "203.0.113.2");
  EXPECT_EQ(z.forwarders[0].port, 53);
  dns::Query q;
  q.qname = dns::FromText("www.example.test");
  q.qtype = dns::kTypeA;
  q.qclass = dns::kClassIn;
  std::vector<uint8_t> wire = *dns::EncodeQuery(q);
  EXPECT_EQ(dns::Respond(z, wire, dns::Transport::kUdp).verdict, dns::Verdict::kForward);
  q.qname = dns::FromText("example.com");
  std::vector<uint8_t> other = *dns::EncodeQuery(q);
  dns::Reply refused = dns::Respond(z, other, dns::Transport::kUdp);
  ASSERT_EQ(refused.verdict, dns::Verdict::kAnswer);
  EXPECT_EQ(refused.rcode, dns::Rcode::kRefused);
  // Without the world there is nothing to forward to: REFUSED.
  dns::Zone off = dns::BuildZone(Lab("world = false\n"), std::nullopt);
  EXPECT_TRUE(off.forwarders.empty());
  dns::Reply r = dns::Respond(off, wire, dns::Transport::kUdp);
  ASSERT_EQ(r.verdict, dns::Verdict::kAnswer);
  EXPECT_EQ(r.rcode, dns::Rcode::kRefused);
}

}  // namespace
}  // namespace mkn::world
