// vnet/ui/server — the live dashboard's HTTP server (`up --ui`, `minikube-net ui`): one page and
// its API on a loopback address only, over Boost.Beast, with the edge's deadlines
// (vnet/edge/deadlines: a Watchdog per connection) and the edge's RFC 9112 refusals
// (lib/ingress/request_head).
//
//   GET  /              the page (HTML, JS and CSS embedded in the binary: assets.h; no CDN)
//   GET  /api/state     the snapshot (lib/ui's Snapshot: the graph, get svc, get routes, conntrack,
//                       recent traces) as JSON
//   GET  /api/events    server-sent events: "state" with a fresh snapshot when it changed, at most
//                       every UiLimits::interval; a comment line as a heartbeat
//   POST /api/trace     form src, dst, proto: runs one trace (one at a time: 429 while one runs),
//                       answers its entry; the entry joins the snapshot's recent traces
//
// Bounded treatment of hostile clients: a request head over header_limit is 431, a body over
// body_limit 413, a request not whole within request_timeout (slowloris) is dropped, at most
// max_connections connections (more are closed at once) and max_event_clients event streams (503
// past that); an event client that does not take an event within write_timeout is dropped (a
// client is sent only the newest snapshot: nothing queues up for it); ambiguous framing, two Host
// fields and the like are refused as the edge refuses them (400, 501, 505, closing). A Host that
// is not this loopback server is 421 (DNS rebinding), an Origin of another site 403.
//
// Threads: one runs the io_context (every connection), one gathers the inputs (UiSources::gather:
// control socket calls, dot) while someone looks (an event client, or /api/state in the last 10
// s), one runs the trace in progress. No privileges of its own; the sources need what they ask
// for (RunTrace: CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN). The listening socket is made in the
// caller's network namespace.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "lib/ui/dashboard.h"

namespace mkn::vnet {

// Where the snapshot's parts come from: a running cluster (ClusterSources, vnet/ui/sources.h) or
// a test's fakes. Both are called from the server's own threads, never two gathers or two traces
// at once.
struct UiSources {
  // Everything but the traces, as of now (its errors for the parts that failed).
  std::function<ui::Inputs()> gather;
  // One trace: `trace -o json`'s object (lib/trace's RenderJson). Its Status is the answer's:
  // InvalidArgument 400, Unimplemented 501, FailedPrecondition 409, others 500.
  std::function<absl::StatusOr<nlohmann::json>(const ui::TraceForm&)> trace;
};

struct UiLimits {
  int max_connections = 64;
  int max_event_clients = 8;
  size_t header_limit = 8 * 1024;
  size_t body_limit = 4 * 1024;                      // a trace form is a few words
  std::chrono::milliseconds request_timeout{10000};  // a request's head and body, and keep-alive
  std::chrono::milliseconds write_timeout{5000};     // an answer or an event taken by the client
  std::chrono::milliseconds interval{500};           // snapshots are gathered this often at most
  std::chrono::milliseconds heartbeat{15000};        // an idle event stream's comment line
  std::chrono::milliseconds trace_timeout{60000};    // a trace that runs longer is answered 504
};

struct UiOptions {
  std::string address = "127.0.0.1";  // a loopback address only: anything else is refused
  int port = ui::kDefaultPort;        // 0: any free port (port() says which)
  UiSources sources;
  UiLimits limits;
};

// What the server has done, for tests and diagnostics.
struct UiStats {
  uint64_t accepted = 0, refused = 0;  // connections; refused: over max_connections
  uint64_t requests = 0, bad_requests = 0;
  uint64_t timeouts = 0;  // connections dropped by a deadline (slow request or answer)
  uint64_t event_clients = 0, events_refused = 0, events_dropped = 0;  // dropped: too slow
  uint64_t events_sent = 0, snapshots = 0;                             // snapshots: that changed
  uint64_t traces = 0, traces_busy = 0;
};

class UiServer {
 public:
  // Binds `o.address`:`o.port` and starts serving. InvalidArgument for an address that is not a
  // loopback address (the page runs traces: never on a network), or for missing sources;
  // vnet/kernel/errors.h's codes for the socket (a port in use: kAlreadyExists / kUnavailable).
  static absl::StatusOr<std::unique_ptr<UiServer>> Start(UiOptions o);
  ~UiServer();
  // Stops accepting, closes every connection, waits for the trace in progress and the threads.
  // Idempotent.
  void Stop();
  int port() const;
  std::string Url() const;  // "http://127.0.0.1:8088/"
  UiStats Stats() const;

 private:
  UiServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mkn::vnet
