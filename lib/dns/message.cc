// lib/dns/message: ldns packets ↔ the structs answer.cc decides on.

#include "lib/dns/message.h"

// stdbool.h first: it says bool, true and false exist, without which ldns's common.h defines
// true and false as macros (1 and 0), for this file and, in a unity build, every file after it.
// clang-format off
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
#include <ldns/ldns.h>
// clang-format on

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"

namespace mkn::dns {
namespace {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
struct RdfDeleter {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;
struct RrDeleter {
  void operator()(ldns_rr* r) const { ldns_rr_free(r); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;

constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxName = 255;

// A dname rdf's wire form (uncompressed: ldns expands pointers when it parses) as labels.
Name LabelsOf(const ldns_rdf* rdf) {
  Name out;
  const uint8_t* d = ldns_rdf_data(rdf);
  size_t n = ldns_rdf_size(rdf);
  size_t i = 0;
  while (i < n && d[i] != 0) {
    size_t len = d[i];
    if (i + 1 + len > n) break;  // ldns checked this; never trust a length twice
    out.emplace_back(reinterpret_cast<const char*>(d + i + 1), len);
    i += 1 + len;
  }
  return out;
}

absl::StatusOr<RdfPtr> DnameOf(const Name& name) {
  std::string wire;
  for (const std::string& label : name) {
    if (label.empty() || label.size() > kMaxLabel) {
      return absl::InvalidArgumentError(
          StrCat("encode name ", ToText(name), ": a label is empty or over 63 bytes"));
    }
    wire.push_back(static_cast<char>(label.size()));
    wire += label;
  }
  wire.push_back('\0');
  if (wire.size() > kMaxName) {
    return absl::InvalidArgumentError(StrCat("encode name ", ToText(name), ": over 255 bytes"));
  }
  ldns_rdf* rdf = ldns_dname_new_frm_data(static_cast<uint16_t>(wire.size()), wire.data());
  if (rdf == nullptr) return absl::InternalError("encode name: ldns_dname_new_frm_data failed");
  return RdfPtr(rdf);
}

ldns_rdf* Int16(uint16_t v) { return ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, v); }
ldns_rdf* Int32(uint32_t v) { return ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, v); }

absl::StatusOr<RrPtr> RrOf(const Record& r) {
  RrPtr rr(ldns_rr_new());
  if (!rr) return absl::InternalError("encode record: ldns_rr_new failed");
  MKN_ASSIGN_OR_RETURN(RdfPtr owner, DnameOf(r.owner));
  ldns_rr_set_owner(rr.get(), owner.release());
  ldns_rr_set_type(rr.get(), static_cast<ldns_rr_type>(r.type));
  ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr.get(), r.ttl);
  std::vector<ldns_rdf*> rdfs;
  auto dname = [&](const Name& n) -> absl::Status {
    MKN_ASSIGN_OR_RETURN(RdfPtr d, DnameOf(n));
    rdfs.push_back(d.release());
    return absl::OkStatus();
  };
  absl::Status st;
  switch (r.type) {
    case kTypeA:
      rdfs.push_back(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, r.address.bytes.data()));
      break;
    case kTypeAaaa:
      rdfs.push_back(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, r.address.bytes.data()));
      break;
    case kTypePtr:
    case kTypeNs:
      st = dname(r.target);
      break;
    case kTypeSrv:
      rdfs.push_back(Int16(r.priority));
      rdfs.push_back(Int16(r.weight));
      rdfs.push_back(Int16(r.port));
      st = dname(r.target);
      break;
    case kTypeSoa:
      st = dname(r.target);
      if (st.ok()) st = dname(r.rname);
      for (uint32_t v : {r.serial, r.refresh, r.retry, r.expire, r.minimum})
        rdfs.push_back(Int32(v));
      break;
    case kTypeTxt: {
      std::string s(1, static_cast<char>(std::min<size_t>(r.text.size(), 255)));
      s.append(r.text, 0, 255);
      rdfs.push_back(ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, s.size(), s.data()));
      break;
    }
    default:
      st = absl::InvalidArgumentError(StrCat("encode record: type ", r.type, " is not built"));
  }
  for (ldns_rdf* rdf : rdfs) {
    if (rdf == nullptr) {
      st = absl::InternalError("encode record: ldns could not make an rdata field");
      continue;
    }
    ldns_rr_push_rdf(rr.get(), rdf);  // owned by rr from here, freed with it on error too
  }
  MKN_RETURN_IF_ERROR(st);
  return rr;
}

absl::StatusOr<PktPtr> PacketOf(const Response& r, bool with_records) {
  PktPtr pkt(ldns_pkt_new());
  if (!pkt) return absl::InternalError("encode response: ldns_pkt_new failed");
  ldns_pkt_set_id(pkt.get(), r.id);
  ldns_pkt_set_qr(pkt.get(), true);
  ldns_pkt_set_opcode(pkt.get(), static_cast<ldns_pkt_opcode>(r.opcode));
  ldns_pkt_set_aa(pkt.get(), r.aa);
  ldns_pkt_set_rd(pkt.get(), r.rd);
  ldns_pkt_set_ra(pkt.get(), r.ra);
  ldns_pkt_set_cd(pkt.get(), r.cd);
  // An extended rcode (BADVERS) splits: its low 4 bits in the header, the rest in the OPT record.
  ldns_pkt_set_rcode(pkt.get(), static_cast<uint8_t>(r.rcode) & 0x0f);
  if (r.has_question) {
    RrPtr q(ldns_rr_new());
    if (!q) return absl::InternalError("encode response: ldns_rr_new failed");
    MKN_ASSIGN_OR_RETURN(RdfPtr owner, DnameOf(r.qname));
    ldns_rr_set_owner(q.get(), owner.release());
    ldns_rr_set_type(q.get(), static_cast<ldns_rr_type>(r.qtype));
    ldns_rr_set_class(q.get(), static_cast<ldns_rr_class>(r.qclass));
    ldns_rr_set_question(q.get(), true);
    ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, q.release());
  }
  if (with_records) {
    const std::pair<const std::vector<Record>*, ldns_pkt_section> sections[] = {
        {&r.answer, LDNS_SECTION_ANSWER},
        {&r.authority, LDNS_SECTION_AUTHORITY},
        {&r.additional, LDNS_SECTION_ADDITIONAL}};
    for (const auto& [records, section] : sections) {
      for (const Record& rec : *records) {
        MKN_ASSIGN_OR_RETURN(RrPtr rr, RrOf(rec));
        ldns_pkt_push_rr(pkt.get(), section, rr.release());
      }
    }
  }
  if (r.edns) {
    ldns_pkt_set_edns_udp_size(pkt.get(), kAdvertisedUdpSize);
    ldns_pkt_set_edns_version(pkt.get(), 0);
    ldns_pkt_set_edns_extended_rcode(pkt.get(), static_cast<uint8_t>(r.rcode) >> 4);
  }
  return pkt;
}

absl::StatusOr<std::vector<uint8_t>> WireOf(const ldns_pkt* pkt) {
  uint8_t* buf = nullptr;
  size_t size = 0;
  ldns_status st = ldns_pkt2wire(&buf, pkt, &size);
  if (st != LDNS_STATUS_OK || buf == nullptr) {
    std::free(buf);
    return absl::InternalError(StrCat("encode message: ", ldns_get_errorstr_by_id(st)));
  }
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);  // ldns allocates with malloc (LDNS_XMALLOC)
  return out;
}

void Fill(const ldns_rr_list* list, std::vector<Record>& out) {
  for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(list, i);
    Record rec;
    rec.owner = LabelsOf(ldns_rr_owner(rr));
    rec.type = static_cast<uint16_t>(ldns_rr_get_type(rr));
    rec.ttl = ldns_rr_ttl(rr);
    auto rdf = [&](size_t k) { return ldns_rr_rdf(rr, k); };
    auto u16 = [&](size_t k) -> uint16_t {
      const ldns_rdf* f = rdf(k);
      return f && ldns_rdf_size(f) == 2 ? ldns_rdf2native_int16(f) : 0;
    };
    auto u32 = [&](size_t k) -> uint32_t {
      const ldns_rdf* f = rdf(k);
      return f && ldns_rdf_size(f) == 4 ? ldns_rdf2native_int32(f) : 0;
    };
    auto name = [&](size_t k) -> Name { return rdf(k) ? LabelsOf(rdf(k)) : Name{}; };
    switch (rec.type) {
      case kTypeA:
      case kTypeAaaa: {
        const ldns_rdf* f = rdf(0);
        size_t want = rec.type == kTypeA ? 4 : 16;
        if (f && ldns_rdf_size(f) == want) {
          rec.address.family = rec.type == kTypeA ? net::Family::kIpv4 : net::Family::kIpv6;
          std::copy_n(ldns_rdf_data(f), want, rec.address.bytes.begin());
        }
        break;
      }
      case kTypePtr:
      case kTypeNs:
        rec.target = name(0);
        break;
      case kTypeSrv:
        rec.priority = u16(0);
        rec.weight = u16(1);
        rec.port = u16(2);
        rec.target = name(3);
        break;
      case kTypeSoa:
        rec.target = name(0);
        rec.rname = name(1);
        rec.serial = u32(2);
        rec.refresh = u32(3);
        rec.retry = u32(4);
        rec.expire = u32(5);
        rec.minimum = u32(6);
        break;
      case kTypeTxt:
        if (rdf(0) && ldns_rdf_size(rdf(0)) >= 1) {
          const uint8_t* d = ldns_rdf_data(rdf(0));
          rec.text.assign(reinterpret_cast<const char*>(d + 1),
                          std::min<size_t>(d[0], ldns_rdf_size(rdf(0)) - 1));
        }
        break;
      default:
        break;
    }
    out.push_back(std::move(rec));
  }
}

}  // namespace

Name Lower(const Name& name) {
  Name out = name;
  for (std::string& l : out) {
    for (char& c : l) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::string ToText(const Name& name) {
  if (name.empty()) return ".";
  std::string out;
  for (const std::string& l : name) {
    for (char c : l) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
          u == '_') {
        out.push_back(c);
      } else {
        out += '\\';
        out += static_cast<char>('0' + u / 100);
        out += static_cast<char>('0' + u / 10 % 10);
        out += static_cast<char>('0' + u % 10);
      }
    }
    out.push_back('.');
  }
  return out;
}

Name FromText(std::string_view text) {
  Name out;
  while (!text.empty() && text.back() == '.') text.remove_suffix(1);
  size_t start = 0;
  while (start < text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    out.emplace_back(text.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

Parsed ParseQuery(std::span<const uint8_t> wire) {
  Parsed out;
  if (wire.size() < LDNS_HEADER_SIZE) {
    out.drop = DropReason::kShort;
    return out;
  }
  // QR is bit 7 of byte 2: checked before parsing, so that no answer (or reflected answer) costs
  // a parse.
  if (wire[2] & 0x80) {
    out.drop = DropReason::kResponse;
    return out;
  }
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK || raw == nullptr) {
    if (raw != nullptr) ldns_pkt_free(raw);
    out.drop = DropReason::kMalformed;
    return out;
  }
  PktPtr pkt(raw);
  const ldns_rr_list* qs = ldns_pkt_question(pkt.get());
  if (ldns_pkt_qdcount(pkt.get()) != 1 || qs == nullptr || ldns_rr_list_rr_count(qs) != 1) {
    out.drop = DropReason::kNotOneQuestion;
    return out;
  }
  const ldns_rr* q = ldns_rr_list_rr(qs, 0);
  Query& query = out.query;
  query.id = ldns_pkt_id(pkt.get());
  query.opcode = static_cast<uint8_t>(ldns_pkt_get_opcode(pkt.get()));
  query.rd = ldns_pkt_rd(pkt.get());
  query.cd = ldns_pkt_cd(pkt.get());
  query.qname = LabelsOf(ldns_rr_owner(q));
  query.qtype = static_cast<uint16_t>(ldns_rr_get_type(q));
  query.qclass = static_cast<uint16_t>(ldns_rr_get_class(q));
  query.edns = ldns_pkt_edns(pkt.get());
  query.edns_udp_size = ldns_pkt_edns_udp_size(pkt.get());
  query.edns_version = ldns_pkt_edns_version(pkt.get());
  query.edns_do = ldns_pkt_edns_do(pkt.get());
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Encode(const Response& response, size_t limit,
                                            bool* truncated) {
  *truncated = false;
  MKN_ASSIGN_OR_RETURN(PktPtr pkt, PacketOf(response, /*with_records=*/true));
  MKN_ASSIGN_OR_RETURN(std::vector<uint8_t> wire, WireOf(pkt.get()));
  if (wire.size() <= limit) return wire;
  *truncated = true;
  MKN_ASSIGN_OR_RETURN(PktPtr small, PacketOf(response, /*with_records=*/false));
  ldns_pkt_set_tc(small.get(), true);
  return WireOf(small.get());
}

absl::StatusOr<std::vector<uint8_t>> EncodeQuery(const Query& query) {
  PktPtr pkt(ldns_pkt_new());
  if (!pkt) return absl::InternalError("encode query: ldns_pkt_new failed");
  ldns_pkt_set_id(pkt.get(), query.id);
  ldns_pkt_set_opcode(pkt.get(), static_cast<ldns_pkt_opcode>(query.opcode));
  ldns_pkt_set_rd(pkt.get(), query.rd);
  ldns_pkt_set_cd(pkt.get(), query.cd);
  RrPtr q(ldns_rr_new());
  MKN_ASSIGN_OR_RETURN(RdfPtr owner, DnameOf(query.qname));
  ldns_rr_set_owner(q.get(), owner.release());
  ldns_rr_set_type(q.get(), static_cast<ldns_rr_type>(query.qtype));
  ldns_rr_set_class(q.get(), static_cast<ldns_rr_class>(query.qclass));
  ldns_rr_set_question(q.get(), true);
  ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, q.release());
  if (query.edns) {
    ldns_pkt_set_edns_udp_size(pkt.get(), query.edns_udp_size);
    ldns_pkt_set_edns_version(pkt.get(), query.edns_version);
    ldns_pkt_set_edns_do(pkt.get(), query.edns_do);
  }
  return WireOf(pkt.get());
}

absl::StatusOr<ParsedResponse> ParseResponse(std::span<const uint8_t> wire) {
  ldns_pkt* raw = nullptr;
  ldns_status st = ldns_wire2pkt(&raw, wire.data(), wire.size());
  if (st != LDNS_STATUS_OK || raw == nullptr) {
    if (raw != nullptr) ldns_pkt_free(raw);
    return absl::InvalidArgumentError(StrCat("parse response: ", ldns_get_errorstr_by_id(st)));
  }
  PktPtr pkt(raw);
  ParsedResponse out;
  Response& r = out.response;
  r.id = ldns_pkt_id(pkt.get());
  r.opcode = static_cast<uint8_t>(ldns_pkt_get_opcode(pkt.get()));
  r.aa = ldns_pkt_aa(pkt.get());
  r.rd = ldns_pkt_rd(pkt.get());
  r.ra = ldns_pkt_ra(pkt.get());
  r.cd = ldns_pkt_cd(pkt.get());
  r.rcode = static_cast<Rcode>(ldns_pkt_get_rcode(pkt.get()) |
                               ldns_pkt_edns_extended_rcode(pkt.get()) << 4);
  out.tc = ldns_pkt_tc(pkt.get());
  out.qr = ldns_pkt_qr(pkt.get());
  const ldns_rr_list* qs = ldns_pkt_question(pkt.get());
  if (qs != nullptr && ldns_rr_list_rr_count(qs) > 0) {
    const ldns_rr* q = ldns_rr_list_rr(qs, 0);
    r.has_question = true;
    r.qname = LabelsOf(ldns_rr_owner(q));
    r.qtype = static_cast<uint16_t>(ldns_rr_get_type(q));
    r.qclass = static_cast<uint16_t>(ldns_rr_get_class(q));
  }
  r.edns = ldns_pkt_edns(pkt.get());
  out.edns_udp_size = ldns_pkt_edns_udp_size(pkt.get());
  out.edns_version = ldns_pkt_edns_version(pkt.get());
  Fill(ldns_pkt_answer(pkt.get()), r.answer);
  Fill(ldns_pkt_authority(pkt.get()), r.authority);
  Fill(ldns_pkt_additional(pkt.get()), r.additional);
  return out;
}

}  // namespace mkn::dns
