// A long randomized run through Nat::Process: valid flows, mutated frames, truncations and garbage.
// The NAT must never crash or read out of bounds (run under -DMKN_SANITIZE=ON to have ASan/UBSan
// check that), every forwarded frame must still carry valid checksums (the independent check in
// lib/packet/testing.h), and the counters must add up. Fixed seed: a failure is reproducible.
// The same mutation engine is lib/nat/nat_fuzz.cc's, driven by libFuzzer there.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "lib/nat/fuzz_driver.h"
#include "lib/nat/nat.h"
#include "lib/packet/testing.h"

namespace mkn::nat {
namespace {

TEST(NatRandomized, TwoHundredThousandFramesNoCrashCountersConsistent) {
  auto start = std::chrono::steady_clock::now();
  FuzzDriver driver(/*seed=*/20240501);
  std::mt19937_64 rng(99);
  uint64_t forwarded = 0, checked = 0;
  for (int i = 0; i < 200000; ++i) {
    std::vector<uint8_t> frame = driver.NextFrame(rng);
    FuzzDriver::Outcome out = driver.Feed(frame);
    if (out.verdict.action == Verdict::Action::kForwardFrame) ++forwarded;
    if (out.verdict.action == Verdict::Action::kForward) {
      ++forwarded;
      // A frame that parsed and was forwarded must verify, unless its input did not (a mutation
      // of an L4 checksum is carried through, as a router would).
      if (out.input_checksums_ok) {
        ASSERT_EQ(packet::testing::ChecksumErrors(frame), "") << "frame " << i;
        ++checked;
      }
    }
    if (out.verdict.action == Verdict::Action::kReply) {
      ASSERT_EQ(packet::testing::ChecksumErrors(out.verdict.reply), "") << "reply " << i;
    }
  }
  const NatCounters& c = driver.nat().counters();
  // Reassembled datagrams are packets of their own (mutations make fragments now and then).
  EXPECT_EQ(c.packets, 200000u + c.datagrams);
  EXPECT_EQ(c.packets, c.forwarded + c.replied + c.dropped + c.held + c.reassembled);
  uint64_t drops = 0;
  for (uint64_t d : c.drops) drops += d;
  EXPECT_EQ(drops, c.dropped);
  EXPECT_EQ(c.forwarded, forwarded);
  // The run exercised the interesting paths, not only the drop on the first byte.
  EXPECT_GT(checked, 20000u);
  EXPECT_GT(c.replied, 100u);
  EXPECT_GT(c.drops[static_cast<int>(DropReason::kTruncated)], 100u);
  EXPECT_GT(c.drops[static_cast<int>(DropReason::kBadChecksum)], 100u);
  EXPECT_GT(driver.nat().conntrack().counters().evictions, 0u);
  // Conntrack's by-state counts add up to its size.
  uint64_t live = 0;
  for (uint64_t n : driver.nat().conntrack().counters().by_state) live += n;
  EXPECT_EQ(live, driver.nat().conntrack().size());
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 10);
}

}  // namespace
}  // namespace mkn::nat
