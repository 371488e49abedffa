#include "lib/geneve/coalesce.h"

#include <cstring>

#include "lib/packet/checksum.h"
#include "lib/packet/packet.h"

namespace mkn::geneve {
namespace {

using packet::kEtherTypeIpv4;
using packet::Load16;
using packet::Load32;
using packet::Store16;

constexpr size_t kEth = 14;
constexpr size_t kIp = 20;  // only IPv4 without options is joined
constexpr uint8_t kAck = 0x10, kPsh = 0x08;

// A TCP segment that may be joined: its headers' length and its payload's.
struct Candidate {
  bool ok = false;
  bool bad_csum = false;  // a would-be candidate whose IPv4 or TCP checksum does not verify
  size_t headers = 0, payload = 0;
};

Candidate Classify(std::span<const uint8_t> f) {
  Candidate c;
  if (f.size() < kEth + kIp + 20 || Load16(&f[12]) != kEtherTypeIpv4) return c;
  const uint8_t* ip = &f[kEth];
  if (ip[0] != 0x45 || ip[9] != packet::kProtoTcp) return c;
  if ((Load16(&ip[6]) & 0x3fff) != 0) return c;  // a fragment
  const size_t total = Load16(&ip[2]);
  if (total != f.size() - kEth) return c;  // padding or a lie: let the kernel judge it alone
  const uint8_t* tcp = ip + kIp;
  const size_t thl = static_cast<size_t>(tcp[12] >> 4) * 4;
  if (thl < 20 || total < kIp + thl) return c;
  const uint8_t flags = tcp[13];
  if ((flags & ~kPsh) != kAck || (tcp[12] & 0x0f) != 0) return c;  // only ACK [+PSH]; no NS bit
  c.headers = kEth + kIp + thl;
  c.payload = f.size() - c.headers;
  if (c.payload == 0) return c;
  // Last, as the costliest: both checksums, as GRO verifies them without a NIC's help
  // (tcp4_gro_receive -> skb_gro_checksum_validate). The joined frame is handed on as
  // CHECKSUM_PARTIAL, which the kernel trusts: a corrupted segment joined would reach the pod as
  // valid. One that fails is no candidate, so it goes on alone and untouched, and the pod's kernel
  // drops it and counts it (TcpInCsumErrors), as it would behind a NIC without offloads.
  if (!packet::VerifyChecksum({ip, kIp})) {
    c.bad_csum = true;
    return c;
  }
  const uint32_t pseudo =
      packet::PseudoHeaderSum(net::Ipv4{Load32(&ip[12])}, net::Ipv4{Load32(&ip[16])},
                              packet::kProtoTcp, static_cast<uint16_t>(total - kIp));
  if (!packet::VerifyChecksum({tcp, total - kIp}, pseudo)) {
    c.bad_csum = true;
    return c;
  }
  c.ok = true;
  return c;
}

}  // namespace

Coalescer::Flow* Coalescer::Find(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  for (Flow& f : flows_) {
    if (f.active && f.src == src && f.dst == dst && f.sport == sport && f.dport == dport) return &f;
  }
  return nullptr;
}

void Coalescer::Start(Flow& f, std::span<uint8_t> frame, size_t headers, size_t payload) {
  const uint8_t* ip = &frame[kEth];
  f.active = true;
  f.src = Load32(&ip[12]);
  f.dst = Load32(&ip[16]);
  f.sport = Load16(&ip[kIp]);
  f.dport = Load16(&ip[kIp + 2]);
  f.first = frame;
  f.headers = headers;
  f.gso_size = payload;
  f.payload = payload;
  f.next_seq = Load32(&ip[kIp + 4]) + static_cast<uint32_t>(payload);
  f.psh = (ip[kIp + 13] & kPsh) != 0;
  f.segments = 1;
  f.parts[0] = frame;
}

void Coalescer::Emit1(Flow& f, Emit emit) {
  f.active = false;
  ++counters_.frames_out;
  OutFrame out;
  out.parts = std::span<const std::span<const uint8_t>>(f.parts.data(), f.segments);
  if (f.segments == 1) {
    emit(out);
    return;
  }
  uint8_t* ip = &f.first[kEth];
  uint8_t* tcp = ip + kIp;
  const size_t thl = f.headers - kEth - kIp;
  const uint16_t total = static_cast<uint16_t>(kIp + thl + f.payload);
  Store16(&ip[2], total);
  Store16(&ip[10], 0);
  Store16(&ip[10], packet::InternetChecksum({ip, kIp}));
  if (f.psh) tcp[13] |= kPsh;
  // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum (not complemented); the kernel
  // adds the rest (NEEDS_CSUM from csum_start), as virtio-net's contract says.
  const uint32_t pseudo = packet::PseudoHeaderSum(
      net::Ipv4{f.src}, net::Ipv4{f.dst}, packet::kProtoTcp, static_cast<uint16_t>(total - kIp));
  Store16(&tcp[16], static_cast<uint16_t>(~packet::FoldChecksum(pseudo)));
  out.offload.needs_csum = true;
  out.offload.gso_type = kGsoTcpv4;
  out.offload.gso_size = static_cast<uint16_t>(f.gso_size);
  out.offload.hdr_len = static_cast<uint16_t>(f.headers);
  out.offload.csum_start = static_cast<uint16_t>(kEth + kIp);
  out.offload.csum_offset = 16;
  emit(out);
}

void Coalescer::Add(std::span<uint8_t> frame, Emit emit) {
  ++counters_.frames_in;
  const Candidate c = Classify(frame);
  Flow* f = nullptr;
  if (frame.size() >= kEth + kIp + 4 && Load16(&frame[12]) == kEtherTypeIpv4 &&
      frame[kEth] == 0x45 && frame[kEth + 9] == packet::kProtoTcp) {
    const uint8_t* ip = &frame[kEth];
    f = Find(Load32(&ip[12]), Load32(&ip[16]), Load16(&ip[kIp]), Load16(&ip[kIp + 2]));
  }
  if (!c.ok) {
    // Alone, after whatever of its flow is pending.
    if (c.bad_csum) ++counters_.bad_csum;
    if (f != nullptr) Emit1(*f, emit);
    ++counters_.frames_out;
    const std::span<const uint8_t> part[1] = {frame};
    emit(OutFrame{Offload{}, part});
    return;
  }
  if (f != nullptr) {
    const uint8_t* a = f->first.data();
    const uint8_t* b = frame.data();
    const uint8_t* aip = a + kEth;
    const uint8_t* bip = b + kEth;
    const size_t thl = c.headers - kEth - kIp;
    bool join = c.headers == f->headers && !f->psh && f->segments < kMaxSegments &&
                c.payload <= f->gso_size && f->payload == f->segments * f->gso_size &&
                kIp + thl + f->payload + c.payload <= 65535 &&
                std::memcmp(a, b, kEth) == 0 &&                              // Ethernet header
                aip[1] == bip[1] &&                                          // TOS
                aip[8] == bip[8] &&                                          // TTL
                (aip[6] & 0x40) == (bip[6] & 0x40) &&                        // DF
                Load32(&bip[kIp + 4]) == f->next_seq &&                      // sequence
                std::memcmp(aip + kIp + 8, bip + kIp + 8, 4) == 0 &&         // acknowledgement
                std::memcmp(aip + kIp + 14, bip + kIp + 14, 2) == 0 &&       // window
                std::memcmp(aip + kIp + 20, bip + kIp + 20, thl - 20) == 0;  // options
    if (join) {
      f->parts[f->segments++] = frame.subspan(c.headers);
      f->payload += c.payload;
      f->next_seq += static_cast<uint32_t>(c.payload);
      f->psh = (bip[kIp + 13] & kPsh) != 0;
      ++counters_.joined;
      if (f->psh || c.payload < f->gso_size) Emit1(*f, emit);
      return;
    }
    Emit1(*f, emit);
  } else {
    f = nullptr;
    for (Flow& slot : flows_) {
      if (!slot.active) {
        f = &slot;
        break;
      }
    }
    if (f == nullptr) {
      f = &flows_[next_victim_];
      next_victim_ = (next_victim_ + 1) % kMaxFlows;
      Emit1(*f, emit);
    }
  }
  Start(*f, frame, c.headers, c.payload);
  if (f->psh) Emit1(*f, emit);
}

void Coalescer::Flush(Emit emit) {
  for (Flow& f : flows_) {
    if (f.active) Emit1(f, emit);
  }
}

}  // namespace mkn::geneve
