#include "lib/bgp/report.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "lib/strings/columns.h"
#include "lib/strings/str_cat.h"

namespace mkn::bgp {

std::string Uptime(int64_t s) {
  if (s < 0) return "-";
  if (s < 60) return StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  if (s < 86400) return absl::StrFormat("%dh%02dm", s / 3600, s % 3600 / 60);
  return absl::StrFormat("%dd%02dh", s / 86400, s % 86400 / 3600);
}

std::string BgpTable(const std::vector<SpeakerStatus>& speakers) {
  std::vector<std::vector<std::string>> rows = {
      {"SPEAKER", "PEER", "ADDRESS", "AS", "STATE", "UPTIME", "RECEIVED", "EXPORTED"}};
  std::string errors;
  for (const SpeakerStatus& sp : speakers) {
    if (!sp.error.empty()) {
      rows.push_back({sp.speaker, "-", "-", "-", "no answer", "-", "-", "-"});
      StrAppend(&errors, sp.speaker, ": ", sp.error, "\n");
      continue;
    }
    for (const SessionStatus& ss : sp.sessions) {
      const Session& s = ss.session;
      std::string state = s.state.empty() ? s.proto_state : s.state;
      if (!s.info.empty() && state != "Established") StrAppend(&state, " (", s.info, ")");
      rows.push_back({sp.speaker, s.peer, s.neighbor, StrCat(s.neighbor_as), state,
                      Uptime(ss.uptime_s), StrCat(s.imported), StrCat(s.exported)});
    }
  }
  std::string out = Columns(rows) + errors;
  for (const SpeakerStatus& sp : speakers) {
    if (!sp.with_routes || !sp.error.empty()) continue;
    std::vector<std::vector<std::string>> r = {{"PREFIX", "VIA", "DEV", "FROM", "AS PATH"}};
    for (const Route& route : sp.routes) {
      std::string from = route.protocol;
      for (const SessionStatus& ss : sp.sessions) {
        if (ss.session.protocol == route.protocol) from = ss.session.peer;
      }
      const bool own = route.as_path.empty() && route.via.empty();
      r.push_back({route.prefix, route.via.empty() ? route.type : route.via, route.dev,
                   own ? "(own)" : from, route.as_path});
    }
    StrAppend(&out, "\nroutes of ", sp.speaker, " (BIRD's table; `ip -n ", sp.netns,
              " route` shows the kernel's):\n", Columns(r));
  }
  return out;
}

std::string BgpJson(const std::vector<SpeakerStatus>& speakers) {
  nlohmann::json arr = nlohmann::json::array();
  for (const SpeakerStatus& sp : speakers) {
    nlohmann::json j = {{"speaker", sp.speaker},
                        {"role", sp.role},
                        {"netns", sp.netns},
                        {"asn", sp.asn},
                        {"socket", sp.socket}};
    if (!sp.error.empty()) j["error"] = sp.error;
    nlohmann::json sessions = nlohmann::json::array();
    for (const SessionStatus& ss : sp.sessions) {
      const Session& s = ss.session;
      sessions.push_back({{"peer", s.peer},
                          {"protocol", s.protocol},
                          {"address", s.neighbor},
                          {"asn", s.neighbor_as},
                          {"local_asn", s.local_as},
                          {"state", s.state.empty() ? s.proto_state : s.state},
                          {"since", s.since},
                          {"uptime_s", ss.uptime_s},
                          {"received", s.imported},
                          {"exported", s.exported},
                          {"info", s.info}});
    }
    j["sessions"] = sessions;
    if (sp.with_routes) {
      nlohmann::json routes = nlohmann::json::array();
      for (const Route& r : sp.routes) {
        std::string from = r.protocol;
        for (const SessionStatus& ss : sp.sessions) {
          if (ss.session.protocol == r.protocol) from = ss.session.peer;
        }
        routes.push_back({{"prefix", r.prefix},
                          {"type", r.type},
                          {"via", r.via},
                          {"dev", r.dev},
                          {"from", from},
                          {"best", r.best},
                          {"as_path", r.as_path}});
      }
      j["routes"] = routes;
    }
    arr.push_back(std::move(j));
  }
  return nlohmann::json{{"speakers", arr}}.dump(2) + "\n";
}

}  // namespace mkn::bgp
