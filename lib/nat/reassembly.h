// lib/nat/reassembly — IPv4 fragments gathered into whole datagrams, within bounds, for the NAT.
//
// Only the first fragment of a datagram carries its ports, so a NAT cannot translate fragments one
// by one. kube-proxy never sees them: nf_conntrack reassembles first (nf_defrag_ipv4) and the
// output path fragments again. The userspace NAT does the same: Add() keeps the fragments of each
// datagram, keyed by (source, destination, identification, protocol) as RFC 791 says, until it is
// whole, then returns it as one packet: the first fragment's header with MF and the offset cleared,
// total length and header checksum set. The node's kernel fragments it again on the way out when
// it is larger than the next link's MTU (a fragmented datagram never has DF set).
//
// Bounded, as the kernel's ipfrag_high_thresh / ipfrag_time are: at most `max_datagrams` datagrams
// in progress and `max_bytes` of fragment data held; a datagram must be whole within `timeout_ms`.
// What does not fit is dropped and reported by reason, with how many fragments went:
//   kFragTimeout   a datagram still incomplete at its deadline (Expire)
//   kFragOverlap   fragments that overlap without being exact duplicates (the whole datagram goes,
//                  as RFC 5722 asks for IPv6 and Linux does for IPv4: overlaps are how "teardrop"
//                  and filter-evasion attacks work); an exact duplicate is dropped alone
//   kFragOversize  a datagram that would exceed 65 535 bytes, or a fragment after the last one
//   kFragOverload  the oldest datagram in progress, pushed out to make room within the bounds
//   kMalformed     a fragment that is not the last but whose data is not a multiple of 8 bytes
// Time is the caller's `now` in milliseconds: deterministic. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "lib/nat/drop_reason.h"
#include "lib/packet/packet.h"

namespace mkn::nat {

struct ReassemblyOptions {
  size_t max_bytes = 4 << 20;  // fragment payload bytes held, all datagrams together
  size_t max_datagrams = 1024;
  int64_t timeout_ms = 30'000;  // Linux's ipfrag_time
};

class Reassembler {
 public:
  explicit Reassembler(ReassemblyOptions options = {}) : options_(options) {}

  // Fragments dropped, each with its reason (what a caller adds to its counters).
  struct Dropped {
    DropReason reason;
    size_t fragments;
  };
  // What became of the fragment given to Add().
  enum class Fate : uint8_t { kHeld, kComplete, kDropped };
  struct Result {
    Fate fate = Fate::kHeld;
    DropReason reason = DropReason::kNone;  // kDropped: why this fragment went
    std::vector<uint8_t> datagram;          // kComplete: the whole packet
    size_t fragments = 0;          // kComplete: how many fragments made it (this one included)
    std::vector<Dropped> dropped;  // fragments held until now that this call discarded
  };

  // Takes one fragment (`ip.is_fragment()` must be true; its header checksum verified by Parse).
  Result Add(const packet::Ipv4View& ip, int64_t now);

  // Drops every datagram past its deadline; returns what went (reason kFragTimeout).
  std::vector<Dropped> Expire(int64_t now);

  size_t datagrams() const { return datagrams_.size(); }
  size_t fragments_held() const { return fragments_held_; }
  size_t bytes_held() const { return bytes_held_; }

 private:
  struct Key {
    uint32_t src, dst;
    uint16_t id;
    uint8_t protocol;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.src, k.dst, k.id, k.protocol);
    }
  };
  struct Datagram {
    int64_t created_ms = 0;
    std::vector<uint8_t> header;                      // the first fragment's IP header, once seen
    std::map<uint32_t, std::vector<uint8_t>> pieces;  // byte offset -> payload
    uint32_t end = 0;  // payload length, once the last fragment came (0: not yet)
    size_t bytes = 0;
  };

  // Removes a datagram, releasing what it held; returns how many fragments it had.
  size_t Discard(absl::flat_hash_map<Key, Datagram>::iterator it);
  // Discards the oldest datagrams until one more fragment of `need` bytes fits the bounds.
  void MakeRoom(size_t need, const Key& keep, Result& r);

  ReassemblyOptions options_;
  absl::flat_hash_map<Key, Datagram> datagrams_;
  size_t fragments_held_ = 0;
  size_t bytes_held_ = 0;
};

}  // namespace mkn::nat
