#include "lib/packet/checksum.h"

#include <bit>
#include <cstring>

namespace mkn::packet {

uint32_t PartialChecksum(std::span<const uint8_t> bytes, uint32_t sum) {
  // The one's-complement sum does not depend on byte order (RFC 1071 §2(B)): add the bytes as
  // native 32-bit words into four 64-bit accumulators (independent adds the CPU runs side by side,
  // and no carry to chase until 2^32 words: this is the Geneve pump's per-byte cost on every TCP
  // segment it cuts), fold, and swap the 16-bit result into big-endian order.
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (; n >= 32; p += 32, n -= 32) {
    uint64_t w[4];
    std::memcpy(w, p, sizeof(w));
    a0 += w[0] & 0xffffffffu;
    a1 += w[0] >> 32;
    a2 += w[1] & 0xffffffffu;
    a3 += w[1] >> 32;
    a0 += w[2] & 0xffffffffu;
    a1 += w[2] >> 32;
    a2 += w[3] & 0xffffffffu;
    a3 += w[3] >> 32;
  }
  for (; n >= 4; p += 4, n -= 4) {
    uint32_t w;
    std::memcpy(&w, p, sizeof(w));
    a0 += w;
  }
  if (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, sizeof(w));
    a1 += w;
    p += 2;
    n -= 2;
  }
  // A last odd byte is the high byte of a big-endian word padded with 0: in native (little-endian)
  // order, the low byte.
  if (n == 1)
    a2 += std::endian::native == std::endian::little ? uint64_t{p[0]} : uint64_t{p[0]} << 8;
  uint64_t acc = a0 + a1 + a2 + a3;  // no overflow for spans under 1 GiB (each sum < 2^58)
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  uint64_t folded = acc;
  if constexpr (std::endian::native == std::endian::little)
    folded = ((folded & 0xff) << 8) | (folded >> 8);
  uint64_t out = uint64_t{sum} + folded;
  while (out >> 32) out = (out & 0xffffffffu) + (out >> 32);
  return static_cast<uint32_t>(out);
}

uint16_t FoldChecksum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint32_t PseudoHeaderSum(net::Ipv4 src, net::Ipv4 dst, uint8_t protocol, uint16_t l4_length) {
  uint32_t sum = 0;
  sum += src.value >> 16;
  sum += src.value & 0xffff;
  sum += dst.value >> 16;
  sum += dst.value & 0xffff;
  sum += protocol;
  sum += l4_length;
  return sum;
}

uint16_t UpdateChecksum16(uint16_t check, uint16_t old_value, uint16_t new_value) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~old_value);
  sum += new_value;
  return FoldChecksum(sum);
}

uint16_t UpdateChecksum32(uint16_t check, uint32_t old_value, uint32_t new_value) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~(old_value >> 16));
  sum += static_cast<uint16_t>(~(old_value & 0xffff));
  sum += new_value >> 16;
  sum += new_value & 0xffff;
  return FoldChecksum(sum);
}

}  // namespace mkn::packet
