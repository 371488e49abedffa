// lib/geneve/offload — the offload metadata a TAP device exchanges with its reader, as plain data.
//
// With IFF_VNET_HDR every frame read from or written to gnv0 is preceded by a struct
// virtio_net_hdr (include/uapi/linux/virtio_net.h; vnet/kernel/tun.h's VnetHdr). The kernel uses it
// to hand over one TCP "super-frame" of up to 64 KiB that still has to be cut into MSS-sized
// segments (GSO: gso_type TCPv4, gso_size = the MSS) and frames whose checksum is only started
// (NEEDS_CSUM: the field holds the pseudo-header sum; the sum of the bytes from csum_start on must
// still be added). lib/ never includes <linux/*>: these are the same fields and constants, in host
// byte order, so the decisions (lib/geneve/encap, lib/geneve/coalesce) are pure and table-tested,
// and vnet/geneve copies them to and from the kernel's struct.
#pragma once

#include <cstdint>

namespace mkn::geneve {

// VIRTIO_NET_HDR_GSO_* (gso_type), and the flag in its high bit.
inline constexpr uint8_t kGsoNone = 0;
inline constexpr uint8_t kGsoTcpv4 = 1;
inline constexpr uint8_t kGsoUdp = 3;
inline constexpr uint8_t kGsoTcpv6 = 4;
inline constexpr uint8_t kGsoEcn = 0x80;  // the segments carry ECN: CWR goes on the first only

struct Offload {
  bool needs_csum = false;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  uint8_t gso_type = kGsoNone;
  uint16_t hdr_len = 0;   // Ethernet + IP + TCP headers of a GSO frame
  uint16_t gso_size = 0;  // payload bytes per segment
  uint16_t csum_start = 0, csum_offset = 0;
  bool operator==(const Offload&) const = default;
};

}  // namespace mkn::geneve
