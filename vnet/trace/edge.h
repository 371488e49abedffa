// vnet/trace/edge — the edge leg's side effects (`trace host http://HOST:PORT/PATH`), internal to
// vnet/trace: the marked HTTP request sent from the caller's namespace to the listener, the
// response read back, the edge's access-log line for the marker waited for, and each copy's
// payload matched to the leg's HTTP hops (the upstream's client port learnt from the copy that
// carries the marker: a pooled upstream connection has no handshake to match).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/trace/trace.h"
#include "vnet/trace/copy.h"

namespace mkn::vnet {

// A fresh marker: 16 hex digits from the clock and the pid (what the edge logs as trace=).
std::string NewEdgeMarker();

// Waits up to `timeout` for `fd`'s connect() to the listener, then writes the request (GET of the
// URL's target, its Host, the marker header, Connection: close). DeadlineExceeded when the
// connection does not complete; the errno's code (vnet/kernel/errors.h) for a refused connection
// or a failed write, naming the listener.
absl::Status SendEdgeRequest(int fd, const trace::Request& r, absl::Duration timeout);

// What came back on `fd` within `wait`: the whole response as far as it was read (status line,
// headers, body), or "" for none. Reads at most 64 KiB.
std::string ReadEdgeResponse(int fd, absl::Duration wait);
// The body of a response read by ReadEdgeResponse (after the blank line).
std::string_view ResponseBody(std::string_view response);

// The access-log line of `marker` in `path`, waited for until `deadline` (the edge flushes its log
// every 100 ms): its parse, or nullopt when none came.
std::optional<trace::EdgeLogEntry> WaitEdgeLogLine(const std::string& path, std::string_view marker,
                                                   absl::Time deadline);

// Whether `copy`, seen going `dir`, is the HTTP hop `h`'s segment: the request carrying the marker
// (the upstream's client port left open, then `learnt` from it), or the response to the client
// port (lo's own, or the upstream's once learnt).
bool MatchesHttp(const trace::Hop& h, const Parsed& copy, trace::Direction dir,
                 std::string_view marker, const std::optional<uint16_t>& learnt);

}  // namespace mkn::vnet
