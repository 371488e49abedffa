// libFuzzer target for the Geneve pump's decisions (lib/geneve/fuzz_driver.h): arbitrary datagrams
// through Peers::Check and the Coalescer, arbitrary frames and offload metadata through
// Encapsulate and GsoRun. Built only with clang and -DMKN_FUZZ=ON (lib/CMakeLists.txt):
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DMKN_FUZZ=ON -DMKN_SANITIZE=ON
//   cmake --build build-fuzz -j2 --target geneve_fuzz
//   build-fuzz/lib/geneve_fuzz -max_total_time=300 -max_len=70000
// Crashes, ASan/UBSan reports and broken invariants (__builtin_trap) are the findings.
#include <cstddef>
#include <cstdint>

#include "lib/geneve/fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mkn::geneve::FuzzDriver* driver = new mkn::geneve::FuzzDriver();
  if (!driver->Feed(data, size)) __builtin_trap();
  return 0;
}
