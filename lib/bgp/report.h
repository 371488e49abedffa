// lib/bgp/report — what `minikube-net bgp [SPEAKER] [-o json]` prints: each speaker's BGP sessions
// (peer, address, AS, state, uptime, prefixes received and exported) and, for one speaker asked by
// name, the routes in its table.
//
// Pure: vnet/bgp asks every daemon over its control socket (lib/bgp/birdc parses the replies) and
// fills these; the text follows lib/control/format's tables (left-aligned columns two spaces apart,
// a header row first), which e2e tests read with awk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/bgp/birdc.h"

namespace mkn::bgp {

struct SessionStatus {
  Session session;
  int64_t uptime_s = -1;  // since the session's state began; -1 unknown
};

struct SpeakerStatus {
  std::string speaker;  // object: "node1", "tor-r1", "spine"
  std::string role;     // "node", "tor", "spine"
  std::string netns;
  int64_t asn = 0;
  std::string socket;  // its control socket: birdc -s SOCKET
  std::string error;   // the daemon could not be asked (not running, no socket)
  std::vector<SessionStatus> sessions;
  bool with_routes = false;
  std::vector<Route> routes;
};

// "5s", "3m12s", "2h03m", "4d02h"; "-" for a negative (unknown) time.
std::string Uptime(int64_t seconds);

// SPEAKER PEER ADDRESS AS STATE UPTIME RECEIVED EXPORTED, a row per session; a speaker that could
// not be asked gets a row with STATE "no answer", and a line "SPEAKER: why" under the table. Then,
// for each speaker with_routes, a blank line, "routes of SPEAKER ...:" and PREFIX VIA DEV FROM AS
// PATH (a route of its own: "(own)").
std::string BgpTable(const std::vector<SpeakerStatus>& speakers);
// {"speakers": [{"speaker", "role", "netns", "asn", "socket", ["error"], "sessions": [{"peer",
// "protocol", "address", "asn", "local_asn", "state", "since", "uptime_s", "received",
// "exported", "info"}], ["routes": [{"prefix", "type", "via", "dev", "from", "best",
// "as_path"}]]}]}, indented by 2.
std::string BgpJson(const std::vector<SpeakerStatus>& speakers);

}  // namespace mkn::bgp
