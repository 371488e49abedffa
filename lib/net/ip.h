// lib/net/ip — IPv4 addresses, prefixes and MAC addresses as small value types.
//
// Pure and deterministic: parsing, formatting and subnet arithmetic for the planner and IPAM.
// Addresses are held in host byte order; conversion to wire order happens in vnet/ only.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mkn::net {

struct Ipv4 {
  uint32_t value = 0;  // host byte order

  static std::optional<Ipv4> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const Ipv4&) const = default;
};

// An address with a prefix length. Network() masks off the host bits.
struct Prefix {
  Ipv4 addr;
  int len = 0;

  // Parses "a.b.c.d/n". Returns nullopt on bad syntax or n > 32.
  static std::optional<Prefix> Parse(std::string_view text);
  std::string ToString() const;

  uint32_t Mask() const { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }
  Prefix Network() const { return Prefix{Ipv4{addr.value & Mask()}, len}; }
  bool IsNetwork() const { return (addr.value & ~Mask()) == 0; }
  uint64_t Size() const { return uint64_t{1} << (32 - len); }
  bool Contains(Ipv4 ip) const { return (ip.value & Mask()) == (addr.value & Mask()); }
  bool Contains(const Prefix& other) const { return other.len >= len && Contains(other.addr); }
  bool Overlaps(const Prefix& other) const { return Contains(other.addr) || other.Contains(addr); }
  // The n-th address of the network (0 = network address). Caller keeps n < Size().
  Ipv4 Host(uint64_t n) const { return Ipv4{Network().addr.value + static_cast<uint32_t>(n)}; }
  // The i-th subnet of length `sub_len` inside this prefix. Caller keeps i < 2^(sub_len-len).
  Prefix Subnet(uint64_t i, int sub_len) const {
    return Prefix{Ipv4{Network().addr.value + static_cast<uint32_t>(i << (32 - sub_len))}, sub_len};
  }
  auto operator<=>(const Prefix&) const = default;
};

struct Mac {
  std::array<uint8_t, 6> bytes{};

  // The CNI convention (plugins/pkg/ip): 0a:58 followed by the IPv4 address, so a MAC names its IP.
  static Mac FromIpv4(Ipv4 ip);
  // "0a:58:0a:f4:01:05" (six hex pairs, ':' or '-'); nullopt otherwise.
  static std::optional<Mac> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const Mac&) const = default;
};

}  // namespace mkn::net
