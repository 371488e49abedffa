#include "lib/control/protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/config/toml/load.h"
#include "lib/strings/str_cat.h"

namespace mkn::control {
namespace {

using ::testing::HasSubstr;

// --- round trips -----------------------------------------------------------------------------

TEST(Protocol, EveryRequestRoundTrips) {
  const std::vector<Request> requests = {
      ServicesRequest{},
      EndpointsRequest{},
      RoutesRequest{},
      ConntrackRequest{},
      ConntrackRequest{"node2"},
      KillRequest{"web-1"},
      ScaleRequest{"web", 0},
      ScaleRequest{"web", config::kMaxPods},
      CniRequest{"add", "web-1", ""},
      CniRequest{"status", "", "node2"},
      CniRequest{"version", "", ""},
      ResyncRequest{},
      ResyncRequest{true},
      OverlayRequest{},
      NetpolRequest{"apply", "p.toml", "[[network_policy]]\nname = \"p\"\n", "", false},
      NetpolRequest{"delete", "", "", "x/deny", true},
      DnsRequest{},
  };
  for (const Request& r : requests) {
    const std::string text = Encode(ToJson(r));
    absl::StatusOr<Request> back = ParseRequest(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    EXPECT_EQ(*back, r) << text;
  }
}

// The wire as the CLI has always sent it: one line, sorted keys, empty CNI fields left out.
TEST(Protocol, RequestsOnTheWire) {
  EXPECT_EQ(Encode(ToJson(Request(ServicesRequest{}))), R"({"verb":"services"})");
  EXPECT_EQ(Encode(ToJson(Request(ConntrackRequest{}))), R"({"node":"","verb":"conntrack"})");
  EXPECT_EQ(Encode(ToJson(Request(ScaleRequest{"web", 4}))),
            R"({"deployment":"web","replicas":4,"verb":"scale"})");
  EXPECT_EQ(Encode(ToJson(Request(CniRequest{"check", "web-2", ""}))),
            R"({"cni_verb":"check","pod":"web-2","verb":"cni"})");
  EXPECT_EQ(Encode(ToJson(Request(ResyncRequest{true}))), R"({"check":true,"verb":"resync"})");
  EXPECT_FALSE(ParseRequest(R"({"verb":"netpol","op":"patch"})").ok());
  // An older client's resync has no "check": it rewrites.
  EXPECT_EQ(ParseRequest(R"({"verb":"resync"})").value(), Request(ResyncRequest{false}));
  // A name that is not UTF-8 is replaced, not thrown over.
  EXPECT_EQ(Encode(ToJson(Request(KillRequest{"web\xff"}))),
            "{\"pod\":\"web\xEF\xBF\xBD\",\"verb\":\"kill\"}");
}

ServicesAnswer SampleServices() {
  ServicesAnswer a;
  a.proxy_mode = "userspace";
  ServiceInfo web{"web", "NodePort", "10.96.0.10", "round-robin", "ClientIP", 600, {}, {}, ""};
  ServicePortInfo http;
  http.name = "http";
  http.port = 80;
  http.protocol = "TCP";
  http.target_port_name = "http";
  http.node_port = 30080;
  http.counters = PortCounters{20, 2214, 2, 1, 3, {{"no_endpoints", 4}}};
  ServicePortInfo dns;
  dns.port = 53;
  dns.protocol = "UDP";
  dns.target_port = 5353;
  dns.counters = PortCounters{0, 0, 0, 0, std::nullopt, {}};  // nftables: no ICMP errors, no drops
  web.ports = {http, dns};
  web.endpoints = {{"web-0", "10.244.0.3", "node1"}, {"web-1", "10.244.1.2", "node2"}};
  a.services = {web, ServiceInfo{"empty",
                                 "ClusterIP",
                                 "10.96.0.99",
                                 "random",
                                 "None",
                                 10800,
                                 {ServicePortInfo{"", 80, "TCP", 80, "", 0, std::nullopt}},
                                 {},
                                 "least-conn"}};
  return a;
}

// Every counter a different number, so a field written under another's key cannot round-trip.
ServicesAnswer SampleNodes(const std::string& mode) {
  ServicesAnswer a = SampleServices();
  a.proxy_mode = mode;
  if (mode == "nftables") {
    a.nodes = {NodeProxyStats{"node1", std::nullopt, KernelNodeCounters{1, 2, 3, 4, 5, 6, 7, 8, 9}},
               NodeProxyStats{"node2", std::nullopt, KernelNodeCounters{}}};
    return a;
  }
  NatNodeCounters c{1,  2,  3,  4,  {{"no_flow", 3}, {"table_full", 1}}, 5, 6, 7, 8, 9, 10,
                    11, 12, 13, 14, {{"drops-ingress/x/a", 2}}};
  a.nodes = {NodeProxyStats{"node1", c, std::nullopt},
             NodeProxyStats{"node2", NatNodeCounters{}, std::nullopt}};
  a.proxy_error = "epoll_wait: Bad file descriptor";
  return a;
}

CniAnswer SampleCni() {
  CniAnswer a;
  a.chain_ok = true;
  a.result =
      nlohmann::json::parse(R"({"cniVersion": "1.0.0", "ips": [{"address": "10.244.0.5/24"}]})");
  a.calls = "== ADD bridge (/usr/lib/cni/bridge) exit 0 in 3.1 ms\n";
  a.ncalls = 2;
  a.node = "node1";
  a.negotiated = "1.0.0";
  a.plugins = nlohmann::json{{"bridge", {{"cniVersion", "1.0.0"}}}};
  return a;
}

template <typename T>
void ExpectRoundTrip(const T& a) {
  const std::string text = Encode(ToJson(a));
  absl::StatusOr<T> back = ParseAnswer<T>(text);
  ASSERT_TRUE(back.ok()) << text << ": " << back.status();
  EXPECT_EQ(*back, a) << text;
}

TEST(Protocol, EveryAnswerRoundTrips) {
  ExpectRoundTrip(SampleServices());
  ExpectRoundTrip(ServicesAnswer{"nftables", {}, {}, ""});
  ExpectRoundTrip(SampleNodes("userspace"));
  ExpectRoundTrip(SampleNodes("nftables"));
  ExpectRoundTrip(RoutesAnswer{{"http 127.0.0.1:8080", "https 127.0.0.2:8443"},
                               {RouteStats{"http_route/canary/2", 40, {0, 36, 1, 2, 1}, 900, 8000},
                                RouteStats{"-", 1, {0, 0, 0, 1, 0}, 70, 150}},
                               {},
                               0});
  ExpectRoundTrip(RoutesAnswer{
      {"http 127.0.0.1:8080"}, {}, {ListenerStats{"http 127.0.0.1:8080", 1024, 3, 900, 7, 12}}, 2});
  ExpectRoundTrip(ConntrackAnswer{
      {FlowInfo{"node1", "TCP", "ESTABLISHED", "10.96.0.10:80/TCP",
                "10.244.0.2:41506 -> 10.96.0.10:80", "10.244.1.2:8080 -> 10.244.0.2:41506", "web-0",
                119000, 10, 1107},
       FlowInfo{"node2", "UDP", "-", "10.96.0.53:53/UDP", "a", "b", "", -20, 1, 40}}});
  ExpectRoundTrip(OverlayAnswer{"vxlan", "the kernel's vxlan0 carries it", "", {}});
  OverlayNodeInfo node{"node1",
                       "gnv0",
                       "172.18.0.2:6081",
                       7,
                       10,
                       2,
                       80,
                       5,
                       9000,
                       30,
                       4,
                       26,
                       40000,
                       {{"unknown_peer", 3}, {"wrong_vni", 1}},
                       1,
                       2};
  OverlayNodeInfo second;
  second.node = "node2";
  ExpectRoundTrip(
      OverlayAnswer{"geneve", "", "geneve: epoll_wait: Bad file descriptor", {node, second}});
  ExpectRoundTrip(KillAnswer{"web-1", "10.244.0.5", "node1", 23});
  ExpectRoundTrip(ScaleAnswer{});
  ExpectRoundTrip(ResyncAnswer{});
  ExpectRoundTrip(NetpolAnswer{{{"x/deny", "created"}, {"y/allow", "unchanged"}},
                               {{"node1", 12, 1830}, {"node2", 3, 640}},
                               "p.toml:9:1: warning: ...\n",
                               false,
                               2950});
  ExpectRoundTrip(
      ResyncAnswer{{NodeResync{"node1", {}, true},
                    NodeResync{"node2", {"- set x: element 1", "+ chain y: #1 z"}, false}}});
  ExpectRoundTrip(SampleCni());
  CniAnswer failed;
  failed.chain_error = "plugin \"bridge\" failed: no such link";
  failed.node = "node2";
  ExpectRoundTrip(failed);
  ExpectRoundTrip(DnsAnswer{});
  ExpectRoundTrip(DnsAnswer{true,
                            42,
                            3,
                            1,
                            {{"NOERROR", 30}, {"BADVERS", 1}, {"REFUSED", 2}},
                            {{"malformed", 4}, {"short", 0}},
                            24,
                            0});
}

// What `get svc -o json` prints comes from here: the keys e2e tests grep for.
TEST(Protocol, ServicesOnTheWire) {
  const nlohmann::json j = ToJson(SampleServices());
  EXPECT_EQ(j["ok"], true);
  const nlohmann::json& http = j["services"][0]["ports"][0];
  EXPECT_EQ(http["target_port"], "http");  // a name stays a string
  EXPECT_EQ(http["node_port"], 30080);
  EXPECT_EQ(http["counters"]["new_flows"], 2u);
  EXPECT_EQ(http["counters"]["icmp_errors"], 3u);
  EXPECT_EQ(http["counters"]["drops"]["no_endpoints"], 4u);
  const nlohmann::json& dns = j["services"][0]["ports"][1];
  EXPECT_EQ(dns["target_port"], 5353);  // a number stays a number
  EXPECT_FALSE(dns.contains("node_port"));
  EXPECT_FALSE(dns["counters"].contains("icmp_errors"));
  EXPECT_EQ(dns["counters"]["drops"], nlohmann::json::object());
  EXPECT_FALSE(j["services"][1]["ports"][0].contains("counters"));
  EXPECT_EQ(j["services"][0]["endpoints"][1],
            (nlohmann::json{{"pod", "web-1"}, {"ip", "10.244.1.2"}, {"node", "node2"}}));
}

// What `get proxy -o json` prints: each node's counters under "nat" (userspace) or "kernel"
// (nftables), every key spelled as README's Layer 4 and the e2e tests read it.
TEST(Protocol, NodeCountersOnTheWire) {
  nlohmann::json j = ToJson(SampleNodes("userspace"));
  EXPECT_EQ(j["proxy_error"], "epoll_wait: Bad file descriptor");
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0], nlohmann::json::parse(R"({"node": "node1", "nat": {
              "packets": 1, "forwarded": 2, "replied": 3, "dropped": 4,
              "drops": {"no_flow": 3, "table_full": 1},
              "fragments_held": 5, "fragments_reassembled": 6, "datagrams_reassembled": 7,
              "fragments_dropped": 8, "conntrack_entries": 9, "conntrack_max": 10,
              "conntrack_evictions": 11, "conntrack_refused": 12,
              "read_errors": 13, "write_errors": 14,
              "netpol_drops": {"drops-ingress/x/a": 2}}})"));
  EXPECT_EQ(j["nodes"][1]["nat"]["drops"], nlohmann::json::object());
  EXPECT_EQ(j["nodes"][1]["nat"]["netpol_drops"], nlohmann::json::object());
  // A peer older than the proxy's NetworkPolicy sends no netpol_drops: read as none.
  nlohmann::json older = j;
  older["nodes"][0]["nat"].erase("netpol_drops");
  absl::StatusOr<ServicesAnswer> back = FromJson<ServicesAnswer>(older);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->nodes[0].nat->netpol_drops.empty());
  // The services are where they always were.
  EXPECT_EQ(j["services"][0]["ports"][0]["counters"]["new_flows"], 2u);

  j = ToJson(SampleNodes("nftables"));
  EXPECT_FALSE(j.contains("proxy_error"));
  EXPECT_EQ(j["nodes"][0], nlohmann::json::parse(R"({"node": "node1", "kernel": {
              "conntrack_entries": 1, "conntrack_max": 2, "conntrack_early_drop": 3,
              "conntrack_drop": 4, "conntrack_insert_failed": 5, "ip_reasm_reqds": 6,
              "ip_reasm_oks": 7, "ip_reasm_fails": 8, "ip_in_discards": 9}})"));

  // A peer from before the node counters: an answer without them, not a malformed one.
  absl::StatusOr<ServicesAnswer> old =
      ParseAnswer<ServicesAnswer>(R"({"ok": true, "proxy_mode": "userspace", "services": []})");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_TRUE(old->nodes.empty());
  EXPECT_EQ(old->proxy_error, "");
}

// --- refusals --------------------------------------------------------------------------------

struct Refusal {
  const char* what;
  const char* text;
  const char* error;  // a part of the message
};

TEST(Protocol, BadRequestsAreRefusedNamingTheField) {
  const Refusal rows[] = {
      {"not JSON", "scale web 4", "bad request: want {\"verb\": ...}"},
      {"not an object", R"(["scale"])", "bad request"},
      {"no verb", R"({"pod": "web-1"})", "bad request"},
      {"verb not a string", R"({"verb": 7})", "bad request"},
      {"unknown verb", R"({"verb": "frobnicate"})", "unknown verb \"frobnicate\""},
      {"replicas past 2^32 (was truncated to 5)",
       R"({"verb": "scale", "deployment": "web", "replicas": 4294967301})",
       "scale: replicas: want an integer 0..20000, got 4294967301"},
      {"replicas past 2^64", R"({"verb": "scale", "deployment": "web", "replicas": 1e30})",
       "scale: replicas: want an integer 0..20000"},
      {"replicas negative", R"({"verb": "scale", "deployment": "web", "replicas": -1})",
       "scale: replicas: want an integer 0..20000, got -1"},
      {"replicas over the lab's limit",
       R"({"verb": "scale", "deployment": "web", "replicas": 20001})",
       "scale: replicas: want an integer 0..20000, got 20001"},
      {"replicas a string", R"({"verb": "scale", "deployment": "web", "replicas": "4"})",
       "scale: replicas: want an integer 0..20000, got \"4\""},
      {"replicas a fraction", R"({"verb": "scale", "deployment": "web", "replicas": 2.5})",
       "scale: replicas: want an integer"},
      {"replicas missing", R"({"verb": "scale", "deployment": "web"})",
       "scale: replicas: missing, want an integer 0..20000"},
      {"deployment a number", R"({"verb": "scale", "deployment": 7, "replicas": 1})",
       "scale: deployment: want a string, got 7"},
      {"deployment missing", R"({"verb": "scale", "replicas": 1})", "scale: deployment: missing"},
      {"kill without pod", R"({"verb": "kill"})", "kill: pod: missing, want a string"},
      {"kill pod null", R"({"verb": "kill", "pod": null})", "kill: pod: want a string, got null"},
      {"conntrack node a number", R"({"verb": "conntrack", "node": 1})",
       "conntrack: node: want a string, got 1"},
      {"cni without verb", R"({"verb": "cni", "pod": "web-1"})", "cni: cni_verb: missing"},
      {"cni unknown verb", R"({"verb": "cni", "cni_verb": "ADD"})",
       "cni: cni_verb: want add, check, del, status, gc or version, got \"ADD\""},
      {"cni pod a list", R"({"verb": "cni", "cni_verb": "add", "pod": ["web-1"]})",
       "cni: pod: want a string, got [\"web-1\"]"},
      // Two readers could read these two ways (nlohmann keeps the last key, others the first).
      {"verb twice", R"({"verb": "services", "verb": "kill", "pod": "client"})",
       "bad request: the key \"verb\" is given twice"},
      {"a field twice", R"({"verb": "kill", "pod": "a", "pod": "b"})",
       "bad request: the key \"pod\" is given twice"},
      {"nested too deep", R"({"verb": "kill", "pod": [[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]})",
       "bad request: nested deeper than 16 levels"},
      {"resync check a string", R"({"verb": "resync", "check": "yes"})",
       "resync: check: want a boolean, got \"yes\""},
  };
  for (const Refusal& r : rows) {
    absl::StatusOr<Request> req = ParseRequest(r.text);
    ASSERT_FALSE(req.ok()) << r.what;
    EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument) << r.what;
    EXPECT_THAT(std::string(req.status().message()), HasSubstr(r.error)) << r.what;
  }
}

TEST(Protocol, MalformedAnswersAreDataLossNotBadInput) {
  // A malformed answer is the cluster's fault: never InvalidArgument (the CLI's "bad usage").
  const Refusal services[] = {
      {"not JSON", "{", "malformed answer: not a JSON object"},
      {"ok missing", R"({"services": []})", "malformed answer: ok: missing, want a boolean"},
      {"ok a string", R"({"ok": "yes"})", "malformed answer: ok: want a boolean, got \"yes\""},
      {"services missing", R"({"ok": true, "proxy_mode": "userspace"})",
       "malformed answer: services: missing, want an array"},
      {"a service not an object", R"({"ok": true, "proxy_mode": "nftables", "services": [7]})",
       "malformed answer: services[0]: want an object, got 7"},
      {"port out of range",
       R"({"ok": true, "proxy_mode": "nftables", "services": [{"name": "web", "type": "ClusterIP",
           "cluster_ip": "10.96.0.10", "algorithm": "random", "session_affinity": "None",
           "affinity_timeout": 10800, "endpoints": [],
           "ports": [{"name": "", "port": 70000, "protocol": "TCP", "target_port": 80}]}]})",
       "malformed answer: services[0].ports[0].port: want an integer 1..65535, got 70000"},
      {"a negative counter",
       R"({"ok": true, "proxy_mode": "nftables", "services": [{"name": "web", "type": "ClusterIP",
           "cluster_ip": "10.96.0.10", "algorithm": "random", "session_affinity": "None",
           "affinity_timeout": 10800, "endpoints": [],
           "ports": [{"name": "", "port": 80, "protocol": "TCP", "target_port": 80,
             "counters": {"packets": -1, "bytes": 0, "new_flows": 0, "flows": 0, "drops": {}}}]}]})",
       "services[0].ports[0].counters.packets: want a count (an integer >= 0), got -1"},
      {"a drop count a string",
       R"({"ok": true, "proxy_mode": "userspace", "services": [{"name": "web", "type": "ClusterIP",
           "cluster_ip": "10.96.0.10", "algorithm": "random", "session_affinity": "None",
           "affinity_timeout": 10800, "endpoints": [],
           "ports": [{"name": "", "port": 80, "protocol": "TCP", "target_port": 80,
             "counters": {"packets": 1, "bytes": 0, "new_flows": 0, "flows": 0,
                          "drops": {"ttl": "2"}}}]}]})",
       "services[0].ports[0].counters.drops.ttl: want a count"},
      {"an endpoint without ip",
       R"({"ok": true, "proxy_mode": "nftables", "services": [{"name": "web", "type": "ClusterIP",
           "cluster_ip": "10.96.0.10", "algorithm": "random", "session_affinity": "None",
           "affinity_timeout": 10800, "ports": [], "endpoints": [{"pod": "web-0", "node": "n"}]}]})",
       "services[0].endpoints[0].ip: missing, want a string"},
      {"nodes not an array", R"({"ok": true, "proxy_mode": "userspace", "services": [],
           "nodes": {}})",
       "malformed answer: nodes: want an array, got {}"},
      {"a node without its name", R"({"ok": true, "proxy_mode": "userspace", "services": [],
           "nodes": [{"nat": {}}]})",
       "nodes[0].node: missing, want a string"},
      {"a node counter missing", R"({"ok": true, "proxy_mode": "nftables", "services": [],
           "nodes": [{"node": "node1", "kernel": {"conntrack_entries": 1}}]})",
       "nodes[0].kernel.conntrack_max: missing, want a count"},
      {"a node counter negative", R"({"ok": true, "proxy_mode": "userspace", "services": [],
           "nodes": [{"node": "node1", "nat": {"packets": -4}}]})",
       "nodes[0].nat.packets: want a count (an integer >= 0), got -4"},
      {"a node's drop a string", R"({"ok": true, "proxy_mode": "userspace", "services": [],
           "nodes": [{"node": "node1", "nat": {"packets": 0, "forwarded": 0, "replied": 0,
             "dropped": 0, "fragments_held": 0, "fragments_reassembled": 0,
             "datagrams_reassembled": 0, "fragments_dropped": 0, "conntrack_entries": 0,
             "conntrack_max": 0, "conntrack_evictions": 0, "conntrack_refused": 0,
             "read_errors": 0, "write_errors": 0, "drops": {"table_full": "7"}}}]})",
       "nodes[0].nat.drops.table_full: want a count"},
      {"proxy_error not a string", R"({"ok": true, "proxy_mode": "userspace", "services": [],
           "proxy_error": 5})",
       "proxy_error: want a string, got 5"},
  };
  for (const Refusal& r : services) {
    absl::StatusOr<ServicesAnswer> a = ParseAnswer<ServicesAnswer>(r.text);
    ASSERT_FALSE(a.ok()) << r.what;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << r.what;
    EXPECT_THAT(std::string(a.status().message()), HasSubstr(r.error)) << r.what;
  }
  absl::StatusOr<KillAnswer> kill =
      ParseAnswer<KillAnswer>(R"({"ok": true, "pod": "a", "ip": "b", "node": "c", "ms": "fast"})");
  EXPECT_THAT(std::string(kill.status().message()), HasSubstr("ms: want an integer"));
  absl::StatusOr<RoutesAnswer> routes =
      ParseAnswer<RoutesAnswer>(R"({"ok": true, "listeners": [1], "routes": []})");
  EXPECT_THAT(std::string(routes.status().message()), HasSubstr("listeners[0]: want a string"));
  routes = ParseAnswer<RoutesAnswer>(
      R"({"ok": true, "listeners": [], "routes": [], "listener_stats": [{"listener": "l",
          "max_connections": 8, "connections": -1, "accepted": 0, "refused": 0,
          "accept_errors": 0}]})");
  EXPECT_THAT(std::string(routes.status().message()),
              HasSubstr("listener_stats[0].connections: want a count"));
  // A peer without the connection counters (they came later): none, not an error.
  routes = ParseAnswer<RoutesAnswer>(R"({"ok": true, "listeners": ["l"], "routes": []})");
  ASSERT_TRUE(routes.ok()) << routes.status();
  EXPECT_TRUE(routes->listener_stats.empty());
  EXPECT_EQ(routes->exceptions, 0u);
  absl::StatusOr<CniAnswer> cni = ParseAnswer<CniAnswer>(
      R"({"ok": true, "chain_ok": 1, "chain_error": "", "result": null, "calls": "", "ncalls": 0,
          "node": "n", "negotiated": "1.0.0", "plugins": {}})");
  EXPECT_THAT(std::string(cni.status().message()), HasSubstr("chain_ok: want a boolean, got 1"));
}

TEST(Protocol, ErrorAnswersCarryTheClustersStatus) {
  absl::StatusOr<KillAnswer> a =
      ParseAnswer<KillAnswer>(R"({"ok": false, "code": "NOT_FOUND", "error": "no pod \"x\""})");
  EXPECT_EQ(a.status(), absl::NotFoundError("no pod \"x\""));
  // A code this build does not know, and an error that claims to be OK: still failures.
  a = ParseAnswer<KillAnswer>(R"({"ok": false, "code": "SOMETHING_NEW", "error": "e"})");
  EXPECT_EQ(a.status(), absl::UnknownError("e"));
  a = ParseAnswer<KillAnswer>(R"({"ok": false, "code": "OK", "error": "e"})");
  EXPECT_EQ(a.status(), absl::UnknownError("e"));
  a = ParseAnswer<KillAnswer>(R"({"ok": false, "code": "INTERNAL"})");
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("error: missing"));
  // The peer is named only where the answer itself is at fault.
  EXPECT_EQ(ParseAnswer<KillAnswer>("{", "cluster c").status(),
            absl::DataLossError("cluster c gave a malformed answer: not a JSON object"));
  // No text at all: the peer ended, which is not the same fault as a garbled answer.
  EXPECT_EQ(ParseAnswer<KillAnswer>("", "cluster c").status(),
            absl::UnavailableError("cluster c's process ended before it answered"));

  for (const absl::Status& s : {absl::InvalidArgumentError("scale: want \"replicas\": N"),
                                absl::FailedPreconditionError("the cluster is stopping"),
                                absl::ResourceExhaustedError("no node has a free pod address"),
                                absl::DataLossError("conntrack dump cut short")}) {
    ErrorAnswer e = ErrorAnswer::FromStatus(s);
    EXPECT_EQ(ParseAnswer<ScaleAnswer>(Encode(ToJson(e))).status(), s);
    EXPECT_EQ(ParseAnswer<ScaleAnswer>(Encode(ToJson(e)), "cluster c").status(), s);
    absl::StatusOr<ErrorAnswer> back = FromJson<ErrorAnswer>(ToJson(e));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, e);
  }
  EXPECT_EQ(Encode(ToJson(ErrorAnswer::FromStatus(absl::NotFoundError("no pod \"x\"")))),
            R"({"code":"NOT_FOUND","error":"no pod \"x\"","ok":false})");
}

// --- answers from the spec -------------------------------------------------------------------

TEST(Protocol, ServicesFromSpec) {
  config::LoadResult r = config::Load(R"([cluster]
dns = false
name = "s"
nodes = 2
[[deployment]]
name = "web"
replicas = 2
  [deployment.template]
  labels = { app = "web" }
  [[deployment.template.container]]
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]
[[service]]
name = "web"
type = "NodePort"
cluster_ip = "10.96.0.10"
selector = { app = "web" }
session_affinity = "ClientIP"
affinity_timeout = 60
  [[service.port]]
  name = "http"
  port = 80
  target_port = "http"
  node_port = 30080
  [[service.port]]
  name = "alt"
  port = 81
  target_port = 8080
)",
                                      "s.toml");
  ASSERT_TRUE(r.spec) << r.diags.FormatAll();
  ServicesAnswer a = ServicesFromSpec(*r.spec);
  EXPECT_EQ(a.proxy_mode, "userspace");
  ASSERT_EQ(a.services.size(), 1u);
  const ServiceInfo& s = a.services[0];
  EXPECT_EQ(s.type, "NodePort");
  EXPECT_EQ(s.cluster_ip, "10.96.0.10");
  EXPECT_EQ(s.session_affinity, "ClientIP");
  EXPECT_EQ(s.affinity_timeout, 60);
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].name, "http");
  EXPECT_EQ(s.ports[0].target_port_name, "http");
  EXPECT_EQ(s.ports[0].target_port, 0);
  EXPECT_EQ(s.ports[0].node_port, 30080);
  EXPECT_EQ(s.ports[1].name, "alt");
  EXPECT_EQ(s.ports[1].target_port, 8080);
  EXPECT_FALSE(s.ports[0].counters);
  ASSERT_EQ(s.endpoints.size(), 2u);
  EXPECT_EQ(s.endpoints[0].pod, "web-0");
  EXPECT_EQ(s.endpoints[1].node, "node2");
}

// nftables serves least-conn as random: the answer says what is served, and what the lab asked.
TEST(Protocol, ServicesFromSpecSaysWhatIsServed) {
  for (const char* mode : {"userspace", "nftables"}) {
    config::LoadResult r = config::Load(StrCat(R"([cluster]
dns = false
name = "s"
proxy_mode = ")",
                                               mode, R"("
[[pod]]
name = "web"
labels = { app = "web" }
  [[pod.container]]
  app = "http-echo"
[[service]]
name = "lc"
selector = { app = "web" }
algorithm = "least-conn"
  [[service.port]]
  port = 80
  target_port = 8080
[[service]]
name = "rr"
selector = { app = "web" }
algorithm = "round-robin"
  [[service.port]]
  port = 80
  target_port = 8080
)"),
                                        "s.toml");
    ASSERT_TRUE(r.spec) << r.diags.FormatAll();
    ServicesAnswer a = ServicesFromSpec(*r.spec);
    ASSERT_EQ(a.services.size(), 2u);
    const bool nft = std::string(mode) == "nftables";
    EXPECT_EQ(a.services[0].algorithm, nft ? "random" : "least-conn") << mode;
    EXPECT_EQ(a.services[0].lab_algorithm, nft ? "least-conn" : "") << mode;
    EXPECT_EQ(a.services[1].algorithm, "round-robin") << mode;
    EXPECT_EQ(a.services[1].lab_algorithm, "") << mode;
    // On the wire only when it differs, and read back.
    const nlohmann::json j = ToJson(a);
    EXPECT_EQ(j["services"][0].contains("lab_algorithm"), nft) << mode;
    EXPECT_FALSE(j["services"][1].contains("lab_algorithm")) << mode;
    absl::StatusOr<ServicesAnswer> back = ParseAnswer<ServicesAnswer>(Encode(j));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, a) << mode;
  }
}

}  // namespace
}  // namespace mkn::control
