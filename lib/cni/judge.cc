// lib/cni/judge — see judge.h.
#include "lib/cni/judge.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/cni/version.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::cni {
namespace {

using nlohmann::json;

// obj[key] when it is a string, else "" (ip's JSON is trusted in shape, not in every field).
std::string Str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}
int Int(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int>() : 0;
}

}  // namespace

absl::StatusOr<ObservedInterface> ParseIpAddrShow(std::string_view ip_j_output,
                                                  std::string_view ifname) {
  json j = json::parse(ip_j_output, nullptr, false);
  if (!j.is_array() || j.empty() || !j[0].is_object()) {
    return absl::NotFoundError(StrCat("no ", ifname, " in `ip -j addr`"));
  }
  const json& link = j[0];
  ObservedInterface seen;
  seen.mac = Str(link, "address");
  seen.mtu = Int(link, "mtu");
  auto info = link.find("addr_info");
  if (info == link.end() || !info->is_array()) return seen;
  for (const json& a : *info) {
    if (!a.is_object()) continue;
    const std::string family = Str(a, "family");
    if (family != "inet" && family != "inet6") continue;
    const std::string local = Str(a, "local");
    if (absl::StartsWith(local, "fe80:")) continue;
    seen.addrs.push_back(StrCat(local, "/", Int(a, "prefixlen")));
  }
  return seen;
}

ExpectedInterface ExpectedOnInterface(const Result& result, std::string_view ifname) {
  ExpectedInterface want;
  for (const Interface& i : result.interfaces) {
    if (i.name == ifname && !i.sandbox.empty()) {
      want.mac = i.mac;
      want.listed = true;
    }
  }
  for (const IpConfig& ip : result.ips) {
    if (ip.interface && *ip.interface >= 0 &&
        *ip.interface < static_cast<int>(result.interfaces.size())) {
      const Interface& i = result.interfaces[*ip.interface];
      if (i.name != ifname || i.sandbox.empty()) continue;
    }
    want.addrs.push_back(ip.address);
  }
  return want;
}

std::vector<std::string> JudgeInterface(const Result& result, std::string_view version,
                                        std::string_view ifname, const ObservedInterface& seen) {
  std::vector<std::string> findings;
  const ExpectedInterface want = ExpectedOnInterface(result, ifname);
  // 0.1.0/0.2.0 results have no interfaces[]: nothing to list the interface in.
  if (!want.listed && CompareVersions(version, "0.3.0") >= 0) {
    findings.push_back(StrCat("the result's interfaces list no ", ifname, " with a sandbox"));
  }
  if (!want.mac.empty() && !absl::EqualsIgnoreCase(want.mac, seen.mac)) {
    findings.push_back(StrCat("result says ", ifname, " has MAC ", want.mac, ", the pod's ", ifname,
                              " has ", seen.mac));
  }
  for (const std::string& a : want.addrs) {
    if (std::find(seen.addrs.begin(), seen.addrs.end(), a) == seen.addrs.end()) {
      findings.push_back(StrCat("result says ", ifname, " has ", a, ", the pod's ", ifname,
                                " has [", absl::StrJoin(seen.addrs, ", "), "]"));
    }
  }
  return findings;
}

bool HasIp(const ObservedInterface& seen, std::string_view ip) {
  return std::any_of(seen.addrs.begin(), seen.addrs.end(), [&](const std::string& a) {
    return std::string_view(a).substr(0, a.find('/')) == ip;
  });
}

absl::StatusOr<json> SupportedVersions(std::string_view version_reply) {
  json j = json::parse(version_reply, nullptr, false);
  if (!j.is_object() || !j.contains("supportedVersions") || !j["supportedVersions"].is_array()) {
    return absl::InvalidArgumentError("VERSION gave no supportedVersions list");
  }
  return j["supportedVersions"];
}

std::string JudgeSupportedVersions(const json& supported, std::string_view want) {
  for (const json& v : supported) {
    if (v.is_string() && v.get_ref<const std::string&>() == want) return "";
  }
  return StrCat("supportedVersions ", supported.dump(), " does not list the conflist's cniVersion ",
                want);
}

std::optional<std::string> EchoPeer(std::string_view proto, std::string_view reply) {
  const std::string word = StrCat(proto, " ");
  if (!absl::StartsWith(AsAbsl(reply), word)) return std::nullopt;
  std::string peer(reply.substr(word.size()));
  while (!peer.empty() && (peer.back() == '\n' || peer.back() == '\r')) peer.pop_back();
  return peer;
}

bool ProcNetBound(std::string_view proc_net, int port, bool tcp) {
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port & 0xffff);
  for (absl::string_view line : absl::StrSplit(AsAbsl(proc_net), '\n')) {
    // "  0: 00000000:1D2F 00000000:0000 0A ...": slot, local, remote, state.
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 4 || f[0].empty() || f[0].back() != ':') continue;
    if (!absl::EndsWith(f[1], want)) continue;
    if (!tcp || f[3] == "0A") return true;
  }
  return false;
}

Iperf3Reading ParseIperf3Json(std::string_view output) {
  Iperf3Reading reading;
  json j = json::parse(output, nullptr, false);
  if (j.is_object()) {
    auto end = j.find("end");
    if (end != j.end() && end->is_object()) {
      auto sum = end->find("sum_received");
      if (sum != end->end() && sum->is_object()) {
        auto bps = sum->find("bits_per_second");
        if (bps != sum->end() && bps->is_number()) reading.bits_per_second = bps->get<double>();
      }
    }
    auto error = j.find("error");
    reading.server_not_ready =
        error != j.end() && error->is_string() &&
        error->get_ref<const std::string&>().find("connect") != std::string::npos;
  }
  reading.server_not_ready =
      reading.server_not_ready || output.find("Connection refused") != std::string_view::npos;
  return reading;
}

bool RateWithinLimit(double measured_bps, int64_t limit_bps) {
  const double limit = static_cast<double>(limit_bps);
  return measured_bps >= limit * (1 - kRateTolerance) &&
         measured_bps <= limit * (1 + kRateTolerance);
}

std::vector<std::string> JudgeLeftProcesses(const std::vector<SeenProcess>& before,
                                            const std::vector<SeenProcess>& after) {
  std::vector<std::string> out;
  for (const SeenProcess& p : after) {
    const bool seen = std::any_of(before.begin(), before.end(), [&](const SeenProcess& b) {
      return b.pid == p.pid && b.start_time == p.start_time;
    });
    if (!seen && !p.ours)
      out.push_back(StrCat("pid ", p.pid, " (", p.comm, ") still runs in ", p.where));
  }
  return out;
}

}  // namespace mkn::cni
