// lib/geneve/fuzz_driver — arbitrary bytes through both directions of the Geneve pump's decisions,
// for the libFuzzer target (geneve_fuzz.cc) and the randomized test (fuzz_test.cc).
//
// The input is a sequence of chunks, each prefixed by a 2-byte big-endian length (as nat_fuzz's).
// A chunk's first byte picks the direction:
//   even  a datagram node2 received from node1: Peers::Check, then the Coalescer (the chunk's
//         bytes stay valid until the input's Flush, as a receive batch's do);
//   odd   a frame read from gnv0: the next 9 bytes are its offload metadata (flags, gso_type,
//         hdr_len, gso_size, csum_start, csum_offset), the rest the frame: Encapsulate, GsoRun.
// Every output is checked against what must hold whatever the input: datagrams point into the
// frame and the arena they were given, runs cover every datagram, every datagram decodes as
// minikube-net's header, every emitted frame's parts are bytes that were fed. A broken invariant is
// reported (Feed returns false) rather than trapped here, so the test can say which. Header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "lib/config/spec.h"
#include "lib/geneve/coalesce.h"
#include "lib/geneve/encap.h"
#include "lib/geneve/header.h"
#include "lib/geneve/peers.h"

namespace mkn::geneve {

class FuzzDriver {
 public:
  FuzzDriver() {
    config::ClusterSpec spec;
    spec.vni = 1;
    for (int i = 0; i < 3; ++i) {
      config::NodeSpec n;
      n.name = "node" + std::to_string(i + 1);
      n.index = i;
      n.underlay_ip = net::Ipv4{0xac120002u + static_cast<uint32_t>(i)};
      n.vtep_mac.bytes = {0x0e, 0x58, 0x0a, 0xf4, static_cast<uint8_t>(i), 0x00};
      spec.nodes.push_back(n);
    }
    peers_ = Peers::Build(spec, 1);
    EncodeHeader(header_, 1, 2);
    datagrams_.resize(kMaxSegments);
    arena_.resize(kMaxSegments * kMaxSegmentHead);
  }

  // One input. False (and why(), kept) when an invariant broke.
  bool Feed(const uint8_t* data, size_t size) {
    chunks_.clear();
    size_t at = 0;
    while (at < size) {
      size_t len = size - at;
      if (len >= 2) {
        len = std::min<size_t>((size_t{data[at]} << 8) | data[at + 1], size - at - 2);
        at += 2;
      } else {
        at = size - len;
      }
      chunks_.emplace_back(data + at, data + at + len);
      at += len;
    }
    bool ok = true;
    for (std::vector<uint8_t>& c : chunks_) {
      if (c.empty()) continue;
      ok &= (c[0] % 2 == 0) ? Rx(std::span<uint8_t>(c).subspan(1)) : Tx(c);
    }
    coalescer_.Flush([&](const OutFrame& f) { ok &= CheckOut(f); });
    const CoalesceCounters& k = coalescer_.counters();
    if (k.frames_out + k.joined != k.frames_in) ok = Broke("coalescer lost or made up a frame");
    return ok;
  }

  const char* why() const { return why_; }
  const CoalesceCounters& coalesced() const { return coalescer_.counters(); }
  uint64_t accepted() const { return accepted_; }
  uint64_t encapsulated() const { return encapsulated_; }

 private:
  bool Broke(const char* why) {
    why_ = why;
    return false;
  }

  // Every part of an emitted frame lies inside a chunk that was fed.
  bool Within(std::span<const uint8_t> p) const {
    for (const std::vector<uint8_t>& c : chunks_) {
      if (p.data() >= c.data() && p.data() + p.size() <= c.data() + c.size()) return true;
    }
    return p.empty();
  }

  bool CheckOut(const OutFrame& f) {
    if (f.parts.empty() || f.parts.size() > Coalescer::kMaxSegments) return Broke("parts count");
    for (const auto& p : f.parts) {
      if (!Within(p)) return Broke("a part points outside the fed bytes");
    }
    if (f.offload.gso_type != kGsoNone) {
      if (f.parts.size() < 2 || f.offload.gso_size == 0 || !f.offload.needs_csum)
        return Broke("a joined frame's offload metadata");
      if (f.size() - kEthernetHeader > 65535) return Broke("a joined frame over 64 KiB");
    }
    return true;
  }

  bool Rx(std::span<uint8_t> datagram) {
    RxVerdict v = peers_.Check(net::Ipv4{0xac120002u}, datagram);
    if (v.drop != DropReason::kNone) return v.inner.empty() || Broke("a drop with a frame");
    if (v.inner.size() < kEthernetHeader) return Broke("an accepted frame shorter than Ethernet");
    ++accepted_;
    std::span<uint8_t> inner(datagram.data() + (v.inner.data() - datagram.data()), v.inner.size());
    bool ok = true;
    coalescer_.Add(inner, [&](const OutFrame& f) { ok &= CheckOut(f); });
    return ok;
  }

  bool Tx(std::vector<uint8_t>& chunk) {
    if (chunk.size() < 10) return true;
    const uint8_t* m = &chunk[1];
    Offload o;
    o.needs_csum = (m[0] & 1) != 0;
    o.gso_type = m[1];
    o.hdr_len = m[2];
    o.gso_size = static_cast<uint16_t>((m[3] << 8) | m[4]);
    o.csum_start = static_cast<uint16_t>((m[5] << 8) | m[6]);
    o.csum_offset = m[7];
    std::span<uint8_t> frame = std::span<uint8_t>(chunk).subspan(9);
    EncapResult r = Encapsulate(frame, o, header_, arena_, datagrams_);
    if (r.drop != DropReason::kNone) return r.datagrams == 0 || Broke("a drop with datagrams");
    if (r.datagrams == 0 || r.datagrams > datagrams_.size() || r.arena_used > arena_.size())
      return Broke("datagram or arena count");
    ++encapsulated_;
    size_t covered = 0;
    for (size_t i = 0; i < r.datagrams; ++i) {
      const Datagram& d = datagrams_[i];
      const bool head_in_arena = d.head.data() >= arena_.data() &&
                                 d.head.data() + d.head.size() <= arena_.data() + r.arena_used;
      const bool head_is_header = d.head.data() == header_;
      if (!head_in_arena && !head_is_header) return Broke("a head outside the arena");
      if (d.body.data() < frame.data() ||
          d.body.data() + d.body.size() > frame.data() + frame.size())
        return Broke("a body outside the frame");
      wire_.assign(d.head.begin(), d.head.end());
      wire_.insert(wire_.end(), d.body.begin(), d.body.end());
      Decoded dec = Decode(wire_, 1);
      if (dec.drop != DropReason::kNone || dec.source_node != 2u)
        return Broke("a datagram that does not decode");
    }
    for (size_t i = 0; i < r.datagrams;) {
      const size_t run =
          GsoRun(std::span<const Datagram>(datagrams_).subspan(i, r.datagrams - i), 64);
      if (run == 0) return Broke("an empty run");
      i += run;
      covered += run;
    }
    return covered == r.datagrams || Broke("runs do not cover the datagrams");
  }

  Peers peers_;
  Coalescer coalescer_;
  uint8_t header_[kHeaderWithOption] = {};
  std::vector<Datagram> datagrams_;
  std::vector<uint8_t> arena_, wire_;
  std::vector<std::vector<uint8_t>> chunks_;
  const char* why_ = "";
  uint64_t accepted_ = 0, encapsulated_ = 0;
};

}  // namespace mkn::geneve
