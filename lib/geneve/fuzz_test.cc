// lib/geneve/fuzz_driver with random inputs, as the libFuzzer target runs it but bounded and in
// every CI run: real datagrams of TCP super-frames (cut by Encapsulate, then mutated: bit flips,
// cuts, a wrong VNI, a critical option), frames with random offload metadata, and pure garbage.
// Every invariant the driver checks must hold, and the valid inputs must get through.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "lib/geneve/fuzz_driver.h"

namespace mkn::geneve {
namespace {

using Bytes = std::vector<uint8_t>;

// An Ethernet/IPv4/TCP super-frame from node1's gnv0 to node2's: `payload` bytes from `seq`.
Bytes SuperFrame(std::mt19937& rng, size_t payload, uint32_t seq) {
  Bytes f = {0x0e, 0x58, 0x0a, 0xf4, 0x01, 0x00, 0x0e, 0x58, 0x0a, 0xf4, 0x00, 0x00, 0x08, 0x00};
  const size_t total = 20 + 20 + payload;
  Bytes ip = {0x45,
              0,
              static_cast<uint8_t>(total >> 8),
              static_cast<uint8_t>(total),
              0x12,
              0x34,
              0x40,
              0,
              63,
              6,
              0,
              0,
              10,
              244,
              0,
              2,
              10,
              244,
              1,
              3};
  Bytes tcp = {0x9c,
               0x40,
               0x14,
               0x51,
               static_cast<uint8_t>(seq >> 24),
               static_cast<uint8_t>(seq >> 16),
               static_cast<uint8_t>(seq >> 8),
               static_cast<uint8_t>(seq),
               0,
               0,
               0,
               77,
               0x50,
               0x10,
               0x01,
               0xf6,
               0,
               0,
               0,
               0};
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), tcp.begin(), tcp.end());
  for (size_t i = 0; i < payload; ++i) f.push_back(static_cast<uint8_t>(rng()));
  return f;
}

void AddChunk(Bytes& input, uint8_t kind, const Bytes& body) {
  const size_t len = body.size() + 1;
  input.push_back(static_cast<uint8_t>(len >> 8));
  input.push_back(static_cast<uint8_t>(len));
  input.push_back(kind);
  input.insert(input.end(), body.begin(), body.end());
}

void Mutate(std::mt19937& rng, Bytes& b) {
  switch (rng() % 6) {
    case 0:
      break;  // as it is
    case 1:
      if (!b.empty()) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 2:
      b.resize(rng() % (b.size() + 1));
      break;
    case 3:
      if (b.size() > 6) b[6] ^= 1;  // the VNI's low byte
      break;
    case 4:
      if (b.size() > 10) b[10] |= 0x80;  // our option marked critical: an unknown critical one
      break;
    case 5:
      if (!b.empty()) b[0] = static_cast<uint8_t>(rng());  // version and Opt Len
      break;
  }
}

TEST(GeneveFuzz, RandomInputsKeepEveryInvariant) {
  FuzzDriver driver;
  std::mt19937 rng(8926);
  uint8_t header[kHeaderWithOption];
  EncodeHeader(header, 1, 1);  // node1's, as node2 receives it
  std::vector<Datagram> out(kMaxSegments);
  Bytes arena(kMaxSegments * kMaxSegmentHead);
  for (int round = 0; round < 3000; ++round) {
    Bytes input;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 6); ++k) {
      switch (rng() % 3) {
        case 0: {  // the datagrams of a super-frame, some mutated
          Bytes super = SuperFrame(rng, 1 + rng() % 6000, rng());
          const Offload o{true, kGsoTcpv4, 54, static_cast<uint16_t>(200 + rng() % 1300), 34, 16};
          EncapResult r = Encapsulate(super, o, header, arena, out);
          ASSERT_EQ(r.drop, DropReason::kNone);
          for (size_t i = 0; i < r.datagrams; ++i) {
            Bytes d(out[i].head.begin(), out[i].head.end());
            d.insert(d.end(), out[i].body.begin(), out[i].body.end());
            if (rng() % 4 == 0) Mutate(rng, d);
            AddChunk(input, 0, d);
          }
          break;
        }
        case 1: {  // a frame from gnv0 with random offload metadata
          Bytes meta(9);
          for (auto& m : meta) m = static_cast<uint8_t>(rng());
          if (rng() % 2) {  // metadata as the kernel writes it: GSO or not, a started checksum
            const bool gso = rng() % 2;
            const uint16_t mss = static_cast<uint16_t>(500 + rng() % 1000);
            meta = {1,
                    gso ? kGsoTcpv4 : kGsoNone,
                    54,
                    static_cast<uint8_t>(mss >> 8),
                    static_cast<uint8_t>(mss),
                    0,
                    34,
                    16,
                    0};
          }
          Bytes frame = SuperFrame(rng, rng() % 3000, rng());
          if (rng() % 3 == 0) Mutate(rng, frame);
          meta.insert(meta.end(), frame.begin(), frame.end());
          AddChunk(input, 1, meta);
          break;
        }
        default: {  // garbage
          Bytes g(rng() % 200);
          for (auto& x : g) x = static_cast<uint8_t>(rng());
          AddChunk(input, static_cast<uint8_t>(rng()), g);
        }
      }
    }
    ASSERT_TRUE(driver.Feed(input.data(), input.size()))
        << "round " << round << ": " << driver.why();
  }
  // The valid inputs got through: datagrams accepted and joined, frames encapsulated.
  EXPECT_GT(driver.accepted(), 1000u);
  EXPECT_GT(driver.coalesced().joined, 100u);
  EXPECT_GT(driver.encapsulated(), 100u);
}

}  // namespace
}  // namespace mkn::geneve
