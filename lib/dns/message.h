// lib/dns/message — DNS messages as data, parsed and built with Debian's ldns (NLnet Labs).
//
// ldns does the wire format (label lengths, compression pointers and their loops, EDNS's OPT
// record); this file turns its packets into the small structs answer.cc decides on, and back.
// ldns stays behind this header: no other room sees its types. Pure (ldns's parse and build
// functions do no I/O).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/dns/answer.h"
#include "lib/net/ip_addr.h"

namespace mkn::dns {

// A name as its labels, most specific first ("web", "default", "svc", "cluster", "local"); the
// root is empty. Labels are raw bytes (a label may hold a dot or a NUL: it then matches nothing).
using Name = std::vector<std::string>;

// ASCII-lowercased (DNS compares names case-insensitively, RFC 4343).
Name Lower(const Name& name);
// "web.default.svc.cluster.local." (bytes outside [-_a-z0-9A-Z] escaped as \DDD): for tests and
// logs.
std::string ToText(const Name& name);
// "a.b.c" → {"a", "b", "c"} (no escapes: for names the tool makes itself).
Name FromText(std::string_view text);

struct Query {
  uint16_t id = 0;
  uint8_t opcode = 0;
  bool rd = false;
  bool cd = false;
  Name qname;  // as asked (case kept: the response echoes it)
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  bool edns = false;  // an OPT record came with it
  uint16_t edns_udp_size = 0;
  uint8_t edns_version = 0;
  bool edns_do = false;
};

// kNone and the query, or the reason it is dropped (kShort, kResponse, kMalformed,
// kNotOneQuestion).
struct Parsed {
  DropReason drop = DropReason::kNone;
  Query query;
};
Parsed ParseQuery(std::span<const uint8_t> wire);

struct Record {
  Name owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  net::IpAddr address;                          // A (IPv4), AAAA (IPv6)
  Name target;                                  // PTR, NS, SRV's target, SOA's mname
  uint16_t priority = 0, weight = 0, port = 0;  // SRV
  Name rname;                                   // SOA
  uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;  // SOA
  std::string text;                                                      // TXT (one string)
};

struct Response {
  uint16_t id = 0;
  uint8_t opcode = 0;
  bool aa = false, rd = false, ra = false, cd = false;
  Rcode rcode = Rcode::kNoError;
  bool has_question = false;
  Name qname;
  uint16_t qtype = 0, qclass = 0;
  bool edns = false;  // answer with an OPT record (the query had one)
  std::vector<Record> answer, authority, additional;
};

// The response's wire form. When it is longer than `limit` it is encoded again with TC set and
// no records (the question and OPT kept), and `*truncated` says so (RFC 2181 9: a client then
// retries over TCP rather than use part of an RRset). Errors: kInvalidArgument when a name or
// record cannot be encoded (a label over 63 bytes, a name over 255), kInternal if ldns fails.
absl::StatusOr<std::vector<uint8_t>> Encode(const Response& response, size_t limit,
                                            bool* truncated);

// The other side, for tests and tools: a query's wire form, and a response's parsed back.
absl::StatusOr<std::vector<uint8_t>> EncodeQuery(const Query& query);
struct ParsedResponse {
  Response response;
  bool tc = false;
  bool qr = false;
  uint16_t edns_udp_size = 0;
  uint8_t edns_version = 0;
};
absl::StatusOr<ParsedResponse> ParseResponse(std::span<const uint8_t> wire);

}  // namespace mkn::dns
