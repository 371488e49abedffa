// lib/dns/answer: every record type the resolver serves, as tables of {query, expected answer},
// through the wire both ways (ldns encodes the query, Respond answers, ldns parses the answer).

#include "lib/dns/answer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/config/mutate.h"
#include "lib/dns/message.h"
#include "lib/dns/testing.h"
#include "lib/dns/zone.h"

namespace mkn::dns {
namespace {

using testing::LoadLab;

struct Asked {
  std::string name;
  uint16_t type = kTypeA;
  Transport transport = Transport::kUdp;
  bool edns = false;
  uint16_t edns_size = 0;
  uint16_t qclass = kClassIn;
  uint8_t opcode = 0;
  uint8_t edns_version = 0;
};

// Respond() to one query; the answer parsed back. Fails the test on a drop or a forward.
ParsedResponse Ask(const Zone& zone, const Asked& a, Reply* reply_out = nullptr) {
  Query q;
  q.id = 0x1234;
  q.rd = true;
  q.qname = FromText(a.name);
  q.qtype = a.type;
  q.qclass = a.qclass;
  q.opcode = a.opcode;
  q.edns = a.edns;
  q.edns_udp_size = a.edns_size;
  q.edns_version = a.edns_version;
  absl::StatusOr<std::vector<uint8_t>> wire = EncodeQuery(q);
  EXPECT_TRUE(wire.ok()) << wire.status();
  Reply reply = Respond(zone, *wire, a.transport);
  if (reply_out != nullptr) *reply_out = reply;
  EXPECT_EQ(reply.verdict, Verdict::kAnswer) << a.name << " " << ToString(reply.drop);
  if (reply.verdict != Verdict::kAnswer) return {};
  absl::StatusOr<ParsedResponse> r = ParseResponse(reply.wire);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  EXPECT_TRUE(r->qr);
  EXPECT_EQ(r->response.id, 0x1234);
  EXPECT_TRUE(r->response.rd);  // copied
  EXPECT_TRUE(r->response.ra);
  EXPECT_EQ(ToText(r->response.qname), ToText(q.qname));  // echoed as asked
  if (a.transport == Transport::kUdp) {
    EXPECT_LE(reply.wire.size(), a.edns ? std::max<size_t>(512, a.edns_size) : 512);
  }
  return *r;
}

// One line per record, as dig prints them (lowercase owner for comparison).
std::string Line(const Record& r) {
  std::string owner = ToText(Lower(r.owner)) + " " + std::to_string(r.ttl) + " ";
  switch (r.type) {
    case kTypeA:
      return owner + "A " + r.address.ToString();
    case kTypeAaaa:
      return owner + "AAAA " + r.address.ToString();
    case kTypePtr:
      return owner + "PTR " + ToText(r.target);
    case kTypeNs:
      return owner + "NS " + ToText(r.target);
    case kTypeSrv:
      return owner + "SRV " + std::to_string(r.priority) + " " + std::to_string(r.weight) + " " +
             std::to_string(r.port) + " " + ToText(r.target);
    case kTypeSoa:
      return owner + "SOA " + ToText(r.target) + " " + ToText(r.rname) + " " +
             std::to_string(r.serial) + " " + std::to_string(r.refresh) + " " +
             std::to_string(r.retry) + " " + std::to_string(r.expire) + " " +
             std::to_string(r.minimum);
    case kTypeTxt:
      return owner + "TXT \"" + r.text + "\"";
  }
  return owner + "TYPE" + std::to_string(r.type);
}

std::vector<std::string> Lines(const std::vector<Record>& rs) {
  std::vector<std::string> out;
  for (const Record& r : rs) out.push_back(Line(r));
  return out;
}

class DnsAnswer : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = LoadLab();
    zone_ = BuildZone(spec_, net::IpAddr::Parse("10.96.0.10"), 7);
  }
  std::string PodIp(const std::string& key) { return spec_.FindPod(key)->ip.ToString(); }
  std::string Dashed(const std::string& key) {
    return DashedAddress(net::IpAddr::FromV4(spec_.FindPod(key)->ip));
  }
  config::ClusterSpec spec_;
  Zone zone_;
};

constexpr std::string_view kSoa =
    "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. 7 7200 1800 86400 5";

TEST_F(DnsAnswer, ServiceA) {
  std::string web = spec_.services[0].cluster_ip.ToString();
  ParsedResponse r = Ask(zone_, {"web.default.svc.cluster.local"});
  EXPECT_EQ(r.response.rcode, Rcode::kNoError);
  EXPECT_TRUE(r.response.aa);
  EXPECT_FALSE(r.tc);
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{"web.default.svc.cluster.local. 5 A " + web});
  EXPECT_TRUE(r.response.authority.empty());
  // DNS names are case-insensitive, and the answer's owner is the name as asked (0x20).
  r = Ask(zone_, {"WeB.DeFault.SVC.cluster.LOCAL."});
  ASSERT_EQ(r.response.answer.size(), 1u);
  EXPECT_EQ(ToText(r.response.answer[0].owner), "WeB.DeFault.SVC.cluster.LOCAL.");
  r = Ask(zone_, {"db.data.svc.cluster.local"});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{"db.data.svc.cluster.local. 5 A " +
                                     spec_.services[1].cluster_ip.ToString()});
}

TEST_F(DnsAnswer, NoDataVsNxDomain) {
  struct Row {
    std::string name;
    uint16_t type;
    Rcode rcode;
  };
  const Row rows[] = {
      // Names that exist, without the type asked: NODATA (glibc's parallel AAAA must not be
      // NXDOMAIN, or getaddrinfo fails the A answer too).
      {"web.default.svc.cluster.local", kTypeAaaa, Rcode::kNoError},
      {"web.default.svc.cluster.local", kTypeTxt, Rcode::kNoError},
      {"default.svc.cluster.local", kTypeA, Rcode::kNoError},  // empty non-terminals
      {"data.svc.cluster.local", kTypeA, Rcode::kNoError},
      {"svc.cluster.local", kTypeA, Rcode::kNoError},
      {"pod.cluster.local", kTypeA, Rcode::kNoError},
      {"data.pod.cluster.local", kTypeA, Rcode::kNoError},
      {"_tcp.web.default.svc.cluster.local", kTypeSrv, Rcode::kNoError},
      {"cluster.local", kTypeA, Rcode::kNoError},
      // Names that do not exist: NXDOMAIN.
      {"nope.default.svc.cluster.local", kTypeA, Rcode::kNxDomain},
      {"web.nons.svc.cluster.local", kTypeA, Rcode::kNxDomain},
      {"nons.svc.cluster.local", kTypeA, Rcode::kNxDomain},
      {"web.data.svc.cluster.local", kTypeA, Rcode::kNxDomain},  // selects in its namespace only
      {"x.web.default.svc.cluster.local", kTypeA, Rcode::kNxDomain},
      {"_http._udp.web.default.svc.cluster.local", kTypeSrv, Rcode::kNxDomain},
      {"_nope._tcp.web.default.svc.cluster.local", kTypeSrv, Rcode::kNxDomain},
      {"web.cluster.local", kTypeA, Rcode::kNxDomain},
      {"web.default.cluster.local", kTypeA, Rcode::kNxDomain},
      {"10-1-2-3.default.pod.cluster.local", kTypeA, Rcode::kNxDomain},  // `pods verified`
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    ParsedResponse r = Ask(zone_, {row.name, row.type});
    EXPECT_EQ(r.response.rcode, row.rcode);
    EXPECT_TRUE(r.response.aa);
    EXPECT_TRUE(r.response.answer.empty());
    EXPECT_EQ(Lines(r.response.authority), std::vector<std::string>{std::string(kSoa)});
  }
}

TEST_F(DnsAnswer, Srv) {
  std::string web = spec_.services[0].cluster_ip.ToString();
  ParsedResponse r = Ask(zone_, {"_http._tcp.web.default.svc.cluster.local", kTypeSrv});
  EXPECT_EQ(r.response.rcode, Rcode::kNoError);
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{"_http._tcp.web.default.svc.cluster.local. 5 SRV 0 100 80 "
                                     "web.default.svc.cluster.local."});
  EXPECT_EQ(Lines(r.response.additional),
            std::vector<std::string>{"web.default.svc.cluster.local. 5 A " + web});
  r = Ask(zone_, {"_stats._udp.web.default.svc.cluster.local", kTypeSrv});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{"_stats._udp.web.default.svc.cluster.local. 5 SRV 0 100 9000 "
                                     "web.default.svc.cluster.local."});
  // SRV at the Service's own name lists every named port (as CoreDNS does).
  r = Ask(zone_, {"web.default.svc.cluster.local", kTypeSrv});
  EXPECT_EQ(r.response.answer.size(), 2u);
}

TEST_F(DnsAnswer, Headless) {
  std::string a = PodIp("data/db-0"), b = PodIp("data/db-1");
  ParsedResponse r = Ask(zone_, {"db-hl.data.svc.cluster.local"});
  EXPECT_EQ(r.response.rcode, Rcode::kNoError);
  EXPECT_EQ(Lines(r.response.answer),
            (std::vector<std::string>{"db-hl.data.svc.cluster.local. 5 A " + a,
                                      "db-hl.data.svc.cluster.local. 5 A " + b}));
  // One SRV per endpoint, its target the endpoint's own name, the target port by name.
  r = Ask(zone_, {"_pg._tcp.db-hl.data.svc.cluster.local", kTypeSrv});
  std::string ha = Dashed("data/db-0") + ".db-hl.data.svc.cluster.local.";
  std::string hb = Dashed("data/db-1") + ".db-hl.data.svc.cluster.local.";
  EXPECT_EQ(
      Lines(r.response.answer),
      (std::vector<std::string>{"_pg._tcp.db-hl.data.svc.cluster.local. 5 SRV 0 100 5432 " + ha,
                                "_pg._tcp.db-hl.data.svc.cluster.local. 5 SRV 0 100 5432 " + hb}));
  EXPECT_EQ(Lines(r.response.additional),
            (std::vector<std::string>{ha + " 5 A " + a, hb + " 5 A " + b}));
  r = Ask(zone_, {ha});
  EXPECT_EQ(Lines(r.response.answer), std::vector<std::string>{ha + " 5 A " + a});
  // The answers follow the endpoints: a killed pod comes back with a new address, and the next
  // zone has that one.
  ASSERT_TRUE(config::RecreatePod(spec_, "data/db-0").ok());
  std::string renewed = PodIp("data/db-0");
  ASSERT_NE(renewed, a);
  Zone after = BuildZone(spec_, zone_.dns_ip, 8);
  r = Ask(after, {"db-hl.data.svc.cluster.local"});
  EXPECT_EQ(Lines(r.response.answer),
            (std::vector<std::string>{"db-hl.data.svc.cluster.local. 5 A " + renewed,
                                      "db-hl.data.svc.cluster.local. 5 A " + b}));
}

TEST_F(DnsAnswer, PodA) {
  std::string ip = PodIp("client");
  ParsedResponse r = Ask(zone_, {Dashed("client") + ".default.pod.cluster.local"});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{Dashed("client") + ".default.pod.cluster.local. 5 A " + ip});
  // The wrong namespace: the address is not a pod of it.
  r = Ask(zone_, {Dashed("client") + ".data.pod.cluster.local"});
  EXPECT_EQ(r.response.rcode, Rcode::kNxDomain);
}

TEST_F(DnsAnswer, Ptr) {
  auto reverse = [](const std::string& ip) {
    Name n = FromText(ip);
    std::reverse(n.begin(), n.end());
    return ToText(n) + "in-addr.arpa";
  };
  std::string web = spec_.services[0].cluster_ip.ToString();
  ParsedResponse r = Ask(zone_, {reverse(web), kTypePtr});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{reverse(web) + ". 5 PTR web.default.svc.cluster.local."});
  r = Ask(zone_, {reverse(PodIp("client")), kTypePtr});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{reverse(PodIp("client")) + ". 5 PTR " + Dashed("client") +
                                     ".default.pod.cluster.local."});
  // A headless Service's endpoint is named under the Service.
  r = Ask(zone_, {reverse(PodIp("data/db-0")), kTypePtr});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{reverse(PodIp("data/db-0")) + ". 5 PTR " +
                                     Dashed("data/db-0") + ".db-hl.data.svc.cluster.local."});
  // An unused address of the lab's CIDRs: NXDOMAIN; outside them: not ours.
  r = Ask(zone_, {"250.0.96.10.in-addr.arpa", kTypePtr});
  EXPECT_EQ(r.response.rcode, Rcode::kNxDomain);
  ASSERT_EQ(r.response.authority.size(), 1u);
  EXPECT_EQ(ToText(r.response.authority[0].owner), "in-addr.arpa.");
  r = Ask(zone_, {"96.10.in-addr.arpa", kTypePtr});
  EXPECT_EQ(r.response.rcode, Rcode::kNoError);
  r = Ask(zone_, {"8.8.8.8.in-addr.arpa", kTypePtr});
  EXPECT_EQ(r.response.rcode, Rcode::kRefused);
  r = Ask(zone_, {"010.0.96.10.in-addr.arpa", kTypePtr});
  EXPECT_EQ(r.response.rcode, Rcode::kRefused);
}

TEST_F(DnsAnswer, ApexAndVersion) {
  ParsedResponse r = Ask(zone_, {"cluster.local", kTypeSoa});
  EXPECT_EQ(Lines(r.response.answer), std::vector<std::string>{std::string(kSoa)});
  r = Ask(zone_, {"cluster.local", kTypeNs});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{"cluster.local. 5 NS ns.dns.cluster.local."});
  r = Ask(zone_, {"ns.dns.cluster.local"});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{"ns.dns.cluster.local. 5 A 10.96.0.10"});
  r = Ask(zone_, {"dns-version.cluster.local", kTypeTxt});
  EXPECT_EQ(Lines(r.response.answer),
            std::vector<std::string>{"dns-version.cluster.local. 5 TXT \"1.1.0\""});
  r = Ask(zone_, {"web.default.svc.cluster.local", kTypeAny});
  EXPECT_EQ(r.response.answer.size(), 3u);  // A and two SRV
}

TEST_F(DnsAnswer, OutsideTheZone) {
  Reply reply;
  ParsedResponse r = Ask(zone_, {"example.org"}, &reply);  // example.test: the world's (forwarded)
  EXPECT_EQ(r.response.rcode, Rcode::kRefused);
  EXPECT_FALSE(r.response.aa);
  EXPECT_TRUE(r.response.answer.empty());
  r = Ask(zone_, {"."});
  EXPECT_EQ(r.response.rcode, Rcode::kRefused);
  r = Ask(zone_, {"local"});
  EXPECT_EQ(r.response.rcode, Rcode::kRefused);
  // A forwarder for a suffix: the query is relayed, the rest still refused.
  zone_.forwarders = {{"example.test", *net::IpAddr::Parse("192.0.2.53"), 53}};  // not the world's
  Query q;
  q.id = 9;
  q.qname = FromText("www.Example.TEST");
  q.qtype = kTypeA;
  q.qclass = kClassIn;
  Reply fw = Respond(zone_, *EncodeQuery(q), Transport::kUdp);
  EXPECT_EQ(fw.verdict, Verdict::kForward);
  ASSERT_NE(fw.forwarder, nullptr);
  EXPECT_EQ(fw.forwarder->server.ToString(), "192.0.2.53");
  r = Ask(zone_, {"example.org"});
  EXPECT_EQ(r.response.rcode, Rcode::kRefused);
  // Not class IN, not QUERY.
  r = Ask(zone_, {"web.default.svc.cluster.local", kTypeA, Transport::kUdp, false, 0, 3});
  EXPECT_EQ(r.response.rcode, Rcode::kRefused);
  r = Ask(zone_, {"web.default.svc.cluster.local", kTypeA, Transport::kUdp, false, 0, kClassIn, 2});
  EXPECT_EQ(r.response.rcode, Rcode::kNotImp);
}

TEST_F(DnsAnswer, TruncationAndEdns) {
  // 60 endpoints behind the headless Service: 60 A records are ~1 KB.
  ASSERT_TRUE(config::ScaleDeployment(spec_, "data/db", 60).ok());
  Zone big = BuildZone(spec_, zone_.dns_ip, 9);
  Reply reply;
  ParsedResponse r = Ask(big, {"db-hl.data.svc.cluster.local"}, &reply);
  EXPECT_TRUE(r.tc);
  EXPECT_TRUE(reply.truncated);
  EXPECT_TRUE(r.response.answer.empty());  // no partial RRset: the client retries over TCP
  r = Ask(big, {"db-hl.data.svc.cluster.local", kTypeA, Transport::kTcp});
  EXPECT_FALSE(r.tc);
  EXPECT_EQ(r.response.answer.size(), 60u);
  // EDNS: the client's buffer size counts, and the answer carries an OPT record.
  r = Ask(big, {"db-hl.data.svc.cluster.local", kTypeA, Transport::kUdp, true, 4096});
  EXPECT_FALSE(r.tc);
  EXPECT_EQ(r.response.answer.size(), 60u);
  EXPECT_TRUE(r.response.edns);
  EXPECT_EQ(r.edns_udp_size, kAdvertisedUdpSize);
  // A buffer under 512 counts as 512.
  r = Ask(big, {"db-hl.data.svc.cluster.local", kTypeA, Transport::kUdp, true, 100});
  EXPECT_TRUE(r.tc);
  r = Ask(zone_, {"web.default.svc.cluster.local", kTypeA, Transport::kUdp, true, 100});
  EXPECT_FALSE(r.tc);
  EXPECT_EQ(r.response.answer.size(), 1u);
}

// The attack pass's two: a zone transfer and an EDNS version the resolver does not speak.
TEST_F(DnsAnswer, ZoneTransferRefused) {
  for (uint16_t type : {kTypeAxfr, kTypeIxfr}) {
    for (Transport t : {Transport::kTcp, Transport::kUdp}) {
      Reply reply;
      ParsedResponse r = Ask(zone_, {"cluster.local", type, t}, &reply);
      EXPECT_EQ(r.response.rcode, Rcode::kRefused) << type;
      EXPECT_TRUE(r.response.answer.empty());
      EXPECT_TRUE(r.response.authority.empty());  // no SOA: nothing of the zone is handed out
      EXPECT_EQ(reply.rcode, Rcode::kRefused);
    }
  }
}

TEST_F(DnsAnswer, EdnsVersionOneIsBadVers) {
  Reply reply;
  ParsedResponse r = Ask(
      zone_, {"web.default.svc.cluster.local", kTypeA, Transport::kUdp, true, 1232, kClassIn, 0, 1},
      &reply);
  EXPECT_EQ(r.response.rcode, Rcode::kBadVers);  // 16: header 0, the OPT's extended rcode 1
  EXPECT_EQ(reply.wire[3] & 0x0f, 0);
  EXPECT_EQ(reply.rcode, Rcode::kBadVers);
  EXPECT_TRUE(r.response.edns);
  EXPECT_EQ(r.edns_version, 0);  // the version we speak
  EXPECT_TRUE(r.response.answer.empty());
  // Version 0 still answers, and a counter per rcode says which was which.
  Counters c;
  c.Count(reply);
  Reply ok;
  r = Ask(zone_, {"web.default.svc.cluster.local", kTypeA, Transport::kUdp, true, 1232}, &ok);
  EXPECT_EQ(r.response.rcode, Rcode::kNoError);
  EXPECT_EQ(r.response.answer.size(), 1u);
  c.Count(ok);
  EXPECT_EQ(c.rcodes[static_cast<size_t>(Rcode::kBadVers)], 1u);
  EXPECT_EQ(c.rcodes[0], 1u);
  EXPECT_EQ(ToString(Rcode::kBadVers), "BADVERS");
}

TEST(DnsDrop, MalformedQueriesAreDroppedAndCounted) {
  Zone zone = BuildZone(LoadLab(), std::nullopt);
  Query q;
  q.id = 1;
  q.qname = FromText("web.default.svc.cluster.local");
  q.qtype = kTypeA;
  q.qclass = kClassIn;
  std::vector<uint8_t> good = *EncodeQuery(q);
  std::vector<uint8_t> response = good;
  response[2] |= 0x80;  // QR
  std::vector<uint8_t> two = good;
  two[5] = 2;  // QDCOUNT 2, one question present
  // A name that points at itself: offset 12 holds a pointer to offset 12.
  std::vector<uint8_t> loop(good.begin(), good.begin() + 12);
  loop.insert(loop.end(), {0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01});
  std::vector<uint8_t> no_question(good.begin(), good.begin() + 12);
  no_question[5] = 0;
  struct Row {
    std::string what;
    std::vector<uint8_t> wire;
    DropReason reason;
  };
  const Row rows[] = {
      {"empty", {}, DropReason::kShort},
      {"11 bytes", std::vector<uint8_t>(good.begin(), good.begin() + 11), DropReason::kShort},
      {"a response", response, DropReason::kResponse},
      {"truncated name", std::vector<uint8_t>(good.begin(), good.begin() + 20),
       DropReason::kMalformed},
      {"compression loop", loop, DropReason::kMalformed},
      {"qdcount 2", two, DropReason::kMalformed},
      {"no question", no_question, DropReason::kNotOneQuestion},
  };
  Counters c;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    Reply r = Respond(zone, row.wire, Transport::kUdp);
    EXPECT_EQ(r.verdict, Verdict::kDrop);
    EXPECT_EQ(r.drop, row.reason) << ToString(r.drop);
    EXPECT_TRUE(r.wire.empty());
    c.Count(r);
  }
  c.Count(Respond(zone, good, Transport::kUdp));
  EXPECT_EQ(c.queries, std::size(rows) + 1);
  EXPECT_EQ(c.Dropped(), std::size(rows));
  EXPECT_EQ(c.rcodes[0], 1u);
  EXPECT_EQ(c.dropped[static_cast<size_t>(DropReason::kMalformed)], 3u);
}

TEST(DnsZone, BuiltFromTheLab) {
  config::ClusterSpec spec = LoadLab();
  Zone z = BuildZone(spec, std::nullopt);
  EXPECT_EQ(z.domain, "cluster.local");
  EXPECT_EQ(z.ttl, 5u);
  EXPECT_EQ(z.namespaces, (std::vector<std::string>{"data", "default", "kube-system"}));
  EXPECT_EQ(z.services.size(), 4u);  // and kube-system/kube-dns
  EXPECT_EQ(z.pods.size(), spec.pods.size());
  EXPECT_EQ(z.reverse_prefixes.size(), 2u);
  EXPECT_EQ(DashedAddress(*net::IpAddr::Parse("10.244.1.5")), "10-244-1-5");
  EXPECT_EQ(DashedAddress(*net::IpAddr::Parse("fd00::5")), "fd00--5");
}

// The lab keys: cluster_ip = "None", [cluster] dns, and the pod and Service the resolver adds.
TEST(DnsLab, SystemPodAndServiceComeLast) {
  config::ClusterSpec spec = LoadLab();
  ASSERT_TRUE(spec.dns);
  const config::ServiceSpec* hl = spec.FindService("data/db-hl");
  ASSERT_NE(hl, nullptr);
  EXPECT_TRUE(hl->headless);
  EXPECT_EQ(hl->cluster_ip, net::Ipv4{});
  EXPECT_EQ(hl->endpoints.size(), 2u);
  // kube-dns: the 10th address, the last Service; coredns: the last pod, on node1, after its pods.
  ASSERT_EQ(spec.DnsIp(), net::Ipv4::Parse("10.96.0.10"));
  EXPECT_EQ(spec.services.back().name, "kube-system/kube-dns");
  EXPECT_EQ(spec.services.back().endpoints,
            std::vector<int>{static_cast<int>(spec.pods.size()) - 1});
  const config::PodSpec& dns = spec.pods.back();
  EXPECT_EQ(dns.name, "kube-system/coredns");
  EXPECT_EQ(dns.node, 0);
  for (int k : spec.nodes[0].pods) EXPECT_LE(spec.pods[k].ip, dns.ip);
  // The same lab without it: every other pod and Service keeps its address.
  config::ClusterSpec off =
      LoadLab(std::string(testing::kLab)
                  .replace(testing::kLab.find("nodes = 2"), 9, "nodes = 2\ndns = false"));
  EXPECT_FALSE(off.dns);
  EXPECT_FALSE(off.DnsIp().has_value());
  ASSERT_EQ(off.pods.size() + 1, spec.pods.size());
  ASSERT_EQ(off.services.size() + 1, spec.services.size());
  for (size_t i = 0; i < off.pods.size(); ++i) {
    EXPECT_EQ(off.pods[i].ip, spec.pods[i].ip) << off.pods[i].name;
    EXPECT_EQ(off.pods[i].node, spec.pods[i].node) << off.pods[i].name;
  }
  for (size_t i = 0; i < off.services.size(); ++i)
    EXPECT_EQ(off.services[i].cluster_ip, spec.services[i].cluster_ip);
  EXPECT_EQ(ResolvConf("data", net::IpAddr::FromV4(*spec.DnsIp())),
            "# written by minikube-net for pods of namespace data (as kubelet does)\n"
            "search data.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\noptions ndots:5\n");
}

TEST(DnsLab, TenthAddressTakenAndBadKeys) {
  // The lab's own Service holds .10: kube-dns takes the highest free address.
  std::string lab = std::string(testing::kLab) +
                    "\n[[service]]\nname = \"ten\"\ncluster_ip = \"10.96.0.10\"\nselector = { app "
                    "= \"web\" }\n  [[service.port]]\n  port = 81\n";
  config::ClusterSpec spec = LoadLab(lab);
  EXPECT_EQ(spec.DnsIp(), net::Ipv4::Parse("10.111.255.254"));
  struct Row {
    std::string add, error;
  };
  const Row rows[] = {
      {"\n[[service]]\nname = \"np\"\ntype = \"NodePort\"\ncluster_ip = \"None\"\nselector = { "
       "app = \"web\" }\n  [[service.port]]\n  port = 82\n",
       "cannot be type = \"NodePort\""},
      {"\n[[service]]\nname = \"kube-dns\"\nnamespace = \"kube-system\"\nselector = { app = "
       "\"web\" }\n  [[service.port]]\n  port = 82\n",
       "is the cluster DNS's"},
      {"\n[[pod]]\nname = \"coredns\"\nnamespace = \"kube-system\"\n  [[pod.container]]\n  name "
       "= \"c\"\n  app = \"tcp-echo\"\n  ports = [{ port = 1 }]\n",
       "is the cluster DNS's"},
  };
  for (const Row& row : rows) {
    config::LoadResult r = config::Load(std::string(testing::kLab) + row.add, "bad.toml");
    std::string all;
    for (const auto& d : r.diags.all()) all += d.message + "\n";
    EXPECT_FALSE(r.spec.has_value()) << row.add;
    EXPECT_NE(all.find(row.error), std::string::npos) << all;
  }
}

}  // namespace
}  // namespace mkn::dns
