// lib/packet/checksum — the Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Pure functions over bytes. Values are returned in host order; callers store them big-endian with
// packet::Store16. A checksum that verifies sums (with the checksum field included) to 0xffff,
// which is what Verify() checks: it accepts both one's-complement zeros, so a checksum produced by
// the incremental update (which may legitimately differ in the representation of zero) still
// verifies.
#pragma once

#include <cstdint>
#include <span>

#include "lib/net/ip.h"

namespace mkn::packet {

// The 32-bit partial sum of `bytes` as big-endian 16-bit words (an odd last byte is padded with 0),
// added to `sum`. Fold with FoldChecksum. Several partial sums may be chained (pseudo-header +
// data).
uint32_t PartialChecksum(std::span<const uint8_t> bytes, uint32_t sum = 0);

// Folds the carries of a partial sum and returns its one's complement: the value to store.
uint16_t FoldChecksum(uint32_t sum);

// RFC 1071 checksum of `bytes` (the checksum field must be zero, or the result is the verification
// sum).
inline uint16_t InternetChecksum(std::span<const uint8_t> bytes) {
  return FoldChecksum(PartialChecksum(bytes));
}

// True if `bytes`, checksum field included, sums to one's-complement zero.
inline bool VerifyChecksum(std::span<const uint8_t> bytes, uint32_t pseudo_sum = 0) {
  return FoldChecksum(PartialChecksum(bytes, pseudo_sum)) == 0;
}

// The partial sum of the TCP/UDP pseudo-header (RFC 793 §3.1, RFC 768): src, dst, zero+proto,
// length.
uint32_t PseudoHeaderSum(net::Ipv4 src, net::Ipv4 dst, uint8_t protocol, uint16_t l4_length);

// RFC 1624 eqn. 3: the checksum `check` after a covered 16-bit field changed from `old_value` to
// `new_value`: HC' = ~(~HC + ~m + m'). Avoids eqn. 2's -0 problem (RFC 1624 §3).
uint16_t UpdateChecksum16(uint16_t check, uint16_t old_value, uint16_t new_value);

// The same for a 32-bit field (an IPv4 address), as two 16-bit words.
uint16_t UpdateChecksum32(uint16_t check, uint32_t old_value, uint32_t new_value);

}  // namespace mkn::packet
