#include "lib/packet/packet_builder.h"

#include <algorithm>

#include "lib/packet/checksum.h"
#include "lib/packet/packet.h"

namespace mkn::packet {

PacketBuilder PacketBuilder::Tcp(net::Ipv4 src, uint16_t src_port, net::Ipv4 dst,
                                 uint16_t dst_port) {
  PacketBuilder b(kProtoTcp, src, dst);
  b.src_port_ = src_port;
  b.dst_port_ = dst_port;
  return b;
}

PacketBuilder PacketBuilder::Udp(net::Ipv4 src, uint16_t src_port, net::Ipv4 dst,
                                 uint16_t dst_port) {
  PacketBuilder b(kProtoUdp, src, dst);
  b.src_port_ = src_port;
  b.dst_port_ = dst_port;
  return b;
}

PacketBuilder PacketBuilder::IcmpEcho(net::Ipv4 src, net::Ipv4 dst, uint8_t type, uint16_t id,
                                      uint16_t seq) {
  PacketBuilder b(kProtoIcmp, src, dst);
  b.icmp_type_ = type;
  b.icmp_rest_ = (uint32_t{id} << 16) | seq;
  return b;
}

PacketBuilder PacketBuilder::IcmpError(net::Ipv4 src, net::Ipv4 dst, uint8_t type, uint8_t code,
                                       std::span<const uint8_t> offending) {
  PacketBuilder b(kProtoIcmp, src, dst);
  b.icmp_type_ = type;
  b.icmp_code_ = code;
  b.df_ = false;
  b.payload_.assign(offending.begin(), offending.end());
  b.quote_length_ = kIcmpErrorMaxLen - kIpv4MinHeader - kIcmpHeader;
  return b;
}

PacketBuilder& PacketBuilder::Ttl(uint8_t ttl) {
  ttl_ = ttl;
  return *this;
}
PacketBuilder& PacketBuilder::Id(uint16_t id) {
  id_ = id;
  return *this;
}
PacketBuilder& PacketBuilder::Tos(uint8_t tos) {
  tos_ = tos;
  return *this;
}
PacketBuilder& PacketBuilder::DontFragment(bool df) {
  df_ = df;
  return *this;
}
PacketBuilder& PacketBuilder::Fragment(bool more_fragments, uint16_t offset_units) {
  mf_ = more_fragments;
  frag_offset_ = offset_units;
  return *this;
}
PacketBuilder& PacketBuilder::BadIpChecksum() {
  bad_ip_checksum_ = true;
  return *this;
}
PacketBuilder& PacketBuilder::Flags(uint8_t flags) {
  tcp_flags_ = flags;
  return *this;
}
PacketBuilder& PacketBuilder::Seq(uint32_t seq) {
  seq_ = seq;
  return *this;
}
PacketBuilder& PacketBuilder::AckNum(uint32_t ack) {
  ack_ = ack;
  return *this;
}
PacketBuilder& PacketBuilder::Window(uint16_t window) {
  window_ = window;
  return *this;
}
PacketBuilder& PacketBuilder::NoUdpChecksum() {
  udp_checksum_ = false;
  return *this;
}
PacketBuilder& PacketBuilder::RestOfHeader(uint32_t rest) {
  icmp_rest_ = rest;
  return *this;
}
PacketBuilder& PacketBuilder::QuoteLength(size_t bytes) {
  quote_length_ = bytes;
  return *this;
}
PacketBuilder& PacketBuilder::Payload(std::string_view bytes) {
  payload_.assign(bytes.begin(), bytes.end());
  return *this;
}
PacketBuilder& PacketBuilder::Payload(std::span<const uint8_t> bytes) {
  payload_.assign(bytes.begin(), bytes.end());
  return *this;
}

std::vector<uint8_t> PacketBuilder::Build() const {
  size_t l4_header = protocol_ == kProtoTcp   ? kTcpMinHeader
                     : protocol_ == kProtoUdp ? kUdpHeader
                                              : kIcmpHeader;
  size_t body = payload_.size();
  if (protocol_ == kProtoIcmp) body = std::min(body, quote_length_);
  size_t total = kIpv4MinHeader + l4_header + body;
  std::vector<uint8_t> f(total, 0);
  uint8_t* ip = f.data();
  ip[0] = 0x45;
  ip[1] = tos_;
  Store16(ip + 2, static_cast<uint16_t>(total));
  Store16(ip + 4, id_);
  Store16(ip + 6,
          static_cast<uint16_t>((df_ ? 0x4000 : 0) | (mf_ ? 0x2000 : 0) | (frag_offset_ & 0x1fff)));
  ip[8] = ttl_;
  ip[9] = protocol_;
  Store32(ip + 12, src_.value);
  Store32(ip + 16, dst_.value);
  uint16_t ip_sum = InternetChecksum(std::span<const uint8_t>(ip, kIpv4MinHeader));
  Store16(ip + 10, bad_ip_checksum_ ? static_cast<uint16_t>(ip_sum + 1) : ip_sum);

  uint8_t* l4 = ip + kIpv4MinHeader;
  std::copy_n(payload_.begin(), body, l4 + l4_header);
  uint16_t l4_len = static_cast<uint16_t>(l4_header + body);
  std::span<const uint8_t> l4_bytes(l4, l4_len);
  switch (protocol_) {
    case kProtoTcp: {
      Store16(l4, src_port_);
      Store16(l4 + 2, dst_port_);
      Store32(l4 + 4, seq_);
      Store32(l4 + 8, ack_);
      l4[12] = 5 << 4;
      l4[13] = tcp_flags_;
      Store16(l4 + 14, window_);
      Store16(l4 + 16, FoldChecksum(PartialChecksum(
                           l4_bytes, PseudoHeaderSum(src_, dst_, kProtoTcp, l4_len))));
      break;
    }
    case kProtoUdp: {
      Store16(l4, src_port_);
      Store16(l4 + 2, dst_port_);
      Store16(l4 + 4, l4_len);
      if (udp_checksum_) {
        uint16_t sum =
            FoldChecksum(PartialChecksum(l4_bytes, PseudoHeaderSum(src_, dst_, kProtoUdp, l4_len)));
        Store16(l4 + 6, sum == 0 ? 0xffff : sum);  // RFC 768: a computed 0 is sent as all ones
      }
      break;
    }
    default: {
      l4[0] = icmp_type_;
      l4[1] = icmp_code_;
      Store32(l4 + 4, icmp_rest_);
      Store16(l4 + 2, InternetChecksum(l4_bytes));
      break;
    }
  }
  return f;
}

}  // namespace mkn::packet
