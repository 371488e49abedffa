// lib/trace — `minikube-net trace`'s decisions: which path a probe from SRC to DST must take in
// this lab (the ordered hops, request and reply), what it looks like at each hop (inner or VXLAN
// outer header, before or after the Service translation) as a libpcap filter, and the verdict when
// the hops that saw it are compared with the prediction. Pure: vnet/trace sends the probe, sniffs
// at every predicted hop at once and reads the kernel's reasons; nothing here touches a socket.
//
// The path is composed from two tables so that a new network or proxy mode is one row each:
//   kNetworkRows  how a packet crosses from one node to another (vxlan: vxlan0 and the outer
//                 UDP/4789 header over eth0 and the fabric; geneve: the gnv0 TAP, the userspace
//                 pump and UDP/6081 the same way; host-gw: eth0 routed; bgp: eth0 routed by the
//                 BIRD-learnt routes, through the ToR and spine routers);
//   kProxyRows    where a Service is translated (userspace: into and out of the proxy TUN, SNAT
//                 to the node's proxy address; nftables: DNAT in prerouting, seen by no
//                 interface, proved by the conntrack entry; ebpf: the cgroup/connect4 hook in the
//                 client's own socket, so the client's eth0 already carries the backend).
// The fabric between two nodes is the lab's underlay: the flat one's bridge ports, or a routed
// one's routers (the ToR's port of each node, and across racks the ToR's and the spine's ports),
// hops of kind "router".
// A Service's endpoints are alternatives: each is a branch of hops after the translation point,
// and the branch whose hops saw the probe is the one the balancer chose.
//
// The ends: SRC a pod, a node (its own stack, the source the kernel picks toward DST), or
// `underlay` (the flat underlay's br0; in a routed lab the ToR of DST's rack); DST a pod, a node
// (its underlay address), a pod, node or ClusterIP address, svc/NAME[:PORT], a NodePort as
// NODE:PORT (the port is one of the lab's node_ports: what `curl node1:30080` reaches), or the
// world outside ([cluster] world: `world`, one of its names such as example.test, or one of their
// addresses; from a pod or a node). A pod's packet to the world is masqueraded by its node (the
// hop kEgressSnatRole, between the node's routing decision and its uplink, where the source is
// the node's address from then on) and its answer un-SNATed there; the underlay side routes it
// to the world's eth0 (the flat underlay's namespace, a routed lab's ToR and spine). Without a
// Service the reply is predicted as its own forward path, DST back to SRC (a pod's packet to a
// node goes out unencapsulated, the node's answer comes back over the overlay); through a
// Service it is the request's hops backwards, the translation undone where it was done.
//
// IPv4 only for now: every address here is net::Ipv4, and the filter offsets assume a 20-byte IP
// header (what the kernel sends for these probes). Dual-stack adds a family to Flow, one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/net/ip.h"

namespace mkn::trace {

enum class Proto { kIcmp, kUdp, kTcp };
std::string_view ToString(Proto p);
// A Service port's target port on `backend`: a number, or the backend's container port of that
// name; 0 when it has none of that name (then it is no endpoint of that port).
int TargetPort(const config::ServicePortSpec& port, const config::PodSpec& backend);
// The protocol a Service's port carries (a Service may have the same port for TCP and UDP).
inline Proto ProtoOf(const config::ServicePortSpec& p) {
  return p.protocol == config::Protocol::kUdp ? Proto::kUdp : Proto::kTcp;
}

// A probe as seen at one place. ICMP echo: sport and dport both carry the echo identifier, so that
// swapping the ends gives the reply. TCP: the request leg is the SYN, the reply leg the SYN-ACK.
struct Flow {
  Proto proto = Proto::kIcmp;
  net::Ipv4 src, dst;
  uint16_t sport = 0, dport = 0;
  Flow Reversed() const { return {proto, dst, src, dport, sport}; }
  bool operator==(const Flow&) const = default;
};

enum class Leg { kRequest, kReply };
enum class Direction { kIn, kOut };  // as the interface sees the packet: received or sent
std::string_view ToString(Leg l);
std::string_view ToString(Direction d);

// One place where the probe must pass.
struct Hop {
  Leg leg = Leg::kRequest;
  int branch = -1;     // -1: on every path; else the index of the endpoint in Path::endpoints
  std::string object;  // the capture TARGET object: a pod, a node, "underlay", a router, "world"
  std::string kind;    // the object's kind: "pod", "node", "underlay", "router", "world"
  std::string netns;   // its named netns
  std::string ifname;  // "" for a translation point no interface shows (the nft DNAT)
  Direction dir = Direction::kOut;
  std::string role;  // "pod eth0", "host veth", "bridge cbr0", "VXLAN vxlan0", ...
  Flow flow;         // the (inner) packet as it must look here
  // Encapsulated (VXLAN, Geneve): the outer source and destination (the nodes' underlay
  // addresses) and the encapsulation's name, "vxlan" or "geneve".
  std::optional<std::pair<net::Ipv4, net::Ipv4>> outer;
  std::string encap;
  // What explains the next step, for vnet/trace to read from the kernel here: "route" (a route
  // lookup of the packet's destination in netns: the outer one when encapsulated), "bridge" (the
  // bridge forwarded it between ports: its FDB entry), "nat" (the conntrack entry of the flow),
  // "connect4" (the ebpf mode's socket hook), "local" (delivered to this namespace), "fdb" (the
  // VXLAN FDB and neighbour entries), "neigh" (the neighbour entry of the next hop), "pump" (the
  // Geneve pump), "snat" (the egress masquerade's conntrack entry and nft rule), "" nothing to add.
  std::string why;
  // The client's port here was picked by a masquerade with `fully-random` (a NodePort's, as
  // kube-proxy writes it): the filter and the match leave it out (request: the source port,
  // reply: the destination port).
  bool random_port = false;
  // An edge leg's HTTP message (Request::edge): a segment with data (the request, carrying the
  // marker, or the response), not the handshake; upstream, its client port is the edge's (pooled
  // connections), learnt at run time from the copy that carries the marker.
  bool http = false;
  std::string filter;  // libpcap: matches exactly this packet here (empty for no interface)
  bool Sniffed() const { return !ifname.empty(); }
  // Whether `f`, seen here, is this hop's packet (its flow, but for a random port).
  bool Carries(const Flow& f) const;
};

struct Endpoint {
  std::string word;  // as typed: "web-0", "svc/web:80", "10.244.2.3", "node1:30080"
  // "pod", "pod IP", "ClusterIP", "node", "node IP", "NodePort", "world" (DST); "pod", "node",
  // "underlay" (SRC)
  std::string kind;
  std::string pod;     // the pod, when the end is one
  std::string node;    // the node, when the end is one (or a NodePort's)
  std::string object;  // SRC: the object the probe starts in (a pod, a node, underlay, a ToR)
  std::string netns;   // SRC: its namespace, where the probe's socket is opened
  net::Ipv4 ip;        // SRC: the address the probe is sent from (its socket is bound to it)
  uint16_t port = 0;
};

// DST an edge URL, SRC `host` (lib/trace/edge): what the probe asks the edge, and what lib/ingress
// says the edge does with it (the same router the edge runs).
struct EdgeRequest {
  int listener = -1;   // index into ClusterSpec::listeners
  std::string host;    // the Host header: the URL's authority
  std::string target;  // the request target: the URL's path and query
  std::string route;   // lib/ingress's route label; "" for no route
  // The routed backends' Services (several for a weighted split), each a set of branches.
  std::vector<std::string> services;
  // The edge's own answer when it forwards nothing: 404 no route, a redirect, 503 no endpoints.
  int own_status = 0;
  std::string own_reason;
  // The marker the request carries (X-Mkn-Trace: 1 to 32 hex digits, vnet/trace's pick): the
  // upstream request has no handshake of its own on a pooled connection, so its copies are told
  // apart by their payload, which no capture filter can read.
  std::string marker;
};
inline constexpr std::string_view kEdgeMarkerHeader = "X-Mkn-Trace";
// SRC `host`: the namespace trace runs in (the host's, or the sandbox's), where the edge listens.
inline constexpr std::string_view kHostObject = "host";

// A CNI lab's routes are its plugins' (and its node daemons'), so the lab file cannot say how a
// namespace reaches an address there: the kernel of that namespace is asked (vnet/trace does
// `ip route get DST` over netlink) and its answers are part of the request. CniRouteQueries says
// which lookups a request needs, ApplyCniRoutes reads their answers.
struct RouteQuery {
  std::string netns;
  net::Ipv4 dst;
  bool operator==(const RouteQuery&) const = default;
};
struct RouteAnswer {
  RouteQuery query;
  bool ok = false;
  std::string dev;               // the device the route points at
  net::Ipv4 src;                 // the source the kernel picks (RTA_PREFSRC)
  std::optional<net::Ipv4> via;  // the gateway, when the route has one
  std::string error;             // !ok: the kernel's answer ("Network is unreachable")
};

struct Request {
  Endpoint src, dst;
  Proto proto = Proto::kIcmp;
  // The probe's unique mark: the ICMP echo identifier, or the client's source port (TCP/UDP).
  uint16_t id = 0;
  std::string service;              // the Service DST names or whose ClusterIP it is; "" for none
  std::optional<EdgeRequest> edge;  // DST an edge URL
  // A CNI lab (ApplyCniRoutes): the kernel's answers, and the device a node's or the underlay's
  // own probe leaves by (its route to DST), its first hop.
  std::vector<RouteAnswer> routes;
  std::string src_dev;
};

// A namespace sniffed whole (every interface but lo): a CNI lab's, whose interfaces are the
// plugins' to name.
struct Place {
  std::string object, kind, netns;
};

struct Path {
  Request request;
  config::NetworkMode network = config::NetworkMode::kVxlan;
  config::ProxyMode proxy = config::ProxyMode::kUserspace;
  std::vector<std::string> endpoints;  // a Service's endpoint pods: the branches
  std::vector<Hop> hops;               // request then reply, each in order
  // network = "cni": only the two pods' interfaces are predicted (hops); the pods' and their
  // nodes' namespaces are sniffed whole, and ComposeSeen makes the path from what they saw.
  bool cni = false;
  std::vector<Place> sniff_all;
  // A CNI lab's path the built-in rows predict whole (the underlay between nodes, the edge's
  // legs): shown as network cni all the same.
  bool cni_lab = false;
};

// SRC and DST words against the lab (the kinds in the banner; DST[:PORT] gives the port). `proto`
// empty = icmp to a pod or node, the Service port's protocol to a Service or NodePort.
// InvalidArgument for an unknown name (with the nearest), a port missing or given where it cannot
// be (ICMP), ICMP to a Service (Services carry TCP and UDP), a node port that is no NodePort,
// `underlay` to anything but a node or NodePort, `host` to anything but an edge URL
// (ParseEdgeRequest reads those), a source that is its own destination (a pod's packet to itself
// goes over lo, a node's to its own address never leaves it); Unimplemented, saying so, for the
// kinds not traced yet (the world's IPv6 addresses; an https:// edge URL, ParseEdgeRequest).
// A CNI lab's pod addresses are the chain's: the caller fills them in from the running cluster
// (FailedPrecondition for a pod without one); a node's or the underlay's source there is its
// kernel's (CniRouteQueries, ApplyCniRoutes: 0 until then).
absl::StatusOr<Request> ParseRequest(const config::ClusterSpec& spec, std::string_view src,
                                     std::string_view dst, std::string_view proto);

// The address a node's own packets to `dst_pod` (nullptr: to another node) leave with: the
// kernel's preferred source on the device the route points at (ParseRequest's node SRC,
// PredictPath's masqueraded NodePort flows).
net::Ipv4 NodeSourceToward(const config::ClusterSpec& spec, const config::NodeSpec& n,
                           const config::PodSpec* dst_pod);

// The edge leg (lib/trace/edge.cc): `trace host http://HOST[:PORT]/PATH`. The URL against the
// lab's http listeners (HOST an address picks the listener, a name the one on PORT, sent as Host)
// and routes (lib/ingress, as the edge decides). InvalidArgument for a SRC other than `host`, a
// malformed URL, a port no http listener has (with the lab's listeners), a lab without an edge;
// Unimplemented for https (the marker would be inside TLS on the client's leg).
bool IsEdgeUrl(std::string_view dst);
absl::StatusOr<Request> ParseEdgeRequest(const config::ClusterSpec& spec, std::string_view src,
                                         std::string_view url, std::string_view proto);
// The edge leg's hops: the client's HTTP request on the caller's lo, the edge (no interface: its
// route and upstream, from its access log), the upstream request from the listener's node as that
// node's own connection (to the ClusterIP: the rows of a node's connection to a Service, a
// branch per endpoint of each routed Service; or, upstream = "endpoints", straight to each
// endpoint), the response back the same way, the edge relaying it, and the response on lo. Only
// the two lo hops and the edge when it answers itself (404, a redirect, 503).
absl::StatusOr<Path> PredictEdge(const config::ClusterSpec& spec, const Request& r);

// The address a node's own connection to a ClusterIP leaves with: the route to the Service range
// points at cbr0 (nftables and ebpf: cbr0's gateway address, a pod-network source the table does
// not masquerade) or at the proxy TUN (userspace: it has no address, so the kernel takes the
// first global one of the namespace, eth0's underlay address).
net::Ipv4 NodeSourceTowardServices(const config::ClusterSpec& spec, const config::NodeSpec& n);

// The ordered hops of `r` in this lab, request then reply. Unimplemented for a network or proxy
// mode without a row; FailedPrecondition for a Service without endpoints.
absl::StatusOr<Path> PredictPath(const config::ClusterSpec& spec, const Request& r);

// The probe as libpcap matches it at `h`: inner, or inside VXLAN's UDP/4789 or Geneve's UDP/6081
// (libpcap's `geneve` keyword, which skips the options) when h.outer is set.
std::string FilterFor(const Hop& h);

// One filter matching what any of `filters` does, for one packet socket: their hops of one kind
// on different branches are factored (the terms they share once, then the alternatives), which
// libpcap's optimizer compiles in a fraction of the time their plain union takes (superlinear:
// a 120-endpoint Service's 422 hop filters took 3.5 s). "" for none.
std::string UnionFilter(const std::vector<std::string>& filters);

// One line per hop, for goldens and `trace --dry-run`.
std::string RenderPrediction(const Path& p);
// `trace --dry-run -o json`: the same as a JSON object ("dry_run": true, "endpoints", and per hop
// its leg, branch (null: every branch), place, direction, role, the flow expected and its filter).
std::string RenderPredictionJson(const Path& p);

// The route lookup behind a hop's "route" reason, as `ip route get` is asked for this packet here
// (vnet/trace reads it): its destination (the outer one when encapsulated), its protocol and
// ports, and on an "in" hop the device it came in by (`iif`) and its source, which an input lookup
// needs. FIB rules that select on any of them then apply: the userspace proxy's NodePort rule
// (ipproto tcp dport 30000-32767 lookup 100) sends a NodePort into the TUN, which a lookup of the
// node's address alone calls local. IPv4 only, as Flow is.
struct RouteKey {
  net::Ipv4 dst;
  std::optional<net::Ipv4> src;  // set with iif only
  std::string iif;               // "" for an output lookup
  Proto proto = Proto::kIcmp;
  uint16_t sport = 0, dport = 0;  // 0: not asked (ICMP, a masquerade's random pick, unknown)
  bool operator==(const RouteKey&) const = default;
};
RouteKey RouteKeyOf(const Hop& h);
// SRC's own lookup toward DST (the reason when the probe never left): an output lookup with the
// probe's protocol and ports (the source port is its mark, 0 before it is picked).
RouteKey SourceRouteKey(const Request& r);

// PredictPath for network = "cni" (cni.cc): the ends' own interfaces (a pod's, as its node's chain
// names it; a node's or the underlay's, the device its route to DST points at), and through a
// Service the nft translation (a ClusterIP: DNAT in the client's node, in prerouting or, from the
// node's own stack, in output; a NodePort: DNAT and masquerade in DST's node, the masquerade's
// address the one the kernel picks toward each endpoint) and each endpoint's interface a branch;
// Path::sniff_all the ends', the endpoints' and their nodes' namespaces (and the underlay's, or a
// ToR's, when it is an end). PredictPath's codes.
absl::StatusOr<Path> PredictCni(const config::ClusterSpec& spec, const Request& r);

// The route lookups a CNI lab's request needs (see RouteAnswer): from a node's or the underlay's
// own stack, SRC's namespace toward DST; to a NodePort, DST's node toward each endpoint (the
// masquerade's address). Empty outside CNI labs and from a pod.
std::vector<RouteQuery> CniRouteQueries(const config::ClusterSpec& spec, const Request& r);
// The answers onto `r`: a node's or the underlay's probe leaves from the source the kernel picks,
// by the device it routes to. InvalidArgument, with the kernel's answer, when SRC has no route to
// DST (`trace underlay web-1` in a lab whose underlay was given no route to the pods); Internal
// for an answer missing.
absl::Status ApplyCniRoutes(const config::ClusterSpec& spec, Request& r,
                            std::vector<RouteAnswer> answers);

// The roles of the hops where kube-proxy's nftables rules translate a Service (no interface shows
// them: their conntrack entry proves them).
inline constexpr std::string_view kNftDnatRole = "nft DNAT (prerouting)";
inline constexpr std::string_view kNftUnDnatRole = "nft un-DNAT (conntrack)";
inline constexpr std::string_view kNodePortDnatRole = "nft DNAT + masquerade (NodePort)";
// A node's own connection meets the Service table in the nat output hook (kube-proxy's nat-output
// chain), after its route lookup picked its source and before the packet reaches any device; the
// kernel routes the translated packet again. Its reply is un-DNATed on local input.
inline constexpr std::string_view kNftOutputDnatRole = "nft DNAT (output)";
inline constexpr std::string_view kNftOutputUnDnatRole = "nft un-DNAT (conntrack, input)";
inline constexpr std::string_view kNodePortUnDnatRole = "nft un-NAT (conntrack)";
// The roles of the hops where a node masquerades its pod's packet to the world (its `table ip
// mkn-egress`, in postrouting: after the routing decision, before the uplink sends it) and undoes
// it on the world's answer (conntrack, in prerouting: before the node routes it to the pod). No
// interface shows them: the flow's conntrack entry, with its SNAT, proves them.
inline constexpr std::string_view kEgressSnatRole = "nft masquerade (mkn-egress)";
inline constexpr std::string_view kEgressUnSnatRole = "nft un-SNAT (conntrack)";

// A CNI lab's filter: the probe and its reply as the pods send them, or inside any VXLAN or
// Geneve datagram (vnet/trace matches what is inside).
std::string CniFilter(const Path& p);
struct Observation {
  bool seen = false;
  int64_t offset_ns = 0;  // since the probe was sent
  Flow flow;              // the inner packet as captured
  std::optional<std::pair<net::Ipv4, net::Ipv4>> outer;
  std::string why;  // the kernel's reason: a route, an FDB or conntrack entry
  // A reply hop that saw the destination refuse instead of answer: what refused and from where,
  // "RST from 10.244.1.3:9999", "ICMP port unreachable from 10.244.1.3" (vnet/trace writes it from
  // the copy: a TCP RST, or an ICMP destination unreachable whose quoted packet is the probe's).
  // "" for a real answer.
  std::string refused;
  // The ICMP code when the refusal is one (3 port unreachable, 1 host unreachable, ...); -1 a RST.
  int icmp_code = -1;
};

// The probe never left SRC: its send (sendto, or a TCP connect) failed with a routing error the
// kernel gave the socket at once (ENETUNREACH, EHOSTUNREACH: no route; EACCES, EPERM: a rule in
// SRC's output path refused it), so no interface could see it. The packet died in SRC's own
// routing decision: that hop (kSourceRouteRole, no interface) is put first on the path, unseen,
// `why` its reason (the kernel's `ip route get` answer and the send's error), and Judge makes it
// the lost hop: "lost at the source: node1 did not send it: ...".
inline constexpr std::string_view kSourceRouteRole = "routing decision";
void DiedAtSource(Path& p, std::vector<Observation>& seen, std::string_view why);

// The verdict's one word, the same as `check` uses for a refused probe; `-o json`'s "verdict".
//   ok           every hop saw the probe and the answer;
//   refused      every hop saw the probe and the destination's refusal (a TCP RST, an ICMP
//                unreachable): the path works, nothing listens there;
//   lost         a hop that should have seen it did not;
//   no endpoints a Service without endpoints (nothing is sent: cmd/trace says it);
//   error        trace could not run (a usage error, a kind not traced yet, a runtime failure).
inline constexpr std::string_view kVerdictOk = "ok", kVerdictRefused = "refused",
                                  kVerdictLost = "lost", kVerdictNoEndpoints = "no endpoints",
                                  kVerdictError = "error";

struct Verdict {
  bool ok = false;       // the path is whole (true for "refused" too: the packet got there)
  bool refused = false;  // ... and the reply was the destination's refusal
  std::string_view word = kVerdictLost;  // kVerdictOk, kVerdictRefused or kVerdictLost
  int branch = -1;                       // the endpoint the balancer chose; -1 none or no Service
  std::vector<int> hops;   // the hops of the path taken (the common ones and that branch)
  int first_missing = -1;  // index into Path::hops of the first predicted hop not seen
  int last_seen = -1;      // the hop before it that saw the probe; -1 none
  std::string summary;     // one line: "reached web-1:eth0 and back in 1.2 ms" / where it died
};

// A copy of a CNI lab's probe seen somewhere in Path::sniff_all, in the order seen.
struct SeenCopy {
  Place place;
  std::string ifname;
  Direction dir = Direction::kOut;
  Leg leg = Leg::kRequest;
  Observation ob;
  // Through a Service: the endpoint's branch of a copy carrying the translated packet; -1 before
  // the translation (or after it is undone) and without a Service. CniCopyOf says which.
  int branch = -1;
};
// Which leg a packet seen in a CNI lab belongs to, and its branch (SeenCopy::branch), by its
// flow; nullopt for a packet that is not the probe's.
std::optional<std::pair<Leg, int>> CniCopyOf(const Path& p, const Flow& f);
// CNI labs: the path becomes what was seen, per leg in the order seen (each interface and
// direction once), framed by the predicted hops (the source pod's interface first, the
// destination's last), a predicted one that saw nothing kept in its place so Judge names it.
// Through a Service the path is the chosen endpoint's (the branch of the first translated copy;
// the first endpoint when none was seen), the nft DNAT hop placed where the packet changed.
// `seen` is rewritten to match the new hops.
void ComposeSeen(Path& p, const std::vector<SeenCopy>& copies, std::vector<Observation>& seen);

// The edge's access-log line of the request that carried `marker` (vnet/edge writes
// `<time> <client> <host> "<method> <target>" <status> route=R backend=B upstream_ms=N total_ms=N
// trace=<marker>`; upstream_ms -1 when it answered itself). nullopt when `line` is not that line.
struct EdgeLogEntry {
  int status = 0;
  std::string route, backend;  // "-" for none
  int64_t upstream_ms = -1;
};
std::optional<EdgeLogEntry> ParseEdgeLogLine(std::string_view line, std::string_view marker);

// What the edge did, onto the edge hops of `p` (kind "edge"): the request hop seen once its log
// line is there, its reason the route and the backend it picked; an error of its own (a 4xx or 5xx
// with no upstream time) is Observation::refused, "the edge answered 503 itself (<`body`'s first
// line>)", which Judge makes the place the request died; the reply hop seen when the response came
// back from upstream and the client's lo saw it. `log` nullopt: no line for the marker appeared.
void ExplainEdge(const Path& p, const std::optional<EdgeLogEntry>& log, std::string_view body,
                 std::vector<Observation>& seen);

// Compares the prediction with what was seen (`seen[i]` for Path::hops[i]). The branch is the one
// with the most hops seen (ties: the first); the path is whole when every hop of it saw the probe.
// A whole path whose reply hops saw a refusal (Observation::refused) is "refused", named after the
// first reply hop's object: "refused by web-1 (RST from 10.244.1.3:9999): ...". The edge hop of
// an edge leg that answered itself with an error (its Observation::refused: "the edge answered 503
// itself: ...") is where the request died: "lost at the edge: ...", whatever else was seen.
Verdict Judge(const Path& p, const std::vector<Observation>& seen);
// A lost probe whose loss a NetworkPolicy's drop counters account for (`by`: lib/netpol's
// DropVerdict, "dropped by NetworkPolicy x/deny (...)"): the policy, not the last hop's route, is
// the reason. The summary names the policy and where the probe was last seen; the first missing
// hop's WHY says the policy too. Nothing changes for a verdict that is not lost.
void BlamePolicy(const Path& p, std::vector<Observation>& seen, Verdict& v, std::string_view by);

// The trace's output: a table (one line per hop: #, leg, time offset, where, direction, the packet
// as seen there, why) and `-o json`.
std::string RenderTable(const Path& p, const std::vector<Observation>& seen, const Verdict& v);
std::string RenderJson(const Path& p, const std::vector<Observation>& seen, const Verdict& v);
// `-o json` when there is no path to show: {"verdict": VERDICT, "src", "dst", "error": TEXT}.
std::string RenderJsonError(std::string_view src, std::string_view dst, std::string_view verdict,
                            std::string_view text);

}  // namespace mkn::trace
