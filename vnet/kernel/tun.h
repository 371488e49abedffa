// vnet/kernel/tun — TUN and TAP devices with a virtio-net header, for the userspace pumps: the
// Services proxy's TUN (vnet/proxy) and the Geneve overlay's TAP (vnet/geneve).
//
// The device is created in the calling thread's netns and lives as long as the returned fd: when
// the process dies, so does the device. IFF_VNET_HDR with TUN_F_CSUM | TUN_F_TSO4 lets the kernel
// hand over TCP segments of up to 64 KiB with a partial checksum (CHECKSUM_PARTIAL, virtio-net
// NEEDS_CSUM) instead of segmenting and checksumming every 1450-byte packet first; the pump writes
// them back with the same header, so nothing is ever checksummed or segmented in userspace.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/net/ip.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// struct virtio_net_hdr, as the kernel reads and writes it in front of every frame.
struct VnetHdr {
  uint8_t flags = 0;     // 1 = VIRTIO_NET_HDR_F_NEEDS_CSUM
  uint8_t gso_type = 0;  // 0 none, 1 TCPv4, 3 UDP, 4 TCPv6, 0x80 ECN
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};
static_assert(sizeof(VnetHdr) == 10);
inline constexpr uint8_t kVnetNeedsCsum = 1;
inline constexpr uint8_t kVnetDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID: checksum verified

// Non-blocking fd of a new TUN called `name` (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR), with MTU `mtu`,
// in the calling thread's netns. InvalidArgument if `name` is empty or longer than IFNAMSIZ - 1, or
// a link of that name that is no TUN is there (EINVAL), or the MTU is out of range;
// PermissionDenied without CAP_NET_ADMIN there; NotFound if there is no /dev/net/tun (the tun
// module); Unavailable if the TUN is taken (EBUSY) or out of fds. Codes: vnet/kernel/errors.h.
absl::StatusOr<Fd> OpenTun(std::string_view name, int mtu);

// Non-blocking fd of a new TAP called `name` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) with MTU `mtu`
// and MAC `mac`, in the calling thread's netns: an Ethernet device whose frames the fd's owner
// reads and writes. Offloads TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN: the kernel hands over TCP
// super-frames of up to 64 KiB with a started checksum (the reader cuts them: lib/geneve/encap) and
// accepts them back (lib/geneve/coalesce). The same codes as OpenTun; a MAC the kernel refuses
// (multicast) is InvalidArgument.
absl::StatusOr<Fd> OpenTap(std::string_view name, int mtu, const net::Mac& mac);

}  // namespace mkn::vnet
