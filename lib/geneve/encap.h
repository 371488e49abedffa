// lib/geneve/encap — a frame read from gnv0, as the Geneve datagrams that carry it.
//
// A frame without GSO becomes one datagram: the node's Geneve header, then the frame (a started
// checksum is finished in place first: a frame on the wire carries its real checksum). A TCP
// super-frame (GSO TCPv4, up to 64 KiB) is cut here as the kernel's tcp_gso_segment() would cut it
// for a NIC without TSO: every segment gets a copy of the Ethernet, IPv4 and TCP headers with its
// own IP total length, identification (+1 per segment) and header checksum, sequence number, and
// TCP checksum computed in full; FIN and PSH stay on the last segment, CWR on the first.
//
// Nothing is copied but headers: each datagram is a `head` (the Geneve header, and for a segment
// its own inner headers, written into the caller's arena) and a `body` (bytes of the frame itself),
// which the pump hands to sendmmsg as two iovecs. Every datagram but the last of a super-frame has
// the same size, so a run of them is one UDP GSO send (UDP_SEGMENT): GsoRun() says how many fit.
// Pure: no I/O, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lib/geneve/header.h"
#include "lib/geneve/offload.h"

namespace mkn::geneve {

struct Datagram {
  std::span<const uint8_t> head;  // Geneve header [+ the segment's Ethernet/IPv4/TCP headers]
  std::span<const uint8_t> body;  // the rest: a part of the frame
  size_t size() const { return head.size() + body.size(); }
};

struct EncapResult {
  DropReason drop = DropReason::kNone;
  size_t datagrams = 0;   // written to `out`
  size_t arena_used = 0;  // bytes of `arena` the heads took
};

// Worst case of arena bytes one frame needs: a head per segment of at most the Geneve header with
// options plus Ethernet, a 60-byte IPv4 and a 60-byte TCP header, for up to kMaxSegments segments.
inline constexpr size_t kMaxSegments = 128;
inline constexpr size_t kMaxSegmentHead = kBaseHeader + kMaxOptions + kEthernetHeader + 60 + 60;

// Cuts `frame` (mutable: a started checksum is finished in place) with its offload metadata into
// datagrams headed by `geneve_header`. kBadFrame when the frame is shorter than an Ethernet header,
// a GSO frame is not Ethernet/IPv4/TCP with consistent lengths, its gso_type is not TCPv4 (with or
// without ECN) or gso_size is 0, it would need more than out.size() (or kMaxSegments) datagrams or
// more arena than given, or a started checksum's offsets lie outside the frame. `out` and `arena`
// are untouched beyond what the result says.
EncapResult Encapsulate(std::span<uint8_t> frame, const Offload& offload,
                        std::span<const uint8_t> geneve_header, std::span<uint8_t> arena,
                        std::span<Datagram> out);

// The largest UDP payload one IPv4 datagram carries: a UDP GSO send holds at most this many bytes.
inline constexpr size_t kMaxUdpPayload = 65535 - 20 - 8;
// How many of `datagrams`, from the first, one UDP GSO send can carry: all the same size but the
// last (which may be shorter), at most `max_segments` (the kernel's UDP_MAX_SEGMENTS) and
// kMaxUdpPayload bytes in all. At least 1 for a non-empty span.
size_t GsoRun(std::span<const Datagram> datagrams, size_t max_segments);

}  // namespace mkn::geneve
