// vnet/kernel/udp — a UDP socket that carries an overlay: the Geneve pump's, one per node.
//
// Opened in the calling thread's netns and bound there (it stays in that netns whichever thread
// uses it, STYLE.md §4). Set up for a tunnel endpoint that moves bulk: non-blocking; UDP_GRO on, so
// a burst of same-size datagrams of one sender arrives as one buffer with its segment size (and a
// UDP GSO send from a peer in the same kernel is never cut at all); DF on every datagram
// (IP_PMTUDISC_DO: RFC 8926 §4.1.1 recommends path MTU discovery, and the pods' MTU is what fits);
// send and receive buffers of 4 MiB, forced past the sysctl limits where CAP_NET_ADMIN allows, so
// a burst of 64 KiB GSO buffers is not dropped by a queue sized for single datagrams.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "lib/net/ip.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// The socket, bound to `local`:`port`. AlreadyExists if the address is taken (EADDRINUSE),
// NotFound if `local` is no address of this netns (EADDRNOTAVAIL), Unimplemented without UDP GRO
// (a kernel before 5.0), PermissionDenied for a privileged port without CAP_NET_BIND_SERVICE;
// Unavailable when out of fds or memory. Codes: vnet/kernel/errors.h.
absl::StatusOr<Fd> OpenUdpTunnelSocket(net::Ipv4 local, uint16_t port);

}  // namespace mkn::vnet
