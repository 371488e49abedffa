#include "lib/bgp/birdc.h"

#include <cctype>
#include <charconv>

#include "lib/strings/str_cat.h"

namespace mkn::bgp {
namespace {

bool HasCode(std::string_view line) {
  return line.size() >= 5 && std::isdigit(static_cast<unsigned char>(line[0])) &&
         std::isdigit(static_cast<unsigned char>(line[1])) &&
         std::isdigit(static_cast<unsigned char>(line[2])) &&
         std::isdigit(static_cast<unsigned char>(line[3])) && (line[4] == ' ' || line[4] == '-');
}

bool Space(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && Space(s.front())) s.remove_prefix(1);
  while (!s.empty() && Space(s.back())) s.remove_suffix(1);
  return s;
}

// The whitespace-separated words of `s`.
std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && Space(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !Space(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// The lines of `s`, split at '\n'.
std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t nl = s.find('\n', start);
    out.push_back(s.substr(start, nl == std::string_view::npos ? nl : nl - start));
    if (nl == std::string_view::npos) return out;
    start = nl + 1;
  }
}

// "Key:   value" -> value, if `line` (trimmed) starts with "Key:".
std::optional<std::string_view> Field(std::string_view line, std::string_view key) {
  line = Trim(line);
  if (line.substr(0, key.size()) != key || line.substr(key.size(), 1) != ":") return std::nullopt;
  return Trim(line.substr(key.size() + 1));
}

bool ToInt(std::string_view s, int64_t& v) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

int64_t Number(std::string_view s) {
  int64_t v = 0;
  return ToInt(s, v) ? v : 0;
}

}  // namespace

bool ReplyComplete(std::string_view text) {
  // The last complete line, if it carries a code followed by a space.
  if (text.empty() || text.back() != '\n') return false;
  std::string_view body = text.substr(0, text.size() - 1);
  size_t nl = body.rfind('\n');
  std::string_view last = nl == std::string_view::npos ? body : body.substr(nl + 1);
  return HasCode(last) && last[4] == ' ';
}

absl::StatusOr<Reply> ParseReply(std::string_view text) {
  if (!ReplyComplete(text)) return absl::InvalidArgumentError("bird: incomplete reply");
  Reply r;
  for (std::string_view line : Lines(text.substr(0, text.size() - 1))) {
    if (HasCode(line)) {
      r.lines.push_back(
          {(line[0] - '0') * 1000 + (line[1] - '0') * 100 + (line[2] - '0') * 10 + (line[3] - '0'),
           std::string(line.substr(5))});
    } else if (!line.empty() && line[0] == ' ' && !r.lines.empty()) {
      r.lines.push_back({r.lines.back().code, std::string(line.substr(1))});
    } else {
      return absl::InvalidArgumentError(StrCat("bird: a reply line without a code: ", line));
    }
  }
  r.code = r.lines.back().code;
  if (r.code >= 8000) {
    return absl::FailedPreconditionError(StrCat("bird: ", r.lines.back().text));
  }
  return r;
}

std::vector<Session> ParseProtocols(const Reply& r) {
  std::vector<Session> out;
  bool in_bgp = false;
  for (const ReplyLine& l : r.lines) {
    if (l.code == 1002) {  // a protocol's summary line
      std::vector<std::string_view> w = Words(l.text);
      in_bgp = w.size() >= 5 && w[1] == "BGP";
      if (!in_bgp) continue;
      Session s;
      s.protocol = std::string(w[0]);
      s.proto_state = std::string(w[3]);
      // Since: "YYYY-MM-DD HH:MM:SS" (iso long) is two words, a short format one.
      size_t info_at = 5;
      s.since = std::string(w[4]);
      if (w.size() > 5 && w[4].find('-') != std::string_view::npos &&
          w[5].find(':') != std::string_view::npos) {
        s.since = StrCat(w[4], " ", w[5]);
        info_at = 6;
      }
      if (info_at < w.size()) s.state = std::string(w[info_at]);
      std::string info;
      for (size_t i = info_at + 1; i < w.size(); ++i)
        StrAppend(&info, info.empty() ? "" : " ", w[i]);
      s.info = info;
      out.push_back(std::move(s));
      continue;
    }
    if (l.code != 1006 || !in_bgp || out.empty()) continue;
    Session& s = out.back();
    if (auto v = Field(l.text, "Description")) s.peer = std::string(*v);
    if (auto v = Field(l.text, "BGP state")) s.state = std::string(*v);
    if (auto v = Field(l.text, "Neighbor address")) s.neighbor = std::string(*v);
    if (auto v = Field(l.text, "Neighbor AS")) s.neighbor_as = Number(*v);
    if (auto v = Field(l.text, "Local AS")) s.local_as = Number(*v);
    if (auto v = Field(l.text, "Routes")) {  // "3 imported, 1 exported, 3 preferred"
      std::vector<std::string_view> w = Words(*v);
      for (size_t i = 0; i + 1 < w.size(); ++i) {
        std::string_view what = w[i + 1];
        if (!what.empty() && what.back() == ',') what.remove_suffix(1);
        if (what == "imported") s.imported = Number(w[i]);
        if (what == "exported") s.exported = Number(w[i]);
      }
    }
  }
  for (Session& s : out) {
    if (s.peer.empty()) s.peer = s.protocol;
  }
  return out;
}

std::vector<Route> ParseRoutes(const Reply& r) {
  std::vector<Route> out;
  std::string prefix;  // a second route of a prefix leaves it out
  for (const ReplyLine& l : r.lines) {
    std::string_view t = l.text;
    if (t.empty() || t.rfind("Table ", 0) == 0) continue;
    if (t[0] == '\t') {  // an attribute of the route before
      if (out.empty()) continue;
      std::vector<std::string_view> w = Words(t);
      if (w.size() >= 2 && w[0] == "via") {
        out.back().via = std::string(w[1]);
        if (w.size() >= 4 && w[2] == "on") out.back().dev = std::string(w[3]);
      }
      if (auto v = Field(t, "BGP.as_path")) out.back().as_path = std::string(*v);
      continue;
    }
    std::vector<std::string_view> w = Words(t);
    if (w.empty()) continue;
    size_t i = 0;
    if (t[0] != ' ') prefix = std::string(w[i++]);
    if (i >= w.size() || prefix.empty()) continue;
    Route route;
    route.prefix = prefix;
    route.type = std::string(w[i++]);
    if (i < w.size() && !w[i].empty() && w[i][0] == '[')
      route.protocol = std::string(w[i].substr(1));
    for (; i < w.size(); ++i) route.best |= w[i] == "*";
    out.push_back(std::move(route));
  }
  return out;
}

std::optional<CivilTime> ParseSince(std::string_view text) {
  // "2026-12-06 03:35:13"
  CivilTime t;
  int* f[] = {&t.year, &t.month, &t.day, &t.hour, &t.minute, &t.second};
  const char seps[] = {'-', '-', ' ', ':', ':', '\0'};
  size_t at = 0;
  for (int i = 0; i < 6; ++i) {
    size_t start = at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) ++at;
    int64_t v = 0;
    if (at == start || !ToInt(text.substr(start, at - start), v)) return std::nullopt;
    *f[i] = static_cast<int>(v);
    if (seps[i] != '\0') {
      if (at >= text.size() || text[at] != seps[i]) return std::nullopt;
      ++at;
    }
  }
  if (at != text.size() && text[at] != '.') return std::nullopt;  // "...:13.549" is fine
  return t;
}

}  // namespace mkn::bgp
