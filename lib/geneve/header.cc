#include "lib/geneve/header.h"

#include <cstring>

#include "lib/packet/packet.h"

namespace mkn::geneve {
namespace {

using packet::Load16;
uint32_t Load24(const uint8_t* p) { return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2]; }

}  // namespace

std::string_view ToString(DropReason r) {
  switch (r) {
    case DropReason::kNone:
      return "none";
    case DropReason::kTruncated:
      return "truncated";
    case DropReason::kBadVersion:
      return "bad_version";
    case DropReason::kOam:
      return "oam";
    case DropReason::kBadOption:
      return "bad_option";
    case DropReason::kCriticalOption:
      return "critical_option";
    case DropReason::kNotEthernet:
      return "not_ethernet";
    case DropReason::kWrongVni:
      return "wrong_vni";
    case DropReason::kUnknownPeer:
      return "unknown_peer";
    case DropReason::kSourceMismatch:
      return "source_mismatch";
    case DropReason::kNotForThisNode:
      return "not_for_this_node";
    case DropReason::kTooBig:
      return "too_big";
    case DropReason::kForeignSource:
      return "foreign_source";
    case DropReason::kNoPeer:
      return "no_peer";
    case DropReason::kBadFrame:
      return "bad_frame";
    case DropReason::kSendFailed:
      return "send_failed";
  }
  return "?";
}

Decoded Decode(std::span<const uint8_t> d, uint32_t vni) {
  Decoded out;
  if (d.size() < kBaseHeader) {
    out.drop = DropReason::kTruncated;
    return out;
  }
  const uint8_t version = d[0] >> 6;
  const size_t options = size_t{d[0] & 0x3fu} * 4;
  const bool oam = (d[1] & 0x80) != 0;
  out.critical_flag = (d[1] & 0x40) != 0;
  out.protocol = Load16(&d[2]);
  out.vni = Load24(&d[4]);
  out.header_length = kBaseHeader + options;
  if (version != 0) {
    out.drop = DropReason::kBadVersion;
    return out;
  }
  if (d.size() < out.header_length) {
    out.drop = DropReason::kTruncated;
    return out;
  }
  if (oam) {
    out.drop = DropReason::kOam;
    return out;
  }
  for (size_t at = kBaseHeader; at < out.header_length;) {
    if (out.header_length - at < kOptionHeader) {
      out.drop = DropReason::kBadOption;
      return out;
    }
    const uint16_t cls = Load16(&d[at]);
    const uint8_t type = d[at + 2];
    const size_t len = size_t{d[at + 3] & 0x1fu} * 4;
    if (out.header_length - at - kOptionHeader < len) {
      out.drop = DropReason::kBadOption;
      return out;
    }
    if (cls == kClassExperimental && type == kTypeSourceNode) {
      if (len != kSourceNodeData) {
        out.drop = DropReason::kBadOption;
        return out;
      }
      const uint8_t* p = &d[at + kOptionHeader];
      out.source_node =
          (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    } else if ((type & kTypeCritical) != 0) {
      out.drop = DropReason::kCriticalOption;
      return out;
    }
    at += kOptionHeader + len;
  }
  if (out.protocol != kProtoEthernet) {
    out.drop = DropReason::kNotEthernet;
    return out;
  }
  if (out.vni != vni) {
    out.drop = DropReason::kWrongVni;
    return out;
  }
  if (d.size() - out.header_length < kEthernetHeader) {
    out.drop = DropReason::kTruncated;
    return out;
  }
  out.inner = d.subspan(out.header_length);
  return out;
}

size_t Encode(std::span<uint8_t> out, const HeaderFields& h, std::span<const uint8_t> options) {
  if (h.version > 3 || h.vni > kMaxVni || options.size() % 4 != 0 || options.size() > kMaxOptions ||
      out.size() < kBaseHeader + options.size()) {
    return 0;
  }
  out[0] = static_cast<uint8_t>((h.version << 6) | (options.size() / 4));
  out[1] = static_cast<uint8_t>((h.oam ? 0x80 : 0) | (h.critical ? 0x40 : 0));
  out[2] = static_cast<uint8_t>(h.protocol >> 8);
  out[3] = static_cast<uint8_t>(h.protocol);
  out[4] = static_cast<uint8_t>(h.vni >> 16);
  out[5] = static_cast<uint8_t>(h.vni >> 8);
  out[6] = static_cast<uint8_t>(h.vni);
  out[7] = 0;
  if (!options.empty()) std::memcpy(&out[kBaseHeader], options.data(), options.size());
  return kBaseHeader + options.size();
}

size_t EncodeHeader(std::span<uint8_t> out, uint32_t vni, uint32_t source_node) {
  const uint8_t option[kOptionHeader + kSourceNodeData] = {
      static_cast<uint8_t>(kClassExperimental >> 8),
      static_cast<uint8_t>(kClassExperimental & 0xff),
      kTypeSourceNode,
      kSourceNodeData / 4,
      static_cast<uint8_t>(source_node >> 24),
      static_cast<uint8_t>(source_node >> 16),
      static_cast<uint8_t>(source_node >> 8),
      static_cast<uint8_t>(source_node)};
  return Encode(out, HeaderFields{0, false, false, kProtoEthernet, vni}, option);
}

}  // namespace mkn::geneve
