// lib/nat/nat — the userspace proxy's packet rewrite: one raw IPv4 frame in, one verdict out.
//
// Frames are raw IPv4 packets as a TUN device carries them (see lib/packet/packet.h). The vnet/
// pump reads a frame from the node's TUN, calls Process(), and writes the frame (or the reply)
// back.
//
// What a backend sees: in this userspace mode every flow is rewritten on both addresses, as
// kube-proxy's historic userspace mode and IPVS masquerade do. A client C:c sending to VIP:v (a
// ClusterIP) or to N:np (a NodePort on a node address N) is DNATed to the chosen endpoint E:t and
// SNATed to the node's proxy address P, keeping the client's port c when it is free (as nf_nat
// does), else the next free port in [port_min, port_max]. So the backend sees the connection coming
// from P, never from C. The reply E:t -> P:p must come back through the same NAT (P is routed into
// the TUN), where it is rewritten to VIP:v -> C:c (or N:np -> C:c).
//
// Checksums are updated incrementally (RFC 1624): the IPv4 header checksum and the TCP/UDP checksum
// including its pseudo-header; a UDP checksum of 0 ("none") stays 0. An offloaded checksum
// (CHECKSUM_PARTIAL: the TUN's virtio-net header says NEEDS_CSUM) is not a checksum yet: its field
// holds the folded pseudo-header sum, not complemented, and whoever finishes it (the NIC, or the
// kernel before delivery) sums the L4 header and payload on top. Process(..., l4_partial = true)
// therefore updates it for the address change only (ports are summed later, with the data), so a
// 64 KiB TSO segment passes through without a byte of its payload being read.
//
// ICMP errors (port unreachable, fragmentation needed, time exceeded, ...) quoting a NATed packet
// are translated back: the quoted packet gets its pre-NAT addresses and ports (with its IP and L4
// checksums updated), the outer header is readdressed as the reverse of the flow (as Linux's
// nf_nat_icmp_reply_translation does, which hides the router that sent the error), and the ICMP
// checksum is recomputed over the message.
//
// A service port without endpoints answers like kube-proxy: TCP with a reset, UDP with ICMP port
// unreachable (verdict kReply). A TCP segment of no flow (flushed when its pod died, or expired)
// gets a reset too, so its client learns at once (kube-proxy drops it, and the client waits).
// IPv4 fragments are reassembled first (lib/nat/reassembly, bounded), as the kernel does before
// kube-proxy's rules see a packet; the whole datagram is translated and handed back to be sent in
// place of the fragment that completed it (kForwardFrame); the kernel fragments it again on output.
// A new flow in a table full of assured flows is dropped (kTableFull), never an established one.
//
// NetworkPolicy (SetPolicy): every new flow is judged after its translation, against the backend
// the balancer chose, by lib/netpol/flow_policy (the client's egress and the backend's ingress), as
// Kubernetes applies policy to the backend pod. The backend sees the proxy's address, so this is
// the only place the client is still known. A denied SYN or datagram is dropped (kNetworkPolicy),
// silently as the kernel's policy chains drop, creates no flow, and is counted under the drop
// counter the verdict names (netpol_drops(): the same names as the kernel's counters, so `get
// netpol` and `trace` add them up). Established flows are never judged again: a policy change
// leaves them passing, as conntrack's `ct state established accept` does in the nftables modes.
// Anything malformed, truncated, unknown or stateless is dropped and counted by reason; Process()
// never fails and never reads outside the frame.
//
// Not thread-safe: one Nat per pump thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/nat/balancer.h"
#include "lib/nat/conntrack.h"
#include "lib/nat/drop_reason.h"
#include "lib/nat/reassembly.h"
#include "lib/nat/service_table.h"
#include "lib/net/ip.h"
#include "lib/netpol/flow_policy.h"

namespace mkn::nat {

struct Verdict {
  // kForward: send the (rewritten) input frame on. kReply: send `reply` back instead (a reset, an
  // ICMP unreachable). kForwardFrame: send `reply` on instead (a reassembled, translated datagram).
  // kHeld: the input was a fragment, kept until its datagram is whole: send nothing now.
  enum class Action : uint8_t { kForward, kDrop, kReply, kForwardFrame, kHeld };
  Action action = Action::kDrop;
  DropReason reason = DropReason::kNone;  // kDrop, and kReply (kNoEndpoints)
  std::vector<uint8_t> reply;             // kReply, kForwardFrame: the frame to send
  int service_port_id = -1;               // the service port involved, if any
};

struct NatOptions {
  net::Ipv4 proxy_ip;               // P: the SNAT source; routed into the TUN
  std::vector<net::Ipv4> node_ips;  // destinations that accept NodePort traffic
  uint16_t port_min = 1024;         // SNAT port range, inclusive
  uint16_t port_max = 65535;
  size_t max_flows = kDefaultMaxFlows;
  ReassemblyOptions reassembly;
  uint64_t seed = 1;  // the balancer's random generator
};

struct ServiceCounters {
  uint64_t packets = 0;  // both directions, forwarded
  uint64_t bytes = 0;    // IP total length of those
  uint64_t new_flows = 0;
  uint64_t icmp_errors = 0;  // translated ICMP errors
  std::array<uint64_t, kDropReasonCount> drops{};
};

// Every frame that enters Process() ends in exactly one of forwarded, replied, dropped, held (a
// fragment kept for now) or reassembled (a fragment that became part of a whole datagram); a
// reassembled datagram is then a packet of its own. So at any time
//   packets == forwarded + replied + dropped + held + reassembled.
// A held fragment that is dropped later (its datagram timed out, overlapped, was pushed out) moves
// from held to dropped.
struct NatCounters {
  uint64_t packets = 0;
  uint64_t forwarded = 0;
  uint64_t replied = 0;
  uint64_t dropped = 0;
  uint64_t held = 0;  // fragments held now, waiting for the rest of their datagram
  uint64_t reassembled = 0;
  uint64_t datagrams = 0;  // whole datagrams made from fragments
  // Fragments among `dropped`, whatever the reason: the frag_* reasons, and a fragment refused on
  // its own (kMalformed: its data not a multiple of 8 bytes), which `drops` cannot tell from a
  // malformed whole packet.
  uint64_t fragments_dropped = 0;
  std::array<uint64_t, kDropReasonCount> drops{};  // sums to dropped
};

class Nat {
 public:
  // kInvalidArgument if the proxy address is unset, is a node address, or the port range is empty.
  static absl::StatusOr<std::unique_ptr<Nat>> Create(ServiceTable table, NatOptions options);

  // Rewrites `frame` in place (kForward), or says why not (kDrop), or builds an answer (kReply).
  // `l4_partial`: the TCP/UDP checksum is partial (see the banner).
  Verdict Process(std::span<uint8_t> frame, int64_t now, bool l4_partial = false);

  // A service's endpoints changed (pod killed/recreated, scaled): new endpoint list, flows to
  // endpoints that are gone flushed, affinity to them forgotten. kNotFound if no such service.
  absl::Status ReplaceEndpoints(std::string_view service, const std::vector<config::PodSpec>& pods);
  absl::Status SetEndpoints(int port_id, std::vector<Endpoint> endpoints);

  // The NetworkPolicy new flows are judged by from now on (nullptr or an empty one: every flow is
  // allowed). Flows already in the table keep passing. The drop counters of pods no longer
  // isolated go, as the kernel's go with their chains (a policy deleted and applied again counts
  // from zero there too); those of pods still isolated keep counting.
  void SetPolicy(std::shared_ptr<const netpol::FlowPolicy> policy);
  // New flows dropped by NetworkPolicy, by lib/netpol's drop counter name ("drops-ingress/x/a").
  const std::map<std::string, uint64_t, std::less<>>& netpol_drops() const { return netpol_drops_; }

  // Periodic sweep (about once a second): expired flows and affinity entries.
  void Expire(int64_t now);

  const ServiceTable& table() const { return table_; }
  const Conntrack& conntrack() const { return conntrack_; }
  const Balancer& balancer() const { return balancer_; }
  const Reassembler& reassembler() const { return reassembler_; }
  const NatCounters& counters() const { return counters_; }
  // Zeroes if no such id.
  ServiceCounters service_counters(int port_id) const;

 private:
  Nat(ServiceTable table, NatOptions options);

  Verdict Drop(DropReason reason, int port_id = -1);
  // A fragment: held, dropped, or its datagram whole and translated.
  Verdict ProcessFragment(const packet::Ipv4View& ip, int64_t now);
  // Fragments dropped by the reassembler, some of them held until now.
  void CountFragmentDrops(const std::vector<Reassembler::Dropped>& dropped);
  Verdict Forward(int port_id, size_t bytes);
  Verdict ProcessTransport(std::span<uint8_t> frame, int64_t now, bool l4_partial);
  Verdict ProcessIcmpError(std::span<uint8_t> frame, int64_t now);
  // A TCP reset (or, for UDP, ICMP port unreachable) from the address the client used.
  Verdict Reject(std::span<uint8_t> frame, const ServicePort& port,
                 DropReason reason = DropReason::kNoEndpoints);
  // A free SNAT port towards the endpoint, preferring `wanted`; 0 if none.
  uint16_t AllocatePort(net::Ipv4 endpoint, uint16_t endpoint_port, uint8_t protocol,
                        uint16_t wanted);
  void FlushGone(const ServicePort& port, const std::vector<Endpoint>& before);

  ServiceTable table_;
  NatOptions options_;
  absl::flat_hash_set<uint32_t> node_ips_;
  Conntrack conntrack_;
  Balancer balancer_;
  Reassembler reassembler_;
  uint32_t next_port_;
  NatCounters counters_;
  std::vector<ServiceCounters> service_counters_;
  std::shared_ptr<const netpol::FlowPolicy> policy_;
  std::map<std::string, uint64_t, std::less<>> netpol_drops_;
};

}  // namespace mkn::nat
