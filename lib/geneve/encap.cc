#include "lib/geneve/encap.h"

#include <algorithm>
#include <cstring>

#include "lib/packet/checksum.h"
#include "lib/packet/packet.h"

namespace mkn::geneve {
namespace {

using packet::kEtherTypeIpv4;
using packet::Load16;
using packet::Load32;
using packet::Store16;
using packet::Store32;

constexpr uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;

EncapResult Bad() { return EncapResult{DropReason::kBadFrame, 0, 0}; }

// Finishes a started checksum: the field holds the pseudo-header sum; add the bytes from `start`
// to the end, as the kernel's skb_checksum_help() does (a result of 0 is sent as 0xffff, which
// verifies the same and means "no checksum" to nobody).
bool FinishChecksum(std::span<uint8_t> frame, const Offload& o) {
  const size_t start = o.csum_start, field = size_t{o.csum_start} + o.csum_offset;
  if (start > frame.size() || field + 2 > frame.size()) return false;
  uint16_t sum = packet::FoldChecksum(packet::PartialChecksum(frame.subspan(start)));
  Store16(&frame[field], sum == 0 ? 0xffff : sum);
  return true;
}

// tcp_gso_segment() for one Ethernet/IPv4/TCP super-frame.
EncapResult Segment(std::span<uint8_t> frame, const Offload& o, std::span<const uint8_t> gh,
                    std::span<uint8_t> arena, std::span<Datagram> out) {
  if ((o.gso_type & ~kGsoEcn) != kGsoTcpv4 || o.gso_size == 0) return Bad();
  if (frame.size() < kEthernetHeader + 20 || Load16(&frame[12]) != kEtherTypeIpv4) return Bad();
  std::span<uint8_t> ip = frame.subspan(kEthernetHeader);
  const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != packet::kProtoTcp) return Bad();
  if (Load16(&ip[2]) != ip.size() || ip.size() < ihl + 20) return Bad();
  const size_t thl = static_cast<size_t>(ip[ihl + 12] >> 4) * 4;
  if (thl < 20 || ip.size() < ihl + thl) return Bad();
  const size_t headers = kEthernetHeader + ihl + thl;
  const size_t payload = frame.size() - headers;
  if (payload == 0) return Bad();
  const size_t n = (payload + o.gso_size - 1) / o.gso_size;
  const size_t head_size = gh.size() + headers;
  if (n > out.size() || n > kMaxSegments || n * head_size > arena.size()) return Bad();

  const uint16_t id = Load16(&ip[4]);
  const uint32_t seq = Load32(&ip[ihl + 4]);
  const uint8_t flags = ip[ihl + 13];
  const net::Ipv4 src{Load32(&ip[12])}, dst{Load32(&ip[16])};
  for (size_t i = 0; i < n; ++i) {
    const size_t off = headers + i * o.gso_size;
    const size_t len = std::min<size_t>(o.gso_size, frame.size() - off);
    uint8_t* h = &arena[i * head_size];
    std::memcpy(h, gh.data(), gh.size());
    uint8_t* e = h + gh.size();
    std::memcpy(e, frame.data(), headers);
    uint8_t* sip = e + kEthernetHeader;
    uint8_t* tcp = sip + ihl;
    Store16(&sip[2], static_cast<uint16_t>(ihl + thl + len));
    Store16(&sip[4], static_cast<uint16_t>(id + i));
    Store16(&sip[10], 0);
    Store16(&sip[10], packet::InternetChecksum({sip, ihl}));
    Store32(&tcp[4], seq + static_cast<uint32_t>(i * o.gso_size));
    uint8_t f = flags;
    if (i + 1 < n) f &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (i > 0) f &= static_cast<uint8_t>(~kTcpCwr);
    tcp[13] = f;
    Store16(&tcp[16], 0);
    uint32_t sum =
        packet::PseudoHeaderSum(src, dst, packet::kProtoTcp, static_cast<uint16_t>(thl + len));
    sum = packet::PartialChecksum({tcp, thl}, sum);
    sum = packet::PartialChecksum(frame.subspan(off, len), sum);
    Store16(&tcp[16], packet::FoldChecksum(sum));
    out[i] = Datagram{{h, head_size}, frame.subspan(off, len)};
  }
  return EncapResult{DropReason::kNone, n, n * head_size};
}

}  // namespace

EncapResult Encapsulate(std::span<uint8_t> frame, const Offload& offload,
                        std::span<const uint8_t> geneve_header, std::span<uint8_t> arena,
                        std::span<Datagram> out) {
  if (frame.size() < kEthernetHeader || out.empty()) return Bad();
  if (offload.gso_type != kGsoNone) return Segment(frame, offload, geneve_header, arena, out);
  if (offload.needs_csum && !FinishChecksum(frame, offload)) return Bad();
  out[0] = Datagram{geneve_header, frame};
  return EncapResult{DropReason::kNone, 1, 0};
}

size_t GsoRun(std::span<const Datagram> d, size_t max_segments) {
  if (d.empty()) return 0;
  const size_t size = d[0].size();
  const size_t limit = std::min(max_segments, kMaxUdpPayload / std::max<size_t>(size, 1));
  size_t n = 1, total = size;
  while (n < d.size() && n < limit) {
    const size_t s = d[n].size();
    if (s > size || total + s > kMaxUdpPayload) break;
    total += s;
    ++n;
    if (s < size) break;  // a shorter one ends a run
  }
  return n;
}

}  // namespace mkn::geneve
