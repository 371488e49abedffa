#include "lib/packet/checksum.h"

namespace mkn::packet {

uint32_t PartialChecksum(std::span<const uint8_t> bytes, uint32_t sum) {
  // 64-bit accumulator: no carry is lost for any frame size a TUN device carries.
  uint64_t acc = sum;
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) acc += (uint32_t{bytes[i]} << 8) | bytes[i + 1];
  if (i < bytes.size()) acc += uint32_t{bytes[i]} << 8;
  while (acc >> 32) acc = (acc & 0xffffffffu) + (acc >> 32);
  return static_cast<uint32_t>(acc);
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
