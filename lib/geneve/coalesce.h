// lib/geneve/coalesce — decapsulated TCP segments joined back into super-frames for gnv0 (GRO).
//
// The sending node cut a 64 KiB TCP super-frame into MSS-sized segments (lib/geneve/encap); the
// receiving node writes each inner frame into its gnv0. One write per 1.4 KB segment costs a
// syscall and a trip through the node's stack per segment, where the kernel's own VXLAN hands the
// pod one big buffer. So the receiver does what the kernel's GRO (tcp_gro_receive) does for a
// NIC: consecutive segments of one TCP flow are written as one frame with GSO metadata (TCPv4,
// gso_size = the first segment's payload, NEEDS_CSUM with the checksum field holding the
// pseudo-header sum), and the kernel passes it on whole, as it does any GRO'd packet.
//
// The rules are GRO's: a segment joins the flow's pending frame only if it is IPv4 without
// options, not a fragment, TCP with only ACK (and PSH) set, carries payload, follows the pending
// frame's sequence exactly, and matches it in Ethernet header, TOS, TTL, the DF bit, addresses,
// ports, acknowledgement number, window, header length and TCP options; its payload may not exceed
// the first segment's. A shorter segment, or one with PSH, joins and ends the frame. The frame
// holds at most kMaxSegments segments and 65 535 bytes of IP. Anything else passes through alone,
// after its flow's pending frame (order within a flow is kept; flows are independent). Up to
// kMaxFlows flows are pending at once; the caller calls Flush() at the end of each batch of
// datagrams, before their buffers are reused.
//
// Integrity: a segment joins only if its IPv4 header checksum and its TCP checksum verify, as GRO
// checks them when no NIC did (skb_gro_checksum_validate). The outer UDP checksum the kernel
// verified covers the datagram, not what the sending node put inside it: a segment built with a
// wrong TCP checksum (by a pod's raw socket, or a forged datagram) arrives intact and wrong. The
// joined frame is handed on as NEEDS_CSUM (CHECKSUM_PARTIAL), which the receiving stack trusts, so
// an unverified segment joined would be accepted. A segment that fails passes through alone and
// untouched (counted in bad_csum): the pod's kernel drops it and counts it (TcpInCsumErrors), as
// behind a NIC without checksum offload. Headers are updated in place in the first segment's bytes
// (total length, IP checksum, PSH, TCP checksum field); payloads are never copied: a frame is
// emitted as spans. Pure: no I/O, no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/functional/function_ref.h"
#include "lib/geneve/offload.h"

namespace mkn::geneve {

// A frame to write into gnv0: its offload metadata and its bytes, in parts.
struct OutFrame {
  Offload offload;
  std::span<const std::span<const uint8_t>> parts;
  size_t size() const {
    size_t n = 0;
    for (const auto& p : parts) n += p.size();
    return n;
  }
};

struct CoalesceCounters {
  uint64_t frames_in = 0;   // inner frames fed
  uint64_t frames_out = 0;  // frames emitted
  uint64_t joined = 0;      // segments that went into another's frame
  uint64_t bad_csum = 0;    // joinable but for a checksum that failed: passed on alone
  bool operator==(const CoalesceCounters&) const = default;
};

class Coalescer {
 public:
  static constexpr size_t kMaxFlows = 8;
  static constexpr size_t kMaxSegments = 64;
  using Emit = absl::FunctionRef<void(const OutFrame&)>;

  // Feeds one inner Ethernet frame. Its bytes must stay valid (and are modified in place) until the
  // frame it ends up in is emitted: at the latest at the next Flush().
  void Add(std::span<uint8_t> frame, Emit emit);
  // Emits every pending frame.
  void Flush(Emit emit);

  const CoalesceCounters& counters() const { return counters_; }

 private:
  struct Flow {
    bool active = false;
    uint32_t src = 0, dst = 0;
    uint16_t sport = 0, dport = 0;
    std::span<uint8_t> first;  // the first segment: its headers become the frame's
    size_t headers = 0;        // Ethernet + IPv4 + TCP
    size_t gso_size = 0;       // the first segment's payload
    size_t payload = 0;        // in all
    uint32_t next_seq = 0;
    bool psh = false;
    size_t segments = 0;
    std::array<std::span<const uint8_t>, kMaxSegments> parts;
  };
  void Start(Flow& f, std::span<uint8_t> frame, size_t headers, size_t payload);
  void Emit1(Flow& f, Emit emit);
  Flow* Find(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport);

  std::array<Flow, kMaxFlows> flows_;
  size_t next_victim_ = 0;  // the pending flow pushed out when all slots are taken
  CoalesceCounters counters_;
};

}  // namespace mkn::geneve
