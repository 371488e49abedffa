#include "vnet/trace/copy.h"

#include <netinet/in.h>
#include <tins/ethernetII.h>
#include <tins/icmp.h>
#include <tins/ip.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>
#include <tins/udp.h>

#include <exception>
#include <vector>

#include "lib/strings/str_cat.h"

namespace mkn::vnet {
namespace {

using trace::Leg;
using trace::Proto;

// Geneve's IANA port (lib/geneve's kPort; vnet/trace does not link the Geneve room for one number).
constexpr uint16_t kGenevePort = 6081;

net::Ipv4 V4(const Tins::IPv4Address& a) {
  return net::Ipv4::Parse(a.to_string()).value_or(net::Ipv4{});
}

// An ICMP destination unreachable quotes the packet it answers (RFC 792: its IPv4 header and the
// first 8 bytes after it). The flow is the one a real answer would have: the quoted packet's,
// swapped, so that the reply hops match it; the error's own sender is said in `refused` (a router
// may answer "host unreachable" for the destination).
std::optional<Parsed> ParseUnreachable(const Tins::IP& ip, const Tins::ICMP& icmp) {
  const Tins::RawPDU* raw = icmp.find_pdu<Tins::RawPDU>();
  if (raw == nullptr) return std::nullopt;
  const std::vector<uint8_t>& b = raw->payload();
  if (b.size() < 20 || (b[0] >> 4) != 4) return std::nullopt;
  const size_t ihl = static_cast<size_t>(b[0] & 0x0f) * 4;
  if (b.size() < ihl + 4) return std::nullopt;
  auto u32 = [&](size_t at) {
    return net::Ipv4{(static_cast<uint32_t>(b[at]) << 24) |
                     (static_cast<uint32_t>(b[at + 1]) << 16) |
                     (static_cast<uint32_t>(b[at + 2]) << 8) | b[at + 3]};
  };
  auto u16 = [&](size_t at) { return static_cast<uint16_t>((b[at] << 8) | b[at + 1]); };
  Parsed p;
  if (b[9] == IPPROTO_UDP) {
    p.flow.proto = Proto::kUdp;
  } else if (b[9] == IPPROTO_TCP) {
    p.flow.proto = Proto::kTcp;
  } else {
    return std::nullopt;
  }
  p.flow.src = u32(16);
  p.flow.dst = u32(12);
  p.flow.sport = u16(ihl + 2);
  p.flow.dport = u16(ihl);
  p.leg = Leg::kReply;
  p.icmp_code = icmp.code();
  static constexpr const char* kCodes[] = {
      "net", "host", "protocol", "port", "fragmentation needed", "source route failed"};
  p.refused = StrCat("ICMP ", icmp.code() < 6 ? kCodes[icmp.code()] : StrCat("code ", icmp.code()),
                     " unreachable from ", V4(ip.src_addr()).ToString());
  return p;
}

std::optional<Parsed> ParseIp(const Tins::IP& ip, int depth);

std::optional<Parsed> ParseEthernet(const uint8_t* data, uint32_t size, int depth) {
  Tins::EthernetII eth(data, size);
  const Tins::IP* ip = eth.find_pdu<Tins::IP>();
  if (ip == nullptr) return std::nullopt;
  std::optional<Parsed> p = ParseIp(*ip, depth);
  if (p && depth == 0) p->dst_mac = net::Mac::Parse(eth.dst_addr().to_string());
  return p;
}

std::optional<Parsed> ParseIp(const Tins::IP& ip, int depth) {
  Parsed p;
  p.flow.src = V4(ip.src_addr());
  p.flow.dst = V4(ip.dst_addr());
  if (const Tins::ICMP* icmp = ip.find_pdu<Tins::ICMP>()) {
    if (icmp->type() == Tins::ICMP::DEST_UNREACHABLE) return ParseUnreachable(ip, *icmp);
    p.flow.proto = Proto::kIcmp;
    p.flow.sport = p.flow.dport = icmp->id();
    if (icmp->type() == Tins::ICMP::ECHO_REQUEST) p.leg = Leg::kRequest;
    if (icmp->type() == Tins::ICMP::ECHO_REPLY) p.leg = Leg::kReply;
  } else if (const Tins::TCP* tcp = ip.find_pdu<Tins::TCP>()) {
    p.flow.proto = Proto::kTcp;
    p.flow.sport = tcp->sport();
    p.flow.dport = tcp->dport();
    const bool syn = tcp->get_flag(Tins::TCP::SYN) != 0, ack = tcp->get_flag(Tins::TCP::ACK) != 0;
    if (syn) p.leg = ack ? Leg::kReply : Leg::kRequest;
    if (const Tins::RawPDU* raw = tcp->find_pdu<Tins::RawPDU>())
      p.payload.assign(raw->payload().begin(), raw->payload().end());
    // A RST back is the refusal of a port nothing listens on: the reply leg, as the SYN-ACK.
    if (!syn && tcp->get_flag(Tins::TCP::RST) != 0) {
      p.leg = Leg::kReply;
      p.refused = StrCat("RST from ", p.flow.src.ToString(), ":", p.flow.sport);
    }
  } else if (const Tins::UDP* udp = ip.find_pdu<Tins::UDP>()) {
    // VXLAN: the outer header; what counts is the packet inside (its Ethernet frame after the
    // 8-byte VXLAN header).
    if (udp->dport() == config::kVxlanPort && depth == 0) {
      const Tins::RawPDU* raw = udp->find_pdu<Tins::RawPDU>();
      if (raw == nullptr || raw->payload().size() <= 8) return std::nullopt;
      std::optional<Parsed> inner = ParseEthernet(
          raw->payload().data() + 8, static_cast<uint32_t>(raw->payload().size() - 8), depth + 1);
      if (inner) inner->outer = std::make_pair(p.flow.src, p.flow.dst);
      return inner;
    }
    // Geneve (RFC 8926): an 8-byte header and Opt Len 4-byte words of options, then the frame.
    if (udp->dport() == kGenevePort && depth == 0) {
      const Tins::RawPDU* raw = udp->find_pdu<Tins::RawPDU>();
      if (raw == nullptr || raw->payload().size() <= 8) return std::nullopt;
      const size_t header = 8 + static_cast<size_t>(raw->payload()[0] & 0x3f) * 4;
      if (raw->payload().size() <= header) return std::nullopt;
      std::optional<Parsed> inner =
          ParseEthernet(raw->payload().data() + header,
                        static_cast<uint32_t>(raw->payload().size() - header), depth + 1);
      if (inner) inner->outer = std::make_pair(p.flow.src, p.flow.dst);
      return inner;
    }
    p.flow.proto = Proto::kUdp;
    p.flow.sport = udp->sport();
    p.flow.dport = udp->dport();
    // A UDP probe's reply is the datagram back: which leg it is comes from the hop's own flow.
  } else {
    return std::nullopt;
  }
  return p;
}

}  // namespace

// libtins throws on a malformed packet; a data-plane packet is untrusted input (STYLE.md §5).
std::optional<Parsed> ParseCopy(const capture::EnhancedPacket& pkt, uint16_t link_type) {
  try {
    if (link_type == capture::kLinkTypeRaw) {
      Tins::IP ip(pkt.data.data(), static_cast<uint32_t>(pkt.data.size()));
      return ParseIp(ip, 0);
    }
    return ParseEthernet(pkt.data.data(), static_cast<uint32_t>(pkt.data.size()), 0);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace mkn::vnet
