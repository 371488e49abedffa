// lib/geneve/encap and lib/geneve/coalesce: a gnv0 frame as Geneve datagrams, and decapsulated
// segments joined back. Segments of a TCP super-frame are compared byte for byte with the segments
// libtins builds (and checksums) independently; a randomized round trip (cut, encapsulate, decode,
// join) must give back the frames it started from; the rest are tables.
#include <gtest/gtest.h>
#include <tins/ethernetII.h>
#include <tins/ip.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>
#include <tins/udp.h>

#include <random>
#include <string>
#include <vector>

#include "lib/geneve/coalesce.h"
#include "lib/geneve/encap.h"
#include "lib/packet/checksum.h"
#include "lib/packet/packet.h"
#include "lib/packet/testing.h"

namespace mkn::geneve {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Payload(size_t n, size_t from = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((from + i) % 251);
  return b;
}

struct TcpFields {
  uint16_t id = 100;
  uint32_t seq = 1000;
  uint16_t flags = Tins::TCP::ACK;
  uint8_t tos = 0;
  bool timestamps = true;
};

// An Ethernet/IPv4/TCP frame as libtins builds it, checksums included.
Bytes TcpFrame(const TcpFields& f, const Bytes& payload) {
  Tins::IP ip("10.244.1.3", "10.244.0.2");
  ip.id(f.id);
  ip.ttl(63);
  ip.tos(f.tos);
  ip.flags(Tins::IP::DONT_FRAGMENT);
  Tins::TCP tcp(5201, 40000);
  tcp.seq(f.seq);
  tcp.ack_seq(77);
  tcp.window(502);
  tcp.flags(f.flags);
  if (f.timestamps) tcp.timestamp(123456, 654321);
  Tins::EthernetII eth("0e:58:0a:f4:01:00", "0e:58:0a:f4:00:00");
  Tins::EthernetII whole =
      eth / ip / tcp / Tins::RawPDU(payload.data(), static_cast<uint32_t>(payload.size()));
  return whole.serialize();
}

// The super-frame as the kernel hands it to a TAP with TSO: one IP packet, the TCP checksum field
// holding only the pseudo-header sum (CHECKSUM_PARTIAL).
Bytes SuperFrame(const TcpFields& f, const Bytes& payload, Offload& o, uint16_t mss) {
  Bytes b = TcpFrame(f, payload);
  const size_t ihl = 20, thl = (b[14 + ihl + 12] >> 4) * 4u;
  const uint32_t pseudo =
      packet::PseudoHeaderSum(net::Ipv4{packet::Load32(&b[26])}, net::Ipv4{packet::Load32(&b[30])},
                              6, static_cast<uint16_t>(b.size() - 14 - ihl));
  packet::Store16(&b[14 + ihl + 16], static_cast<uint16_t>(~packet::FoldChecksum(pseudo)));
  o = Offload{true, kGsoTcpv4, static_cast<uint16_t>(14 + ihl + thl), mss, 34, 16};
  return b;
}

Bytes Header() {
  Bytes h(kHeaderWithOption);
  EXPECT_EQ(EncodeHeader(h, 1, 1), kHeaderWithOption);
  return h;
}

Bytes Joined(const Datagram& d) {
  Bytes b(d.head.begin(), d.head.end());
  b.insert(b.end(), d.body.begin(), d.body.end());
  return b;
}

TEST(Encap, AFrameWithoutGsoIsOneDatagramAndItsStartedChecksumIsFinished) {
  const Bytes gh = Header();
  // A UDP datagram as a pod's stack sends it with checksum offload: the field holds the
  // pseudo-header sum; csum_start is the UDP header, csum_offset its checksum field.
  Tins::EthernetII eth("0e:58:0a:f4:01:00", "0e:58:0a:f4:00:00");
  Tins::EthernetII whole =
      eth / Tins::IP("10.244.1.3", "10.244.0.2") / Tins::UDP(7, 40000) / Tins::RawPDU("udp-hello");
  Bytes want = whole.serialize();               // libtins' checksum
  want.resize(14 + packet::Load16(&want[16]));  // without the padding to 60 bytes: gnv0 has none
  Bytes frame = want;
  const uint32_t pseudo = packet::PseudoHeaderSum(net::Ipv4{packet::Load32(&frame[26])},
                                                  net::Ipv4{packet::Load32(&frame[30])}, 17,
                                                  static_cast<uint16_t>(frame.size() - 34));
  packet::Store16(&frame[40], static_cast<uint16_t>(~packet::FoldChecksum(pseudo)));
  ASSERT_NE(frame, want);
  Datagram out[4];
  uint8_t arena[64];
  EncapResult r = Encapsulate(frame, Offload{true, kGsoNone, 0, 0, 34, 6}, gh, arena, out);
  ASSERT_EQ(r.drop, DropReason::kNone);
  ASSERT_EQ(r.datagrams, 1u);
  EXPECT_EQ(r.arena_used, 0u);
  EXPECT_EQ(Bytes(out[0].head.begin(), out[0].head.end()), gh);
  EXPECT_EQ(packet::testing::Hex(Bytes(out[0].body.begin(), out[0].body.end())),
            packet::testing::Hex(want));
  // Without NEEDS_CSUM the frame goes as it is.
  Bytes plain = want;
  r = Encapsulate(plain, Offload{}, gh, arena, out);
  ASSERT_EQ(r.datagrams, 1u);
  EXPECT_EQ(Bytes(out[0].body.begin(), out[0].body.end()), want);
}

// tcp_gso_segment() as libtins would build each segment: +1 IP id, seq + i * MSS, PSH on the last.
TEST(Encap, ATcpSuperFrameIsCutIntoTheSegmentsLibtinsBuilds) {
  const Bytes gh = Header();
  for (size_t payload : {1u, 1389u, 1390u, 1391u, 2780u, 10000u, 63000u}) {
    SCOPED_TRACE(payload);
    const uint16_t mss = 1390;
    Offload o;
    TcpFields f;
    f.flags = Tins::TCP::ACK | Tins::TCP::PSH;
    Bytes frame = SuperFrame(f, Payload(payload), o, mss);
    std::vector<Datagram> out(kMaxSegments);
    std::vector<uint8_t> arena(kMaxSegments * kMaxSegmentHead);
    EncapResult r = Encapsulate(frame, o, gh, arena, out);
    ASSERT_EQ(r.drop, DropReason::kNone);
    const size_t n = (payload + mss - 1) / mss;
    ASSERT_EQ(r.datagrams, n);
    for (size_t i = 0; i < n; ++i) {
      SCOPED_TRACE(i);
      TcpFields s = f;
      s.id = static_cast<uint16_t>(f.id + i);
      s.seq = f.seq + static_cast<uint32_t>(i * mss);
      if (i + 1 < n) s.flags = Tins::TCP::ACK;
      const size_t len = std::min<size_t>(mss, payload - i * mss);
      Bytes want = gh;
      const Bytes seg = TcpFrame(s, Payload(len, i * mss));
      want.insert(want.end(), seg.begin(), seg.end());
      EXPECT_EQ(Joined(out[i]), want);
      EXPECT_EQ(packet::testing::ChecksumErrors(Bytes(seg.begin() + 14, seg.end())), "");
      if (i + 1 < n) {
        EXPECT_EQ(out[i].size(), out[0].size());
      }
    }
  }
}

TEST(Encap, FinStaysOnTheLastSegmentAndCwrOnTheFirst) {
  const Bytes gh = Header();
  Offload o;
  TcpFields f;
  f.flags = Tins::TCP::ACK | Tins::TCP::FIN | Tins::TCP::CWR;
  f.tos = 0x02;  // ECT(0)
  Bytes frame = SuperFrame(f, Payload(3000), o, 1400);
  o.gso_type = kGsoTcpv4 | kGsoEcn;
  std::vector<Datagram> out(8);
  std::vector<uint8_t> arena(8 * kMaxSegmentHead);
  ASSERT_EQ(Encapsulate(frame, o, gh, arena, out).datagrams, 3u);
  auto flags = [&](int i) { return out[i].head[gh.size() + 14 + 20 + 13]; };
  EXPECT_EQ(flags(0), Tins::TCP::ACK | Tins::TCP::CWR);
  EXPECT_EQ(flags(1), Tins::TCP::ACK);
  EXPECT_EQ(flags(2), Tins::TCP::ACK | Tins::TCP::FIN);
}

TEST(Encap, BadFramesTable) {
  const Bytes gh = Header();
  Offload good;
  const Bytes super = SuperFrame(TcpFields{}, Payload(5000), good, 1400);
  struct Case {
    std::string name;
    Bytes frame;
    Offload offload;
    size_t out_slots = 8, arena = 8 * kMaxSegmentHead;
  };
  auto with = [&](auto change) {
    Bytes b = super;
    change(b);
    return b;
  };
  Offload udp_gso = good;
  udp_gso.gso_type = kGsoUdp;
  Offload v6 = good;
  v6.gso_type = kGsoTcpv6;
  Offload zero = good;
  zero.gso_size = 0;
  Offload far_csum{true, kGsoNone, 0, 0, 60, 16};
  const std::vector<Case> cases = {
      {"shorter than an Ethernet header", Bytes(13, 0), Offload{}},
      {"GSO of UDP (USO is not enabled on gnv0)", super, udp_gso},
      {"GSO of TCPv6", super, v6},
      {"gso_size 0", super, zero},
      {"GSO but not IPv4", with([](Bytes& b) {
         b[12] = 0x86;
         b[13] = 0xdd;
       }),
       good},
      {"GSO but not TCP", with([](Bytes& b) { b[14 + 9] = 17; }), good},
      {"GSO, IP total length not the frame's", with([](Bytes& b) { b[14 + 2] ^= 1; }), good},
      {"GSO, TCP data offset past the frame", with([](Bytes& b) {
         b.resize(14 + 20 + 20);
         b[16] = 0;
         b[17] = 40;
         b[14 + 20 + 12] = 0xf0;
       }),
       good},
      {"GSO without payload", with([](Bytes& b) {
         b.resize(14 + 20 + 32);
         b[16] = 0;
         b[17] = 52;
       }),
       good},
      {"more segments than slots", super, good, 3},
      {"more heads than arena", super, good, 8, 100},
      {"a started checksum past the frame", Bytes(60, 0), far_csum},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Bytes frame = c.frame;
    std::vector<Datagram> out(c.out_slots);
    std::vector<uint8_t> arena(c.arena);
    EncapResult r = Encapsulate(frame, c.offload, gh, arena, out);
    EXPECT_EQ(ToString(r.drop), ToString(DropReason::kBadFrame));
    EXPECT_EQ(r.datagrams, 0u);
  }
}

TEST(Encap, GsoRunTable) {
  // Datagrams of given sizes (the bytes do not matter: only the sizes).
  static uint8_t big[70000];
  auto of = [&](std::vector<size_t> sizes) {
    std::vector<Datagram> v;
    for (size_t s : sizes) v.push_back(Datagram{{big, 0}, {big, s}});
    return v;
  };
  struct Case {
    std::string name;
    std::vector<size_t> sizes;
    size_t max_segments, want;
  };
  std::vector<size_t> many(100, 1472);
  std::vector<size_t> tail(10, 1000);
  tail.push_back(10);
  tail.push_back(1000);
  const std::vector<Case> cases = {
      {"empty", {}, 64, 0},
      {"one", {100}, 64, 1},
      {"equal sizes", {1000, 1000, 1000}, 64, 3},
      {"a shorter last one ends the run", tail, 64, 11},
      {"a bigger one starts a new run", {1000, 1000, 1001}, 64, 2},
      {"the kernel's segment limit", std::vector<size_t>(100, 10), 64, 64},
      {"the 64 KiB limit: 44 of 1472", many, 64, 44},
      {"one over 64 KiB still goes (and fails) alone", {70000, 10}, 64, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Datagram> v = of(c.sizes);
    EXPECT_EQ(GsoRun(v, c.max_segments), c.want);
  }
}

// --- coalesce ------------------------------------------------------------------------------------

struct Emitted {
  Offload offload;
  Bytes bytes;
  size_t parts = 0;
};

// Feeds copies of `frames` (the coalescer edits and points into them: they must outlive it) and
// collects what it emits, flushing at the end.
std::vector<Emitted> Coalesce(std::vector<Bytes>& frames, Coalescer* c = nullptr) {
  Coalescer own;
  if (c == nullptr) c = &own;
  std::vector<Emitted> out;
  auto emit = [&](const OutFrame& f) {
    Emitted e{f.offload, {}, f.parts.size()};
    for (const auto& p : f.parts) e.bytes.insert(e.bytes.end(), p.begin(), p.end());
    EXPECT_EQ(e.bytes.size(), f.size());
    out.push_back(std::move(e));
  };
  for (Bytes& f : frames) c->Add(f, emit);
  c->Flush(emit);
  return out;
}

// The segments of a super-frame as the receiving pump gets them: encapsulated, then decoded.
std::vector<Bytes> Segments(Bytes super, const Offload& o) {
  const Bytes gh = Header();
  std::vector<Datagram> out(kMaxSegments);
  std::vector<uint8_t> arena(kMaxSegments * kMaxSegmentHead);
  EncapResult r = Encapsulate(super, o, gh, arena, out);
  EXPECT_EQ(r.drop, DropReason::kNone);
  std::vector<Bytes> segs;
  for (size_t i = 0; i < r.datagrams; ++i) {
    Bytes wire = Joined(out[i]);
    Decoded d = Decode(wire, 1);
    EXPECT_EQ(d.drop, DropReason::kNone);
    segs.emplace_back(d.inner.begin(), d.inner.end());
  }
  return segs;
}

// `f` (Ethernet/IPv4 without options/TCP) with both checksums recomputed after a test edited it.
Bytes Resum(Bytes f) {
  uint8_t* ip = &f[14];
  const size_t total = packet::Load16(&ip[2]);
  packet::Store16(&ip[10], 0);
  packet::Store16(&ip[10], packet::InternetChecksum({ip, 20}));
  uint8_t* tcp = ip + 20;
  packet::Store16(&tcp[16], 0);
  const uint32_t pseudo = packet::PseudoHeaderSum(
      net::Ipv4{packet::Load32(&ip[12])}, net::Ipv4{packet::Load32(&ip[16])}, packet::kProtoTcp,
      static_cast<uint16_t>(total - 20));
  packet::Store16(&tcp[16],
                  packet::FoldChecksum(packet::PartialChecksum({tcp, total - 20}, pseudo)));
  return f;
}

TEST(Coalesce, SegmentsOfASuperFrameAreJoinedBackIntoIt) {
  for (size_t payload : {1391u, 2780u, 10000u, 63000u}) {
    SCOPED_TRACE(payload);
    Offload o;
    TcpFields f;
    f.flags = Tins::TCP::ACK | Tins::TCP::PSH;
    const Bytes super = SuperFrame(f, Payload(payload), o, 1390);
    std::vector<Bytes> segs = Segments(super, o);
    std::vector<Emitted> got = Coalesce(segs);
    ASSERT_EQ(got.size(), 1u);
    // The same bytes, the TCP checksum field holding the pseudo-header sum, as the kernel made it.
    EXPECT_EQ(got[0].bytes, super);
    EXPECT_EQ(got[0].offload, o);
    EXPECT_EQ(got[0].parts, segs.size());
  }
}

TEST(Coalesce, ALoneSegmentPassesUnchangedWithoutOffload) {
  std::vector<Bytes> one = {TcpFrame(TcpFields{}, Payload(100))};
  const Bytes want = one[0];
  std::vector<Emitted> got = Coalesce(one);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, want);
  EXPECT_EQ(got[0].offload, Offload{});
}

// Two segments of one flow, the second changed in one way: joined, or two frames.
TEST(Coalesce, WhatJoinsAndWhatDoesNot) {
  const TcpFields a;
  auto second = [&](auto change) {
    TcpFields b = a;
    b.seq = a.seq + 1000;
    b.id = a.id + 1;
    Bytes p = Payload(1000, 1000);
    change(b, p);
    return TcpFrame(b, p);
  };
  auto raw = [&](auto change) {
    Bytes f = second([](TcpFields&, Bytes&) {});
    change(f);
    return Resum(f);  // what differs is the change, not a checksum
  };
  struct Case {
    std::string name;
    Bytes b;
    size_t frames;
  };
  const std::vector<Case> cases = {
      {"the next segment", second([](TcpFields&, Bytes&) {}), 1},
      {"a shorter next segment (ends the frame)",
       second([](TcpFields&, Bytes& p) { p.resize(10); }), 1},
      {"with PSH (ends the frame)",
       second([](TcpFields& b, Bytes&) { b.flags = Tins::TCP::ACK | Tins::TCP::PSH; }), 1},
      {"the IP id is not judged", second([](TcpFields& b, Bytes&) { b.id = 9; }), 1},
      {"a longer segment", second([](TcpFields&, Bytes& p) { p.resize(1001); }), 2},
      {"a gap in sequence", second([](TcpFields& b, Bytes&) { b.seq += 1; }), 2},
      {"a retransmission", second([](TcpFields& b, Bytes&) { b.seq = 1000; }), 2},
      {"TOS differs", second([](TcpFields& b, Bytes&) { b.tos = 4; }), 2},
      {"options differ", second([](TcpFields& b, Bytes&) { b.timestamps = false; }), 2},
      {"FIN", second([](TcpFields& b, Bytes&) { b.flags = Tins::TCP::ACK | Tins::TCP::FIN; }), 2},
      {"CWR", second([](TcpFields& b, Bytes&) { b.flags = Tins::TCP::ACK | Tins::TCP::CWR; }), 2},
      {"SYN", second([](TcpFields& b, Bytes&) { b.flags = Tins::TCP::SYN; }), 2},
      {"no payload (a pure ACK)", second([](TcpFields&, Bytes& p) { p.clear(); }), 2},
      {"another acknowledgement", raw([](Bytes& f) { f[14 + 20 + 11] ^= 1; }), 2},
      {"another window", raw([](Bytes& f) { f[14 + 20 + 15] ^= 1; }), 2},
      {"another TTL", raw([](Bytes& f) { f[14 + 8] ^= 1; }), 2},
      {"DF cleared", raw([](Bytes& f) { f[14 + 6] &= 0xbf; }), 2},
      {"another source MAC", raw([](Bytes& f) { f[11] ^= 1; }), 2},
      {"a fragment", raw([](Bytes& f) { f[14 + 6] |= 0x20; }), 2},
      {"Ethernet padding after the IP packet", raw([](Bytes& f) { f.push_back(0); }), 2},
      {"another flow (port)", raw([](Bytes& f) { f[14 + 20 + 1] ^= 1; }), 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Bytes> frames = {TcpFrame(a, Payload(1000)), c.b};
    std::vector<Emitted> got = Coalesce(frames);
    EXPECT_EQ(got.size(), c.frames);
    if (c.frames == 1) {
      EXPECT_EQ(got[0].offload.gso_size, 1000);
      EXPECT_EQ(packet::Load16(&got[0].bytes[16]), got[0].bytes.size() - 14);
    }
  }
}

// A segment joins only if its checksums verify (GRO's skb_gro_checksum_validate): the joined frame
// goes on as CHECKSUM_PARTIAL, which the pod's stack trusts. One that fails goes on alone, byte for
// byte as it came and without offload, so the pod's kernel drops it (TcpInCsumErrors).
TEST(Coalesce, ASegmentWhoseChecksumFailsIsNeverJoined) {
  auto seg = [](int i) {
    TcpFields f;
    f.seq += 1000 * i;
    return TcpFrame(f, Payload(1000, 1000 * i));
  };
  struct Case {
    std::string name;
    int bad;                    // which of three consecutive segments is corrupted
    void (*corrupt)(Bytes& f);  // after its checksums were computed
    std::vector<size_t> parts;  // of the frames emitted, in order
  };
  const std::vector<Case> cases = {
      {"TCP checksum of the first",
       0,
       [](Bytes& f) { packet::Store16(&f[14 + 20 + 16], 0xdead); },
       {1, 2}},
      {"TCP checksum of the second",
       1,
       [](Bytes& f) { packet::Store16(&f[14 + 20 + 16], 0xdead); },
       {1, 1, 1}},
      {"TCP checksum of the last",
       2,
       [](Bytes& f) { packet::Store16(&f[14 + 20 + 16], 0xdead); },
       {2, 1}},
      {"a payload byte of the second", 1, [](Bytes& f) { f.back() ^= 0x40; }, {1, 1, 1}},
      {"the acknowledgement of the second", 1, [](Bytes& f) { f[14 + 20 + 11] ^= 1; }, {1, 1, 1}},
      {"IPv4 header checksum of the second", 1, [](Bytes& f) { f[14 + 10] ^= 0x10; }, {1, 1, 1}},
      {"the IPv4 TTL of the second", 1, [](Bytes& f) { f[14 + 8] ^= 1; }, {1, 1, 1}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Bytes> frames = {seg(0), seg(1), seg(2)};
    c.corrupt(frames[c.bad]);
    const Bytes bad = frames[c.bad];
    Coalescer co;
    std::vector<Emitted> got = Coalesce(frames, &co);
    ASSERT_EQ(got.size(), c.parts.size());
    size_t at = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].parts, c.parts[i]) << i;
      if (at == static_cast<size_t>(c.bad)) {
        EXPECT_EQ(got[i].bytes, bad);  // untouched
        EXPECT_EQ(got[i].offload, Offload{});
      }
      at += c.parts[i];
    }
    EXPECT_EQ(co.counters().bad_csum, 1u);
    EXPECT_EQ(co.counters().joined, 3u - got.size());
  }
  // The attack's burst: 64 segments of one flow, all with a wrong TCP checksum. None joined.
  std::vector<Bytes> burst;
  for (int i = 0; i < 64; ++i) {
    burst.push_back(seg(i));
    packet::Store16(&burst.back()[14 + 20 + 16], 0xdead);
  }
  Coalescer co;
  std::vector<Emitted> got = Coalesce(burst, &co);
  ASSERT_EQ(got.size(), 64u);
  for (const Emitted& e : got) EXPECT_FALSE(e.offload.needs_csum);
  EXPECT_EQ(co.counters().bad_csum, 64u);
  EXPECT_EQ(co.counters().joined, 0u);
}

TEST(Coalesce, AFrameWithPshIsNotHeldBack) {
  TcpFields f;
  f.flags = Tins::TCP::ACK | Tins::TCP::PSH;
  Coalescer c;
  std::vector<Bytes> frames = {TcpFrame(f, Payload(10))};
  int emitted = 0;
  c.Add(frames[0], [&](const OutFrame&) { ++emitted; });
  EXPECT_EQ(emitted, 1);  // before any Flush
}

TEST(Coalesce, InterleavedFlowsAreJoinedEachAndKeepTheirOrder) {
  TcpFields a, b;
  b.seq = 50000;
  auto other_port = [](Bytes f) {
    f[14 + 20 + 1] ^= 1;  // another source port: another flow
    return Resum(f);
  };
  std::vector<Bytes> frames;
  for (int i = 0; i < 3; ++i) {
    TcpFields x = a, y = b;
    x.seq += 1000 * i;
    y.seq += 1000 * i;
    frames.push_back(TcpFrame(x, Payload(1000, 1000 * i)));
    frames.push_back(other_port(TcpFrame(y, Payload(1000, 1000 * i))));
  }
  // A FIN of the first flow: its pending frame goes first, then the FIN alone.
  TcpFields fin = a;
  fin.seq += 3000;
  fin.flags = Tins::TCP::ACK | Tins::TCP::FIN;
  frames.push_back(TcpFrame(fin, {}));
  std::vector<Emitted> got = Coalesce(frames);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].parts, 3u);  // flow a, 3 segments
  EXPECT_EQ(got[1].parts, 1u);  // a's FIN
  EXPECT_EQ(got[1].bytes[14 + 20 + 13] & Tins::TCP::FIN, Tins::TCP::FIN);
  EXPECT_EQ(got[2].parts, 3u);  // flow b, at the flush
  EXPECT_EQ(packet::Load32(&got[2].bytes[14 + 20 + 4]), 50000u);
}

TEST(Coalesce, LimitsEndAFrame) {
  // 64 segments at most.
  std::vector<Bytes> frames;
  for (int i = 0; i < 70; ++i) {
    TcpFields f;
    f.seq += 100 * i;
    frames.push_back(TcpFrame(f, Payload(100, 100 * i)));
  }
  std::vector<Emitted> got = Coalesce(frames);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].parts, Coalescer::kMaxSegments);
  EXPECT_EQ(got[1].parts, 70 - Coalescer::kMaxSegments);
  // 65 535 bytes of IP at most: 45 segments of 1448 (+ 52 bytes of headers) fit, the 46th not.
  frames.clear();
  for (int i = 0; i < 46; ++i) {
    TcpFields f;
    f.seq += 1448 * i;
    frames.push_back(TcpFrame(f, Payload(1448, 1448 * i)));
  }
  got = Coalesce(frames);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].parts, 45u);
  EXPECT_LE(got[0].bytes.size() - 14, 65535u);
  // Nine flows: the first is pushed out for the ninth.
  frames.clear();
  for (int i = 0; i < 9; ++i) {
    Bytes f = TcpFrame(TcpFields{}, Payload(100));
    f[14 + 20 + 1] = static_cast<uint8_t>(i);
    frames.push_back(Resum(f));
  }
  Coalescer c;
  std::vector<uint16_t> order;
  auto emit = [&](const OutFrame& f) { order.push_back(f.parts[0][14 + 20 + 1]); };
  for (Bytes& f : frames) c.Add(f, emit);
  ASSERT_EQ(order.size(), 1u);
  EXPECT_EQ(order[0], 0);
  c.Flush(emit);
  EXPECT_EQ(order.size(), 9u);
  EXPECT_EQ(c.counters().frames_in, 9u);
  EXPECT_EQ(c.counters().frames_out, 9u);
}

TEST(Coalesce, NonTcpFramesPassThrough) {
  Tins::EthernetII eth("0e:58:0a:f4:01:00", "0e:58:0a:f4:00:00");
  Tins::EthernetII udp =
      eth / Tins::IP("10.244.1.3", "10.244.0.2") / Tins::UDP(7, 40000) / Tins::RawPDU("x");
  std::vector<Bytes> frames = {udp.serialize(), Bytes(14, 0), Bytes(3, 1)};
  const std::vector<Bytes> want = frames;
  std::vector<Emitted> got = Coalesce(frames);
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i].bytes, want[i]);
}

// Random super-frames of random sizes and MSS through the whole path: cut, encapsulated, decoded,
// joined. What comes out must be what went in.
TEST(Coalesce, RandomRoundTrip) {
  std::mt19937 rng(15);
  for (int round = 0; round < 300; ++round) {
    const uint16_t mss = static_cast<uint16_t>(1000 + rng() % 500);  // at most 60 segments
    const size_t payload = 1 + rng() % 60000;
    TcpFields f;
    f.seq = rng();
    f.id = static_cast<uint16_t>(rng());
    f.timestamps = rng() % 2;
    f.flags = Tins::TCP::ACK | (rng() % 2 ? Tins::TCP::PSH : 0);
    Offload o;
    const Bytes super = SuperFrame(f, Payload(payload, rng() % 251), o, mss);
    std::vector<Bytes> segs = Segments(super, o);
    ASSERT_EQ(segs.size(), (payload + mss - 1) / mss);
    std::vector<Emitted> got = Coalesce(segs);
    ASSERT_EQ(got.size(), 1u) << "round " << round;
    if (segs.size() == 1) {
      // Alone: the segment as encap finished it (full checksum), no offload.
      EXPECT_EQ(got[0].offload, Offload{});
      EXPECT_EQ(
          packet::testing::ChecksumErrors(Bytes(got[0].bytes.begin() + 14, got[0].bytes.end())),
          "");
    } else {
      EXPECT_EQ(got[0].bytes, super) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace mkn::geneve
