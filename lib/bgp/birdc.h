// lib/bgp/birdc — what a BIRD daemon says on its control socket (the protocol birdc speaks), read
// into data: the reply framing, the BGP sessions of `show protocols all`, the routes of `show route
// all`.
//
// The protocol (BIRD's doc/prog, client side): the daemon greets with "0001 BIRD x.y ready.", then
// answers each command line with lines "CODE-text" (more follow), " text" (continues the previous
// code), until a line "CODE text" with a space after the code ends the reply: 0000 or another
// 0xxx for success, 8xxx (runtime) or 9xxx (parse) for an error. Pure: the socket is vnet/bgp's.
// Parsers are lenient: a line they do not know is skipped, so a newer BIRD's extra fields do not
// break `minikube-net bgp`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mkn::bgp {

struct ReplyLine {
  int code = 0;
  std::string text;  // without the code and its separator
};

struct Reply {
  std::vector<ReplyLine> lines;  // the final line included
  int code = 0;                  // of the final line
};

// Whether `text` (everything read so far) holds a complete reply: a full line "DDDD text".
bool ReplyComplete(std::string_view text);
// The lines of one complete reply. InvalidArgument if a line has no code and none came before it,
// or the text does not end a reply; FailedPrecondition "bird: TEXT" if the final code is an error
// (8xxx, 9xxx), e.g. "8003 No protocols match".
absl::StatusOr<Reply> ParseReply(std::string_view text);

// One BGP protocol (session) of a speaker, from `show protocols all`.
struct Session {
  std::string protocol;     // BIRD's name of it ("tor-r1")
  std::string peer;         // its description: the peer's object name
  std::string proto_state;  // BIRD's protocol state: up, start, down
  std::string since;        // when that state began, "2026-12-06 03:35:13" (timeformat iso long ms:
                            // ".123" follows)
  std::string state;        // BGP state: Established, Active, Connect, OpenSent, Idle, ...
  std::string info;         // the rest of the summary line: the last error, if any
  std::string neighbor;     // address
  int64_t neighbor_as = 0, local_as = 0;
  int64_t imported = 0, exported = 0;  // routes received (accepted) and sent
};
// Every BGP protocol of a `show protocols all` reply, in its order.
std::vector<Session> ParseProtocols(const Reply& r);

// One route of BIRD's table, from `show route all`.
struct Route {
  std::string prefix;
  std::string type;      // "unicast", "blackhole", ...
  std::string protocol;  // which protocol brought it: a session's name, or "POD_CIDR"
  bool best = false;     // "*": the one exported to the kernel
  std::string via, dev;  // the next hop and interface (unicast)
  std::string as_path;   // BGP.as_path ("" for a route of our own)
};
std::vector<Route> ParseRoutes(const Reply& r);

// "2026-12-06 03:35:13" as its fields, for the caller to turn into a time in the daemon's zone.
struct CivilTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};
std::optional<CivilTime> ParseSince(std::string_view text);

}  // namespace mkn::bgp
