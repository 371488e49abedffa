#include "lib/world/dns.h"

#include <algorithm>
#include <string>

#include "lib/dns/answer.h"
#include "lib/dns/message.h"
#include "lib/world/world.h"

namespace mkn::world {
namespace {

// The zone's SOA, in the authority section of NXDOMAIN and NODATA answers (RFC 2308: how long a
// cache keeps the negative answer).
dns::Record Soa() {
  dns::Record soa;
  soa.owner = dns::FromText(kZone);
  soa.type = dns::kTypeSoa;
  soa.ttl = kDnsTtl;
  soa.target = dns::FromText("ns." + std::string(kZone));
  soa.rname = dns::FromText("hostmaster." + std::string(kZone));
  soa.serial = 1;
  soa.refresh = 3600;
  soa.retry = 600;
  soa.expire = 86400;
  soa.minimum = kDnsTtl;
  return soa;
}

// A name as Lookup() reads it: its labels joined, lowercase. A label holding a dot matches
// nothing (it is not one of the world's names).
std::optional<std::string> Dotted(const dns::Name& name) {
  std::string out;
  for (const std::string& l : dns::Lower(name)) {
    if (l.find('.') != std::string::npos) return std::nullopt;
    if (!out.empty()) out += '.';
    out += l;
  }
  return out;
}

}  // namespace

std::optional<std::vector<uint8_t>> RespondDns(const config::WorldSpec& world,
                                               std::span<const uint8_t> query, bool tcp) {
  const dns::Parsed p = dns::ParseQuery(query);
  if (p.drop != dns::DropReason::kNone) return std::nullopt;
  const dns::Query& q = p.query;
  dns::Response r;
  r.id = q.id;
  r.opcode = q.opcode;
  r.rd = q.rd;
  r.cd = q.cd;
  r.has_question = true;
  r.qname = q.qname;  // echoed as asked (0x20 case kept)
  r.qtype = q.qtype;
  r.qclass = q.qclass;
  r.edns = q.edns;
  const std::optional<std::string> name = Dotted(q.qname);
  const LookupResult found = name ? Lookup(world, *name) : LookupResult{};
  if (q.edns && q.edns_version != 0) {
    r.rcode = dns::Rcode::kBadVers;  // RFC 6891 6.1.3, as the cluster resolver answers
  } else if (q.opcode != 0) {
    r.rcode = dns::Rcode::kNotImp;
  } else if (q.qclass != dns::kClassIn && q.qclass != dns::kClassAny) {
    r.rcode = dns::Rcode::kRefused;
  } else if (q.qtype == dns::kTypeAxfr || q.qtype == dns::kTypeIxfr) {
    r.rcode = dns::Rcode::kRefused;  // no zone transfers, as the cluster resolver
  } else if (found.answer == Answer::kRefused) {
    r.rcode = dns::Rcode::kRefused;
  } else {
    r.aa = true;
    const bool apex = *name == kZone;
    if (found.answer == Answer::kNxDomain) {
      r.rcode = dns::Rcode::kNxDomain;
      r.authority.push_back(Soa());
    } else if (q.qtype == dns::kTypeA || q.qtype == dns::kTypeAny) {
      for (const net::IpAddr& a : found.addrs) {
        dns::Record rec;
        rec.owner = q.qname;
        rec.type = dns::kTypeA;
        rec.ttl = kDnsTtl;
        rec.address = a;
        r.answer.push_back(std::move(rec));
      }
    } else if (apex && q.qtype == dns::kTypeSoa) {
      r.answer.push_back(Soa());
    } else {
      r.authority.push_back(Soa());  // NODATA: the name exists, not with this type (AAAA)
    }
  }
  size_t limit = dns::kMaxUdpNoEdns;
  if (tcp) {
    limit = dns::kMaxTcp;
  } else if (q.edns) {
    limit = std::clamp<size_t>(q.edns_udp_size, dns::kMaxUdpNoEdns, dns::kMaxUdpEdns);
  }
  bool truncated = false;
  absl::StatusOr<std::vector<uint8_t>> wire = dns::Encode(r, limit, &truncated);
  if (!wire.ok()) return std::nullopt;  // a name ldns cannot encode: nothing sensible to say
  return *std::move(wire);
}

}  // namespace mkn::world
