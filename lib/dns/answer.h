// lib/dns/answer — the cluster resolver's decisions: a query's bytes in, the answer's bytes out.
//
// Respond() parses a query (lib/dns/message: Debian's ldns), answers it from a Zone following the
// Kubernetes DNS specification and CoreDNS's kubernetes plugin, and encodes the response:
//   - A (and, for a headless Service, every ready endpoint), SRV _<port>._<proto>.<svc>.<ns>.svc
//     for named ports (the target's A in the additional section), pod A a-b-c-d.<ns>.pod, PTR for
//     Service, endpoint and pod addresses, the zone apex's SOA and NS, dns-version's TXT;
//   - a name that exists without the asked type (AAAA of a v4-only name, an empty non-terminal
//     such as <ns>.svc) is NODATA: NOERROR, no answer, the SOA in authority. glibc asks A and
//     AAAA in parallel and takes NXDOMAIN on either as "no such name", so this distinction is
//     what makes getent/curl work at all;
//   - a name under the zone that does not exist is NXDOMAIN with the SOA in authority;
//   - names outside the zone (and reverse names outside the lab's CIDRs) are REFUSED, unless a
//     Forwarder serves their suffix (verdict kForward: the caller relays the query bytes);
//   - AA on every authoritative answer, RD copied, RA set (the resolver recurses where it
//     forwards, as kube-dns/CoreDNS advertise), the question echoed as asked (0x20 case kept);
//   - over UDP a response larger than 512 bytes, or the query's EDNS buffer size (clamped to
//     512-4096), is sent truncated (TC, no records) so the client retries over TCP, where it
//     gets all of it (up to 65535 bytes).
// What is not a well-formed query is dropped and counted by reason, never answered: a response
// (QR set), a packet ldns cannot parse (truncated, a compression loop, bad lengths), or a query
// without exactly one question. Other opcodes get NOTIMP, other classes REFUSED; a zone transfer
// (AXFR, IXFR) is REFUSED, as CoreDNS refuses a transfer its `transfer` plugin does not allow (a
// lab's zone is not for copying, and an empty NOERROR would read as "the zone is empty"); an EDNS
// version other than 0 gets BADVERS with our own OPT at version 0 (RFC 6891 6.1.3). Pure.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lib/dns/zone.h"

namespace mkn::dns {

enum class Transport { kUdp, kTcp };

enum class Verdict {
  kAnswer,   // send `wire`
  kForward,  // relay the query unchanged to `forwarder`, and its answer back
  kDrop,     // send nothing; `drop` says why
};

enum class DropReason {
  kNone,
  kShort,      // under the 12-byte header
  kResponse,   // QR set: never answer an answer (a reflection loop)
  kMalformed,  // ldns could not parse it (lengths, labels, compression pointers)
  kNotOneQuestion,
  kCount,  // the number of reasons, for counters
};
std::string_view ToString(DropReason r);

// The DNS response codes Respond() produces (RFC 1035 4.1.1).
enum class Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
  kBadVers = 16,  // extended (RFC 6891 6.1.3): the low 4 bits in the header, the rest in the OPT
};
// "NOERROR", "SERVFAIL", "BADVERS", ... as dig prints them.
std::string_view ToString(Rcode r);
// Every Rcode above, in order (for tables of counters).
inline constexpr Rcode kRcodes[] = {Rcode::kNoError,  Rcode::kFormErr, Rcode::kServFail,
                                    Rcode::kNxDomain, Rcode::kNotImp,  Rcode::kRefused,
                                    Rcode::kBadVers};

// RR types and classes the answer function knows by name (RFC 1035, 2782, 3596, 6891).
enum RrType : uint16_t {
  kTypeA = 1,
  kTypeNs = 2,
  kTypeSoa = 6,
  kTypePtr = 12,
  kTypeTxt = 16,
  kTypeAaaa = 28,
  kTypeSrv = 33,
  kTypeOpt = 41,
  kTypeIxfr = 251,
  kTypeAxfr = 252,
  kTypeAny = 255,
};
inline constexpr uint16_t kClassIn = 1;
inline constexpr uint16_t kClassAny = 255;

inline constexpr size_t kMaxUdpNoEdns = 512;
inline constexpr size_t kMaxUdpEdns = 4096;  // the most an EDNS client's buffer is taken to be
inline constexpr size_t kMaxTcp = 65535;
// The buffer size this resolver advertises in its own OPT record (the DNS Flag Day 2020 value).
inline constexpr uint16_t kAdvertisedUdpSize = 1232;

struct Reply {
  Verdict verdict = Verdict::kDrop;
  DropReason drop = DropReason::kNone;
  std::vector<uint8_t> wire;  // kAnswer: the response
  Rcode rcode = Rcode::kNoError;
  bool truncated = false;
  const Forwarder* forwarder = nullptr;  // kForward: into the Zone passed in
};

// The whole decision for one query received over `transport`. Pure; allocates.
Reply Respond(const Zone& zone, std::span<const uint8_t> query, Transport transport);

// A response with `rcode` and the query's question (SERVFAIL when a forward cannot be made);
// empty if the query is not one Respond() would answer.
std::vector<uint8_t> Failure(std::span<const uint8_t> query, Rcode rcode);

// What a server counts: queries seen, answers by rcode, truncations, forwards, drops by reason.
struct Counters {
  uint64_t queries = 0;
  std::array<uint64_t, 17> rcodes{};  // indexed by Rcode's value (0..16)
  uint64_t truncated = 0;
  uint64_t forwarded = 0;
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> dropped{};
  // DNS over TCP's connection bounds (the server's, vnet/apps): an idle connection closed to make
  // room for a new one, and a new one closed because none was idle to close.
  uint64_t tcp_evicted = 0;
  uint64_t tcp_refused = 0;
  void Count(const Reply& r);
  uint64_t Dropped() const;
};

}  // namespace mkn::dns
