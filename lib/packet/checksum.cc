#include "lib/packet/checksum.h"

#include <bit>
#include <cstring>

namespace mkn::packet {

uint32_t PartialChecksum(std::span<const uint8_t> bytes, uint32_t sum) {
  // The one's-complement sum does not depend on byte order (RFC 1071 §2(B)): add the bytes as
  // native 64-bit words with end-around carry (8 bytes an add: this is the Geneve pump's per-byte
  // cost on every TCP segment it cuts), fold, and swap the 16-bit result into big-endian order.
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  uint64_t acc = 0;
  auto add = [&acc](uint64_t v) {
    acc += v;
    acc += acc < v;  // the carry out of bit 63 comes back in at bit 0
  };
  for (; n >= 32; p += 32, n -= 32) {
    uint64_t w[4];
    std::memcpy(w, p, sizeof(w));
    add(w[0]);
    add(w[1]);
    add(w[2]);
    add(w[3]);
  }
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));
    add(w);
  }
  if (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, sizeof(w));
    add(w);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, sizeof(w));
    add(w);
    p += 2;
    n -= 2;
  }
  // A last odd byte is the high byte of a big-endian word padded with 0: in native (little-endian)
  // order, the low byte.
  if (n == 1)
    add(std::endian::native == std::endian::little ? uint64_t{p[0]} : uint64_t{p[0]} << 8);
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
