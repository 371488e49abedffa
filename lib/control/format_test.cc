#include "lib/control/format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace mkn::control {
namespace {

TEST(Format, TableAlignsColumnsTwoSpacesApart) {
  EXPECT_EQ(Table({{"A", "BB", "C"}, {"long", "x", "last column unpadded"}}),
            "A     BB  C\n"
            "long  x   last column unpadded\n");
  EXPECT_EQ(Table({}), "");
}

TEST(Format, PodsTableSaysWhyAPodHasNoAddress) {
  std::vector<PodRow> pods = {
      {"client",
       "node1",
       "10.244.0.2",
       "mkn-q-client",
       "",
       {{"shell", "command", ""}, {"sidecar", "http-echo", "TCP/9090"}}},
      {"web-3",
       "node2",
       "",
       "mkn-q-web-3",
       "plugin \"bad-json\" (ADD) printed no valid result",
       {{"echo", "http-echo", "TCP/8080"}}},
  };
  EXPECT_EQ(PodsTable(pods),
            "POD     NODE   IP          CONTAINERS                              ENTER WITH\n"
            "client  node1  10.244.0.2  shell(cmd),sidecar(http-echo TCP/9090)  "
            "ip netns exec mkn-q-client sh\n"
            "web-3   node2  <none>      echo(http-echo TCP/8080)                "
            "ip netns exec mkn-q-web-3 sh\n"
            "pod web-3: CNI ADD failed: plugin \"bad-json\" (ADD) printed no valid result\n");
}

TEST(Format, ForegroundStopHintNamesTheSandboxFromOutsideIt) {
  EXPECT_EQ(ForegroundStopHint({"quickstart", false, "", ""}),
            "press Ctrl-C to tear it down (or run: minikube-net down quickstart)\n");
  EXPECT_EQ(ForegroundStopHint({"quickstart", true, "ci/sandbox.sh", "minikube-net"}),
            "press Ctrl-C to tear it down (or, from another terminal: ci/sandbox.sh --join "
            "quickstart -- minikube-net down quickstart)\n");
  EXPECT_EQ(ForegroundStopHint({"svc", true, "minikube-net-sandbox", "minikube-net"}),
            "press Ctrl-C to tear it down (or, from another terminal: minikube-net-sandbox "
            "--join svc -- minikube-net down svc)\n");
  EXPECT_EQ(ForegroundStopHint({"min", true, "ci/sandbox.sh", "/w/build/minikube-net"}),
            "press Ctrl-C to tear it down (or, from another terminal: ci/sandbox.sh --join min -- "
            "/w/build/minikube-net down min)\n");
}

TEST(Format, CountIsSingularForOne) {
  EXPECT_EQ(Count(1, "node"), "1 node");
  EXPECT_EQ(Count(0, "pod"), "0 pods");
  EXPECT_EQ(Count(2, "namespace"), "2 namespaces");
  EXPECT_EQ(Count(1000, "pod"), "1000 pods");
}

TEST(Format, NodesAndStatusTables) {
  EXPECT_EQ(NodesTable({{"node1", "172.18.0.2", "10.244.0.0/24", "mkn-q-node1", 3},
                        {"node2", "172.18.0.3", "10.244.1.0/24", "mkn-q-node2", 2}}),
            "NODE   UNDERLAY IP  POD CIDR       PODS  NETNS\n"
            "node1  172.18.0.2   10.244.0.0/24  3     mkn-q-node1\n"
            "node2  172.18.0.3   10.244.1.0/24  2     mkn-q-node2\n");
  EXPECT_EQ(
      StatusTable({{"quickstart", true, "ready", "vxlan", "/l/q.toml", 2, 5, 1234},
                   {"old", false, "ready", "host-gw", "/l/o.toml", 2, 4, 99}}),
      "CLUSTER     STATE                              NETWORK  NODES  PODS  PID   LAB\n"
      "quickstart  ready                              vxlan    2      5     1234  /l/q.toml\n"
      "old         dead (run: minikube-net down old)  host-gw  2      4     99    /l/o.toml\n");
  // Not root: only the name is known; no zeros that read as counts.
  control::ClusterRow hidden;
  hidden.name = "quickstart";
  hidden.unreadable = true;
  EXPECT_EQ(StatusTable({hidden}),
            "CLUSTER     STATE          NETWORK  NODES  PODS  PID  LAB\n"
            "quickstart  ? (root only)  -        -      -     -    -\n");
}

ServicesAnswer Services(bool counters) {
  ServicesAnswer a;
  ServicePortInfo np{"", 80, "TCP", 8080, "", 30080, std::nullopt};
  ServicePortInfo dns{"", 53, "UDP", 5353, "", 0, std::nullopt};
  if (counters) {
    np.counters = PortCounters{10, 1107, 1, 1, 0, {{"no_route", 2}, {"ttl", 1}}};
    dns.counters = PortCounters{4, 200, 2, 0, std::nullopt, {}};
  }
  a.services = {
      {"web-np",
       "NodePort",
       "10.96.0.11",
       "random",
       "None",
       10800,
       {np, dns},
       {{"web-0", "10.244.1.2", "node2"}, {"web-1", "10.244.0.3", "node1"}},
       ""},
      {"empty",
       "ClusterIP",
       "10.96.0.99",
       "random",
       "ClientIP",
       600,
       {{"", 80, "TCP", 80, "", 0, std::nullopt}},
       {},
       ""},
  };
  return a;
}

// get svc -A / -n: a NAMESPACE column, names within their namespace, as get pods.
TEST(Format, ServicesTableByNamespace) {
  ServicesAnswer a = Services(false);
  a.services[1].name = "x/empty";
  EXPECT_EQ(ServicesTable(a, true),
            "NAMESPACE  NAME    TYPE       CLUSTER-IP  PORT(S)              ENDPOINTS  ALGORITHM  "
            "AFFINITY\n"
            "default    web-np  NodePort   10.96.0.11  80:30080/TCP,53/UDP  2          random     "
            "None\n"
            "x          empty   ClusterIP  10.96.0.99  80/TCP               0          random     "
            "ClientIP\n");
  ServicesAnswer x = ServicesIn(a, "x");
  ASSERT_EQ(x.services.size(), 1u);
  EXPECT_EQ(x.services[0].name, "empty");
  EXPECT_EQ(ServicesIn(a, "default").services[0].name, "web-np");
  EXPECT_TRUE(ServicesIn(a, "z").services.empty());
}

// get svc WORD: NAME in -n's namespace, NS/NAME as exec and trace take it, either after svc/; a
// name only another namespace has says where it is (the new user's get svc svc/kube-dns and
// get svc kube-system/kube-dns were "not found in namespace default").
TEST(Format, OneServiceByEveryNameAUserTypes) {
  struct Case {
    std::string word, ns_flag;
    absl::StatusCode code;
    ServiceName want;
  };
  const Case cases[] = {
      {"kube-dns", "", absl::StatusCode::kOk, {"default", "kube-dns"}},
      {"kube-dns", "kube-system", absl::StatusCode::kOk, {"kube-system", "kube-dns"}},
      {"svc/kube-dns", "", absl::StatusCode::kOk, {"default", "kube-dns"}},
      {"svc/kube-dns", "kube-system", absl::StatusCode::kOk, {"kube-system", "kube-dns"}},
      {"kube-system/kube-dns", "", absl::StatusCode::kOk, {"kube-system", "kube-dns"}},
      {"kube-system/kube-dns", "kube-system", absl::StatusCode::kOk, {"kube-system", "kube-dns"}},
      {"svc/kube-system/kube-dns", "", absl::StatusCode::kOk, {"kube-system", "kube-dns"}},
      {"service/x/web", "", absl::StatusCode::kOk, {"x", "web"}},
      {"kube-system/kube-dns", "x", absl::StatusCode::kInvalidArgument, {}},
      {"a/b/c", "", absl::StatusCode::kInvalidArgument, {}},
      {"svc/", "", absl::StatusCode::kInvalidArgument, {}},
      {"x/", "", absl::StatusCode::kInvalidArgument, {}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ServiceName> n = ParseServiceName(c.word, c.ns_flag);
    EXPECT_EQ(n.status().code(), c.code) << c.word << " -n " << c.ns_flag << ": " << n.status();
    if (n.ok()) {
      EXPECT_EQ(*n, c.want) << c.word;
    }
  }

  ServicesAnswer a = Services(false);
  a.services[1].name = "kube-system/kube-dns";
  absl::StatusOr<ServicesAnswer> one = OneService(a, *ParseServiceName("kube-system/kube-dns", ""));
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->services.size(), 1u);
  EXPECT_EQ(one->services[0].name, "kube-dns");
  one = OneService(a, *ParseServiceName("svc/kube-dns", ""));
  EXPECT_TRUE(absl::IsNotFound(one.status()));
  EXPECT_EQ(one.status().message(),
            "get svc: service \"kube-dns\" not found in namespace \"default\": did you mean -n "
            "kube-system (kube-system/kube-dns)?");
  one = OneService(a, *ParseServiceName("nosuch", ""));
  EXPECT_EQ(one.status().message(),
            "get svc: service \"nosuch\" not found in namespace \"default\" (its Services: "
            "web-np)");
}

TEST(Format, ServicesTableSumsEachServicesPorts) {
  EXPECT_EQ(ServicesTable(Services(false)),
            "NAME    TYPE       CLUSTER-IP  PORT(S)              ENDPOINTS  ALGORITHM  AFFINITY\n"
            "web-np  NodePort   10.96.0.11  80:30080/TCP,53/UDP  2          random     None\n"
            "empty   ClusterIP  10.96.0.99  80/TCP               0          random     ClientIP\n");
  EXPECT_EQ(ServicesTable(Services(true)),
            "NAME    TYPE       CLUSTER-IP  PORT(S)              ENDPOINTS  ALGORITHM  AFFINITY  "
            "PACKETS  BYTES  FLOWS  NEW  DROPS\n"
            "web-np  NodePort   10.96.0.11  80:30080/TCP,53/UDP  2          random     None      "
            "14       1307   1      3    3\n"
            "empty   ClusterIP  10.96.0.99  80/TCP               0          random     ClientIP  "
            "0        0      0      0    0\n");
  EXPECT_EQ(EndpointsTable(Services(false)),
            "NAME    ENDPOINTS\n"
            "web-np  10.244.1.2(web-0),10.244.0.3(web-1)\n"
            "empty   <none>\n");
  EXPECT_EQ(ServicesJson(ServicesAnswer{}), "[]\n");
}

// An algorithm the proxy mode serves instead of the lab's: marked, and said under the table.
TEST(Format, ServicesTableSaysWhatIsServed) {
  ServicesAnswer a = Services(false);
  a.proxy_mode = "nftables";
  a.services[0].lab_algorithm = "least-conn";
  EXPECT_EQ(
      ServicesTable(a),
      "NAME    TYPE       CLUSTER-IP  PORT(S)              ENDPOINTS  ALGORITHM  AFFINITY\n"
      "web-np  NodePort   10.96.0.11  80:30080/TCP,53/UDP  2          random*    None\n"
      "empty   ClusterIP  10.96.0.99  80/TCP               0          random     ClientIP\n"
      "* web-np: the lab asks for least-conn, which proxy_mode = \"nftables\" cannot serve; it "
      "serves random (least-conn needs proxy_mode = \"userspace\")\n");
}

// A node whose proxy dropped something gets a line under get svc; a quiet node none.
TEST(Format, ServicesTableNamesNodesThatDropped) {
  ServicesAnswer a = Services(true);
  a.proxy_mode = "userspace";
  NatNodeCounters flood;
  flood.packets = 75000;
  flood.dropped = 4467;
  flood.drops = {{"no_flow", 4460}, {"table_full", 7}, {"bad_checksum", 0}};
  flood.conntrack_entries = 65536;
  flood.conntrack_max = 65536;
  flood.conntrack_evictions = 4464;
  flood.fragments_reassembled = 17;
  flood.datagrams_reassembled = 3;
  NatNodeCounters quiet;
  quiet.packets = 40;
  quiet.fragments_reassembled = 6;  // reassembled, nothing dropped: no line
  quiet.datagrams_reassembled = 1;
  a.nodes = {{"node1", flood, std::nullopt}, {"node2", quiet, std::nullopt}};
  const std::string table = ServicesTable(Services(true));
  EXPECT_EQ(ServicesTable(a),
            table +
                "node1: 4467 packets dropped (no_flow 4460, table_full 7); 4464 unassured flows "
                "evicted from a full table (65536 of 65536 flows now); 17 fragments reassembled "
                "into 3 datagrams\n");
  a.nodes[0].nat = quiet;
  EXPECT_EQ(ServicesTable(a), table);

  // TUN errors alone are worth a line; a stopped pump always is.
  a.nodes[1].nat->write_errors = 2;
  a.proxy_error = "epoll_wait: Bad file descriptor";
  EXPECT_EQ(ServicesTable(a), table +
                                  "node2: 6 fragments reassembled into 1 datagram; 0 TUN read "
                                  "errors, 2 TUN write errors\n"
                                  "the userspace proxy stopped (epoll_wait: Bad file descriptor): "
                                  "Services do not answer until the cluster is brought down and up "
                                  "again\n");

  // nftables: the kernel's counters, named as the kernel names them.
  a = Services(true);
  a.proxy_mode = "nftables";
  KernelNodeCounters k;
  k.conntrack_entries = 262144;
  k.conntrack_max = 262144;
  k.conntrack_early_drop = 900;
  k.conntrack_drop = 12;
  k.ip_reasm_oks = 2;
  k.ip_reasm_fails = 1;
  a.nodes = {{"node1", std::nullopt, k}, {"node2", std::nullopt, KernelNodeCounters{}}};
  EXPECT_EQ(ServicesTable(a), table +
                                  "node1 (kernel): 900 unassured flows evicted (early_drop); 12 "
                                  "packets dropped by conntrack (drop); 1 IP reassembly failed; "
                                  "2 datagrams reassembled\n");
  k.conntrack_early_drop = k.conntrack_drop = k.ip_reasm_fails = 0;
  a.nodes[0].kernel = k;
  EXPECT_EQ(ServicesTable(a), table);
}

TEST(Format, ProxyTableAndJson) {
  ServicesAnswer a;
  a.proxy_mode = "userspace";
  NatNodeCounters c;
  c.packets = 75000;
  c.dropped = 4467;
  c.drops = {{"no_flow", 4460}, {"table_full", 7}};
  c.conntrack_entries = 65536;
  c.conntrack_max = 65536;
  c.conntrack_evictions = 4464;
  c.conntrack_refused = 7;
  c.fragments_held = 1;
  c.fragments_reassembled = 17;
  c.datagrams_reassembled = 3;
  c.fragments_dropped = 2;
  c.read_errors = 1;
  a.nodes = {{"node1", c, std::nullopt}, {"node2", NatNodeCounters{}, std::nullopt}};
  EXPECT_EQ(
      ProxyText(a),
      "NODE   PACKETS  DROPPED  FLOWS  MAX    EVICTED  REFUSED  FRAGS HELD  FRAGS REASSEMBLED  "
      "DATAGRAMS  FRAGS DROPPED  TUN ERRORS  DROPS BY REASON\n"
      "node1  75000    4467     65536  65536  4464     7        1           17                 "
      "3          2              1           no_flow=4460,table_full=7\n"
      "node2  0        0        0      0      0        0        0           0                  "
      "0          0              0           -\n");
  const nlohmann::json j = nlohmann::json::parse(ProxyJson(a));
  EXPECT_FALSE(j.contains("ok"));
  EXPECT_FALSE(j.contains("services"));
  EXPECT_EQ(j["proxy_mode"], "userspace");
  EXPECT_EQ(j["nodes"][0]["nat"]["drops"]["table_full"], 7u);
  EXPECT_EQ(j["nodes"][0]["nat"]["conntrack_evictions"], 4464u);

  a.proxy_mode = "nftables";
  KernelNodeCounters k{3, 262144, 0, 0, 0, 12, 2, 0, 0};
  a.nodes = {{"node1", std::nullopt, k}};
  EXPECT_EQ(
      ProxyText(a),
      "proxy_mode = \"nftables\": the kernel translates; its counters in each node's netns\n"
      "NODE   FLOWS  MAX     EARLY DROPS  DROPS  INSERT FAILED  REASM REQDS  REASM OKS  "
      "REASM FAILS  IN DISCARDS\n"
      "node1  3      262144  0            0      0              12           2          0     "
      "       0\n");
  EXPECT_EQ(nlohmann::json::parse(ProxyJson(a))["nodes"][0]["kernel"]["ip_reasm_oks"], 2u);

  a.nodes.clear();
  EXPECT_EQ(ProxyText(a),
            "no proxy counters: the lab has no Services (proxy_mode = \"nftables\")\n");
  EXPECT_EQ(ProxyJson(a), "{\n  \"nodes\": [],\n  \"proxy_mode\": \"nftables\"\n}\n");
}

TEST(Format, RoutesConntrackKillScale) {
  RoutesAnswer routes{
      {"http 127.0.0.1:8080"}, {{"http_route/canary/2", 40, {0, 36, 1, 2, 1}, 900, 8000}}, {}, 0};
  EXPECT_EQ(RoutesText(routes),
            "listening: http 127.0.0.1:8080\n"
            "ROUTE                REQUESTS  2XX  3XX  4XX  5XX  BYTES IN  BYTES OUT\n"
            "http_route/canary/2  40        36   1    2    1    900       8000\n");
  routes.listener_stats = {{"http 127.0.0.1:8080", 1024, 3, 900, 7, 12}};
  routes.exceptions = 2;
  EXPECT_EQ(RoutesText(routes),
            "listening: http 127.0.0.1:8080 (3 of 1024 connections; 7 refused over the cap; 12 "
            "accept errors)\n"
            "edge: 2 coroutines ended by an exception (`minikube-net logs ingress` says which)\n"
            "ROUTE                REQUESTS  2XX  3XX  4XX  5XX  BYTES IN  BYTES OUT\n"
            "http_route/canary/2  40        36   1    2    1    900       8000\n");
  EXPECT_EQ(ConntrackTable({{{"node1", "TCP", "TIME_WAIT", "10.96.0.11:80/TCP",
                              "10.244.0.2:41506 -> 10.96.0.11:80",
                              "10.244.1.2:8080 -> 10.244.0.2:41506", "web-0", 119500, 10, 1107}}}),
            "NODE   PROTO  STATE      SERVICE            ORIGINAL (as the client sent it)   "
            "REPLY (as the endpoint answers)      POD    EXPIRES  PACKETS\n"
            "node1  TCP    TIME_WAIT  10.96.0.11:80/TCP  10.244.0.2:41506 -> 10.96.0.11:80  "
            "10.244.1.2:8080 -> 10.244.0.2:41506  web-0  119s     10\n");
  EXPECT_EQ(ConntrackJson({}), "[]\n");
  EXPECT_EQ(KillText({"web-1", "10.244.0.5", "node1", 23}),
            "pod web-1 killed and recreated on node1 with IP 10.244.0.5 in 23 ms\n");
  EXPECT_EQ(ScaleText({"web", 4}), "deployment web scaled to 4\n");
}

TEST(Format, ResyncSaysWhatDifferedAndWhatWasRewritten) {
  EXPECT_EQ(ResyncText({{{"node1", {}, false}}}), "node1: in sync with a full sync of the spec\n");
  EXPECT_EQ(ResyncText({{{"node1", {}, true},
                         {"node2", {"- set hairpin: element 10.244.1.9 . 10.244.1.9"}, true}}}),
            "node1: in sync with a full sync of the spec\n"
            "node1: rewritten whole, in one transaction\n"
            "node2: 1 difference from a full sync (-: only in the node, +: missing)\n"
            "  - set hairpin: element 10.244.1.9 . 10.244.1.9\n"
            "node2: rewritten whole, in one transaction\n");
  NodeResync many{"node1", std::vector<std::string>(kMaxResyncLines + 3, "+ x"), false};
  std::string text = ResyncText({{many}});
  EXPECT_THAT(text, ::testing::HasSubstr("node1: 43 differences from a full sync"));
  EXPECT_THAT(text, ::testing::EndsWith("  + x\n  ... and 3 more\n"));
}

TEST(Format, OverlayTableAndItsDrops) {
  OverlayAnswer a{"geneve", "", "", {}};
  a.nodes.push_back({"node1",
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
                     0,
                     0});
  a.nodes.push_back(
      {"node2", "gnv0", "172.18.0.3:6081", 7, 4, 0, 4, 4, 300, 80, 10, 70, 9000, {}, 1, 0});
  EXPECT_EQ(OverlayText(a),
            "NODE   DEVICE  LOCAL            VNI  TX FRAMES (GSO)  TX DGRAMS  SENDS  RX DGRAMS  "
            "RX FRAMES  JOINED  DROPS\n"
            "node1  gnv0    172.18.0.2:6081  7    10 (2)           80         5      30         "
            "4          26      4\n"
            "node2  gnv0    172.18.0.3:6081  7    4 (0)            4          4      80         "
            "10         70      0\n"
            "node1 drops: unknown_peer=3 wrong_vni=1\n"
            "node2: 1 failed reads, 0 failed writes on gnv0 or its socket\n");
  a.pump_error = "geneve: epoll_wait: Bad file descriptor";
  EXPECT_THAT(OverlayText(a), ::testing::EndsWith("pump stopped: geneve: epoll_wait: Bad file "
                                                  "descriptor\n"));
  EXPECT_EQ(OverlayText({"vxlan", "the kernel's vxlan0 carries it", "", {}}),
            "network vxlan: the kernel's vxlan0 carries it\n");
}

TEST(Format, DnsTextListsRcodesThenDrops) {
  EXPECT_EQ(DnsText(DnsAnswer{}),
            "no cluster DNS in this lab ([cluster] dns = false, or a CNI lab)\n");
  DnsAnswer a{true,
              42,
              3,
              1,
              {{"NOERROR", 30}, {"BADVERS", 1}, {"REFUSED", 2}},
              {{"malformed", 4}, {"short", 0}},
              24,
              0};
  EXPECT_EQ(DnsText(a),
            "QUERIES  FORWARDED  TRUNCATED\n"
            "42       3          1\n"
            "\n"
            "RCODE    ANSWERS\n"
            "NOERROR  30\n"
            "REFUSED  2\n"
            "BADVERS  1\n"
            "\n"
            "DROPPED (REASON)  QUERIES\n"
            "malformed         4\n"
            "short             0\n"
            "\n"
            "TCP connections closed by the bounds (16 per client address, 128 in all): 24 idle for "
            "a newer one, 0 new refused\n");
}

TEST(Format, CniTextByVerb) {
  CniAnswer a;
  a.chain_ok = true;
  a.calls = "== CHECK bridge ...\n";
  a.ncalls = 3;
  a.node = "node1";
  EXPECT_EQ(CniText({"check", "web-2", ""}, a, false), "cni check web-2: ok (3 plugin calls)\n");
  EXPECT_EQ(CniText({"gc", "", ""}, a, false), "cni gc node node1: ok (3 plugin calls)\n");
  EXPECT_EQ(CniText({"check", "web-2", ""}, a, true), "== CHECK bridge ...\n");
  a.result = nlohmann::json{{"cniVersion", "1.0.0"}};
  EXPECT_EQ(CniText({"add", "web-2", ""}, a, false), "{\n  \"cniVersion\": \"1.0.0\"\n}\n");
  a.negotiated = "1.0.0";
  a.plugins = nlohmann::json{{"bridge", {{"cniVersion", "1.0.0"}}}};
  EXPECT_EQ(CniText({"version", "", ""}, a, false),
            "{\n  \"negotiated\": \"1.0.0\",\n  \"plugins\": {\n    \"bridge\": {\n"
            "      \"cniVersion\": \"1.0.0\"\n    }\n  }\n}\n");
  // A failed chain prints only its calls (the error goes to stderr).
  a.chain_ok = false;
  EXPECT_EQ(CniText({"add", "web-2", ""}, a, false), "");
  EXPECT_EQ(CniText({"add", "web-2", ""}, a, true), "== CHECK bridge ...\n");
}

TEST(Format, CertTextSaysWhereAndHowToTryIt) {
  EXPECT_EQ(
      CertText("certs/ca.pem", "certs/ca.key", false, "certs/shop.lab.crt", "certs/shop.lab.key",
               {"shop.lab", "*.shop.lab", "127.0.0.2", "10.0.0.1", "::1"}),
      "CA:          certs/ca.pem (new, its key in certs/ca.key)\n"
      "certificate: certs/shop.lab.crt\n"
      "key:         certs/shop.lab.key\n"
      "hosts:       shop.lab, *.shop.lab, 127.0.0.2, 10.0.0.1, ::1\n"
      "\n"
      "Try it (with a listener on 127.0.0.1:8443):\n"
      "  curl --cacert certs/ca.pem https://shop.lab:8443/ --resolve shop.lab:8443:127.0.0.1\n"
      "  curl --cacert certs/ca.pem https://www.shop.lab:8443/ --resolve "
      "www.shop.lab:8443:127.0.0.1\n"
      "  curl --cacert certs/ca.pem https://127.0.0.2:8443/\n");
  EXPECT_EQ(CertText("ca.pem", "ca.key", true, "a.crt", "a.key", {"a"}).substr(0, 24),
            "CA:          ca.pem (reu");
}

}  // namespace
}  // namespace mkn::control
