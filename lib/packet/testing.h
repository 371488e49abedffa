// lib/packet/testing — test-only helpers: an independent checksum check and readable frame diffs.
//
// ChecksumsValid() recomputes every checksum of a raw IPv4 frame from scratch with its own loop (it
// shares no code with lib/packet/checksum), so a NAT test that passes it has not merely agreed with
// the incremental update it is testing. Header-only; include from *_test.cc files only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/strings/str_cat.h"

namespace mkn::packet::testing {

// The one's-complement sum of 16-bit big-endian words, folded; no carries lost.
inline uint16_t RefSum(const std::vector<uint8_t>& b, size_t from, size_t to, uint64_t sum = 0) {
  for (size_t i = from; i < to; i += 2) {
    uint64_t hi = b[i];
    uint64_t lo = i + 1 < to ? b[i + 1] : 0;
    sum += hi * 256 + lo;
  }
  while (sum > 0xffff) sum = (sum >> 16) + (sum & 0xffff);
  return static_cast<uint16_t>(sum);
}

// Empty if every checksum in `f` verifies (IPv4 header; TCP, UDP with pseudo-header; ICMP; and for
// ICMP errors the quoted IPv4 header), else what failed.
inline std::string ChecksumErrors(const std::vector<uint8_t>& f) {
  std::string errors;
  if (f.size() < 20) return "short frame";
  size_t hl = (f[0] & 0x0f) * 4u;
  size_t total = f[2] * 256u + f[3];
  if (total > f.size() || hl < 20 || hl > total) return "bad lengths";
  if (RefSum(f, 0, hl) != 0xffff) errors += "ip header; ";
  uint8_t proto = f[9];
  if (proto == 6 || proto == 17) {
    uint64_t pseudo = 0;
    for (size_t i = 12; i < 20; i += 2) pseudo += f[i] * 256u + f[i + 1];
    pseudo += proto + (total - hl);
    bool udp_none = proto == 17 && total - hl >= 8 && f[hl + 6] == 0 && f[hl + 7] == 0;
    if (!udp_none && RefSum(f, hl, total, pseudo) != 0xffff) {
      errors += proto == 6 ? "tcp; " : "udp; ";
    }
  } else if (proto == 1) {
    if (RefSum(f, hl, total) != 0xffff) errors += "icmp; ";
    uint8_t type = total - hl >= 1 ? f[hl] : 0;
    if ((type == 3 || type == 11 || type == 12) && total >= hl + 8 + 20) {
      size_t in = hl + 8;
      size_t ihl = (f[in] & 0x0f) * 4u;
      if (in + ihl <= total && RefSum(f, in, in + ihl) != 0xffff) errors += "quoted ip header; ";
    }
  }
  return errors;
}

// "45 00 00 3c ..." with a marker at each difference, for EXPECT_EQ messages.
inline std::string Hex(const std::vector<uint8_t>& f) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (i > 0) out += (i % 16 == 0) ? '\n' : ' ';
    out += kDigits[f[i] >> 4];
    out += kDigits[f[i] & 0xf];
  }
  return out;
}

// One IPv4 fragment of the whole datagram `whole`: `len` payload bytes from byte `offset` of its
// payload (a multiple of 8), with more-fragments set as asked, as a router cuts it (RFC 791): the
// same header and identification, its own total length, offset and header checksum.
inline std::vector<uint8_t> Fragment(const std::vector<uint8_t>& whole, size_t offset, size_t len,
                                     bool more) {
  const size_t hl = (whole[0] & 0x0f) * 4u;
  std::vector<uint8_t> f(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(hl));
  f.insert(f.end(), whole.begin() + static_cast<std::ptrdiff_t>(hl + offset),
           whole.begin() + static_cast<std::ptrdiff_t>(hl + offset + len));
  const size_t total = f.size();
  f[2] = static_cast<uint8_t>(total >> 8);
  f[3] = static_cast<uint8_t>(total);
  const size_t units = offset / 8;
  f[6] = static_cast<uint8_t>((more ? 0x20 : 0) | ((units >> 8) & 0x1f));
  f[7] = static_cast<uint8_t>(units);
  f[10] = f[11] = 0;
  const uint16_t sum = static_cast<uint16_t>(~RefSum(f, 0, hl));
  f[10] = static_cast<uint8_t>(sum >> 8);
  f[11] = static_cast<uint8_t>(sum);
  return f;
}

}  // namespace mkn::packet::testing
