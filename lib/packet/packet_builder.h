// lib/packet/packet_builder — builds raw IPv4 frames (TUN format: no link header) for tests and
// replies.
//
// Every checksum is computed from scratch over the finished bytes (RFC 1071), never incrementally,
// so a frame built here is an independent reference for the NAT's incremental updates. The NAT also
// uses it to build the TCP resets and ICMP errors it answers with. Fluent: set what matters,
// Build().
//   PacketBuilder::Tcp(Ip("10.244.1.2"), 40000, Ip("10.96.0.10"), 80).Flags(kTcpSyn).Seq(1).Build()
// Knobs that break a frame on purpose (BadIpChecksum, NoUdpChecksum) exist for the malformed-input
// tables.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "lib/net/ip.h"

namespace mkn::packet {

class PacketBuilder {
 public:
  static PacketBuilder Tcp(net::Ipv4 src, uint16_t src_port, net::Ipv4 dst, uint16_t dst_port);
  static PacketBuilder Udp(net::Ipv4 src, uint16_t src_port, net::Ipv4 dst, uint16_t dst_port);
  // Echo request (type 8) or reply (type 0) with identifier and sequence.
  static PacketBuilder IcmpEcho(net::Ipv4 src, net::Ipv4 dst, uint8_t type, uint16_t id,
                                uint16_t seq);
  // An ICMP error quoting `offending` (a whole frame). The quote is cut so the error stays within
  // kIcmpErrorMaxLen bytes, as Linux's icmp_send does, unless QuoteLength() says otherwise.
  static PacketBuilder IcmpError(net::Ipv4 src, net::Ipv4 dst, uint8_t type, uint8_t code,
                                 std::span<const uint8_t> offending);

  // IPv4 header.
  PacketBuilder& Ttl(uint8_t ttl);
  PacketBuilder& Id(uint16_t id);
  PacketBuilder& Tos(uint8_t tos);
  PacketBuilder& DontFragment(bool df);
  PacketBuilder& Fragment(bool more_fragments, uint16_t offset_units);
  PacketBuilder& BadIpChecksum();  // the stored header checksum is off by one
  // TCP.
  PacketBuilder& Flags(uint8_t flags);
  PacketBuilder& Seq(uint32_t seq);
  PacketBuilder& AckNum(uint32_t ack);
  PacketBuilder& Window(uint16_t window);
  // UDP: send checksum 0 ("no checksum", RFC 768).
  PacketBuilder& NoUdpChecksum();
  // ICMP: the 4 bytes after the checksum (frag-needed puts the next-hop MTU in the low 16 bits).
  PacketBuilder& RestOfHeader(uint32_t rest);
  PacketBuilder& QuoteLength(size_t bytes);
  // Any protocol: bytes after the L4 header.
  PacketBuilder& Payload(std::string_view bytes);
  PacketBuilder& Payload(std::span<const uint8_t> bytes);

  std::vector<uint8_t> Build() const;

 private:
  PacketBuilder(uint8_t protocol, net::Ipv4 src, net::Ipv4 dst)
      : protocol_(protocol), src_(src), dst_(dst) {}

  uint8_t protocol_;
  net::Ipv4 src_, dst_;
  uint16_t src_port_ = 0, dst_port_ = 0;
  uint8_t ttl_ = 64, tos_ = 0;
  uint16_t id_ = 0;
  bool df_ = true, mf_ = false;
  uint16_t frag_offset_ = 0;
  bool bad_ip_checksum_ = false;
  uint8_t tcp_flags_ = 0x10;
  uint32_t seq_ = 0, ack_ = 0;
  uint16_t window_ = 65535;
  bool udp_checksum_ = true;
  uint8_t icmp_type_ = 0, icmp_code_ = 0;
  uint32_t icmp_rest_ = 0;
  size_t quote_length_ = SIZE_MAX;
  std::vector<uint8_t> payload_;
};

}  // namespace mkn::packet
