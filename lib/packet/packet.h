// lib/packet/packet — bounds-checked views of IPv4, TCP, UDP and ICMP headers over a byte span.
//
// A frame here is a raw IPv4 packet, exactly what a TUN device (IFF_TUN | IFF_NO_PI) carries: no
// Ethernet header, no packet-information prefix, no virtio-net header. The views do not own bytes;
// they point into the caller's buffer and setters write through to it. Parse() checks every length
// before any field is read, so a truncated or malformed frame is an error Status, never a crash:
//   kOutOfRange       the bytes end before a header or the declared length does (truncated)
//   kInvalidArgument  a field is impossible (version != 4, IHL < 5, total length < IHL, data
//                     offset < 5)
//   kDataLoss         the IPv4 header checksum does not verify (corrupted in flight)
// Multi-byte fields are big-endian on the wire and host order through the accessors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "lib/net/ip.h"

namespace mkn::packet {

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpParameterProblem = 12;
inline constexpr uint8_t kIcmpPortUnreachable = 3;  // code, with kIcmpDestUnreachable
inline constexpr uint8_t kIcmpFragNeeded = 4;       // code, with kIcmpDestUnreachable

// EtherTypes of the frames the userspace datapaths take apart.
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr size_t kIpv4MinHeader = 20;
inline constexpr size_t kTcpMinHeader = 20;
inline constexpr size_t kUdpHeader = 8;
inline constexpr size_t kIcmpHeader = 8;
// An ICMP error quotes the offending IP header and at least 8 bytes of its payload (RFC 792), which
// is where the ports live; Linux quotes up to 576 bytes in all (RFC 1812 §4.3.2.3).
inline constexpr size_t kIcmpQuoteMinL4 = 8;
inline constexpr size_t kIcmpErrorMaxLen = 576;

inline uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Load32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void Store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Store32(uint8_t* p, uint32_t v) {
  Store16(p, static_cast<uint16_t>(v >> 16));
  Store16(p + 2, static_cast<uint16_t>(v));
}

// True for ICMP types that are errors quoting another packet (and so must follow that packet's
// NAT).
bool IsIcmpError(uint8_t type);

class Ipv4View {
 public:
  // A whole packet: version 4, 5 <= IHL, IHL*4 <= total length <= frame size, valid header
  // checksum. Bytes after total length (link-layer padding) are ignored.
  static absl::StatusOr<Ipv4View> Parse(std::span<uint8_t> frame);
  // A packet quoted inside an ICMP error: the header must be complete and followed by at least
  // kIcmpQuoteMinL4 bytes (else OutOfRange), and its total length must cover them too (else
  // InvalidArgument), so payload() always holds the ports; total length may exceed what was
  // quoted; the checksum is not verified
  // (the sender of the error may have altered TTL, as routers do).
  static absl::StatusOr<Ipv4View> ParseQuoted(std::span<uint8_t> bytes);

  size_t header_length() const { return header_length_; }
  uint16_t total_length() const { return Load16(&bytes_[2]); }
  uint16_t id() const { return Load16(&bytes_[4]); }
  uint8_t ttl() const { return bytes_[8]; }
  uint8_t protocol() const { return bytes_[9]; }
  uint16_t checksum() const { return Load16(&bytes_[10]); }
  net::Ipv4 src() const { return net::Ipv4{Load32(&bytes_[12])}; }
  net::Ipv4 dst() const { return net::Ipv4{Load32(&bytes_[16])}; }
  // More-fragments set or a non-zero offset: only the first fragment carries the ports.
  bool is_fragment() const { return (Load16(&bytes_[6]) & 0x3fff) != 0; }

  // Set an address and update the header checksum incrementally (RFC 1624). The L4 pseudo-header
  // checksum is the caller's (it knows whether the L4 checksum is present).
  void SetSrc(net::Ipv4 ip);
  void SetDst(net::Ipv4 ip);

  // The packet (header + payload) as parsed: up to total length, or up to what was quoted.
  std::span<uint8_t> bytes() const { return bytes_; }
  std::span<uint8_t> payload() const { return bytes_.subspan(header_length_); }

 private:
  Ipv4View(std::span<uint8_t> bytes, size_t header_length)
      : bytes_(bytes), header_length_(header_length) {}
  std::span<uint8_t> bytes_;
  size_t header_length_;
};

class TcpView {
 public:
  // A full segment: at least 20 bytes, 20 <= data offset <= size.
  static absl::StatusOr<TcpView> Parse(std::span<uint8_t> l4);
  // A quoted segment: only the first 8 bytes (ports, sequence number) are guaranteed.
  static absl::StatusOr<TcpView> ParseQuoted(std::span<uint8_t> l4);

  uint16_t src_port() const { return Load16(&bytes_[0]); }
  uint16_t dst_port() const { return Load16(&bytes_[2]); }
  uint32_t seq() const { return Load32(&bytes_[4]); }
  // The fields below need a full header (has_full_header()).
  bool has_full_header() const { return bytes_.size() >= kTcpMinHeader; }
  uint32_t ack() const { return Load32(&bytes_[8]); }
  size_t header_length() const { return static_cast<size_t>(bytes_[12] >> 4) * 4; }
  uint8_t flags() const { return bytes_[13]; }
  size_t payload_length() const { return bytes_.size() - header_length(); }
  // Offset of the checksum inside the segment; present only if the bytes reach it.
  static constexpr size_t kChecksumOffset = 16;

  std::span<uint8_t> bytes() const { return bytes_; }

 private:
  explicit TcpView(std::span<uint8_t> bytes) : bytes_(bytes) {}
  std::span<uint8_t> bytes_;
};

class UdpView {
 public:
  // A full datagram: 8 <= length field <= size. A checksum of 0 means "none" (RFC 768).
  static absl::StatusOr<UdpView> Parse(std::span<uint8_t> l4);
  static absl::StatusOr<UdpView> ParseQuoted(std::span<uint8_t> l4);

  uint16_t src_port() const { return Load16(&bytes_[0]); }
  uint16_t dst_port() const { return Load16(&bytes_[2]); }
  uint16_t length() const { return Load16(&bytes_[4]); }
  uint16_t checksum() const { return Load16(&bytes_[6]); }
  static constexpr size_t kChecksumOffset = 6;

  std::span<uint8_t> bytes() const { return bytes_; }

 private:
  explicit UdpView(std::span<uint8_t> bytes) : bytes_(bytes) {}
  std::span<uint8_t> bytes_;
};

class IcmpView {
 public:
  // At least the 8-byte header.
  static absl::StatusOr<IcmpView> Parse(std::span<uint8_t> l4);

  uint8_t type() const { return bytes_[0]; }
  uint8_t code() const { return bytes_[1]; }
  uint16_t checksum() const { return Load16(&bytes_[2]); }
  // Echo: identifier and sequence; frag-needed: next-hop MTU in the low 16 bits (RFC 1191).
  uint32_t rest_of_header() const { return Load32(&bytes_[4]); }
  // For errors: the quoted packet.
  std::span<uint8_t> body() const { return bytes_.subspan(kIcmpHeader); }
  std::span<uint8_t> bytes() const { return bytes_; }
  // Recomputes the checksum over the whole message (after the quoted packet was rewritten).
  void RecomputeChecksum();

 private:
  explicit IcmpView(std::span<uint8_t> bytes) : bytes_(bytes) {}
  std::span<uint8_t> bytes_;
};

}  // namespace mkn::packet
