// lib/dns/answer: the Kubernetes DNS specification over a Zone (see answer.h for the contract).

#include "lib/dns/answer.h"

#include <algorithm>
#include <charconv>

#include "lib/dns/message.h"

namespace mkn::dns {
namespace {

// SOA timers as CoreDNS's kubernetes plugin writes them; the minimum (the negative-caching TTL,
// RFC 2308) is the zone's TTL, so that an NXDOMAIN is not remembered longer than an answer.
constexpr uint32_t kSoaRefresh = 7200, kSoaRetry = 1800, kSoaExpire = 86400;

const Name kInAddrArpa = {"in-addr", "arpa"};

bool EndsWith(const Name& name, const Name& suffix) {
  return name.size() >= suffix.size() &&
         std::equal(suffix.begin(), suffix.end(), name.end() - suffix.size());
}

Name Join(std::initializer_list<std::string_view> head, const Name& tail) {
  Name out;
  for (std::string_view h : head) out.emplace_back(h);
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

std::string_view ProtoLabel(config::Protocol p) {
  return p == config::Protocol::kUdp ? "_udp" : "_tcp";
}

// What the zone has at one name: its records of every type (additional-section records for SRV
// targets beside them), and whether the name exists at all (an empty non-terminal exists).
struct Node {
  bool exists = false;
  std::vector<Record> records;
  std::vector<Record> additional;
};

class Answerer {
 public:
  explicit Answerer(const Zone& zone) : zone_(zone), apex_(FromText(zone.domain)) {}

  const Name& apex() const { return apex_; }

  Record Soa(const Name& owner) const {
    Record r;
    r.owner = owner;
    r.type = kTypeSoa;
    r.ttl = zone_.ttl;
    r.target = Join({"ns", "dns"}, apex_);
    r.rname = Join({"hostmaster"}, apex_);
    r.serial = zone_.serial;
    r.refresh = kSoaRefresh;
    r.retry = kSoaRetry;
    r.expire = kSoaExpire;
    r.minimum = zone_.ttl;
    return r;
  }

  Record A(const Name& owner, const net::IpAddr& ip) const {
    Record r;
    r.owner = owner;
    r.type = ip.family == net::Family::kIpv4 ? kTypeA : kTypeAaaa;
    r.ttl = zone_.ttl;
    r.address = ip;
    return r;
  }

  Record Named(const Name& owner, uint16_t type, const Name& target) const {
    Record r;
    r.owner = owner;
    r.type = type;
    r.ttl = zone_.ttl;
    r.target = target;
    return r;
  }

  Record Srv(const Name& owner, int port, const Name& target) const {
    Record r = Named(owner, kTypeSrv, target);
    r.priority = 0;
    r.weight = 100;  // CoreDNS: equal weights, summing to 100 per RRset
    r.port = static_cast<uint16_t>(port);
    return r;
  }

  Name ServiceName(const ZoneService& s) const { return Join({s.name, s.ns, "svc"}, apex_); }

  bool HasNamespace(std::string_view ns) const {
    return std::binary_search(zone_.namespaces.begin(), zone_.namespaces.end(), ns);
  }

  const ZoneService* FindService(std::string_view name, std::string_view ns) const {
    for (const ZoneService& s : zone_.services) {
      if (s.name == name && s.ns == ns) return &s;
    }
    return nullptr;
  }

  // SRV records at `owner` for the service's ports matching (name, proto) — empty strings match
  // any named port — with the targets' addresses as additional records.
  void AddSrv(const ZoneService& s, const Name& owner, std::string_view port_label,
              std::string_view proto_label, Node& node) const {
    Name svc = ServiceName(s);
    auto matches = [&](const ZonePort& p) {
      if (p.name.empty()) return false;
      if (!port_label.empty() && Lower({p.name})[0] != port_label) return false;
      return proto_label.empty() || ProtoLabel(p.protocol) == proto_label;
    };
    if (s.cluster_ip) {
      bool any = false;
      for (const ZonePort& p : s.ports) {
        if (!matches(p)) continue;
        node.records.push_back(Srv(owner, p.port, svc));
        any = true;
      }
      if (any) node.additional.push_back(A(svc, *s.cluster_ip));
      return;
    }
    for (const ZoneEndpoint& e : s.endpoints) {
      Name host = Join({e.hostname}, svc);
      bool any = false;
      for (const ZonePort& p : e.ports) {
        if (!matches(p)) continue;
        node.records.push_back(Srv(owner, p.port, host));
        any = true;
      }
      if (any) node.additional.push_back(A(host, e.ip));
    }
  }

  // Every record at `name` (lowercase, absolute), relative to the zone apex.
  Node Lookup(const Name& name) const {
    Node node;
    Name rel(name.begin(), name.end() - apex_.size());
    const size_t n = rel.size();
    auto at = [&](size_t from_end) -> const std::string& { return rel[n - 1 - from_end]; };
    if (n == 0) {
      node.exists = true;
      node.records.push_back(Soa(name));
      node.records.push_back(Named(name, kTypeNs, Join({"ns", "dns"}, apex_)));
      return node;
    }
    if (n == 1 && rel[0] == "dns-version") {
      node.exists = true;
      Record txt;
      txt.owner = name;
      txt.type = kTypeTxt;
      txt.ttl = zone_.ttl;
      txt.text = std::string(kSpecVersion);
      node.records.push_back(std::move(txt));
      return node;
    }
    if (at(0) == "dns" && zone_.dns_ip) {
      if (n == 1) node.exists = true;
      if (n == 2 && rel[0] == "ns") {
        node.exists = true;
        node.records.push_back(A(name, *zone_.dns_ip));
      }
      return node;
    }
    if (at(0) == "pod") {
      if (n == 1) node.exists = true;
      if (n == 2) node.exists = HasNamespace(rel[0]);
      if (n == 3) {
        for (const ZonePod& p : zone_.pods) {
          // `pods verified`: the address must be a pod of that namespace (see README).
          if (p.ns == rel[1] && DashedAddress(p.ip) == rel[0]) {
            node.exists = true;
            node.records.push_back(A(name, p.ip));
            break;
          }
        }
      }
      return node;
    }
    if (at(0) != "svc") return node;
    if (n == 1) {
      node.exists = true;
      return node;
    }
    if (n == 2) {
      node.exists = HasNamespace(rel[0]);
      return node;
    }
    const ZoneService* s = FindService(at(2), at(1));
    if (s == nullptr) return node;
    if (n == 3) {  // <svc>.<ns>.svc
      node.exists = true;
      if (s->cluster_ip) {
        node.records.push_back(A(name, *s->cluster_ip));
      } else {
        for (const ZoneEndpoint& e : s->endpoints) node.records.push_back(A(name, e.ip));
      }
      AddSrv(*s, name, "", "", node);  // CoreDNS answers SRV at the Service's own name too
      return node;
    }
    const std::string& label = rel[n - 4];
    if (n == 4 && !label.empty() && label[0] != '_') {  // <host>.<svc>.<ns>.svc (headless)
      for (const ZoneEndpoint& e : s->endpoints) {
        if (e.hostname == label) {
          node.exists = true;
          node.records.push_back(A(name, e.ip));
        }
      }
      return node;
    }
    if (n == 4 && (label == "_tcp" || label == "_udp")) {  // an empty non-terminal
      for (const ZonePort& p : s->ports) {
        if (!p.name.empty() && ProtoLabel(p.protocol) == label) node.exists = true;
      }
      return node;
    }
    if (n == 5 && rel[0].size() > 1 && rel[0][0] == '_') {  // _<port>._<proto>.<svc>.<ns>.svc
      AddSrv(*s, name, std::string_view(rel[0]).substr(1), rel[1], node);
      node.exists = !node.records.empty();
    }
    return node;
  }

  // The reverse name d.c.b.a.in-addr.arpa of an IPv4 address in one of the zone's prefixes.
  // nullopt: not ours (REFUSED, or forwarded).
  std::optional<Node> Reverse(const Name& name) const {
    size_t k = name.size() - kInAddrArpa.size();  // address labels given
    if (k > 4) return std::nullopt;
    std::array<uint8_t, 4> octets{};
    for (size_t i = 0; i < k; ++i) {
      const std::string& l = name[k - 1 - i];
      unsigned v = 0;
      auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), v);
      if (ec != std::errc() || p != l.data() + l.size() || v > 255 || l.empty() ||
          (l.size() > 1 && l[0] == '0')) {
        return std::nullopt;
      }
      octets[i] = static_cast<uint8_t>(v);
    }
    net::IpAddr ip;
    std::copy(octets.begin(), octets.end(), ip.bytes.begin());
    bool ours = false;
    for (const net::IpPrefix& p : zone_.reverse_prefixes) {
      if (p.family() != net::Family::kIpv4) continue;
      // The given octets name a /8k: it is ours if it overlaps one of our prefixes.
      net::IpPrefix given{ip, static_cast<int>(8 * k)};
      if (p.Overlaps(given)) ours = true;
    }
    if (!ours) return std::nullopt;
    Node node;
    if (k < 4) {
      node.exists = true;  // an empty non-terminal above our addresses
      return node;
    }
    for (const ZoneService& s : zone_.services) {
      if (s.cluster_ip && *s.cluster_ip == ip) {
        node.records.push_back(Named(name, kTypePtr, ServiceName(s)));
      }
    }
    if (node.records.empty()) {
      for (const ZoneService& s : zone_.services) {
        for (const ZoneEndpoint& e : s.endpoints) {
          if (e.ip == ip)
            node.records.push_back(Named(name, kTypePtr, Join({e.hostname}, ServiceName(s))));
        }
      }
    }
    if (node.records.empty()) {
      for (const ZonePod& p : zone_.pods) {
        if (p.ip == ip) {
          node.records.push_back(
              Named(name, kTypePtr, Join({DashedAddress(ip), p.ns, "pod"}, apex_)));
        }
      }
    }
    node.exists = !node.records.empty();
    return node;
  }

 private:
  const Zone& zone_;
  Name apex_;
};

const Forwarder* FindForwarder(const Zone& zone, const Name& name) {
  const Forwarder* best = nullptr;
  size_t best_len = 0;
  for (const Forwarder& f : zone.forwarders) {
    Name suffix = FromText(f.suffix);
    if (!EndsWith(name, suffix)) continue;
    if (best == nullptr || suffix.size() > best_len) {
      best = &f;
      best_len = suffix.size();
    }
  }
  return best;
}

}  // namespace

std::string_view ToString(DropReason r) {
  switch (r) {
    case DropReason::kNone:
      return "none";
    case DropReason::kShort:
      return "short";
    case DropReason::kResponse:
      return "response";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kNotOneQuestion:
      return "not_one_question";
    case DropReason::kCount:
      break;
  }
  return "?";
}

std::string_view ToString(Rcode r) {
  switch (r) {
    case Rcode::kNoError:
      return "NOERROR";
    case Rcode::kFormErr:
      return "FORMERR";
    case Rcode::kServFail:
      return "SERVFAIL";
    case Rcode::kNxDomain:
      return "NXDOMAIN";
    case Rcode::kNotImp:
      return "NOTIMP";
    case Rcode::kRefused:
      return "REFUSED";
    case Rcode::kBadVers:
      return "BADVERS";
  }
  return "?";
}

Reply Respond(const Zone& zone, std::span<const uint8_t> wire, Transport transport) {
  Reply reply;
  Parsed parsed = ParseQuery(wire);
  if (parsed.drop != DropReason::kNone) {
    reply.drop = parsed.drop;
    return reply;
  }
  const Query& q = parsed.query;
  Response r;
  r.id = q.id;
  r.opcode = q.opcode;
  r.rd = q.rd;
  r.cd = q.cd;
  r.ra = true;
  r.has_question = true;
  r.qname = q.qname;
  r.qtype = q.qtype;
  r.qclass = q.qclass;
  r.edns = q.edns;

  Answerer ans(zone);
  Name name = Lower(q.qname);
  if (q.edns && q.edns_version != 0) {
    // RFC 6891 6.1.3: a version we do not implement is BADVERS, whatever was asked; our OPT says
    // version 0, the one a client falls back to.
    r.rcode = Rcode::kBadVers;
  } else if (q.opcode != 0) {
    r.rcode = Rcode::kNotImp;
  } else if (q.qclass != kClassIn && q.qclass != kClassAny) {
    r.rcode = Rcode::kRefused;
  } else if (q.qtype == kTypeAxfr || q.qtype == kTypeIxfr) {
    r.rcode = Rcode::kRefused;
  } else {
    std::optional<Node> node;
    Name soa_owner = ans.apex();
    if (EndsWith(name, ans.apex())) {
      node = ans.Lookup(name);
    } else if (EndsWith(name, kInAddrArpa)) {
      node = ans.Reverse(name);
      soa_owner = kInAddrArpa;
    }
    if (!node) {
      if (const Forwarder* f = FindForwarder(zone, name)) {
        reply.verdict = Verdict::kForward;
        reply.forwarder = f;
        return reply;
      }
      r.rcode = Rcode::kRefused;
    } else {
      r.aa = true;
      for (Record& rec : node->records) {
        if (q.qtype == kTypeAny || rec.type == q.qtype) {
          rec.owner = q.qname;  // the name as asked: 0x20-randomizing resolvers check it
          r.answer.push_back(std::move(rec));
        }
      }
      if (!r.answer.empty()) {
        if (q.qtype == kTypeSrv || q.qtype == kTypeAny) r.additional = std::move(node->additional);
      } else {
        r.rcode = node->exists ? Rcode::kNoError : Rcode::kNxDomain;
        r.authority.push_back(ans.Soa(soa_owner));
      }
    }
  }
  size_t limit = kMaxTcp;
  if (transport == Transport::kUdp) {
    limit =
        q.edns ? std::clamp<size_t>(q.edns_udp_size, kMaxUdpNoEdns, kMaxUdpEdns) : kMaxUdpNoEdns;
  }
  absl::StatusOr<std::vector<uint8_t>> out = Encode(r, limit, &reply.truncated);
  if (!out.ok()) {
    // A name the zone holds that cannot be encoded is the tool's bug, not the client's: say
    // SERVFAIL rather than nothing, so the client does not wait out its timeout.
    r.rcode = Rcode::kServFail;
    r.aa = false;
    r.answer.clear();
    r.authority.clear();
    r.additional.clear();
    out = Encode(r, limit, &reply.truncated);
    if (!out.ok()) {
      reply.drop = DropReason::kMalformed;
      return reply;
    }
  }
  reply.verdict = Verdict::kAnswer;
  reply.rcode = r.rcode;
  reply.wire = *std::move(out);
  return reply;
}

std::vector<uint8_t> Failure(std::span<const uint8_t> wire, Rcode rcode) {
  Parsed parsed = ParseQuery(wire);
  if (parsed.drop != DropReason::kNone) return {};
  const Query& q = parsed.query;
  Response r;
  r.id = q.id;
  r.opcode = q.opcode;
  r.rd = q.rd;
  r.ra = true;
  r.rcode = rcode;
  r.has_question = true;
  r.qname = q.qname;
  r.qtype = q.qtype;
  r.qclass = q.qclass;
  r.edns = q.edns;
  bool truncated = false;
  absl::StatusOr<std::vector<uint8_t>> out = Encode(r, kMaxUdpNoEdns, &truncated);
  return out.ok() ? *std::move(out) : std::vector<uint8_t>{};
}

void Counters::Count(const Reply& r) {
  ++queries;
  switch (r.verdict) {
    case Verdict::kAnswer:
      ++rcodes[static_cast<size_t>(r.rcode) < rcodes.size()
                   ? static_cast<size_t>(r.rcode)
                   : static_cast<size_t>(Rcode::kServFail)];
      if (r.truncated) ++truncated;
      break;
    case Verdict::kForward:
      ++forwarded;
      break;
    case Verdict::kDrop:
      ++dropped[static_cast<size_t>(r.drop)];
      break;
  }
}

uint64_t Counters::Dropped() const {
  uint64_t n = 0;
  for (uint64_t d : dropped) n += d;
  return n;
}

}  // namespace mkn::dns
