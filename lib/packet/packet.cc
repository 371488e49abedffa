#include "lib/packet/packet.h"

#include "absl/status/status.h"
#include "lib/packet/checksum.h"
#include "lib/strings/str_cat.h"

namespace mkn::packet {
namespace {

absl::Status Truncated(std::string_view what, size_t need, size_t have) {
  return absl::OutOfRangeError(StrCat("truncated ", what, ": need ", need, " bytes, have ", have));
}

// Checks shared by Parse and ParseQuoted: version, IHL, header fully present.
absl::StatusOr<size_t> CheckHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kIpv4MinHeader) return Truncated("ipv4 header", kIpv4MinHeader, bytes.size());
  if ((bytes[0] >> 4) != 4) {
    return absl::InvalidArgumentError(StrCat("bad ip version ", static_cast<int>(bytes[0] >> 4)));
  }
  size_t hl = static_cast<size_t>(bytes[0] & 0x0f) * 4;
  if (hl < kIpv4MinHeader) return absl::InvalidArgumentError(StrCat("bad ipv4 ihl ", hl / 4));
  if (bytes.size() < hl) return Truncated("ipv4 options", hl, bytes.size());
  if (Load16(&bytes[2]) < hl) {
    return absl::InvalidArgumentError(
        StrCat("ipv4 total length ", Load16(&bytes[2]), " shorter than header ", hl));
  }
  return hl;
}

}  // namespace

bool IsIcmpError(uint8_t type) {
  return type == kIcmpDestUnreachable || type == kIcmpTimeExceeded ||
         type == kIcmpParameterProblem ||
         type == 4 /* source quench, obsolete but still an error */;
}

absl::StatusOr<Ipv4View> Ipv4View::Parse(std::span<uint8_t> frame) {
  auto hl = CheckHeader(frame);
  if (!hl.ok()) return hl.status();
  size_t total = Load16(&frame[2]);
  if (frame.size() < total) return Truncated("ipv4 packet", total, frame.size());
  if (!VerifyChecksum(frame.first(*hl))) return absl::DataLossError("bad ipv4 header checksum");
  return Ipv4View(frame.first(total), *hl);
}

absl::StatusOr<Ipv4View> Ipv4View::ParseQuoted(std::span<uint8_t> bytes) {
  auto hl = CheckHeader(bytes);
  if (!hl.ok()) return hl.status();
  if (bytes.size() < *hl + kIcmpQuoteMinL4) {
    return Truncated("quoted packet", *hl + kIcmpQuoteMinL4, bytes.size());
  }
  size_t total = Load16(&bytes[2]);
  // The view ends at total length; a quoted packet claiming fewer than 8 bytes after its header
  // cannot be one that carried ports, and a view that short would leave payload() without them.
  if (total < *hl + kIcmpQuoteMinL4) {
    return absl::InvalidArgumentError(
        StrCat("quoted ipv4 total length ", total, " shorter than header + ", kIcmpQuoteMinL4));
  }
  return Ipv4View(bytes.first(std::min(total, bytes.size())), *hl);
}

void Ipv4View::SetSrc(net::Ipv4 ip) {
  Store16(&bytes_[10], UpdateChecksum32(checksum(), src().value, ip.value));
  Store32(&bytes_[12], ip.value);
}

void Ipv4View::SetDst(net::Ipv4 ip) {
  Store16(&bytes_[10], UpdateChecksum32(checksum(), dst().value, ip.value));
  Store32(&bytes_[16], ip.value);
}

absl::StatusOr<TcpView> TcpView::Parse(std::span<uint8_t> l4) {
  if (l4.size() < kTcpMinHeader) return Truncated("tcp header", kTcpMinHeader, l4.size());
  size_t off = static_cast<size_t>(l4[12] >> 4) * 4;
  if (off < kTcpMinHeader)
    return absl::InvalidArgumentError(StrCat("bad tcp data offset ", off / 4));
  if (off > l4.size()) return Truncated("tcp options", off, l4.size());
  return TcpView(l4);
}

absl::StatusOr<TcpView> TcpView::ParseQuoted(std::span<uint8_t> l4) {
  if (l4.size() < kIcmpQuoteMinL4) return Truncated("quoted tcp", kIcmpQuoteMinL4, l4.size());
  return TcpView(l4);
}

absl::StatusOr<UdpView> UdpView::Parse(std::span<uint8_t> l4) {
  if (l4.size() < kUdpHeader) return Truncated("udp header", kUdpHeader, l4.size());
  size_t len = Load16(&l4[4]);
  if (len < kUdpHeader) return absl::InvalidArgumentError(StrCat("bad udp length ", len));
  if (len > l4.size()) return Truncated("udp datagram", len, l4.size());
  return UdpView(l4.first(len));
}

absl::StatusOr<UdpView> UdpView::ParseQuoted(std::span<uint8_t> l4) {
  if (l4.size() < kUdpHeader) return Truncated("quoted udp", kUdpHeader, l4.size());
  return UdpView(l4);
}

absl::StatusOr<IcmpView> IcmpView::Parse(std::span<uint8_t> l4) {
  if (l4.size() < kIcmpHeader) return Truncated("icmp header", kIcmpHeader, l4.size());
  return IcmpView(l4);
}

void IcmpView::RecomputeChecksum() {
  Store16(&bytes_[2], 0);
  Store16(&bytes_[2], InternetChecksum(bytes_));
}

}  // namespace mkn::packet
