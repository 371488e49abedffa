// lib/control/protocol — the JSON of every request and answer (protocol.h says what each is).
// Every answer's fields are read and written here, in one place, so the client and the server
// cannot disagree about one; the requests' are requests.cc's, how a field is read (the Reader)
// json_reader.h's.
#include "lib/control/protocol.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "lib/cni/invoke.h"
#include "lib/cni/json_text.h"
#include "lib/control/json_reader.h"
#include "lib/proxy/nft_ruleset.h"
#include "lib/strings/str_cat.h"

namespace mkn::control {
namespace {

using json = nlohmann::json;
using cni::JoinPath;
using internal::Done;
using internal::Got;
using internal::Reader;
using internal::ReadObjects;
using internal::ReadStrings;

constexpr int64_t kMaxPort = 65535;
constexpr int64_t kMaxAffinityTimeout = 86400;  // seconds, as the lab file allows
// Status class keys of a route's counters, in RouteStats::by_class order.
constexpr std::string_view kClassKeys[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

json Answer() { return json{{"ok", true}}; }

// --- services --------------------------------------------------------------------------------

json CountersJson(const PortCounters& c) {
  json j = {{"packets", c.packets},
            {"bytes", c.bytes},
            {"new_flows", c.new_flows},
            {"flows", c.flows},
            {"drops", json::object()}};
  if (c.icmp_errors) j["icmp_errors"] = *c.icmp_errors;
  for (const auto& [reason, n] : c.drops) j["drops"][reason] = n;
  return j;
}

// "drops": {"<reason>": count, ...} (or another key of that shape: "netpol_drops")
std::map<std::string, uint64_t> ReadDrops(Reader& r, std::string_view key = "drops") {
  std::map<std::string, uint64_t> out;
  if (const json* drops = r.Object(key)) {
    for (const auto& [reason, n] : drops->items()) {
      if (!n.is_number_unsigned()) {
        r.Fail(JoinPath(r.Path(key), reason),
               StrCat("want a count (an integer >= 0), got ", Got(n)));
        break;
      }
      out[reason] = n.get<uint64_t>();
    }
  }
  return out;
}

PortCounters ReadCounters(Reader& r) {
  PortCounters c;
  c.packets = r.Count("packets");
  c.bytes = r.Count("bytes");
  c.new_flows = r.Count("new_flows");
  c.flows = r.Count("flows");
  c.icmp_errors = r.OptCount("icmp_errors");
  c.drops = ReadDrops(r);
  return c;
}

// A node's counters: each struct's fields under the names below, in one table per struct so that
// writing and reading cannot disagree.
template <typename T>
struct CountField {
  std::string_view key;
  uint64_t T::*field;
};
constexpr CountField<NatNodeCounters> kNatFields[] = {
    {"packets", &NatNodeCounters::packets},
    {"forwarded", &NatNodeCounters::forwarded},
    {"replied", &NatNodeCounters::replied},
    {"dropped", &NatNodeCounters::dropped},
    {"fragments_held", &NatNodeCounters::fragments_held},
    {"fragments_reassembled", &NatNodeCounters::fragments_reassembled},
    {"datagrams_reassembled", &NatNodeCounters::datagrams_reassembled},
    {"fragments_dropped", &NatNodeCounters::fragments_dropped},
    {"conntrack_entries", &NatNodeCounters::conntrack_entries},
    {"conntrack_max", &NatNodeCounters::conntrack_max},
    {"conntrack_evictions", &NatNodeCounters::conntrack_evictions},
    {"conntrack_refused", &NatNodeCounters::conntrack_refused},
    {"read_errors", &NatNodeCounters::read_errors},
    {"write_errors", &NatNodeCounters::write_errors},
};
constexpr CountField<KernelNodeCounters> kKernelFields[] = {
    {"conntrack_entries", &KernelNodeCounters::conntrack_entries},
    {"conntrack_max", &KernelNodeCounters::conntrack_max},
    {"conntrack_early_drop", &KernelNodeCounters::conntrack_early_drop},
    {"conntrack_drop", &KernelNodeCounters::conntrack_drop},
    {"conntrack_insert_failed", &KernelNodeCounters::conntrack_insert_failed},
    {"ip_reasm_reqds", &KernelNodeCounters::ip_reasm_reqds},
    {"ip_reasm_oks", &KernelNodeCounters::ip_reasm_oks},
    {"ip_reasm_fails", &KernelNodeCounters::ip_reasm_fails},
    {"ip_in_discards", &KernelNodeCounters::ip_in_discards},
};

template <typename T, size_t N>
json FieldsJson(const T& c, const CountField<T> (&fields)[N]) {
  json j = json::object();
  for (const CountField<T>& f : fields) j[std::string(f.key)] = c.*f.field;
  return j;
}

template <typename T, size_t N>
T ReadFields(Reader& r, const CountField<T> (&fields)[N]) {
  T c;
  for (const CountField<T>& f : fields) c.*f.field = r.Count(f.key);
  return c;
}

NodeProxyStats ReadNode(Reader& r) {
  NodeProxyStats n;
  n.node = r.Str("node");
  if (r.Has("nat")) {
    if (const json* nat = r.Object("nat")) {
      Reader c(*nat, r.Path("nat"));
      n.nat = ReadFields(c, kNatFields);
      n.nat->drops = ReadDrops(c);
      // Absent from a peer older than NetworkPolicy in the userspace proxy: none.
      if (c.Has("netpol_drops")) n.nat->netpol_drops = ReadDrops(c, "netpol_drops");
      r.Take(c.status());
    }
  }
  if (r.Has("kernel")) {
    if (const json* kernel = r.Object("kernel")) {
      Reader c(*kernel, r.Path("kernel"));
      n.kernel = ReadFields(c, kKernelFields);
      r.Take(c.status());
    }
  }
  return n;
}

json PortJson(const ServicePortInfo& p) {
  json j = {
      {"name", p.name},
      {"port", p.port},
      {"protocol", p.protocol},
      {"target_port", p.target_port_name.empty() ? json(p.target_port) : json(p.target_port_name)}};
  if (p.node_port != 0) j["node_port"] = p.node_port;
  if (p.counters) j["counters"] = CountersJson(*p.counters);
  return j;
}

ServicePortInfo ReadPort(Reader& r) {
  ServicePortInfo p;
  p.name = r.Str("name");
  p.port = static_cast<int>(r.Int("port", 1, kMaxPort));
  p.protocol = r.Str("protocol");
  if (const json* t = r.Any("target_port"); t != nullptr && t->is_string()) {
    p.target_port_name = t->get<std::string>();
  } else if (t != nullptr) {
    p.target_port = static_cast<int>(r.Int("target_port", 1, kMaxPort));
  }
  p.node_port = static_cast<int>(r.OptInt("node_port", 1, kMaxPort).value_or(0));
  if (r.Has("counters")) {
    if (const json* counters = r.Object("counters")) {
      Reader c(*counters, r.Path("counters"));
      p.counters = ReadCounters(c);
      r.Take(c.status());
    }
  }
  return p;
}

ServiceInfo ReadService(Reader& r) {
  ServiceInfo s;
  s.name = r.Str("name");
  s.type = r.Str("type");
  s.cluster_ip = r.Str("cluster_ip");
  s.algorithm = r.Str("algorithm");
  s.lab_algorithm = r.OptStr("lab_algorithm");
  s.session_affinity = r.Str("session_affinity");
  s.affinity_timeout = static_cast<int>(r.Int("affinity_timeout", 0, kMaxAffinityTimeout));
  s.ports = ReadObjects<ServicePortInfo>(r, r.Array("ports"), r.Path("ports"), ReadPort);
  s.endpoints =
      ReadObjects<EndpointInfo>(r, r.Array("endpoints"), r.Path("endpoints"), [](Reader& e) {
        EndpointInfo info;
        info.pod = e.Str("pod");
        info.ip = e.Str("ip");
        info.node = e.Str("node");
        return info;
      });
  return s;
}

}  // namespace

// --- errors ----------------------------------------------------------------------------------

ErrorAnswer ErrorAnswer::FromStatus(const absl::Status& s) {
  return ErrorAnswer{s.code(), std::string(s.message())};
}

absl::Status ErrorAnswer::ToStatus() const {
  // An error answer is never OK: a peer that says so anyway gets kUnknown.
  return absl::Status(code == absl::StatusCode::kOk ? absl::StatusCode::kUnknown : code, message);
}

json ToJson(const ErrorAnswer& a) {
  return json{{"ok", false}, {"code", absl::StatusCodeToString(a.code)}, {"error", a.message}};
}

template <>
absl::StatusOr<ErrorAnswer> FromJson(const json& j) {
  Reader r(j, "");
  ErrorAnswer a;
  const std::string code = r.Str("code");
  a.message = r.Str("error");
  // A code this build does not know (a newer peer's) is kUnknown: still a failure, exit 1.
  for (int c = 1; c <= static_cast<int>(absl::StatusCode::kUnauthenticated); ++c) {
    if (absl::StatusCodeToString(static_cast<absl::StatusCode>(c)) == code)
      a.code = static_cast<absl::StatusCode>(c);
  }
  return Done(r, std::move(a));
}

// --- answers ---------------------------------------------------------------------------------

json ToJson(const ServiceInfo& s) {
  json ports = json::array(), eps = json::array();
  for (const ServicePortInfo& p : s.ports) ports.push_back(PortJson(p));
  for (const EndpointInfo& e : s.endpoints)
    eps.push_back({{"pod", e.pod}, {"ip", e.ip}, {"node", e.node}});
  json j{{"name", s.name},
         {"type", s.type},
         {"cluster_ip", s.cluster_ip},
         {"algorithm", s.algorithm},
         {"session_affinity", s.session_affinity},
         {"affinity_timeout", s.affinity_timeout},
         {"ports", ports},
         {"endpoints", eps}};
  if (!s.lab_algorithm.empty()) j["lab_algorithm"] = s.lab_algorithm;
  return j;
}

json ToJson(const NodeProxyStats& n) {
  json j = {{"node", n.node}};
  if (n.nat) {
    j["nat"] = FieldsJson(*n.nat, kNatFields);
    j["nat"]["drops"] = n.nat->drops;
    j["nat"]["netpol_drops"] = n.nat->netpol_drops;
  }
  if (n.kernel) j["kernel"] = FieldsJson(*n.kernel, kKernelFields);
  return j;
}

json ToJson(const ServicesAnswer& a) {
  json j = Answer();
  j["proxy_mode"] = a.proxy_mode;
  j["services"] = json::array();
  for (const ServiceInfo& s : a.services) j["services"].push_back(ToJson(s));
  j["nodes"] = json::array();
  for (const NodeProxyStats& n : a.nodes) j["nodes"].push_back(ToJson(n));
  if (!a.proxy_error.empty()) j["proxy_error"] = a.proxy_error;
  return j;
}

template <>
absl::StatusOr<ServicesAnswer> FromJson(const json& j) {
  Reader r(j, "");
  ServicesAnswer a;
  a.proxy_mode = r.Str("proxy_mode");
  a.services = ReadObjects<ServiceInfo>(r, r.Array("services"), "services", ReadService);
  // A peer from before the node counters sends neither: none, not an error.
  if (r.Has("nodes")) a.nodes = ReadObjects<NodeProxyStats>(r, r.Array("nodes"), "nodes", ReadNode);
  a.proxy_error = r.OptStr("proxy_error");
  return Done(r, std::move(a));
}

json ToJson(const RoutesAnswer& a) {
  json j = Answer();
  j["listeners"] = a.listeners;
  j["routes"] = json::array();
  for (const RouteStats& s : a.routes) {
    json route = {{"route", s.route},
                  {"requests", s.requests},
                  {"bytes_in", s.bytes_in},
                  {"bytes_out", s.bytes_out}};
    for (size_t c = 0; c < s.by_class.size(); ++c)
      route[std::string(kClassKeys[c])] = s.by_class[c];
    j["routes"].push_back(std::move(route));
  }
  j["listener_stats"] = json::array();
  for (const ListenerStats& l : a.listener_stats) {
    j["listener_stats"].push_back({{"listener", l.listener},
                                   {"max_connections", l.max_connections},
                                   {"connections", l.connections},
                                   {"accepted", l.accepted},
                                   {"refused", l.refused},
                                   {"accept_errors", l.accept_errors}});
  }
  j["exceptions"] = a.exceptions;
  return j;
}

template <>
absl::StatusOr<RoutesAnswer> FromJson(const json& j) {
  Reader r(j, "");
  RoutesAnswer a;
  a.listeners = ReadStrings(r, r.Array("listeners"), "listeners");
  a.routes = ReadObjects<RouteStats>(r, r.Array("routes"), "routes", [](Reader& s) {
    RouteStats route;
    route.route = s.Str("route");
    route.requests = s.Count("requests");
    for (size_t c = 0; c < route.by_class.size(); ++c) route.by_class[c] = s.Count(kClassKeys[c]);
    route.bytes_in = s.Count("bytes_in");
    route.bytes_out = s.Count("bytes_out");
    return route;
  });
  if (r.Has("listener_stats")) {
    a.listener_stats =
        ReadObjects<ListenerStats>(r, r.Array("listener_stats"), "listener_stats", [](Reader& s) {
          ListenerStats l;
          l.listener = s.Str("listener");
          l.max_connections = static_cast<int>(s.Int("max_connections", 0, 1 << 30));
          l.connections = s.Count("connections");
          l.accepted = s.Count("accepted");
          l.refused = s.Count("refused");
          l.accept_errors = s.Count("accept_errors");
          return l;
        });
  }
  a.exceptions = r.OptCount("exceptions").value_or(0);
  return Done(r, std::move(a));
}

json ToJson(const OverlayAnswer& a) {
  json j = Answer();
  j["network"] = a.network;
  j["note"] = a.note;
  j["pump_error"] = a.pump_error;
  j["nodes"] = json::array();
  for (const OverlayNodeInfo& n : a.nodes) {
    json drops = json::object();
    for (const auto& [reason, count] : n.drops) drops[reason] = count;
    j["nodes"].push_back({{"node", n.node},
                          {"device", n.device},
                          {"local", n.local},
                          {"vni", n.vni},
                          {"tx_frames", n.tx_frames},
                          {"tx_super_frames", n.tx_super_frames},
                          {"tx_datagrams", n.tx_datagrams},
                          {"tx_sends", n.tx_sends},
                          {"tx_bytes", n.tx_bytes},
                          {"rx_datagrams", n.rx_datagrams},
                          {"rx_frames", n.rx_frames},
                          {"rx_joined", n.rx_joined},
                          {"rx_bytes", n.rx_bytes},
                          {"drops", drops},
                          {"read_errors", n.read_errors},
                          {"write_errors", n.write_errors}});
  }
  return j;
}

template <>
absl::StatusOr<OverlayAnswer> FromJson(const json& j) {
  Reader r(j, "");
  OverlayAnswer a;
  a.network = r.Str("network");
  a.note = r.Str("note");
  a.pump_error = r.Str("pump_error");
  a.nodes = ReadObjects<OverlayNodeInfo>(r, r.Array("nodes"), "nodes", [](Reader& s) {
    OverlayNodeInfo n;
    n.node = s.Str("node");
    n.device = s.Str("device");
    n.local = s.Str("local");
    n.vni = static_cast<int>(s.Int("vni", 0, 0xffffff));
    n.tx_frames = s.Count("tx_frames");
    n.tx_super_frames = s.Count("tx_super_frames");
    n.tx_datagrams = s.Count("tx_datagrams");
    n.tx_sends = s.Count("tx_sends");
    n.tx_bytes = s.Count("tx_bytes");
    n.rx_datagrams = s.Count("rx_datagrams");
    n.rx_frames = s.Count("rx_frames");
    n.rx_joined = s.Count("rx_joined");
    n.rx_bytes = s.Count("rx_bytes");
    if (const json* d = s.Object("drops")) {
      for (const auto& [reason, v] : d->items()) {
        if (!v.is_number_unsigned()) {
          s.Fail(s.Path(StrCat("drops.", reason)), StrCat("want a count, got ", Got(v)));
          break;
        }
        n.drops[reason] = v.get<uint64_t>();
      }
    }
    n.read_errors = s.Count("read_errors");
    n.write_errors = s.Count("write_errors");
    return n;
  });
  return Done(r, std::move(a));
}

json ToJson(const FlowInfo& f) {
  return json{{"node", f.node},         {"protocol", f.protocol},           {"state", f.state},
              {"service", f.service},   {"original", f.original},           {"reply", f.reply},
              {"endpoint", f.endpoint}, {"expires_in_ms", f.expires_in_ms}, {"packets", f.packets},
              {"bytes", f.bytes}};
}

json ToJson(const ConntrackAnswer& a) {
  json j = Answer();
  j["flows"] = json::array();
  for (const FlowInfo& f : a.flows) j["flows"].push_back(ToJson(f));
  return j;
}

template <>
absl::StatusOr<ConntrackAnswer> FromJson(const json& j) {
  Reader r(j, "");
  ConntrackAnswer a;
  a.flows = ReadObjects<FlowInfo>(r, r.Array("flows"), "flows", [](Reader& f) {
    FlowInfo flow;
    flow.node = f.Str("node");
    flow.protocol = f.Str("protocol");
    flow.state = f.Str("state");
    flow.service = f.Str("service");
    flow.original = f.Str("original");
    flow.reply = f.Str("reply");
    flow.endpoint = f.Str("endpoint");
    // A flow past its timeout that the kernel has not reaped yet shows a small negative number.
    flow.expires_in_ms = f.Int("expires_in_ms", INT64_MIN, INT64_MAX);
    flow.packets = f.Count("packets");
    flow.bytes = f.Count("bytes");
    return flow;
  });
  return Done(r, std::move(a));
}

json ToJson(const KillAnswer& a) {
  json j = Answer();
  j["pod"] = a.pod;
  j["ip"] = a.ip;
  j["node"] = a.node;
  j["ms"] = a.ms;
  return j;
}

template <>
absl::StatusOr<KillAnswer> FromJson(const json& j) {
  Reader r(j, "");
  KillAnswer a;
  a.pod = r.Str("pod");
  a.ip = r.Str("ip");
  a.node = r.Str("node");
  a.ms = r.Int("ms", 0, INT64_MAX);
  return Done(r, std::move(a));
}

json ToJson(const ScaleAnswer&) { return Answer(); }

template <>
absl::StatusOr<ScaleAnswer> FromJson(const json& j) {
  return Done(Reader(j, ""), ScaleAnswer{});
}

json ToJson(const CniAnswer& a) {
  json j = Answer();
  j["chain_ok"] = a.chain_ok;
  j["chain_error"] = a.chain_error;
  j["result"] = a.result;
  j["calls"] = a.calls;
  j["ncalls"] = a.ncalls;
  j["node"] = a.node;
  j["negotiated"] = a.negotiated;
  j["plugins"] = a.plugins;
  return j;
}

template <>
absl::StatusOr<CniAnswer> FromJson(const json& j) {
  Reader r(j, "");
  CniAnswer a;
  a.chain_ok = r.Bool("chain_ok");
  a.chain_error = r.Str("chain_error");
  if (const json* result = r.Any("result")) a.result = *result;
  a.calls = r.Str("calls");
  a.ncalls = r.Count("ncalls");
  a.node = r.Str("node");
  a.negotiated = r.Str("negotiated");
  if (const json* plugins = r.Object("plugins")) a.plugins = *plugins;
  return Done(r, std::move(a));
}

json ToJson(const NetpolAnswer& a) {
  json j = Answer();
  j["changes"] = json::array();
  for (const PolicyChange& c : a.changes)
    j["changes"].push_back({{"key", c.key}, {"result", c.result}});
  j["nodes"] = json::array();
  for (const NodeTransaction& n : a.nodes)
    j["nodes"].push_back({{"node", n.node}, {"commands", n.commands}, {"us", n.us}});
  j["warnings"] = a.warnings;
  j["dry_run"] = a.dry_run;
  j["us"] = a.us;
  return j;
}

template <>
absl::StatusOr<NetpolAnswer> FromJson(const json& j) {
  Reader r(j, "");
  NetpolAnswer a;
  a.changes = ReadObjects<PolicyChange>(r, r.Array("changes"), "changes", [](Reader& c) {
    return PolicyChange{c.Str("key"), c.Str("result")};
  });
  a.nodes = ReadObjects<NodeTransaction>(r, r.Array("nodes"), "nodes", [](Reader& n) {
    return NodeTransaction{n.Str("node"), n.Count("commands"), n.Count("us")};
  });
  a.warnings = r.Str("warnings");
  a.dry_run = r.Bool("dry_run");
  a.us = r.Count("us");
  return Done(r, std::move(a));
}

json ToJson(const ResyncAnswer& a) {
  json j = Answer();
  j["nodes"] = json::array();
  for (const NodeResync& n : a.nodes) {
    j["nodes"].push_back(
        {{"node", n.node}, {"differences", n.differences}, {"rewritten", n.rewritten}});
  }
  return j;
}

template <>
absl::StatusOr<ResyncAnswer> FromJson(const json& j) {
  Reader r(j, "");
  ResyncAnswer a;
  a.nodes = ReadObjects<NodeResync>(r, r.Array("nodes"), "nodes", [](Reader& n) {
    NodeResync node;
    node.node = n.Str("node");
    node.rewritten = n.Bool("rewritten");
    node.differences = ReadStrings(n, n.Array("differences"), n.Path("differences"));
    return node;
  });
  return Done(r, std::move(a));
}

json ToJson(const DnsAnswer& a) {
  json j = Answer();
  j["served"] = a.served;
  j["queries"] = a.queries;
  j["forwarded"] = a.forwarded;
  j["truncated"] = a.truncated;
  j["rcodes"] = json::object();
  for (const auto& [rcode, n] : a.rcodes) j["rcodes"][rcode] = n;
  j["drops"] = json::object();
  for (const auto& [reason, n] : a.drops) j["drops"][reason] = n;
  j["tcp_evicted"] = a.tcp_evicted;
  j["tcp_refused"] = a.tcp_refused;
  return j;
}

template <>
absl::StatusOr<DnsAnswer> FromJson(const json& j) {
  Reader r(j, "");
  DnsAnswer a;
  a.served = r.Bool("served");
  a.queries = r.Count("queries");
  a.forwarded = r.Count("forwarded");
  a.truncated = r.Count("truncated");
  a.rcodes = ReadDrops(r, "rcodes");
  a.drops = ReadDrops(r, "drops");
  a.tcp_evicted = r.Count("tcp_evicted");
  a.tcp_refused = r.Count("tcp_refused");
  return Done(r, std::move(a));
}

// --- the wire --------------------------------------------------------------------------------

std::string Encode(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace internal {

absl::Status Malformed(const absl::Status& why, std::string_view from) {
  return absl::DataLossError(
      StrCat(from, from.empty() ? "" : " gave a ", "malformed answer: ", why.message()));
}

absl::StatusOr<json> OpenAnswer(std::string_view text, std::string_view from) {
  // No answer at all is not a malformed one: the peer went away (vnet's client says so itself at
  // EOF; this is for any other transport that hands over an empty text).
  if (text.empty()) {
    return absl::UnavailableError(
        StrCat(from.empty() ? "the cluster" : from, "'s process ended before it answered"));
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Malformed(absl::InvalidArgumentError("not a JSON object"), from);
  Reader r(j, "");
  const bool ok = r.Bool("ok");
  if (!r.ok()) return Malformed(r.status(), from);
  if (ok) return j;
  absl::StatusOr<ErrorAnswer> e = FromJson<ErrorAnswer>(j);
  if (!e.ok()) return Malformed(e.status(), from);
  return e->ToStatus();
}

}  // namespace internal

// --- answers computed from the spec ----------------------------------------------------------

ServicesAnswer ServicesFromSpec(const config::ClusterSpec& spec) {
  ServicesAnswer a;
  a.proxy_mode = std::string(config::ToString(spec.proxy_mode));
  for (const config::ServiceSpec& s : spec.services) {
    ServiceInfo info;
    info.name = s.name;
    info.type = std::string(config::ToString(s.type));
    info.cluster_ip = s.headless ? "None" : s.cluster_ip.ToString();  // as kubectl prints it
    // What is served, not only what was asked: nftables serves least-conn as random, the ebpf
    // mode's programs pick at random (as Cilium's socket LB does by default).
    const config::Algorithm served =
        spec.proxy_mode == config::ProxyMode::kNftables ? proxy::NftAlgorithm(s.algorithm)
        : spec.proxy_mode == config::ProxyMode::kEbpf   ? config::Algorithm::kRandom
                                                        : s.algorithm;
    info.algorithm = std::string(config::ToString(served));
    if (served != s.algorithm) info.lab_algorithm = std::string(config::ToString(s.algorithm));
    info.session_affinity = s.affinity_client_ip ? "ClientIP" : "None";
    info.affinity_timeout = s.affinity_timeout;
    for (const config::ServicePortSpec& p : s.ports) {
      ServicePortInfo port;
      port.name = p.name;
      port.port = p.port;
      port.protocol = std::string(config::ToString(p.protocol));
      port.target_port_name = p.target_port_name;
      port.target_port = p.target_port_name.empty() ? p.target_port : 0;
      port.node_port = p.node_port;
      info.ports.push_back(std::move(port));
    }
    for (int e : s.endpoints) {
      const config::PodSpec& pod = spec.pods[e];
      info.endpoints.push_back({pod.name, pod.ip.ToString(), spec.nodes[pod.node].name});
    }
    a.services.push_back(std::move(info));
  }
  return a;
}

}  // namespace mkn::control
