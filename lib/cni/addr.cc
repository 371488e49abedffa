// lib/cni/addr — see addr.h.
#include "lib/cni/addr.h"

#include <cctype>
#include <charconv>

namespace mkn::cni {
namespace {

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

bool ParseV4(std::string_view s) {
  int parts = 0;
  size_t pos = 0;
  while (true) {
    size_t dot = s.find('.', pos);
    std::string_view p = s.substr(pos, dot == std::string_view::npos ? s.npos : dot - pos);
    if (p.empty() || p.size() > 3) return false;
    if (p.size() > 1 && p[0] == '0') return false;  // Go rejects leading zeros (ambiguous octal)
    int v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || end != p.data() + p.size() || v > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return parts == 4;
}

bool ParseV6(std::string_view s) {
  if (s.empty()) return false;
  int groups = 0;
  bool ellipsis = false;
  size_t i = 0;
  if (s.substr(0, 2) == "::") {
    ellipsis = true;
    i = 2;
    if (i == s.size()) return true;
  } else if (s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    size_t end = i;
    while (end < s.size() && IsHex(s[end])) ++end;
    if (end < s.size() && s[end] == '.') {  // trailing embedded IPv4
      if (!ParseV4(s.substr(i))) return false;
      groups += 2;
      i = s.size();
      break;
    }
    if (end == i || end - i > 4) return false;
    ++groups;
    i = end;
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (ellipsis) return false;
      ellipsis = true;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return false;  // trailing single ':'
    }
  }
  return ellipsis ? groups < 8 : groups == 8;
}

}  // namespace

std::optional<int> IpFamily(std::string_view ip) {
  if (ip.find(':') != std::string_view::npos) {
    return ParseV6(ip) ? std::optional<int>(6) : std::nullopt;
  }
  return ParseV4(ip) ? std::optional<int>(4) : std::nullopt;
}

std::optional<int> CidrFamily(std::string_view cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto family = IpFamily(cidr.substr(0, slash));
  if (!family) return std::nullopt;
  std::string_view len_text = cidr.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3) return std::nullopt;
  if (len_text.size() > 1 && len_text[0] == '0') return std::nullopt;
  int len = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || end != len_text.data() + len_text.size()) return std::nullopt;
  if (len < 0 || len > (*family == 4 ? 32 : 128)) return std::nullopt;
  return family;
}

bool IsValidMac(std::string_view mac) {
  if (mac.size() < 2 || (mac.size() + 1) % 3 != 0) return false;
  char sep = mac.size() > 2 ? mac[2] : ':';
  if (sep != ':' && sep != '-') return false;
  size_t octets = 0;
  for (size_t i = 0; i < mac.size(); i += 3) {
    if (i + 2 > mac.size() || !IsHex(mac[i]) || !IsHex(mac[i + 1])) return false;
    ++octets;
    if (i + 2 < mac.size() && mac[i + 2] != sep) return false;
  }
  return octets == 6 || octets == 8 || octets == 20;
}

}  // namespace mkn::cni
