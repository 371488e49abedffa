// lib/net/ip_addr — an address or a prefix of either family (IPv4 or IPv6), tagged with it.
//
// Lab keys added since the lab went dual-stack-aware ([[rack]] cidr, the BGP fabric's addresses)
// parse into these, so that an IPv6 value is read, named and refused in one place (the resolver)
// instead of failing as "not an IPv4 CIDR". Ipv4/Prefix (ip.h) stay the planner's and the data
// path's types; V4() is the one way from here to there. Pure and deterministic; addresses are held
// in network byte order (the family's own bytes, IPv4 in the first four).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/net/ip.h"

namespace mkn::net {

enum class Family { kIpv4, kIpv6 };
// "IPv4" / "IPv6"; the BGP channel and BIRD table names are the family's (bird: "ipv4", "ipv6").
std::string_view ToString(Family f);
// 32 or 128.
int Bits(Family f);

struct IpAddr {
  Family family = Family::kIpv4;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4

  // Dotted quad (as Ipv4::Parse) or RFC 4291 text (with "::", and a trailing dotted quad).
  static std::optional<IpAddr> Parse(std::string_view text);
  static IpAddr FromV4(Ipv4 ip);
  // RFC 5952 for IPv6 (lowercase, the longest run of zero groups as "::").
  std::string ToString() const;
  // The IPv4 address, nullopt for IPv6.
  std::optional<Ipv4> V4() const;
  auto operator<=>(const IpAddr&) const = default;
};

struct IpPrefix {
  IpAddr addr;
  int len = 0;

  // "ADDR/LEN" of either family; nullopt on bad syntax or a length past the family's bits.
  static std::optional<IpPrefix> Parse(std::string_view text);
  static IpPrefix FromV4(const Prefix& p);
  std::string ToString() const;
  Family family() const { return addr.family; }

  bool IsNetwork() const;
  IpPrefix Network() const;
  // False across families.
  bool Contains(const IpAddr& ip) const;
  bool Contains(const IpPrefix& other) const { return other.len >= len && Contains(other.addr); }
  bool Overlaps(const IpPrefix& other) const {
    return Contains(other.addr) || other.Contains(addr);
  }
  // The IPv4 prefix, nullopt for IPv6.
  std::optional<Prefix> V4() const;
  auto operator<=>(const IpPrefix&) const = default;
};

}  // namespace mkn::net
