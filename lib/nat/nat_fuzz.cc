// libFuzzer target for Nat::Process: arbitrary frames through the userspace proxy's NAT.
//
// Built only with clang and -DMKN_FUZZ=ON (lib/CMakeLists.txt):
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DMKN_FUZZ=ON -DMKN_SANITIZE=ON
//   cmake --build build-fuzz -j2 --target nat_fuzz
//   build-fuzz/lib/nat_fuzz -max_total_time=300 -max_len=1600
// The input is a sequence of frames, each prefixed by a 2-byte big-endian length, so one input can
// open a flow and then hit it with replies and ICMP errors. The Nat is long-lived (flows persist
// across inputs, as in a pump) and seeded with traffic from the randomized test's driver. Crashes
// and ASan/UBSan reports are the findings; the counter invariants are checked with
// __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "lib/nat/fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mkn::nat::FuzzDriver* driver = [] {
    auto* d = new mkn::nat::FuzzDriver(1);
    std::mt19937_64 rng(1);
    for (int i = 0; i < 2000; ++i) {
      auto f = d->NextFrame(rng);
      d->Feed(f);
    }
    return d;
  }();
  size_t at = 0;
  while (at < size) {
    size_t len = size - at;
    if (len >= 2) {
      len = std::min<size_t>((size_t{data[at]} << 8) | data[at + 1], size - at - 2);
      at += 2;
    } else {
      at = size - len;
    }
    std::vector<uint8_t> frame(data + at, data + at + len);
    at += len;
    driver->Feed(frame);
  }
  const mkn::nat::NatCounters& c = driver->nat().counters();
  if (c.packets != c.forwarded + c.replied + c.dropped) __builtin_trap();
  return 0;
}
