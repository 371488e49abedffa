#include "lib/net/ip_addr.h"

#include <algorithm>
#include <vector>

#include "lib/strings/str_cat.h"

namespace mkn::net {
namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Groups of hex digits separated by ':' (one side of a "::"), the last of which may be a dotted
// quad (two groups). nullopt on anything else.
std::optional<std::vector<uint16_t>> Groups(std::string_view text, bool quad_allowed) {
  std::vector<uint16_t> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t colon = text.find(':', start);
    std::string_view g =
        text.substr(start, colon == std::string_view::npos ? colon : colon - start);
    if (colon == std::string_view::npos && quad_allowed && g.find('.') != std::string_view::npos) {
      std::optional<Ipv4> v4 = Ipv4::Parse(g);
      if (!v4) return std::nullopt;
      out.push_back(static_cast<uint16_t>(v4->value >> 16));
      out.push_back(static_cast<uint16_t>(v4->value & 0xffff));
      return out;
    }
    if (g.empty() || g.size() > 4) return std::nullopt;
    uint16_t v = 0;
    for (char c : g) {
      int h = Hex(c);
      if (h < 0) return std::nullopt;
      v = static_cast<uint16_t>(v * 16 + h);
    }
    out.push_back(v);
    if (colon == std::string_view::npos) return out;
    start = colon + 1;
  }
}

std::optional<IpAddr> ParseV6(std::string_view text) {
  std::vector<uint16_t> groups;
  size_t gap = text.find("::");
  if (gap == std::string_view::npos) {
    std::optional<std::vector<uint16_t>> all = Groups(text, true);
    if (!all || all->size() != 8) return std::nullopt;
    groups = *all;
  } else {
    if (text.find("::", gap + 1) != std::string_view::npos) return std::nullopt;
    std::optional<std::vector<uint16_t>> head = Groups(text.substr(0, gap), false);
    std::optional<std::vector<uint16_t>> tail = Groups(text.substr(gap + 2), true);
    if (!head || !tail || head->size() + tail->size() > 7) return std::nullopt;
    groups = *head;
    groups.resize(8 - tail->size(), 0);
    groups.insert(groups.end(), tail->begin(), tail->end());
  }
  IpAddr a;
  a.family = Family::kIpv6;
  for (size_t i = 0; i < 8; ++i) {
    a.bytes[2 * i] = static_cast<uint8_t>(groups[i] >> 8);
    a.bytes[2 * i + 1] = static_cast<uint8_t>(groups[i] & 0xff);
  }
  return a;
}

// Clears every bit past `len`.
void Mask(IpAddr& a, int len) {
  for (int i = 0; i < 16; ++i) {
    int keep = std::max(0, std::min(8, len - 8 * i));
    a.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
}

}  // namespace

std::string_view ToString(Family f) { return f == Family::kIpv4 ? "IPv4" : "IPv6"; }

int Bits(Family f) { return f == Family::kIpv4 ? 32 : 128; }

std::optional<IpAddr> IpAddr::Parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return ParseV6(text);
  std::optional<Ipv4> v4 = Ipv4::Parse(text);
  if (!v4) return std::nullopt;
  return FromV4(*v4);
}

IpAddr IpAddr::FromV4(Ipv4 ip) {
  IpAddr a;
  for (int i = 0; i < 4; ++i) a.bytes[i] = static_cast<uint8_t>(ip.value >> (24 - 8 * i));
  return a;
}

std::optional<Ipv4> IpAddr::V4() const {
  if (family != Family::kIpv4) return std::nullopt;
  return Ipv4{uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 |
              bytes[3]};
}

std::string IpAddr::ToString() const {
  if (family == Family::kIpv4) return V4()->ToString();
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  // RFC 5952 §4.2: the longest run of two or more zero groups (the first on a tie) becomes "::".
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      int d = (g[i] >> shift) & 0xf;
      if (d != 0 || started || shift == 0) {
        out += kHex[d];
        started = true;
      }
    }
  }
  return out;
}

std::optional<IpPrefix> IpPrefix::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::optional<IpAddr> a = IpAddr::Parse(text.substr(0, slash));
  std::string_view len_text = text.substr(slash + 1);
  if (!a || len_text.empty() || len_text.size() > 3) return std::nullopt;
  int len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + (c - '0');
  }
  if (len > Bits(a->family)) return std::nullopt;
  return IpPrefix{*a, len};
}

IpPrefix IpPrefix::FromV4(const Prefix& p) { return IpPrefix{IpAddr::FromV4(p.addr), p.len}; }

std::string IpPrefix::ToString() const { return StrCat(addr.ToString(), "/", len); }

IpPrefix IpPrefix::Network() const {
  IpPrefix n = *this;
  Mask(n.addr, len);
  return n;
}

bool IpPrefix::IsNetwork() const { return Network() == *this; }

bool IpPrefix::Contains(const IpAddr& ip) const {
  if (ip.family != addr.family) return false;
  IpAddr a = ip;
  Mask(a, len);
  return a == Network().addr;
}

std::optional<Prefix> IpPrefix::V4() const {
  std::optional<Ipv4> a = addr.V4();
  if (!a) return std::nullopt;
  return Prefix{*a, len};
}

}  // namespace mkn::net
