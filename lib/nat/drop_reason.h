// lib/nat/drop_reason — why the userspace NAT dropped a frame: one counter per reason, everywhere
// the proxy's counters are shown (`get svc -o json`).
#pragma once

#include <cstdint>
#include <string_view>

namespace mkn::nat {

enum class DropReason : uint8_t {
  kNone,
  kTruncated,            // a header or the declared length runs past the frame
  kMalformed,            // an impossible field (version, IHL, data offset, UDP length)
  kBadChecksum,          // IPv4 header or ICMP checksum does not verify
  kFragment,             // a fragment quoted in an ICMP error: no ports to translate it by
  kUnsupportedProtocol,  // not TCP, UDP or an ICMP error (e.g. ping to a ClusterIP, as kube-proxy)
  kNoService,            // destination is no ClusterIP:port / NodePort
  kNoEndpoints,     // service without endpoints (counted also when a reset/unreachable is sent)
  kNoFlow,          // to the proxy address but no flow (a late reply after expiry)
  kInvalidTcp,      // a TCP segment that is not a SYN and belongs to no flow: answered with a reset
  kIcmpNoFlow,      // an ICMP error quoting a packet of no known flow
  kPortsExhausted,  // no free SNAT port towards that endpoint
  kTableFull,       // a new flow while the conntrack table is full of assured flows
  // IPv4 reassembly (lib/nat/reassembly): fragments of datagrams that could not be made whole.
  kFragTimeout,   // the datagram was still incomplete at its deadline
  kFragOverlap,   // overlapping fragments (the whole datagram), or an exact duplicate (that one)
  kFragOversize,  // the datagram would exceed 65 535 bytes
  kFragOverload,  // pushed out, oldest first, to keep reassembly within its memory bounds
  // A new flow that NetworkPolicy denies after translation (the client's egress towards the chosen
  // backend, or the backend's ingress): lib/netpol/flow_policy, charged to a policy drop counter.
  kNetworkPolicy,
};
inline constexpr int kDropReasonCount = 18;
std::string_view ToString(DropReason r);

}  // namespace mkn::nat
