// lib/control/protocol — the control protocol between a `minikube-net` command and the process that
// runs the cluster: one struct per request verb and one per answer, each with its JSON in one
// place (this file's .cc), so the client (vnet/cluster/control.h's Call) and the server
// (vnet/cluster/control_handler.cc) cannot disagree about a field.
//
// On the wire (vnet/cluster/control: a Unix socket, one JSON object on one line each way):
//
//   request  {"verb": "<verb>", fields...}
//   answer   {"ok": true, fields...}  or  {"ok": false, "code": "NOT_FOUND", "error": "<message>"}
//
//   verb       request fields                   answer
//   services   -                                ServicesAnswer: Services, ports, endpoints,
//                                               counters, each node's proxy counters
//   endpoints  -                                ServicesAnswer (no nftables counters)
//   routes     -                                RoutesAnswer: the edge's listeners, route counters
//   conntrack  node (optional; absent: all)     ConntrackAnswer: the translated flows
//   kill       pod                              KillAnswer: where the pod came back
//   scale      deployment, replicas 0..20000    ScaleAnswer: nothing but ok
//   cni        cni_verb, pod or node (optional) CniAnswer: the chain's outcome and its calls
//   resync     check (bool)                     ResyncAnswer: each node's nftables table against
//                                               a full sync, and whether it was rewritten
//   overlay    -                                OverlayAnswer: each node's Geneve endpoint counters
//   dns        -                                DnsAnswer: the cluster DNS's queries by rcode,
//                                               forwards, truncations, drops by reason
//   netpol     op "apply": file, text, dry_run;   NetpolAnswer: what each policy became, each
//              op "delete": key, dry_run          node's transaction (commands, time)
//
// The JSON of each struct is what the CLI prints for `-o json` (get svc, get proxy, conntrack, get
// routes) and what e2e tests read: changing a key changes the CLI. Objects are written with sorted
// keys.
//
// FromJson<T>() validates every field it reads: its type, its range, and that a required one is
// there. It returns InvalidArgument naming the field ("replicas: want an integer 0..20000, got
// 4294967301"); a request's message starts with its verb. Fields it does not know are ignored (a
// newer peer's extras). Pure: nlohmann-json and Abseil only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/config/spec.h"

namespace mkn::control {

// --- answers ---------------------------------------------------------------------------------

// A service port's counters, summed over nodes. Userspace: the proxy's own (every field);
// nftables: new flows from the counters of the port's service-ips and service-nodeports elements,
// packets, bytes and flows of the connections the kernel still tracks (no drops, no ICMP errors).
struct PortCounters {
  uint64_t packets = 0, bytes = 0, new_flows = 0, flows = 0;
  std::optional<uint64_t> icmp_errors;    // userspace only
  std::map<std::string, uint64_t> drops;  // by reason (lib/nat's names); only reasons that counted
  bool operator==(const PortCounters&) const = default;
};

struct ServicePortInfo {
  std::string name;  // "" when unnamed
  int port = 0;
  std::string protocol;          // "TCP" or "UDP"
  int target_port = 0;           // a number (wire: a JSON number) ...
  std::string target_port_name;  // ... or a container port's name (wire: a JSON string)
  int node_port = 0;             // NodePort; 0 (and absent on the wire) otherwise
  std::optional<PortCounters> counters;
  bool operator==(const ServicePortInfo&) const = default;
};

struct EndpointInfo {
  std::string pod, ip, node;
  bool operator==(const EndpointInfo&) const = default;
};

struct ServiceInfo {
  std::string name, type, cluster_ip;
  std::string algorithm;  // what the proxy serves (nftables: proxy/nft_ruleset's NftAlgorithm)
  std::string session_affinity;  // "None" or "ClientIP"
  int affinity_timeout = 0;      // seconds
  std::vector<ServicePortInfo> ports;
  std::vector<EndpointInfo> endpoints;
  std::string lab_algorithm;  // what the lab asks for, when the proxy mode serves another; else ""
  bool operator==(const ServiceInfo&) const = default;
};

// A node's userspace NAT as a whole (lib/nat's NatCounters and its conntrack table): what no
// service port owns, such as a frame to no service, a fragment before its datagram is whole, a
// flow the table had no room for.
struct NatNodeCounters {
  uint64_t packets = 0, forwarded = 0, replied = 0, dropped = 0;
  std::map<std::string, uint64_t> drops;  // by reason (lib/nat's names); only reasons that counted
  uint64_t fragments_held = 0;            // now, waiting for the rest of their datagram
  uint64_t fragments_reassembled = 0, datagrams_reassembled = 0, fragments_dropped = 0;
  uint64_t conntrack_entries = 0, conntrack_max = 0;
  uint64_t conntrack_evictions = 0;  // unassured flows pushed out of a full table
  uint64_t conntrack_refused = 0;    // new flows refused: the table was full of assured ones
  uint64_t read_errors = 0, write_errors = 0;  // the pump's, on the node's TUN
  // New flows NetworkPolicy denied after translation, by lib/netpol's drop counter name
  // ("drops-ingress/x/a"): added to the kernel's counters of that name by `get netpol` and `trace`.
  std::map<std::string, uint64_t> netpol_drops;
  bool operator==(const NatNodeCounters&) const = default;
};

// The same work where the kernel does it (nftables), as it counts it in the node's netns
// (vnet/kernel/conntrack's KernelCounters, field for field).
struct KernelNodeCounters {
  uint64_t conntrack_entries = 0, conntrack_max = 0;
  uint64_t conntrack_early_drop = 0, conntrack_drop = 0, conntrack_insert_failed = 0;
  uint64_t ip_reasm_reqds = 0, ip_reasm_oks = 0, ip_reasm_fails = 0, ip_in_discards = 0;
  bool operator==(const KernelNodeCounters&) const = default;
};

// One node's proxy: the NAT's counters (userspace) or the kernel's (nftables).
struct NodeProxyStats {
  std::string node;
  std::optional<NatNodeCounters> nat;
  std::optional<KernelNodeCounters> kernel;
  bool operator==(const NodeProxyStats&) const = default;
};

struct ServicesAnswer {
  std::string proxy_mode;  // "userspace" or "nftables"
  std::vector<ServiceInfo> services;
  // Wire: "nodes" (read as empty when a peer leaves it out) and "proxy_error" (only when set).
  // Userspace: every node, for services and endpoints alike; nftables: `services` only, as it is
  // read with the rules' counters in each node.
  std::vector<NodeProxyStats> nodes;
  std::string proxy_error;  // why the userspace proxy's pump stopped: Services are dead
  bool operator==(const ServicesAnswer&) const = default;
};

struct RouteStats {
  // "ingress/<name>/<host>/<path>", "http_route/<name>/<rule>", "default", "-" (no route took it)
  std::string route;
  uint64_t requests = 0;
  std::array<uint64_t, 5> by_class{};  // answers by status class: [0] 1xx ... [4] 5xx
  uint64_t bytes_in = 0, bytes_out = 0;
  bool operator==(const RouteStats&) const = default;
};

// A listener's connections, as the edge's accept loop counts them (vnet/edge/ingress.h).
struct ListenerStats {
  std::string listener;  // "http 127.0.0.1:8080", as in `listeners`
  int max_connections = 0;
  uint64_t connections = 0;    // open now
  uint64_t accepted = 0;       // since the start
  uint64_t refused = 0;        // over max_connections: closed at once
  uint64_t accept_errors = 0;  // accept(2) failures (out of fds, ...), each followed by a pause
  bool operator==(const ListenerStats&) const = default;
};

struct RoutesAnswer {
  std::vector<std::string> listeners;  // "http 127.0.0.1:8080"
  std::vector<RouteStats> routes;
  // Wire: "listener_stats" and "exceptions", read as empty and 0 when a peer leaves them out.
  std::vector<ListenerStats> listener_stats;
  uint64_t exceptions = 0;  // the edge's coroutines ended by an exception (logged in its log)
  bool operator==(const RoutesAnswer&) const = default;
};

// One translated flow, as the client sent it and as the endpoint answers.
struct FlowInfo {
  std::string node;
  std::string protocol;  // "TCP" or "UDP"
  std::string state;     // conntrack's ("ESTABLISHED", ...), "-" when it has none
  std::string service;   // "10.96.0.10:80/TCP"
  std::string original;  // "10.244.0.2:41506 -> 10.96.0.10:80"
  std::string reply;     // "10.244.1.2:8080 -> 10.244.0.2:41506"
  std::string endpoint;  // the pod that answers, "" if none is known
  int64_t expires_in_ms = 0;
  uint64_t packets = 0, bytes = 0;
  bool operator==(const FlowInfo&) const = default;
};

struct ConntrackAnswer {
  std::vector<FlowInfo> flows;
  bool operator==(const ConntrackAnswer&) const = default;
};

struct KillAnswer {
  std::string pod, ip, node;  // the pod as it came back
  int64_t ms = 0;             // how long the kill took
  bool operator==(const KillAnswer&) const = default;
};

struct ScaleAnswer {
  bool operator==(const ScaleAnswer&) const = default;
};

// `apply` / `delete netpol`: each policy named with what became of it ("created", "configured",
// "unchanged", "deleted"), the file's warnings (file:line:col lines), and each node whose table
// changed: the commands of its transaction and how long nft took. `us`: from the request's start
// to the last node's commit; when the answer leaves, every node enforces the change.
struct PolicyChange {
  std::string key, result;
  bool operator==(const PolicyChange&) const = default;
};
struct NodeTransaction {
  std::string node;
  uint64_t commands = 0;
  uint64_t us = 0;  // nft's run of the transaction, microseconds
  bool operator==(const NodeTransaction&) const = default;
};
struct NetpolAnswer {
  std::vector<PolicyChange> changes;
  std::vector<NodeTransaction> nodes;
  std::string warnings;
  bool dry_run = false;
  uint64_t us = 0;  // microseconds
  bool operator==(const NetpolAnswer&) const = default;
};

// A node's nftables table against what a full sync of the spec writes: the lines only the node
// has ("- ...") and the lines it lacks ("+ ..."), as lib/proxy/nft_listing's NftListingDiff names
// them; none when it is in sync. `rewritten`: the full sync was written (resync without check).
struct NodeResync {
  std::string node;
  std::vector<std::string> differences;
  bool rewritten = false;
  bool operator==(const NodeResync&) const = default;
};

struct ResyncAnswer {
  std::vector<NodeResync> nodes;
  bool operator==(const ResyncAnswer&) const = default;
};

// What a CNI verb's chain did. The request was served (ok) even when the chain failed: chain_ok
// and chain_error say how the chain ended, calls shows every plugin call either way.
struct CniAnswer {
  bool chain_ok = false;
  std::string chain_error;
  nlohmann::json result;  // ADD: the final result; otherwise null
  std::string calls;      // vnet/cni's FormatCalls text (`--show-exec`)
  uint64_t ncalls = 0;
  std::string node;                                   // whose chain ran
  std::string negotiated;                             // the chain's CNI version
  nlohmann::json plugins = nlohmann::json::object();  // VERSION: each plugin's answer by type
  bool operator==(const CniAnswer&) const = default;
};

// One node's Geneve endpoint as its pump counts (vnet/geneve/pump.h's GeneveNodeStats).
struct OverlayNodeInfo {
  std::string node, device, local;  // "node1", "gnv0", "172.18.0.2:6081"
  int vni = 0;
  uint64_t tx_frames = 0, tx_super_frames = 0, tx_datagrams = 0, tx_sends = 0, tx_bytes = 0;
  uint64_t rx_datagrams = 0, rx_frames = 0, rx_joined = 0, rx_bytes = 0;
  std::map<std::string, uint64_t>
      drops;  // by reason (lib/geneve's names); only reasons that counted
  uint64_t read_errors = 0, write_errors = 0;
  bool operator==(const OverlayNodeInfo&) const = default;
};

// network = "geneve": every node's endpoint. Other networks are the kernel's to carry: `nodes` is
// empty and `note` says where their counters are.
struct OverlayAnswer {
  std::string network;  // "geneve", "vxlan", "host-gw"
  std::string note;
  std::string pump_error;  // why the pump stopped on its own; "" while it runs
  std::vector<OverlayNodeInfo> nodes;
  bool operator==(const OverlayAnswer&) const = default;
};

// The cluster DNS (kube-system/coredns) as its server counts (lib/dns's Counters): every query it
// read, the answers by rcode ("NOERROR", "BADVERS", ...), the queries relayed to a forwarder, the
// answers sent truncated, the queries dropped by reason (lib/dns's names: short, response,
// malformed, not_one_question), and DNS over TCP's connection bounds. `served` false: the lab has
// no cluster DNS ([cluster] dns = false, a CNI lab), every count 0.
struct DnsAnswer {
  bool served = false;
  uint64_t queries = 0, forwarded = 0, truncated = 0;
  std::map<std::string, uint64_t> rcodes;  // every rcode the resolver gives, 0 included
  std::map<std::string, uint64_t> drops;   // every reason, 0 included
  uint64_t tcp_evicted = 0, tcp_refused = 0;
  bool operator==(const DnsAnswer&) const = default;
};

// {"ok": false, ...}: a refused or failed request, as the Status the cluster returned.
struct ErrorAnswer {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;
  bool operator==(const ErrorAnswer&) const = default;

  static ErrorAnswer FromStatus(const absl::Status& s);
  absl::Status ToStatus() const;
};

// --- requests --------------------------------------------------------------------------------
// Each names its verb and the answer it gets (vnet/cluster/control.h's Call<Request>).

struct ServicesRequest {
  static constexpr std::string_view kVerb = "services";
  using Answer = ServicesAnswer;
  bool operator==(const ServicesRequest&) const = default;
};

struct EndpointsRequest {
  static constexpr std::string_view kVerb = "endpoints";
  using Answer = ServicesAnswer;
  bool operator==(const EndpointsRequest&) const = default;
};

struct RoutesRequest {
  static constexpr std::string_view kVerb = "routes";
  using Answer = RoutesAnswer;
  bool operator==(const RoutesRequest&) const = default;
};

struct ConntrackRequest {
  static constexpr std::string_view kVerb = "conntrack";
  using Answer = ConntrackAnswer;
  std::string node;  // "" for every node
  bool operator==(const ConntrackRequest&) const = default;
};

struct KillRequest {
  static constexpr std::string_view kVerb = "kill";
  using Answer = KillAnswer;
  std::string pod;
  bool operator==(const KillRequest&) const = default;
};

struct ScaleRequest {
  static constexpr std::string_view kVerb = "scale";
  using Answer = ScaleAnswer;
  std::string deployment;
  int replicas = 0;  // 0..config::kMaxPods: a number past it is refused before the cluster sees it
  bool operator==(const ScaleRequest&) const = default;
};

struct CniRequest {
  static constexpr std::string_view kVerb = "cni";
  using Answer = CniAnswer;
  std::string verb;  // wire "cni_verb": add, check, del (need pod), status, gc, version
  std::string pod;   // add/check/del: the pod; status/gc/version: that pod's node
  std::string node;  // status/gc/version: this node ("" and no pod: the first)
  bool operator==(const CniRequest&) const = default;
};

// proxy_mode = "nftables": compare every node's table with a full sync of the spec; unless `check`,
// then write the full sync (one transaction per node).
struct ResyncRequest {
  static constexpr std::string_view kVerb = "resync";
  using Answer = ResyncAnswer;
  bool check = false;
  bool operator==(const ResyncRequest&) const = default;
};

// A NetworkPolicy change on the running cluster: "apply" the [[network_policy]] tables of a file
// (`text`, named `file` in its diagnostics), or "delete" the policy `key` ("<ns>/<name>", or the
// name in "default"). `dry_run`: checked and answered, nothing changed.
struct NetpolRequest {
  static constexpr std::string_view kVerb = "netpol";
  using Answer = NetpolAnswer;
  std::string op;  // "apply" or "delete"
  std::string file, text, key;
  bool dry_run = false;
  bool operator==(const NetpolRequest&) const = default;
};

struct OverlayRequest {
  static constexpr std::string_view kVerb = "overlay";
  using Answer = OverlayAnswer;
  bool operator==(const OverlayRequest&) const = default;
};

struct DnsRequest {
  static constexpr std::string_view kVerb = "dns";
  using Answer = DnsAnswer;
  bool operator==(const DnsRequest&) const = default;
};

using Request = std::variant<ServicesRequest, EndpointsRequest, RoutesRequest, ConntrackRequest,
                             KillRequest, ScaleRequest, CniRequest, ResyncRequest, OverlayRequest,
                             NetpolRequest, DnsRequest>;

// --- JSON ------------------------------------------------------------------------------------

// A request with its "verb"; an answer with "ok": true (ErrorAnswer: "ok": false).
nlohmann::json ToJson(const ServicesRequest& r);
nlohmann::json ToJson(const EndpointsRequest& r);
nlohmann::json ToJson(const RoutesRequest& r);
nlohmann::json ToJson(const ConntrackRequest& r);
nlohmann::json ToJson(const KillRequest& r);
nlohmann::json ToJson(const ScaleRequest& r);
nlohmann::json ToJson(const CniRequest& r);
nlohmann::json ToJson(const ResyncRequest& r);
nlohmann::json ToJson(const OverlayRequest& r);
nlohmann::json ToJson(const NetpolRequest& r);
nlohmann::json ToJson(const DnsRequest& r);
nlohmann::json ToJson(const Request& r);
nlohmann::json ToJson(const ServicesAnswer& a);
nlohmann::json ToJson(const RoutesAnswer& a);
nlohmann::json ToJson(const ConntrackAnswer& a);
nlohmann::json ToJson(const KillAnswer& a);
nlohmann::json ToJson(const ScaleAnswer& a);
nlohmann::json ToJson(const CniAnswer& a);
nlohmann::json ToJson(const ResyncAnswer& a);
nlohmann::json ToJson(const OverlayAnswer& a);
nlohmann::json ToJson(const NetpolAnswer& a);
nlohmann::json ToJson(const DnsAnswer& a);
nlohmann::json ToJson(const ErrorAnswer& a);
// The pieces `-o json` prints on their own.
nlohmann::json ToJson(const ServiceInfo& s);
nlohmann::json ToJson(const NodeProxyStats& n);
nlohmann::json ToJson(const FlowInfo& f);

// One line of wire text; bytes that are not UTF-8 (a pod name typed wrong) become U+FFFD instead of
// an exception.
std::string Encode(const nlohmann::json& j);

// Reads one struct from its JSON (the request's verb and the answer's "ok" are not checked here:
// see ParseRequest and ParseAnswer). InvalidArgument naming the field that is missing, of the
// wrong type or out of range. Specialized for every request and answer type above.
template <typename T>
absl::StatusOr<T> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ServicesRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<EndpointsRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<RoutesRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ConntrackRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<KillRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ScaleRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<CniRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ResyncRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<OverlayRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<NetpolRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<DnsRequest> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ServicesAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<RoutesAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ConntrackAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<KillAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ScaleAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<CniAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ResyncAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<OverlayAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<NetpolAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<DnsAnswer> FromJson(const nlohmann::json& j);
template <>
absl::StatusOr<ErrorAnswer> FromJson(const nlohmann::json& j);

// A request line: InvalidArgument if it is not a JSON object with a string "verb", if the verb is
// unknown ("unknown verb \"x\""), or if a field is wrong (FromJson).
absl::StatusOr<Request> ParseRequest(std::string_view text);

namespace internal {
// The object of an {"ok": true} answer; the Status an {"ok": false} answer carries; Unavailable
// "<from>'s process ended before it answered" for an empty text; DataLoss if the text is neither
// (Malformed's, with `from`).
absl::StatusOr<nlohmann::json> OpenAnswer(std::string_view text, std::string_view from);
// DataLoss "malformed answer: <why>", or "<from> gave a malformed answer: <why>": an answer that
// does not read is the cluster's fault, never the caller's bad input.
absl::Status Malformed(const absl::Status& why, std::string_view from);
}  // namespace internal

// An answer line: the T of {"ok": true, ...}; the Status the cluster sent with {"ok": false, ...}
// (its code and message as sent, untouched: NotFound, InvalidArgument, FailedPrecondition, even
// DataLoss); Unavailable for an empty text (the peer ended); DataLoss "[<from> gave a ]malformed
// answer: ..." if the text is not an answer or a
// field of T is wrong. `from` names the peer only in that message, so that a caller never has to
// tell the two DataLoss apart after the fact.
template <typename T>
absl::StatusOr<T> ParseAnswer(std::string_view text, std::string_view from = {}) {
  absl::StatusOr<nlohmann::json> j = internal::OpenAnswer(text, from);
  if (!j.ok()) return j.status();
  absl::StatusOr<T> a = FromJson<T>(*j);
  if (!a.ok()) return internal::Malformed(a.status(), from);
  return a;
}

// --- answers computed from the spec ----------------------------------------------------------

// The Services of `spec` as `services`/`endpoints` answer them, without counters (the running
// cluster adds those: the proxy's, or nftables' and conntrack's). Each service's algorithm is the
// one its proxy mode serves, with the lab's in lab_algorithm when they differ.
ServicesAnswer ServicesFromSpec(const config::ClusterSpec& spec);

}  // namespace mkn::control
