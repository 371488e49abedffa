// lib/ui/dashboard — the live dashboard's decisions (`up --ui`, `minikube-net ui`): what the page
// shows, as one JSON snapshot built from the control protocol's answers (the very structs `get
// svc`, `get routes` and `conntrack` print, so the page and the CLI agree), which requests the
// page's server answers and how, the form of a trace request, the server-sent events' framing,
// and which of the graph's vertices and edges a trace's hops light up.
//
// vnet/ui serves it on 127.0.0.1: it asks the cluster's owner over its control socket, runs
// `trace` (vnet/trace), renders the graph's SVG (vnet/graph) and calls these functions; nothing
// here touches a socket. Pure: nlohmann-json, Abseil, lib/graph and lib/control; table-tested in
// dashboard_test.cc.
//
// IPv4 and IPv6 alike: addresses are carried as the strings the answers hold; the only address
// this file reads is a Host/Origin header's, whose forms (127.0.0.1:P, [::1]:P, localhost:P)
// are all in Loopback().
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/control/protocol.h"
#include "lib/graph/graph.h"

namespace mkn::ui {

// `up --ui` with no PORT, and `ui` without --port.
inline constexpr int kDefaultPort = 8088;
// At most this many traces are kept and shown, newest first.
inline constexpr size_t kRecentTraces = 10;

// What to say when 127.0.0.1:`port` is taken (EADDRINUSE), after "listen on 127.0.0.1:PORT:
// Address already in use": who holds it when a running cluster's own dashboard does
// (`holder_cluster`, its `up --ui`; "" when it is not known, then how to find out), and the way
// out as `flag` spells it ("--port" for ui, "--ui" for up): another port, or 0 for any free one.
std::string PortTakenHint(int port, std::string_view flag, std::string_view holder_cluster);

// --- the snapshot ----------------------------------------------------------------------------

// What the page draws, gathered at one moment. Each answer is optional: a source that failed
// leaves its error instead (a dead owner, an edge-less lab's routes), and the rest still shows.
struct Inputs {
  std::string cluster;
  graph::Graph graph;
  std::string svg;  // the graph rendered by Graphviz; "" when dot failed (see errors)
  std::optional<control::ServicesAnswer> services;
  std::optional<control::RoutesAnswer> routes;
  std::optional<control::ConntrackAnswer> conntrack;
  std::vector<std::string> errors;  // "services: cluster x is not running", ...
};

// One trace as the page lists and draws it: `trace -o json`'s object (lib/trace's RenderJson) and
// its highlight, or the error that stopped it.
struct TraceEntry {
  int64_t id = 0;  // 1, 2, ... in the order they were asked for
  std::string src, dst, proto;
  nlohmann::json result;  // RenderJson's object; null when `error` is set
  std::string error;
  nlohmann::json highlight;  // Highlight()'s
};

// The snapshot's JSON: {"cluster", "graph": {"svg", "vertices", "edges", "title"}, "services"
// (ToJson(ServicesAnswer): `get svc -o json`), "routes", "conntrack", "traces" (newest first),
// "errors"}. Deterministic for the same inputs, so that equal text means nothing changed.
nlohmann::json Snapshot(const Inputs& in, const std::deque<TraceEntry>& traces);

// The graph's model as JSON: vertices {id, kind, lines, group}, edges {from, to, kind, label}.
nlohmann::json GraphJson(const graph::Graph& g);

// The vertices a trace's hops passed through, in order (consecutive repeats joined), and the
// edges between consecutive ones that the graph has (either direction): {"vertices": [...],
// "edges": [[a, b], ...], "missing": vertex of the first hop not seen or null}. A hop is placed
// on its pod, on its node's bridge (cbr0, a host veth), VXLAN or Geneve device, on its node, or
// on the underlay (or a racks lab's router), whichever of these the graph has.
nlohmann::json Highlight(const nlohmann::json& trace_result, const graph::Graph& g);

// --- requests --------------------------------------------------------------------------------

enum class Target {
  kPage,              // GET / (and /index.html): the page
  kAsset,             // GET /app.js, /style.css
  kState,             // GET /api/state: the snapshot
  kEvents,            // GET /api/events: server-sent events
  kTrace,             // POST /api/trace: run one
  kNotFound,          // 404
  kMethodNotAllowed,  // 405, with Allow
};

struct Routed {
  Target target = Target::kNotFound;
  std::string allow;  // kMethodNotAllowed: the Allow header ("GET, HEAD" or "POST")
  std::string asset;  // kPage/kAsset: the asset's name ("index.html", "app.js", "style.css")
};

// Routes a request by its method and path (the query is ignored; the path is already normalized
// by lib/ingress's CheckRequestHead). HEAD is taken where GET is.
Routed Route(std::string_view method, std::string_view path);

// Whether a Host or Origin authority names this loopback server: host 127.0.0.1, [::1] or
// localhost, with `port` (Host may leave a default port out only for port 80). A page on another
// site may not read the snapshot or run traces through the user's browser (DNS rebinding, a
// cross-site form): the server answers 421 for another Host and 403 for another Origin.
bool Loopback(std::string_view authority, int port);
// An Origin header's value ("http://127.0.0.1:8088"): its scheme is http and its authority is
// Loopback(). "null" and anything else are not.
bool SameOrigin(std::string_view origin, int port);

// A trace request from the page's form (application/x-www-form-urlencoded): src, dst (DST[:PORT],
// as `trace` takes it) and proto ("" = the default for DST; tcp, udp, icmp). InvalidArgument for
// a body that is not a form, a missing src or dst, a value over 256 bytes or a proto not one of
// these. The words themselves are checked by trace (an unknown pod: InvalidArgument from it).
struct TraceForm {
  std::string src, dst, proto;
  bool operator==(const TraceForm&) const = default;
};
absl::StatusOr<TraceForm> ParseTraceForm(std::string_view body);
// The SRC and DST kinds trace takes, as ParseTraceForm's errors name them (what /api/trace
// accepts is what `trace` does: nodes, the underlay and NodePorts too, not only pods).
inline constexpr std::string_view kTraceSrcKinds = "a pod, a node, underlay, or host for the edge";
inline constexpr std::string_view kTraceDstKinds =
    "a pod, a node, a pod's or node's IP, a ClusterIP[:PORT], svc/NAME[:PORT], a NodePort "
    "NODE:PORT, or from host an edge URL http://HOST[:PORT]/PATH";
// /api/trace's body for every answer that carries no result (400 a bad form or a trace the lab
// refuses, 429 one is running, 504 still running, 5xx): one shape, {"id": N or null (no trace
// was started), "src", "dst", "proto" (as asked; "" when the form did not say), "error"}, so
// that the page and scripts read the same field whatever went wrong.
nlohmann::json TraceErrorJson(std::optional<int64_t> id, const TraceForm& f,
                              std::string_view error);

// application/x-www-form-urlencoded's decoding of one name or value ('+' is a space, %XX a byte);
// nullopt for a '%' not followed by two hex digits.
std::optional<std::string> FormDecode(std::string_view s);

// One server-sent event (the HTML standard's text/event-stream): "event: NAME\n", then "data: "
// and each line of `data` ("\r\n", "\r" and "\n" all end a line: each line becomes its own data
// field, so the client's joined text is `data` with "\n" line ends), then the empty line.
std::string SseEvent(std::string_view name, std::string_view data);

}  // namespace mkn::ui
