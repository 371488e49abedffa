// vnet/kernel/sock_diag — the sockets of one netns, found and destroyed over NETLINK_SOCK_DIAG.
//
// proxy_mode = "ebpf" translates a Service's address at connect(): the socket itself points at a
// backend pod, so when that pod goes (kill, scale down) there is no flow to flush as the other
// modes flush conntrack. Cilium's socket LB destroys such sockets instead; so does
// DestroySocketsTo, by the kernel path `ss -K dst ADDR` takes (a SOCK_DIAG_BY_FAMILY dump, then
// SOCK_DESTROY of each socket whose remote end is one of the addresses). The owner of a destroyed
// socket sees ECONNABORTED on its next call (a TCP peer gets a reset; a UDP socket is disconnected,
// so a send() without an address fails with EDESTADDRREQ): it must connect() again, which picks a
// live backend. Call it on a thread inside the netns (RunInNetns). Needs CAP_NET_ADMIN there and a
// kernel built with CONFIG_INET_DIAG_DESTROY.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "lib/net/ip.h"

namespace mkn::vnet {

// Destroys every IPv4 TCP and UDP socket of the calling thread's netns connected to one of `dsts`
// (its remote address; a listening or unconnected socket has none). Returns how many were
// destroyed; one that closes meanwhile (ENOENT) is not an error. Unimplemented (naming
// CONFIG_INET_DIAG_DESTROY) if the kernel cannot destroy sockets; PermissionDenied without
// CAP_NET_ADMIN; other codes of vnet/kernel/errors.h from the NETLINK_SOCK_DIAG socket; Internal if
// an answer is malformed.
absl::StatusOr<int> DestroySocketsTo(const std::vector<net::Ipv4>& dsts);

// Destroys every orphaned IPv4 TCP socket of the calling thread's netns: one no process holds any
// more (inode 0) that the kernel keeps to finish its close (FIN-WAIT-1, CLOSING, LAST-ACK, ...).
// TIME-WAIT entries are left: they hold no reference. Why `down` needs it: when the owner is
// SIGKILLed, its sockets close at once, and a pod's half of a connection through the userspace
// proxy sends its FIN to the proxy's address, whose TUN died with the owner; that orphan then
// retransmits for minutes, holding its route's device, so the node whose namespace holds that
// veth's peer cannot be freed (the kernel's "waiting for eth0 to become free"), nor anything
// queued behind it. A namespace being removed has nobody to finish those closes with. Returns how
// many were destroyed; the codes are DestroySocketsTo's.
absl::StatusOr<int> DestroyOrphanedTcpSockets();

}  // namespace mkn::vnet
