// lib/cni/snapshot — see snapshot.h.
#include "lib/cni/snapshot.h"

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "lib/cni/json_text.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::cni {
namespace {

using nlohmann::json;

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::string_view Trim(std::string_view s) { return AsStd(absl::StripAsciiWhitespace(AsAbsl(s))); }

std::string Str(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return "";
}

// fe80::/10: the first group is fe80..febf.
bool IsLinkLocal6(std::string_view addr) {
  if (addr.size() < 4 || addr[3] == ':') return false;
  std::string p = absl::AsciiStrToLower(AsAbsl(addr.substr(0, 3)));
  return p == "fe8" || p == "fe9" || p == "fea" || p == "feb";
}

std::string LinkLine(const json& l) {
  std::string kind;
  if (auto li = l.find("linkinfo"); li != l.end() && li->is_object()) kind = Str(*li, "info_kind");
  if (kind.empty()) kind = Str(l, "link_type");
  std::string line = StrCat(Str(l, "ifname"), " kind=", kind.empty() ? "?" : kind);
  if (std::string master = Str(l, "master"); !master.empty()) line += StrCat(" master=", master);
  if (std::string mtu = Str(l, "mtu"); !mtu.empty()) line += StrCat(" mtu=", mtu);
  return line;
}

std::string RouteLine(const json& r) {
  std::string line = Str(r, "dst");
  if (line.empty()) line.push_back('?');
  if (std::string gw = Str(r, "gateway"); !gw.empty()) line += StrCat(" via ", gw);
  if (std::string dev = Str(r, "dev"); !dev.empty()) line += StrCat(" dev ", dev);
  if (std::string table = Str(r, "table"); !table.empty() && table != "main") {
    line += StrCat(" table ", table);
  }
  if (std::string metric = Str(r, "metric"); !metric.empty()) line += StrCat(" metric ", metric);
  if (std::string type = Str(r, "type"); !type.empty() && type != "unicast") {
    line += StrCat(" type ", type);
  }
  return line;
}

}  // namespace

std::string SnapshotDiff::ToString() const {
  std::map<std::string, bool> sections;
  for (const auto& [s, v] : added) sections[s] = true;
  for (const auto& [s, v] : removed) sections[s] = true;
  std::string out;
  for (const auto& [s, unused] : sections) {
    out += StrCat(s, ":\n");
    if (auto it = added.find(s); it != added.end()) {
      for (const auto& line : it->second) out += StrCat("  + ", line, "\n");
    }
    if (auto it = removed.find(s); it != removed.end()) {
      for (const auto& line : it->second) out += StrCat("  - ", line, "\n");
    }
  }
  return out;
}

SnapshotDiff Diff(const Snapshot& before, const Snapshot& after) {
  SnapshotDiff diff;
  std::map<std::string, bool> sections;
  for (const auto& [s, v] : before.sections) sections[s] = true;
  for (const auto& [s, v] : after.sections) sections[s] = true;
  static const std::vector<std::string> kNone;
  for (const auto& [s, unused] : sections) {
    auto b_it = before.sections.find(s);
    auto a_it = after.sections.find(s);
    std::vector<std::string> b = Sorted(b_it == before.sections.end() ? kNone : b_it->second);
    std::vector<std::string> a = Sorted(a_it == after.sections.end() ? kNone : a_it->second);
    std::vector<std::string> plus, minus;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(plus));
    std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(minus));
    if (!plus.empty()) diff.added[s] = std::move(plus);
    if (!minus.empty()) diff.removed[s] = std::move(minus);
  }
  return diff;
}

absl::StatusOr<std::vector<std::string>> NormalizeIpJson(std::string_view section,
                                                         std::string_view ip_j_output) {
  if (section != "links" && section != "addresses" && section != "routes" &&
      section != "neighbours") {
    return absl::InvalidArgumentError(StrCat("normalize ip output: unknown section \"", section,
                                             "\" (want links, addresses, routes or neighbours)"));
  }
  if (Trim(ip_j_output).empty()) return std::vector<std::string>{};
  auto parsed = ParseJson(ip_j_output, StrCat("normalize ", section, ": ip -j output"));
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_array()) {
    return absl::InvalidArgumentError(StrCat(
        "normalize ", section, ": expected the JSON array of ip -j, got ", parsed->type_name()));
  }
  std::vector<std::string> out;
  for (const json& e : *parsed) {
    if (!e.is_object()) continue;
    if (section == "links") {
      out.push_back(LinkLine(e));
    } else if (section == "addresses") {
      std::string dev = Str(e, "ifname");
      auto info = e.find("addr_info");
      if (info == e.end() || !info->is_array()) continue;
      for (const json& a : *info) {
        if (!a.is_object()) continue;
        std::string local = Str(a, "local");
        if (local.empty() || (Str(a, "family") == "inet6" && IsLinkLocal6(local))) continue;
        out.push_back(StrCat(dev, " ", local, "/", Str(a, "prefixlen")));
      }
    } else if (section == "routes") {
      out.push_back(RouteLine(e));
    } else {  // neighbours
      auto state = e.find("state");
      bool permanent = state != e.end() && state->is_array() &&
                       std::find(state->begin(), state->end(), json("PERMANENT")) != state->end();
      if (!permanent) continue;
      out.push_back(StrCat(Str(e, "dst"), " dev ", Str(e, "dev"), " lladdr ", Str(e, "lladdr")));
    }
  }
  return Sorted(std::move(out));
}

std::vector<std::string> NormalizeLines(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view line : SplitLines(text)) {
    size_t e = line.find_last_not_of(" \t\r");
    if (e == std::string_view::npos) continue;
    out.emplace_back(line.substr(0, e + 1));
  }
  return Sorted(std::move(out));
}

std::vector<std::string> NormalizeNftRuleset(std::string_view text) {
  std::vector<std::string> context;
  std::vector<std::string> out;
  for (std::string_view raw : SplitLines(text)) {
    std::string line(Trim(raw));
    if (size_t h = line.find("# handle "); h != std::string::npos)
      line = std::string(Trim(line.substr(0, h)));
    if (line.empty()) continue;
    if (line == "}") {
      if (!context.empty()) context.pop_back();
      continue;
    }
    // "counter packets 12 bytes 3400" -> "counter"
    for (size_t c = line.find("counter packets "); c != std::string::npos;
         c = line.find("counter packets ", c + 1)) {
      size_t bytes = line.find(" bytes ", c);
      if (bytes == std::string::npos) break;
      size_t end = line.find(' ', bytes + 7);
      line.erase(c + 7, (end == std::string::npos ? line.size() : end) - (c + 7));
    }
    std::string prefix = absl::StrJoin(context, " / ");
    if (!line.empty() && line.back() == '{') {
      std::string block(Trim(std::string_view(line).substr(0, line.size() - 1)));
      out.push_back(prefix.empty() ? block : StrCat(prefix, " / ", block));
      context.push_back(block);
      continue;
    }
    out.push_back(prefix.empty() ? line : StrCat(prefix, ": ", line));
  }
  return Sorted(std::move(out));
}

std::vector<std::string> NormalizeIptablesSave(std::string_view text) {
  std::string table;
  std::vector<std::string> out;
  for (std::string_view raw : SplitLines(text)) {
    std::string_view line = Trim(raw);
    if (line.empty() || line[0] == '#' || line == "COMMIT") continue;
    if (line[0] == '*') {
      table = std::string(line.substr(1));
      continue;
    }
    if (line[0] == ':') {  // ":CHAIN POLICY [P:B]"
      std::string_view chain = line;
      if (size_t b = chain.rfind(" ["); b != std::string_view::npos) chain = chain.substr(0, b);
      out.push_back(StrCat(table, ": ", chain));
      continue;
    }
    std::string rule(line);
    if (rule.size() > 1 && rule[0] == '[') {  // "[P:B] -A ..." (iptables-save -c)
      size_t close = rule.find("] ");
      if (close != std::string::npos) rule = rule.substr(close + 2);
    }
    out.push_back(StrCat(table, ": ", rule));
  }
  return Sorted(std::move(out));
}

}  // namespace mkn::cni
