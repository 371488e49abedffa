// The proxy header rules of forwarding.h: RFC 9110 §7.6 (Connection, hop-by-hop fields, Via) and
// RFC 7239 (Forwarded), plus the de facto X-Forwarded-* that nginx sets.

#include "lib/ingress/forwarding.h"

#include <algorithm>
#include <array>

#include "lib/strings/str_cat.h"

namespace mkn::ingress {
namespace {

// These run for every header of every proxied message: they compare without allocating (a
// lowercase copy per comparison and a std::set per call were 40 of the ~80 allocations per
// request, measured with callgrind).
char LowerChar(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether `s` equals `lower` (all lowercase) ignoring the case of `s`.
bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (LowerChar(s[i]) != lower[i]) return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerChar(a[i]) != LowerChar(b[i])) return false;
  }
  return true;
}

constexpr std::array<std::string_view, 9> kHopByHop = {
    "connection", "keep-alive",         "proxy-connection",   "te", "trailer", "transfer-encoding",
    "upgrade",    "proxy-authenticate", "proxy-authorization"};

bool IsHopByHop(std::string_view name) {
  return std::any_of(kHopByHop.begin(), kHopByHop.end(), [&](std::string_view h) { return EqualsLower(name, h); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsTchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 7239 §4: a value is a token or a quoted-string.
std::string TokenOrQuoted(std::string_view v) {
  if (!v.empty() && std::all_of(v.begin(), v.end(), IsTchar)) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// RFC 7239 §6: an IPv6 node is written in brackets (and so must be quoted); no address is "unknown".
std::string Node(std::string_view ip) {
  if (ip.empty()) return "unknown";
  if (ip.find(':') != std::string_view::npos && ip.front() != '[') return TokenOrQuoted(StrCat("[", ip, "]"));
  return TokenOrQuoted(ip);
}

bool Named(const std::pair<std::string, std::string>& h, std::string_view name) { return EqualsLower(h.first, name); }

// Joins every `name` field into one (", " between values, as RFC 9110 §5.3 allows for list fields),
// appends `value`, and leaves it where the first one was (or at the end).
void AppendToList(Headers& headers, std::string_view name, std::string_view value) {
  std::string joined;
  auto first = headers.end();
  for (auto it = headers.begin(); it != headers.end();) {
    if (!Named(*it, name)) {
      ++it;
      continue;
    }
    std::string_view v = Trim(it->second);
    if (!v.empty()) StrAppend(&joined, joined.empty() ? "" : ", ", v);
    if (first == headers.end()) {
      first = it;
      ++it;
    } else {
      it = headers.erase(it);
    }
  }
  StrAppend(&joined, joined.empty() ? "" : ", ", value);
  if (first == headers.end()) {
    headers.emplace_back(std::string(name), std::move(joined));
  } else {
    first->first = std::string(name);
    first->second = std::move(joined);
  }
}

void SetIfAbsent(Headers& headers, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  if (std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return Named(h, name); })) return;
  headers.emplace_back(std::string(name), std::string(value));
}

}  // namespace

void RemoveHopByHop(Headers& headers) {
  // Connection names further hop-by-hop fields: "Connection: close, X-Session". Names beyond the
  // fixed list are copied (the Connection fields themselves are removed below); "keep-alive" costs
  // nothing.
  std::vector<std::string> named;
  for (const auto& [name, value] : headers) {
    if (!EqualsLower(name, "connection")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view token = Trim(rest.substr(0, comma));
      if (!token.empty() && !IsHopByHop(token)) named.emplace_back(token);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const auto& h) {
                                 return IsHopByHop(h.first) ||
                                        std::any_of(named.begin(), named.end(), [&](const std::string& n) {
                                          return EqualsIgnoreCase(h.first, n);
                                        });
                               }),
                headers.end());
}

void PrepareUpstreamRequest(Headers& headers, const ForwardInfo& info) {
  RemoveHopByHop(headers);
  if (!info.client_ip.empty()) AppendToList(headers, "x-forwarded-for", info.client_ip);
  SetIfAbsent(headers, "x-forwarded-proto", info.proto);
  SetIfAbsent(headers, "x-forwarded-host", info.host);
  std::string element = StrCat("for=", Node(info.client_ip));
  if (!info.proto.empty()) StrAppend(&element, ";proto=", TokenOrQuoted(info.proto));
  if (!info.host.empty()) StrAppend(&element, ";host=", TokenOrQuoted(info.host));
  if (!info.by.empty()) {
    // "127.0.0.1:8080" or "[::1]:8080": quoted because of the ':'.
    std::string_view by = info.by;
    size_t colon = by.rfind(':');
    bool v6 = by.find(':') != colon && by.front() != '[';
    StrAppend(&element, ";by=", TokenOrQuoted(v6 ? StrCat("[", by, "]") : std::string(by)));
  }
  AppendToList(headers, "forwarded", element);
  AppendToList(headers, "via", info.via);
}

void PrepareDownstreamResponse(Headers& headers, const ForwardInfo& info) {
  RemoveHopByHop(headers);
  AppendToList(headers, "via", info.via);
}

}  // namespace mkn::ingress
