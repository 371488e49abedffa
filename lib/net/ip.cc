#include "lib/net/ip.h"

#include <vector>

#include "absl/strings/str_format.h"
#include "lib/strings/str_cat.h"

namespace mkn::net {

std::optional<Ipv4> Ipv4::Parse(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 4) return std::nullopt;
  uint32_t v = 0;
  for (std::string_view p : parts) {
    if (p.empty() || p.size() > 3) return std::nullopt;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    if (p.size() > 1 && p[0] == '0') return std::nullopt;  // no octal-looking octets
    uint32_t octet = 0;
    for (char c : p) octet = octet * 10 + (c - '0');
    if (octet > 255) return std::nullopt;
    v = (v << 8) | octet;
  }
  return Ipv4{v};
}

std::string Ipv4::ToString() const {
  // By hand, not through a format string: the edge formats every client's address with it.
  char b[16];
  char* p = b;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const unsigned o = (value >> shift) & 0xff;
    if (o >= 100) *p++ = static_cast<char>('0' + o / 100);
    if (o >= 10) *p++ = static_cast<char>('0' + o / 10 % 10);
    *p++ = static_cast<char>('0' + o % 10);
    if (shift != 0) *p++ = '.';
  }
  return std::string(b, p);
}

std::optional<Prefix> Prefix::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::optional<Ipv4> ip = Ipv4::Parse(text.substr(0, slash));
  std::string_view len_text = text.substr(slash + 1);
  if (!ip || len_text.empty() || len_text.size() > 2) return std::nullopt;
  int len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + (c - '0');
  }
  if (len > 32) return std::nullopt;
  return Prefix{*ip, len};
}

std::string Prefix::ToString() const { return StrCat(addr.ToString(), "/", len); }

Mac Mac::FromIpv4(Ipv4 ip) {
  return Mac{{0x0a, 0x58, static_cast<uint8_t>(ip.value >> 24),
              static_cast<uint8_t>(ip.value >> 16), static_cast<uint8_t>(ip.value >> 8),
              static_cast<uint8_t>(ip.value)}};
}

std::optional<Mac> Mac::Parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  Mac m;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (int i = 0; i < 6; ++i) {
    int hi = hex(text[i * 3]), lo = hex(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return std::nullopt;
    m.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return m;
}

std::string Mac::ToString() const {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3],
                         bytes[4], bytes[5]);
}

}  // namespace mkn::net
