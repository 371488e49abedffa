// vnet/kernel/conntrack — the kernel's connection tracking table of one netns (nftables proxy
// mode).
//
// In nftables mode the kernel does the NAT, so the flows live in its conntrack table:
// ListKernelFlows reads them (the text of /proc/thread-self/net/nf_conntrack, which shows the
// calling thread's netns), and DeleteKernelFlowsTo removes every TCP/UDP flow whose reply comes
// from an address (a killed pod), over NETLINK_NETFILTER (IPCTNL_MSG_CT_DELETE of each original
// tuple), as kube-proxy's conntrack cleanup does for its endpoints. Call both on a thread inside
// the node's netns (RunInNetns). Needs CAP_NET_ADMIN there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/net/ip.h"

namespace mkn::vnet {

struct KernelFlow {
  std::string protocol;  // "tcp", "udp", "icmp", ...
  std::string state;     // TCP state, or "" (UDP: "UNREPLIED"/"ASSURED" flags only)
  int64_t expires_s = 0;
  net::Ipv4 orig_src, orig_dst, reply_src, reply_dst;
  uint16_t orig_sport = 0, orig_dport = 0, reply_sport = 0, reply_dport = 0;
  uint64_t packets = 0, bytes = 0;  // only with nf_conntrack_acct = 1
};

// Parses the text of /proc/net/nf_conntrack (IPv4 lines; others are skipped). Pure.
std::vector<KernelFlow> ParseNfConntrack(std::string_view text);

// Unavailable if this netns has no /proc/net/nf_conntrack (nf_conntrack not loaded, or no rule has
// used it yet).
absl::StatusOr<std::vector<KernelFlow>> ListKernelFlows();

// Returns how many flows were deleted; a flow that expires meanwhile (ENOENT) is not an error.
// ListKernelFlows's Unavailable; PermissionDenied without CAP_NET_ADMIN; other codes of
// vnet/kernel/errors.h from the NETLINK_NETFILTER socket.
absl::StatusOr<int> DeleteKernelFlowsTo(net::Ipv4 endpoint);

}  // namespace mkn::vnet
