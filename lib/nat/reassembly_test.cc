// lib/nat/reassembly as tables: fragment orders, duplicates, overlaps, bounds and timeouts. Whole
// datagrams are cross-checked against libtins' IPv4Reassembler, an independent implementation.
#include "lib/nat/reassembly.h"

#include <gtest/gtest.h>
#include <tins/ip.h>
#include <tins/ip_reassembler.h>
#include <tins/rawpdu.h>

#include <algorithm>
#include <random>
#include <string>

#include "lib/nat/testing.h"
#include "lib/packet/packet_builder.h"
#include "lib/packet/testing.h"

namespace mkn::nat {
namespace {

using packet::Ipv4View;
using packet::PacketBuilder;
using testing::Ip;
using Fate = Reassembler::Fate;

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

// A UDP datagram of `payload` bytes from a pod to a ClusterIP, with IP id `id`.
std::vector<uint8_t> Datagram(size_t payload, uint16_t id = 7) {
  return PacketBuilder::Udp(Ip("10.244.1.2"), 40000, Ip("10.96.0.53"), 53)
      .Id(id)
      .DontFragment(false)  // a datagram that gets fragmented never has DF
      .Payload(Bytes(payload))
      .Build();
}

std::vector<uint8_t> Piece(const std::vector<uint8_t>& whole, size_t off, size_t len, bool more) {
  return packet::testing::Fragment(whole, off, len, more);
}

Reassembler::Result Feed(Reassembler& r, std::vector<uint8_t> frag, int64_t now = 0) {
  auto ip = Ipv4View::Parse(frag);
  EXPECT_TRUE(ip.ok()) << ip.status();
  EXPECT_TRUE(ip->is_fragment());
  return r.Add(*ip, now);
}

// What libtins makes of the same fragments: the reassembled IP packet's bytes, or empty.
std::vector<uint8_t> TinsReassemble(const std::vector<std::vector<uint8_t>>& frags) {
  Tins::IPv4Reassembler tins;
  for (const auto& f : frags) {
    Tins::IP ip(f.data(), static_cast<uint32_t>(f.size()));
    if (tins.process(ip) == Tins::IPv4Reassembler::REASSEMBLED) return ip.serialize();
  }
  return {};
}

TEST(Reassembly, WholeInAnyOrderAndTheSameAsLibtins) {
  const std::vector<uint8_t> whole = Datagram(3000);
  const size_t hl = 20, payload = whole.size() - hl;
  // Three fragments of 1480, 1480 and the rest, as a 1500-byte MTU cuts them.
  std::vector<std::vector<uint8_t>> frags = {Piece(whole, 0, 1480, true),
                                             Piece(whole, 1480, 1480, true),
                                             Piece(whole, 2960, payload - 2960, false)};
  std::vector<size_t> order = {0, 1, 2};
  do {
    Reassembler r;
    std::vector<std::vector<uint8_t>> in;
    Reassembler::Result res;
    for (size_t k = 0; k < order.size(); ++k) {
      in.push_back(frags[order[k]]);
      res = Feed(r, frags[order[k]]);
      EXPECT_EQ(res.fate, k + 1 < order.size() ? Fate::kHeld : Fate::kComplete);
    }
    ASSERT_EQ(res.fate, Fate::kComplete);
    EXPECT_EQ(res.fragments, 3u);
    EXPECT_EQ(res.datagram, whole) << "the original datagram, byte for byte";
    EXPECT_EQ(packet::testing::ChecksumErrors(res.datagram), "");
    EXPECT_EQ(TinsReassemble(in), whole);
    EXPECT_EQ(r.datagrams(), 0u);
    EXPECT_EQ(r.bytes_held(), 0u);
    EXPECT_EQ(r.fragments_held(), 0u);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(Reassembly, ManySmallFragmentsShuffled) {
  const std::vector<uint8_t> whole = Datagram(8000, 99);
  const size_t payload = whole.size() - 20;
  std::vector<std::vector<uint8_t>> frags;
  for (size_t off = 0; off < payload; off += 64) {
    size_t len = std::min<size_t>(64, payload - off);
    frags.push_back(Piece(whole, off, len, off + len < payload));
  }
  std::mt19937 rng(5);
  std::shuffle(frags.begin(), frags.end(), rng);
  Reassembler r;
  Reassembler::Result res;
  for (const auto& f : frags) res = Feed(r, f);
  ASSERT_EQ(res.fate, Fate::kComplete);
  EXPECT_EQ(res.fragments, frags.size());
  EXPECT_EQ(res.datagram, whole);
  EXPECT_EQ(TinsReassemble(frags), whole);
}

TEST(Reassembly, DatagramsAreKeptApartByTheirIdentification) {
  const std::vector<uint8_t> a = Datagram(2000, 1), b = Datagram(2000, 2);
  Reassembler r;
  EXPECT_EQ(Feed(r, Piece(a, 0, 1000, true)).fate, Fate::kHeld);
  EXPECT_EQ(Feed(r, Piece(b, 0, 1000, true)).fate, Fate::kHeld);
  EXPECT_EQ(r.datagrams(), 2u);
  auto rb = Feed(r, Piece(b, 1000, 1008, false));
  ASSERT_EQ(rb.fate, Fate::kComplete);
  EXPECT_EQ(rb.datagram, b);
  auto ra = Feed(r, Piece(a, 1000, 1008, false));
  ASSERT_EQ(ra.fate, Fate::kComplete);
  EXPECT_EQ(ra.datagram, a);
}

TEST(Reassembly, BadFragmentsAreDroppedByReason) {
  const std::vector<uint8_t> whole = Datagram(3000);
  struct Case {
    const char* name;
    std::vector<std::vector<uint8_t>> before;  // fed first, all held
    std::vector<uint8_t> bad;
    DropReason reason;
    size_t others_dropped;  // held fragments that went with it
  };
  const Case cases[] = {
      {"an exact duplicate is dropped alone",
       {Piece(whole, 0, 1480, true)},
       Piece(whole, 0, 1480, true),
       DropReason::kFragOverlap,
       0},
      {"an overlap drops the whole datagram",
       {Piece(whole, 0, 1480, true)},
       Piece(whole, 1472, 800, true),
       DropReason::kFragOverlap,
       1},
      {"an overlap from below",
       {Piece(whole, 1480, 800, true)},
       Piece(whole, 0, 1488, true),
       DropReason::kFragOverlap,
       1},
      {"a fragment that is not the last must be a multiple of 8",
       {},
       Piece(whole, 0, 1001, true),
       DropReason::kMalformed,
       0},
      {"beyond 65535 bytes",
       {},
       [] {
         auto f = Datagram(100);
         packet::Store16(&f[6], 8190);  // the last fragment, at 65520, with 108 bytes
         packet::Store16(&f[10], 0);
         packet::Store16(&f[10], packet::testing::RefSum(f, 0, 20) ^ 0xffff);
         return f;
       }(),
       DropReason::kFragOversize,
       0},
      {"data after the last fragment",
       {Piece(whole, 1480, 800, false)},
       Piece(whole, 2280, 400, true),
       DropReason::kFragOversize,
       1},
      {"a second last fragment that disagrees",
       {Piece(whole, 1480, 800, false)},
       Piece(whole, 2280, 80, false),
       DropReason::kFragOversize,
       1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Reassembler r;
    for (const auto& f : c.before) ASSERT_EQ(Feed(r, f).fate, Fate::kHeld);
    Reassembler::Result res = Feed(r, c.bad);
    EXPECT_EQ(res.fate, Fate::kDropped);
    EXPECT_EQ(res.reason, c.reason);
    size_t others = 0;
    for (const auto& d : res.dropped) others += d.fragments;
    EXPECT_EQ(others, c.others_dropped);
    EXPECT_EQ(r.fragments_held(), c.before.size() - c.others_dropped);
  }
}

TEST(Reassembly, AnIncompleteDatagramTimesOut) {
  const std::vector<uint8_t> whole = Datagram(3000);
  Reassembler r(ReassemblyOptions{.timeout_ms = 30'000});
  Feed(r, Piece(whole, 0, 1480, true), 1000);
  Feed(r, Piece(whole, 2960, whole.size() - 20 - 2960, false), 2000);
  EXPECT_TRUE(r.Expire(30'999).empty());
  auto gone = r.Expire(31'000);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].reason, DropReason::kFragTimeout);
  EXPECT_EQ(gone[0].fragments, 2u);
  EXPECT_EQ(r.datagrams(), 0u);
  EXPECT_EQ(r.bytes_held(), 0u);
  // The missing piece alone, later, starts a new datagram that never completes.
  EXPECT_EQ(Feed(r, Piece(whole, 1480, 1480, true), 31'001).fate, Fate::kHeld);
}

TEST(Reassembly, MemoryIsBoundedOldestDatagramFirst) {
  Reassembler r(ReassemblyOptions{.max_bytes = 4000, .max_datagrams = 3});
  std::vector<std::vector<uint8_t>> wholes;
  for (uint16_t id = 1; id <= 4; ++id) wholes.push_back(Datagram(3000, id));
  // Three datagrams of 1480 bytes held: 4440 > 4000, so the oldest goes when the third comes.
  EXPECT_EQ(Feed(r, Piece(wholes[0], 0, 1480, true), 1).fate, Fate::kHeld);
  EXPECT_EQ(Feed(r, Piece(wholes[1], 0, 1480, true), 2).fate, Fate::kHeld);
  auto third = Feed(r, Piece(wholes[2], 0, 1480, true), 3);
  EXPECT_EQ(third.fate, Fate::kHeld);
  ASSERT_EQ(third.dropped.size(), 1u);
  EXPECT_EQ(third.dropped[0].reason, DropReason::kFragOverload);
  EXPECT_LE(r.bytes_held(), 4000u);
  EXPECT_EQ(r.datagrams(), 2u);
  // A datagram too big to ever fit is refused outright, and takes its own pieces with it.
  Reassembler small(ReassemblyOptions{.max_bytes = 1000});
  auto res = Feed(small, Piece(wholes[3], 0, 1480, true));
  EXPECT_EQ(res.fate, Fate::kDropped);
  EXPECT_EQ(res.reason, DropReason::kFragOverload);
  EXPECT_EQ(small.bytes_held(), 0u);
  // The count bound: a fourth datagram pushes out the oldest of three.
  Reassembler few(ReassemblyOptions{.max_datagrams = 3});
  for (uint16_t id = 0; id < 3; ++id) Feed(few, Piece(wholes[id], 0, 8, true), id);
  auto fourth = Feed(few, Piece(wholes[3], 0, 8, true), 9);
  EXPECT_EQ(fourth.fate, Fate::kHeld);
  ASSERT_EQ(fourth.dropped.size(), 1u);
  EXPECT_EQ(few.datagrams(), 3u);
}

}  // namespace
}  // namespace mkn::nat
