// Request head checks and path normalization (the cases are in request_head.h's banner).
#include "lib/ingress/request_head.h"

#include <array>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "lib/strings/hex.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::ingress {
namespace {

// Sets the refusal into `c` and returns false. CheckRequestHead then does `return c;` on every
// path: one named result, built in place (NRVO) instead of a HeadCheck moved out per request.
bool Refuse(HeadCheck& c, int status, std::string why) {
  c.status = status;
  c.why = std::move(why);
  return false;
}

constexpr bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

constexpr bool IsSubDelim(char c) {
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

// What a character is in a Host's reg-name (RFC 3986 §3.2.2), in a table: a Host is checked on
// every request, so one lookup per character, and the ':' before a port and the '%' of an escape
// found in the same pass.
enum HostChar : uint8_t { kBad = 0, kName, kColon, kPercent };
constexpr std::array<uint8_t, 256> MakeHostTable() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if (IsUnreserved(static_cast<unsigned char>(c)) || IsSubDelim(static_cast<char>(c)))
      t[c] = kName;
  }
  t[':'] = kColon;
  t['%'] = kPercent;
  return t;
}
constexpr std::array<uint8_t, 256> kHostChars = MakeHostTable();

std::string_view StripWhitespace(std::string_view s) {
  return AsStd(absl::StripAsciiWhitespace(AsAbsl(s)));
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AsAbsl(a), AsAbsl(b));
}

// "http://" or "https://" at the front (the scheme ignores case): the length of that prefix, else
// 0.
size_t HttpSchemePrefix(std::string_view target) {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() >= scheme.size() && EqualsNoCase(target.substr(0, scheme.size()), scheme))
      return scheme.size();
  }
  return 0;
}

// The Transfer-Encoding fields' verdict (the banner's rows): false with the refusal set in `c`.
bool CheckTransferEncoding(const RequestHead& head, HeadCheck& c) {
  std::string all;  // the fields' values joined, for the answer's text
  for (std::string_view v : head.transfer_encodings) StrAppend(&all, all.empty() ? "" : ", ", v);
  if (head.version == 10) {
    return Refuse(c, 400,
                  StrCat("Transfer-Encoding \"", all,
                         "\" in an HTTP/1.0 request (its framing cannot be trusted)"));
  }
  int codings = 0, chunked = 0;
  bool chunked_last = false, chunked_params = false;
  std::string_view other;  // the first coding that is not chunked
  for (std::string_view v : head.transfer_encodings) {
    while (!v.empty()) {
      const size_t comma = v.find(',');
      std::string_view element = StripWhitespace(v.substr(0, comma));
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      if (element.empty()) continue;  // RFC 9110 §5.6.1: empty list elements do not count
      const size_t semi = element.find(';');
      std::string_view name = StripWhitespace(element.substr(0, semi));
      ++codings;
      chunked_last = EqualsNoCase(name, "chunked");
      if (chunked_last) {
        ++chunked;
        chunked_params |= semi != std::string_view::npos;
      } else if (other.empty()) {
        other = name;
      }
    }
  }
  if (codings == 0 || !chunked_last) {
    return Refuse(c, 400,
                  StrCat("Transfer-Encoding \"", all,
                         "\" does not end in chunked: the body's length cannot be determined"));
  }
  if (chunked > 1)
    return Refuse(c, 400, StrCat("Transfer-Encoding \"", all, "\" is chunked twice"));
  if (chunked_params)
    return Refuse(c, 400, StrCat("Transfer-Encoding \"", all, "\": chunked has no parameters"));
  if (!other.empty()) {
    return Refuse(c, 501,
                  StrCat("Transfer-Encoding \"", other,
                         "\" is not implemented (the edge decodes chunked only)"));
  }
  return true;
}

}  // namespace

bool IsValidHost(std::string_view host) {
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : host.substr(1, close - 1)) {
      if (kHostChars[static_cast<unsigned char>(c)] != kName && c != ':') return false;
    }
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    if (!rest.empty()) port = rest.substr(1);
  } else {
    for (size_t i = 0; i < host.size(); ++i) {
      const uint8_t kind = kHostChars[static_cast<unsigned char>(host[i])];
      if (kind == kName) continue;
      if (kind == kColon) {
        port = host.substr(i + 1);
        break;
      }
      if (kind != kPercent || i + 2 >= host.size() || HexDigitValue(host[i + 1]) < 0 ||
          HexDigitValue(host[i + 2]) < 0)
        return false;
      i += 2;
    }
  }
  if (port.size() > 5) return false;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value <= 65535;
}

PathResult NormalizePath(std::string_view path, std::string& out) {
  // Nearly every path is already normal: one scan, no copy.
  bool work = false;
  for (size_t i = 0; i < path.size() && !work; ++i) {
    if (path[i] == '%') {
      work = true;
    } else if (path[i] == '/' && i + 1 < path.size()) {
      if (path[i + 1] == '/') {
        work = true;
      } else if (path[i + 1] == '.') {  // "/." or "/.." as a whole segment
        size_t j = i + 2;
        if (j < path.size() && path[j] == '.') ++j;
        work = j == path.size() || path[j] == '/';
      }
    }
  }
  if (!work) return PathResult::kNormal;
  // 1. Escapes of unreserved characters decoded, the others' hex uppercase; 2. slashes merged.
  std::string s;
  s.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return PathResult::kInvalid;
      const int hi = HexDigitValue(path[i + 1]), lo = HexDigitValue(path[i + 2]);
      if (hi < 0 || lo < 0) return PathResult::kInvalid;
      i += 2;
      const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
      if (!IsUnreserved(decoded)) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        s += '%';
        s += kHex[hi];
        s += kHex[lo];
        continue;
      }
      c = static_cast<char>(decoded);  // never '/': a decoded character is never a separator
    }
    if (c == '/' && !s.empty() && s.back() == '/') continue;
    s += c;
  }
  // 3. Dot-segments removed (RFC 3986 §5.2.4), segment by segment; ".." stops at the root.
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t end = s.find('/', i + 1);
    if (end == std::string::npos) end = s.size();
    const std::string_view seg = std::string_view(s).substr(i + 1, end - i - 1);
    const bool last = end == s.size();
    if (seg == "." || seg == "..") {
      if (seg == "..") {
        const size_t slash = out.rfind('/');
        out.resize(slash == std::string::npos ? 0 : slash);
      }
      if (last) out += '/';  // "/a/." is "/a/": the directory
    } else {
      out += '/';
      out += seg;
    }
    i = end;
  }
  if (out.empty()) out.push_back('/');  // (not out = "/": GCC 12 warns of a memcpy overlap)
  return out == path ? PathResult::kNormal : PathResult::kNormalized;
}

HeadCheck CheckRequestHead(const RequestHead& head, std::string& path_buffer) {
  HeadCheck c;
  if (head.version != 10 && head.version != 11) {
    Refuse(c, 505,
           StrCat("HTTP/", head.version / 10, ".", head.version % 10,
                  " is not supported (HTTP/1.0 and HTTP/1.1 are)"));
    return c;
  }
  if (head.method == "CONNECT") {
    Refuse(c, 501, "CONNECT is not implemented: the edge is a gateway, not a forward proxy");
    return c;
  }
  const std::string_view target = head.target;
  if (target == "*") {
    if (head.method == "OPTIONS") {
      Refuse(c, 501, "OPTIONS * is not implemented");
    } else {
      Refuse(c, 400, "bad request target \"*\": it is for OPTIONS only");
    }
    return c;
  }
  if (target.find('#') != std::string_view::npos) {
    Refuse(c, 400, "bad request target: a fragment ('#') is never sent");
    return c;
  }
  std::string_view before = target;
  if (const size_t q = target.find('?'); q != std::string_view::npos) {
    before = target.substr(0, q);
    c.query = target.substr(q + 1);
    c.has_query = true;
  }
  if (!before.empty() && before.front() == '/') {
    c.path = before;
  } else if (const size_t scheme = HttpSchemePrefix(before); scheme != 0) {
    // absolute-form (RFC 9112 §3.2.2): its authority is the host to route by, whatever Host says.
    std::string_view rest = before.substr(scheme);
    const size_t slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    if (authority.find('@') != std::string_view::npos) {
      Refuse(c, 400, "bad request target: userinfo ('@') in an http(s) URI");
      return c;
    }
    if (authority.empty() || authority.front() == ':') {
      Refuse(c, 400, "bad request target: an http(s) URI without a host");
      return c;
    }
    if (!IsValidHost(authority)) {
      Refuse(c, 400, StrCat("bad request target: \"", authority, "\" is not a host[:port]"));
      return c;
    }
    c.absolute_form = true;
    c.authority = authority;
    c.path = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  } else {
    Refuse(c, 400, "bad request target: neither a path (\"/...\") nor an http(s) URI");
    return c;
  }
  if (head.host_fields > 1) {
    Refuse(c, 400, "two Host fields");
    return c;
  }
  if (head.host_fields == 0 && head.version == 11) {
    Refuse(c, 400, "an HTTP/1.1 request without Host");
    return c;
  }
  if (head.host_fields == 1 && !IsValidHost(head.host)) {
    Refuse(c, 400, StrCat("Host \"", head.host, "\" is not a host[:port]"));
    return c;
  }
  if (!c.absolute_form) c.authority = head.host;
  if (!head.transfer_encodings.empty()) {
    if (!CheckTransferEncoding(head, c)) return c;
  }
  switch (NormalizePath(c.path, path_buffer)) {
    case PathResult::kNormal:
      break;
    case PathResult::kNormalized:
      c.path = path_buffer;
      c.path_changed = true;
      break;
    case PathResult::kInvalid: {
      Refuse(c, 400, "bad request target: '%' not followed by two hex digits in the path");
      return c;
    }
  }
  return c;
}

}  // namespace mkn::ingress
