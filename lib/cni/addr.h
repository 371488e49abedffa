// lib/cni/addr — the address syntax CNI results use: IPv4/IPv6 addresses, CIDRs and MACs.
//
// Pure syntax checks, no resolution (the same forms Go's net.ParseIP/ParseCIDR/ParseMAC accept,
// without zones). lib/net/ip is IPv4-only; CNI results may carry IPv6, so the checks live here.
#pragma once

#include <optional>
#include <string_view>

namespace mkn::cni {

// 4 or 6 for a valid address ("10.1.0.5", "fd00::1", "::ffff:10.0.0.1" is 6), else nullopt.
std::optional<int> IpFamily(std::string_view ip);
// 4 or 6 for "address/len" with len within the family's width, else nullopt. Host bits may be set
// ("10.1.0.5/16"), as in results.
std::optional<int> CidrFamily(std::string_view cidr);
// Colon- or dash-separated hex octets, 6, 8 or 20 of them (EUI-48, EUI-64, InfiniBand), each two
// hex digits: what Go's net.ParseMAC accepts in those separators.
bool IsValidMac(std::string_view mac);

}  // namespace mkn::cni
