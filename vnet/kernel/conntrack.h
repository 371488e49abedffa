// vnet/kernel/conntrack — the kernel's connection tracking table of one netns (nftables proxy
// mode).
//
// In nftables mode the kernel does the NAT, so the flows live in its conntrack table:
// ListKernelFlows reads them (the text of /proc/thread-self/net/nf_conntrack, which shows the
// calling thread's netns), and DeleteKernelFlowsTo removes every TCP/UDP flow whose reply comes
// from an address (a killed pod), over NETLINK_NETFILTER (IPCTNL_MSG_CT_DELETE of each original
// tuple), as kube-proxy's conntrack cleanup does for its endpoints. ReadKernelCounters reads the
// netns's own counters: its conntrack table's size and limit, what conntrack dropped, and how IPv4
// reassembly went. Call them on a thread inside the node's netns (RunInNetns). Needs CAP_NET_ADMIN
// there.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/net/ip.h"

namespace mkn::vnet {

struct KernelFlow {
  std::string protocol;  // "tcp", "udp", "icmp", ...
  std::string state;     // TCP state, or "" (UDP: "UNREPLIED"/"ASSURED" flags only)
  int64_t expires_s = 0;
  net::Ipv4 orig_src, orig_dst, reply_src, reply_dst;
  // ICMP echo: both ports are its identifier (id=).
  uint16_t orig_sport = 0, orig_dport = 0, reply_sport = 0, reply_dport = 0;
  uint64_t packets = 0, bytes = 0;  // only with nf_conntrack_acct = 1
};

// Parses the text of /proc/net/nf_conntrack (IPv4 lines; others are skipped). Pure.
std::vector<KernelFlow> ParseNfConntrack(std::string_view text);

// Unavailable if this netns has no /proc/net/nf_conntrack (nf_conntrack not loaded, or no rule has
// used it yet).
absl::StatusOr<std::vector<KernelFlow>> ListKernelFlows();

// A netns's counters as the kernel keeps them, for `get proxy` in nftables mode: the numbers the
// userspace NAT keeps of its own (lib/nat), where the kernel does the same work.
struct KernelCounters {
  // /proc/sys/net/netfilter/nf_conntrack_count and nf_conntrack_max: the table of this netns and
  // the limit each netns's table has (a global setting, read-only outside the host's netns).
  uint64_t conntrack_entries = 0, conntrack_max = 0;
  // /proc/net/stat/nf_conntrack, summed over CPUs: early_drop counts unassured flows evicted from a
  // full table, drop the packets whose flow found no room, insert_failed those that lost a race
  // to insert theirs.
  uint64_t conntrack_early_drop = 0, conntrack_drop = 0, conntrack_insert_failed = 0;
  // /proc/net/snmp's Ip: fragments that needed reassembly (ReasmReqds), datagrams made whole
  // (ReasmOKs), failures (ReasmFails: timeouts, overlaps, memory) and input discards (InDiscards).
  uint64_t ip_reasm_reqds = 0, ip_reasm_oks = 0, ip_reasm_fails = 0, ip_in_discards = 0;
};

// The column sums of a /proc/net/stat/ table (nf_conntrack): a header line of names, then one line
// of hexadecimal values per CPU. Pure. InvalidArgument if there is no header, or a line has another
// number of columns or a value that is not hexadecimal.
absl::StatusOr<std::map<std::string, uint64_t>> ParseProcStatTable(std::string_view text);

// The counters of one section of /proc/net/snmp ("Ip"): its line of names and the line of values
// after it. Pure. A value that is not a count (Tcp's MaxConn is -1) is left out. InvalidArgument if
// the section is not there twice, or its lines have different lengths.
absl::StatusOr<std::map<std::string, uint64_t>> ParseSnmpSection(std::string_view text,
                                                                 std::string_view section);

// The calling thread's netns's KernelCounters. Unavailable if nf_conntrack is not loaded there
// (no nf_conntrack_count); Internal if a file does not read as the kernel prints it.
absl::StatusOr<KernelCounters> ReadKernelCounters();

// Returns how many flows were deleted; a flow that expires meanwhile (ENOENT) is not an error.
// ListKernelFlows's Unavailable; PermissionDenied without CAP_NET_ADMIN; other codes of
// vnet/kernel/errors.h from the NETLINK_NETFILTER socket.
absl::StatusOr<int> DeleteKernelFlowsTo(net::Ipv4 endpoint);

}  // namespace mkn::vnet
