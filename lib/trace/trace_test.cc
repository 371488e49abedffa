// trace's predictions against their goldens (testdata/trace/<network>-<proxy>-<case>.txt, from
// testdata/trace/lab.toml run in every network x proxy mode: `MKN_UPDATE_GOLDEN=1 ctest -R Trace`
// rewrites them), the request's words and their errors, and the verdict as a table of
// {what was seen, expected verdict}.
#include "lib/trace/trace.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "lib/config/toml/load.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"
#include "lib/testing/testing.h"

namespace mkn::trace {
namespace {

namespace fs = std::filesystem;

using testdata::ReadFile;
using testdata::SourceDir;

config::ClusterSpec Lab(config::NetworkMode n, config::ProxyMode m,
                        std::string_view file = "lab.toml") {
  const fs::path p = SourceDir() / "testdata" / "trace" / file;
  config::LoadResult r = config::Load(ReadFile(p), p.string());
  EXPECT_TRUE(r.spec.has_value()) << r.diags.ToStatus();
  config::ClusterSpec s = r.spec ? *r.spec : config::ClusterSpec{};
  s.network = n;
  s.proxy_mode = m;
  return s;
}

void CheckGolden(const std::string& got, const fs::path& golden) {
  if (std::getenv("MKN_UPDATE_GOLDEN") != nullptr) std::ofstream(golden) << got;
  EXPECT_EQ(got, ReadFile(golden)) << golden << " (MKN_UPDATE_GOLDEN=1 rewrites it)";
}

struct Case {
  std::string name, src, dst, proto;
};

// Every kind of SRC and DST, on the flat lab: client and web-0 on node1, web-1 and dns on node2.
const std::vector<Case> kCases = {
    {"pod-same-node", "client", "web-0", ""},
    {"pod-cross-node", "client", "web-1", ""},
    {"pod-ip-tcp", "client", "10.244.1.3:8080", ""},
    {"clusterip-svc", "client", "svc/web", ""},
    {"clusterip-ip-udp", "client", "10.96.0.53:53", ""},
    {"node-pod-same-node", "node1", "web-0", ""},
    {"node-pod-cross-node", "node1", "web-1", ""},
    {"pod-node", "client", "node2", ""},
    {"node-node-ip", "node1", "172.18.0.3", ""},
    {"underlay-node", "underlay", "node2", ""},
    {"nodeport-underlay", "underlay", "node2:30080", ""},
    {"nodeport-pod", "client", "node2:30080", ""},
    // From a pod of the NodePort's own node: translated on its bridge port (nftables, and ebpf's
    // table) or routed into the proxy TUN; one endpoint on that node, one on the other.
    {"nodeport-pod-own-node", "client", "node1:30080", ""},
    // A node's own stack to a Service: translated in the nat output hook (nftables, and ebpf,
    // whose connect4 hook sees only the cluster cgroup's sockets), or routed into the proxy TUN.
    {"node-clusterip-svc", "node1", "svc/web", ""},
    {"node-clusterip-ip-udp", "node1", "10.96.0.53:53", ""},
    {"node-nodeport-own-node", "node1", "node1:30080", ""},
    // The edge: the client's request on lo, the edge, the upstream as the listener's node's own
    // connection (to the ClusterIP; or straight to the endpoints), and back; its own answers.
    {"edge-service", "host", "http://web.lab.test:8080/index.html", ""},
    {"edge-endpoints", "host", "http://web.lab.test:8081/", ""},
    {"edge-no-route", "host", "http://other.lab.test:8080/", ""},
    {"edge-no-endpoints", "host", "http://web.lab.test:8080/soon/x", ""},
};

// The routed lab: client on node1 and web-0 on node2 (rack r1), web-1 and dns on node3 (rack r2).
const std::vector<Case> kRackCases = {
    {"pod-same-rack", "client", "web-0", ""},
    {"pod-cross-rack", "client", "web-1", ""},
    {"clusterip-svc", "client", "svc/web", ""},
    {"node-pod-cross-rack", "node1", "web-1", ""},
    {"pod-node", "client", "node3", ""},
    {"underlay-nodeport", "underlay", "node3:30080", ""},
    {"nodeport-pod-own-node", "client", "node1:30080", ""},
    {"node-clusterip-svc", "node1", "svc/web", ""},
};

int RunCases(const config::ClusterSpec& spec, const std::vector<Case>& cases,
             const std::string& prefix) {
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(prefix + c.name);
    absl::StatusOr<Request> r = ParseRequest(spec, c.src, c.dst, c.proto);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) continue;
    r->id = 4242;
    absl::StatusOr<Path> p = PredictPath(spec, *r);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) continue;
    CheckGolden(RenderPrediction(*p),
                SourceDir() / "testdata" / "trace" / (prefix + c.name + ".txt"));
    ++n;
  }
  return n;
}

std::string Name(config::NetworkMode n, config::ProxyMode m) {
  return std::string(config::ToString(n)) + "-" + std::string(config::ToString(m)) + "-";
}

constexpr config::ProxyMode kProxies[] = {config::ProxyMode::kUserspace,
                                          config::ProxyMode::kNftables, config::ProxyMode::kEbpf};

TEST(Trace, PredictionsMatchGoldensInEveryNetworkAndProxyMode) {
  int n = 0;
  for (config::NetworkMode net :
       {config::NetworkMode::kVxlan, config::NetworkMode::kHostGw, config::NetworkMode::kGeneve}) {
    for (config::ProxyMode proxy : kProxies)
      n += RunCases(Lab(net, proxy), kCases, Name(net, proxy));
  }
  EXPECT_EQ(n, 3 * 3 * 20);
}

TEST(Trace, PredictionsMatchGoldensAcrossRacks) {
  int n = 0;
  for (config::NetworkMode net : {config::NetworkMode::kBgp, config::NetworkMode::kVxlan}) {
    for (config::ProxyMode proxy : kProxies)
      n += RunCases(Lab(net, proxy, "racks.toml"), kRackCases, "racks-" + Name(net, proxy));
  }
  EXPECT_EQ(n, 2 * 3 * 8);
}

// The world outside ([cluster] world): from a pod (masqueraded by its node) and from a node, in
// every network; its link ends in the flat underlay's namespace, at the spine (racks), or at the
// one ToR (rack1.toml). The proxy mode plays no part in it.
const std::vector<Case> kWorldCases = {
    {"pod-world", "client", "world", ""},
    {"pod-www-tcp", "client", "www.example.test:80", ""},
    {"node-world-dns", "node1", "world:53", "udp"},
};

TEST(Trace, WorldPredictionsMatchGoldensInEveryNetwork) {
  int n = 0;
  for (config::NetworkMode net :
       {config::NetworkMode::kVxlan, config::NetworkMode::kHostGw, config::NetworkMode::kGeneve}) {
    n += RunCases(Lab(net, config::ProxyMode::kNftables), kWorldCases,
                  std::string("world-") + std::string(config::ToString(net)) + "-");
  }
  for (config::NetworkMode net : {config::NetworkMode::kBgp, config::NetworkMode::kVxlan}) {
    n += RunCases(Lab(net, config::ProxyMode::kNftables, "racks.toml"), kWorldCases,
                  std::string("world-racks-") + std::string(config::ToString(net)) + "-");
  }
  n += RunCases(Lab(config::NetworkMode::kBgp, config::ProxyMode::kNftables, "rack1.toml"),
                {{"pod-echo-udp", "client", "echo.example.test:7", "udp"}}, "world-rack1-bgp-");
  EXPECT_EQ(n, 5 * 3 + 1);
}

// WHY's route lookup asks for the probe itself, as `ip route get ... iif cbr0 ipproto tcp dport
// 30080` does: in userspace mode a NodePort reaches the proxy's TUN by a FIB rule on the protocol
// and port, which a lookup of the node's address alone misses (it said "route local ... dev eth0").
TEST(Trace, RouteReasonAsksForThePacketItself) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kUserspace);
  absl::StatusOr<Request> r = ParseRequest(spec, "client", "node1:30080", "");
  ASSERT_TRUE(r.ok()) << r.status();
  r->id = 36483;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  const Hop* cbr0_in = nullptr;
  const Hop* eth0_out = nullptr;
  for (const Hop& h : p->hops) {
    if (h.leg != Leg::kRequest || h.why != "route") continue;
    if (h.object == "node1" && h.ifname == "cbr0" && h.dir == Direction::kIn) cbr0_in = &h;
    if (h.object == "client" && h.ifname == "eth0" && h.dir == Direction::kOut) eth0_out = &h;
  }
  ASSERT_NE(cbr0_in, nullptr);
  ASSERT_NE(eth0_out, nullptr);
  RouteKey in;
  in.dst = *net::Ipv4::Parse("172.18.0.2");
  in.src = *net::Ipv4::Parse("10.244.0.2");
  in.iif = "cbr0";
  in.proto = Proto::kTcp;
  in.sport = 36483;
  in.dport = 30080;
  EXPECT_EQ(RouteKeyOf(*cbr0_in), in);
  // Leaving the pod: an output lookup (no iif, no source), with the protocol and ports.
  RouteKey out = in;
  out.src.reset();
  out.iif.clear();
  EXPECT_EQ(RouteKeyOf(*eth0_out), out);
  EXPECT_EQ(SourceRouteKey(*r), out);

  // Encapsulated (a ToR's port in a routed lab): the outer packet's lookup, from the node's
  // underlay address to Geneve's port (its source port is a hash of the inner flow: not asked).
  Hop tor_in;
  tor_in.flow = cbr0_in->flow;
  tor_in.ifname = "node1";
  tor_in.dir = Direction::kIn;
  tor_in.outer = {{*net::Ipv4::Parse("172.18.0.2"), *net::Ipv4::Parse("172.18.1.2")}};
  tor_in.encap = "geneve";
  RouteKey outer;
  outer.dst = *net::Ipv4::Parse("172.18.1.2");
  outer.src = *net::Ipv4::Parse("172.18.0.2");
  outer.iif = "node1";
  outer.proto = Proto::kUdp;
  outer.dport = 6081;
  EXPECT_EQ(RouteKeyOf(tor_in), outer);
}

// A pod's packet to the world leaves its node with the node's address (the masquerade between the
// routing decision and the uplink), and the answer is un-SNATed before the node routes it back.
TEST(Trace, WorldIsReachedThroughTheNodesMasquerade) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kUserspace);
  absl::StatusOr<Request> r = ParseRequest(spec, "client", "example.test:80", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->dst.kind, "world");
  EXPECT_EQ(r->proto, Proto::kTcp);
  r->id = 4242;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<std::string> where;
  for (const Hop& h : p->hops) {
    where.push_back(std::string(ToString(h.leg)) + " " + h.object + ":" + h.ifname + " " +
                    std::string(ToString(h.dir)) + " " + h.flow.src.ToString() + " " + h.why);
  }
  const std::vector<std::string> want = {
      "request client:eth0 out 10.244.0.2 route",
      "request node1:veth39832e43 in 10.244.0.2 bridge",
      "request node1:cbr0 in 10.244.0.2 route",
      "request node1: out 10.244.0.2 snat",
      "request node1:eth0 out 172.18.0.2 ",
      "request underlay:node1 in 172.18.0.2 bridge",
      "request underlay:br0 in 172.18.0.2 route",
      "request underlay:world out 172.18.0.2 ",
      "request world:eth0 in 172.18.0.2 local",
      "reply world:eth0 out 203.0.113.2 route",
      "reply underlay:world in 203.0.113.2 route",
      "reply underlay:br0 out 203.0.113.2 route",
      "reply underlay:node1 out 203.0.113.2 ",
      "reply node1:eth0 in 203.0.113.2 ",
      "reply node1: in 203.0.113.2 snat",
      "reply node1:cbr0 out 203.0.113.2 neigh",
      "reply node1:veth39832e43 out 203.0.113.2 ",
      "reply client:eth0 in 203.0.113.2 local",
  };
  EXPECT_EQ(where, want);
  // Between the two rewrites the client's port is the masquerade's to keep or change.
  for (const Hop& h : p->hops)
    EXPECT_EQ(h.random_port,
              h.flow.src.ToString() == "172.18.0.2" || h.flow.dst.ToString() == "172.18.0.2")
        << h.object << ":" << h.ifname;
  // A world that is off is said to be off, whatever the word.
  config::ClusterSpec off = spec;
  off.world.enabled = false;
  for (std::string_view dst : {"world", "example.test", "www.example.test:80"}) {
    absl::StatusOr<Request> refused = ParseRequest(off, "client", dst, "");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << dst;
    EXPECT_NE(refused.status().message().find("this lab has none ([cluster] world = false"),
              std::string_view::npos)
        << refused.status();
  }
}

// The ebpf mode: the translation is in the client's socket, so its eth0 already carries the
// backend, and nothing on the way back undoes it.
TEST(Trace, EbpfTranslatesInTheClientsSocket) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kEbpf);
  absl::StatusOr<Request> r = ParseRequest(spec, "client", "svc/web", "");
  ASSERT_TRUE(r.ok()) << r.status();
  r->id = 4242;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_FALSE(p->hops.empty());
  EXPECT_EQ(p->hops[0].role, "cgroup/connect4 (ebpf)");
  EXPECT_EQ(p->hops[0].why, "connect4");
  for (const Hop& h : p->hops) {
    if (!h.Sniffed()) continue;
    EXPECT_NE(h.flow.dst.ToString(), "10.96.0.10") << h.object << ":" << h.ifname;
    EXPECT_NE(h.flow.src.ToString(), "10.96.0.10") << h.object << ":" << h.ifname;
  }
}

// A pod calling a Service it backs, picked itself (web-0, node1, an endpoint of svc/web):
// nftables masquerades the hairpin to node1's cbr0 address (the @hairpin rule, fully-random) and
// bridges it back out of the port it came in by; ebpf's connect4 gives the socket the pod's own
// address, a connection over its lo; userspace, the proxy's address as for any client. Predicted
// as the bridged client's way, the trace said "lost" where the probe had got there.
TEST(Trace, APodThatPicksItselfIsTracedTheWayItsHairpinGoes) {
  for (config::ProxyMode mode : kProxies) {
    SCOPED_TRACE(config::ToString(mode));
    const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, mode);
    absl::StatusOr<Request> r = ParseRequest(spec, "web-0", "svc/web", "");
    ASSERT_TRUE(r.ok()) << r.status();
    r->id = 4242;
    absl::StatusOr<Path> p = PredictPath(spec, *r);
    ASSERT_TRUE(p.ok()) << p.status();
    const auto self = std::find(p->endpoints.begin(), p->endpoints.end(), "web-0");
    ASSERT_NE(self, p->endpoints.end());
    const int branch = static_cast<int>(self - p->endpoints.begin());
    std::vector<const Hop*> into, back;  // the branch's hops in web-0, there and back
    for (const Hop& h : p->hops) {
      if (h.branch == branch && h.object == "web-0")
        (h.leg == Leg::kRequest ? into : back).push_back(&h);
    }
    ASSERT_EQ(into.size(), 1u);
    ASSERT_EQ(back.size(), mode == config::ProxyMode::kEbpf ? 1u : 2u);
    const Hop& in = *into[0];
    EXPECT_EQ(in.flow.dst.ToString(), "10.244.0.3");
    EXPECT_EQ(in.flow.dport, 8080);
    switch (mode) {
      case config::ProxyMode::kNftables:
        EXPECT_EQ(in.ifname, "eth0");
        EXPECT_EQ(in.flow.src.ToString(), "10.244.0.1");  // cbr0's: the hairpin masquerade
        EXPECT_TRUE(in.random_port);
        EXPECT_EQ(back[0]->flow.dst.ToString(), "10.244.0.1");
        EXPECT_TRUE(back[0]->random_port);
        // Back to web-0 from the ClusterIP, un-NATed on the bridge.
        EXPECT_EQ(back[1]->flow.src.ToString(), "10.96.0.10");
        EXPECT_EQ(back[1]->flow.dport, 4242);
        break;
      case config::ProxyMode::kEbpf:
        EXPECT_EQ(in.ifname, "lo");
        EXPECT_EQ(in.dir, Direction::kIn);
        EXPECT_EQ(in.flow.src.ToString(), "10.244.0.3");
        EXPECT_EQ(in.flow.sport, 4242);
        EXPECT_EQ(back[0]->ifname, "lo");
        EXPECT_EQ(back[0]->dir, Direction::kIn);
        EXPECT_EQ(back[0]->flow.dst.ToString(), "10.244.0.3");
        EXPECT_EQ(back[0]->flow.dport, 4242);
        EXPECT_EQ(back[0]->why, "local");
        break;
      case config::ProxyMode::kUserspace:
        EXPECT_EQ(in.flow.src.ToString(), "10.244.0.254");  // the proxy's address
        break;
    }
    // No branch of web-0's own pick leaves web-0 by its eth0 in ebpf mode.
    for (const Hop& h : p->hops) {
      if (mode == config::ProxyMode::kEbpf && h.branch == branch && h.object == "web-0") {
        EXPECT_NE(h.ifname, "eth0");
      }
    }
  }
}

// A pod the Service selects but without its named target port is no endpoint of that port:
// kube-proxy's rules leave it out, so no branch may go there (it was predicted with port 0).
TEST(Trace, APodWithoutTheNamedTargetPortIsNoEndpoint) {
  const std::string lab = R"(
[cluster]
name = "mix"
nodes = 2
[[pod]]
name = "client"
node = "node1"
  [[pod.container]]
  name = "shell"
  command = ["sleep", "infinity"]
[[pod]]
name = "named"
node = "node1"
labels = { app = "mixed" }
  [[pod.container]]
  name = "echo"
  app = "http-echo"
  ports = [{ name = "web", port = 8080 }]
[[pod]]
name = "unnamed"
node = "node2"
labels = { app = "mixed" }
  [[pod.container]]
  name = "echo"
  app = "http-echo"
  port = 8080
[[service]]
name = "mixed"
cluster_ip = "10.96.0.30"
selector = { app = "mixed" }
  [[service.port]]
  name = "web"
  port = 80
  target_port = "web"
)";
  config::LoadResult loaded = config::Load(lab, "mix.toml");
  ASSERT_TRUE(loaded.spec.has_value()) << loaded.diags.ToStatus();
  for (config::ProxyMode mode : kProxies) {
    SCOPED_TRACE(config::ToString(mode));
    config::ClusterSpec spec = *loaded.spec;
    spec.proxy_mode = mode;
    absl::StatusOr<Request> r = ParseRequest(spec, "client", "svc/mixed:web", "");
    ASSERT_TRUE(r.ok()) << r.status();
    absl::StatusOr<Path> p = PredictPath(spec, *r);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->endpoints, std::vector<std::string>{"named"});
    for (const Hop& h : p->hops) EXPECT_NE(h.object, "unnamed");
  }
}

// One socket's filter for many hops: the hops of one kind on different branches share their
// terms once (libpcap's optimizer took 3.5 s for the plain union of a 120-endpoint Service's 422
// hop filters, each trace compiling it); a filter that is no plain conjunction stays whole.
TEST(Trace, UnionFilterFactorsTheTermsHopsShare) {
  EXPECT_EQ(UnionFilter({}), "");
  EXPECT_EQ(UnionFilter({"tcp and src host 10.0.0.1 and dst host 10.0.0.2 and dst port 80",
                         "tcp and src host 10.0.0.1 and dst host 10.0.0.3 and dst port 80",
                         "tcp and src host 10.0.0.1 and dst host 10.0.0.2 and dst port 80",
                         "(udp and src host 10.0.0.2) or (icmp and dst host 10.0.0.1)",
                         "tcp and src host 10.0.0.1 and dst host 10.0.0.4 and dst port 80 and "
                         "(tcp[13] & 0x12 == 0x12 or tcp[13] & 0x04 != 0)"}),
            "(tcp and src host 10.0.0.1 and dst port 80 and ((dst host 10.0.0.2) or "
            "(dst host 10.0.0.3))) or ((udp and src host 10.0.0.2) or (icmp and dst host "
            "10.0.0.1)) or (tcp and src host 10.0.0.1 and dst host 10.0.0.4 and dst port 80 and "
            "(tcp[13] & 0x12 == 0x12 or tcp[13] & 0x04 != 0))");
  // A member that is the shared terms alone takes in the others.
  EXPECT_EQ(UnionFilter({"tcp and dst port 80 and src port 1", "tcp and dst port 80 and src port 2",
                         "tcp and dst port 80"}),
            "(tcp and dst port 80 and ((src port 1) or (src port 2))) or (tcp and dst port 80)");
  // Every golden path's union keeps each hop's filter: its terms are all in one group's text.
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kNftables);
  absl::StatusOr<Request> r = ParseRequest(spec, "client", "node2:30080", "");
  ASSERT_TRUE(r.ok());
  r->id = 4242;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok());
  std::vector<std::string> filters;
  for (const Hop& h : p->hops)
    if (h.Sniffed()) filters.push_back(h.filter);
  const std::string u = UnionFilter(filters);
  for (const std::string& f : filters) {
    for (const std::string& word : {std::string("host "), std::string("port ")}) {
      for (size_t at = f.find(word); at != std::string::npos; at = f.find(word, at + 1)) {
        const std::string term = f.substr(at, f.find(' ', at + word.size()) - at);
        EXPECT_NE(u.find(term), std::string::npos) << term << " of " << f << " in " << u;
      }
    }
  }
  EXPECT_LT(u.size(), 2 * filters.size() * 40 + 4000);
}

// Routers are labelled as routers, and a ToR bridges a rack-mate's packet but routes another
// rack's (over the spine).
TEST(Trace, RacksShowRoutersBridgingInARackAndRoutingAcross) {
  const config::ClusterSpec spec =
      Lab(config::NetworkMode::kBgp, config::ProxyMode::kNftables, "racks.toml");
  for (const auto& [dst, why, spine] : std::vector<std::tuple<std::string, std::string, bool>>{
           {"web-0", "bridge", false}, {"web-1", "route", true}}) {
    absl::StatusOr<Request> r = ParseRequest(spec, "client", dst, "");
    ASSERT_TRUE(r.ok()) << r.status();
    absl::StatusOr<Path> p = PredictPath(spec, *r);
    ASSERT_TRUE(p.ok()) << p.status();
    bool saw_tor = false, saw_spine = false;
    for (const Hop& h : p->hops) {
      if (h.object == "tor-r1" && h.ifname == "node1" && h.leg == Leg::kRequest) {
        saw_tor = true;
        EXPECT_EQ(h.kind, "router");
        EXPECT_EQ(h.why, why) << dst;
      }
      if (h.object == "spine") saw_spine = true;
      EXPECT_NE(h.object, "underlay");
    }
    EXPECT_TRUE(saw_tor) << dst;
    EXPECT_EQ(saw_spine, spine) << dst;
  }
}

// A CNI lab: the pods' own interfaces (as each node's chain names them) predicted, their and their
// nodes' namespaces sniffed whole; the path is then what was seen, in order, and a probe that
// never arrives names the last interface that saw it.
TEST(Trace, CniLabsPredictThePodsAndComposeTheRestFromWhatWasSeen) {
  const fs::path lab = SourceDir() / "testdata" / "config" / "cni.toml";
  config::LoadResult loaded = config::Load(ReadFile(lab), lab.string());
  ASSERT_TRUE(loaded.spec.has_value()) << loaded.diags.ToStatus();
  config::ClusterSpec spec = *loaded.spec;
  absl::StatusOr<Request> r = ParseRequest(spec, "web", "db", "");
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();  // no addresses yet
  // The chain's ADD gave these (vnet/trace fills them in from the running cluster).
  for (config::PodSpec& pod : spec.pods)
    pod.ip = *net::Ipv4::Parse(pod.name == "web" ? "10.244.0.2" : "10.244.1.2");
  EXPECT_TRUE(ParseRequest(spec, "node1", "db", "").ok());   // its source: ApplyCniRoutes
  EXPECT_TRUE(ParseRequest(spec, "web", "node2", "").ok());  // its device: CniRouteQueries
  r = ParseRequest(spec, "web", "db", "");
  ASSERT_TRUE(r.ok()) << r.status();
  r->id = 4242;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  CheckGolden(RenderPrediction(*p), SourceDir() / "testdata" / "trace" / "cni-pod-pod.txt");
  ASSERT_EQ(p->hops.size(), 4u);
  EXPECT_EQ(p->hops[1].ifname, "net0");  // node2's chain names it
  ASSERT_EQ(p->sniff_all.size(), 4u);

  // Seen: web's eth0, node1's two interfaces, node2's one, and nothing in db: lost after node2.
  auto copy = [&](const Place& place, std::string ifname, Direction dir, int64_t t) {
    SeenCopy c{place, std::move(ifname), dir, Leg::kRequest, {}};
    c.ob.seen = true;
    c.ob.offset_ns = t;
    c.ob.flow = p->hops[0].flow;
    return c;
  };
  const Place web = p->sniff_all[0], node1 = p->sniff_all[1], node2 = p->sniff_all[3];
  std::vector<Observation> seen(p->hops.size());
  seen[0].seen = true;
  std::vector<SeenCopy> copies = {
      copy(web, "eth0", Direction::kOut, 1000), copy(node1, "veth1", Direction::kIn, 2000),
      copy(node1, "veth1", Direction::kIn, 2100),  // once
      copy(node1, "eth0", Direction::kOut, 3000), copy(node2, "eth0", Direction::kIn, 4000)};
  Path composed = *p;
  ComposeSeen(composed, copies, seen);
  ASSERT_EQ(composed.hops.size(), 7u);  // 4 seen + db's net0, then the reply's two predicted
  EXPECT_EQ(composed.hops[1].object + ":" + composed.hops[1].ifname, "node1:veth1");
  EXPECT_EQ(composed.hops[4].object + ":" + composed.hops[4].ifname, "db:net0");
  const Verdict v = Judge(composed, seen);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.summary.find("not seen at db:net0 (request, in); last seen at node2:eth0"),
            std::string::npos)
      << v.summary;
}

// A CNI lab's Service: the client's interface, kube-proxy's nft DNAT in its node (proved by the
// conntrack entry), each endpoint's interface a branch; the copies seen before the translation
// are common, those after it name the endpoint the balancer chose, and the path is composed for
// it with the DNAT where the packet changed.
TEST(Trace, CniLabsTraceAClusterIpThroughTheNftDnat) {
  const fs::path lab = SourceDir() / "testdata" / "config" / "cni.toml";
  config::LoadResult loaded = config::Load(ReadFile(lab), lab.string());
  ASSERT_TRUE(loaded.spec.has_value()) << loaded.diags.ToStatus();
  config::ClusterSpec spec = *loaded.spec;
  for (config::PodSpec& pod : spec.pods)
    pod.ip = *net::Ipv4::Parse(pod.name == "web" ? "10.244.0.2" : "10.244.1.2");
  // The lab's selector is empty (no endpoints, for the config goldens): web is the endpoint here.
  ASSERT_EQ(spec.services.size(), 1u);
  spec.services[0].endpoints = {spec.FindPod("web") == &spec.pods[0] ? 0 : 1};
  spec.services[0].ports[0].node_port = 30080;
  absl::StatusOr<Request> r = ParseRequest(spec, "db", "svc/web", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->proto, Proto::kTcp);
  r->id = 4242;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  CheckGolden(RenderPrediction(*p), SourceDir() / "testdata" / "trace" / "cni-pod-clusterip.txt");
  ASSERT_EQ(p->endpoints, std::vector<std::string>{"web"});
  // The filter catches each form of the packet: to the ClusterIP and to the endpoint, and back.
  const std::string filter = CniFilter(*p);
  for (std::string_view want :
       {"dst host 10.96.0.1 and", "dst host 10.244.0.2 and src port 4242 and dst port 8080",
        "src host 10.244.0.2 and dst host 10.244.1.2 and src port 8080",
        "src host 10.96.0.1 and dst host 10.244.1.2"})
    EXPECT_NE(filter.find(want), std::string::npos) << want << " in " << filter;

  const Flow to_ip = p->hops[0].flow;
  Flow to_ep = to_ip;
  to_ep.dst = *net::Ipv4::Parse("10.244.0.2");
  to_ep.dport = 8080;
  // Which leg and branch a copy is, by its flow.
  EXPECT_EQ(CniCopyOf(*p, to_ip), std::make_pair(Leg::kRequest, -1));
  EXPECT_EQ(CniCopyOf(*p, to_ep), std::make_pair(Leg::kRequest, 0));
  EXPECT_EQ(CniCopyOf(*p, to_ep.Reversed()), std::make_pair(Leg::kReply, 0));
  EXPECT_EQ(CniCopyOf(*p, to_ip.Reversed()), std::make_pair(Leg::kReply, -1));
  EXPECT_FALSE(CniCopyOf(*p, Flow{Proto::kUdp, to_ip.src, to_ip.dst, 1, 2}).has_value());

  const Place db = p->sniff_all[0], node2 = p->sniff_all[1], web = p->sniff_all[2],
              node1 = p->sniff_all[3];
  auto copy = [](const Place& place, std::string ifname, Direction dir, Leg leg, int branch,
                 const Flow& f, int64_t t) {
    SeenCopy c{place, std::move(ifname), dir, leg, {}, branch};
    c.ob.seen = true;
    c.ob.offset_ns = t;
    c.ob.flow = f;
    return c;
  };
  std::vector<SeenCopy> copies = {
      copy(db, "net0", Direction::kOut, Leg::kRequest, -1, to_ip, 1000),
      copy(node2, "veth1", Direction::kIn, Leg::kRequest, -1, to_ip, 2000),
      copy(node2, "eth0", Direction::kOut, Leg::kRequest, 0, to_ep, 3000),
      copy(node1, "eth0", Direction::kIn, Leg::kRequest, 0, to_ep, 4000),
      copy(web, "eth0", Direction::kIn, Leg::kRequest, 0, to_ep, 5000),
      copy(web, "eth0", Direction::kOut, Leg::kReply, 0, to_ep.Reversed(), 6000),
      copy(node2, "eth0", Direction::kIn, Leg::kReply, 0, to_ep.Reversed(), 7000),
      copy(node2, "veth1", Direction::kOut, Leg::kReply, -1, to_ip.Reversed(), 8000),
      copy(db, "net0", Direction::kIn, Leg::kReply, -1, to_ip.Reversed(), 9000)};
  std::vector<Observation> seen(p->hops.size());
  for (size_t i = 0; i < p->hops.size(); ++i) seen[i].seen = p->hops[i].Sniffed();
  Path composed = *p;
  ComposeSeen(composed, copies, seen);
  std::vector<std::string> where;
  for (const Hop& h : composed.hops)
    where.push_back(h.Sniffed() ? h.object + ":" + h.ifname : h.object + " (" + h.role + ")");
  EXPECT_EQ(where, (std::vector<std::string>{
                       "db:net0", "node2:veth1", "node2 (nft DNAT (prerouting))", "node2:eth0",
                       "node1:eth0", "web:eth0", "web:eth0", "node2:eth0",
                       "node2 (nft un-DNAT (conntrack))", "node2:veth1", "db:net0"}));
  Verdict v = Judge(composed, seen);
  EXPECT_TRUE(v.ok) << v.summary;
  EXPECT_EQ(v.branch, 0);
  EXPECT_NE(v.summary.find("(endpoint web)"), std::string::npos) << v.summary;

  // Lost in db's node before anything carried the endpoint: the DNAT is where it died.
  copies.resize(2);
  seen.assign(p->hops.size(), {});
  seen[0].seen = true;
  composed = *p;
  ComposeSeen(composed, copies, seen);
  v = Judge(composed, seen);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.summary.find("not seen at node2 (nft DNAT (prerouting))"), std::string::npos)
      << v.summary;
  EXPECT_NE(v.summary.find("last seen at node2:veth1"), std::string::npos) << v.summary;
}

// A CNI example lab (examples/cni/<plugin>.toml) as `up` leaves it: the addresses host-local
// gave (.2, .3, ... of each node's range, in pod order). Its Service web is a NodePort (30080).
config::ClusterSpec CniExample(std::string_view plugin) {
  const fs::path lab = SourceDir() / "examples" / "cni" / StrCat(plugin, ".toml");
  config::LoadResult loaded = config::Load(ReadFile(lab), lab.string());
  EXPECT_TRUE(loaded.spec.has_value()) << loaded.diags.ToStatus();
  config::ClusterSpec spec = loaded.spec ? *loaded.spec : config::ClusterSpec{};
  std::vector<int> next(spec.nodes.size(), 2);
  for (config::PodSpec& pod : spec.pods)
    pod.ip = spec.nodes[pod.node].pod_cidr.Host(next[pod.node]++);
  return spec;
}

// What `ip route get` answers in a CNI lab's namespaces, as the bridge plugin (cni0, the node's
// .1 on it) or ptp (a /32 route per pod to its veth, the node's .1 on each) and host-gw node
// routes leave them; the underlay has a route to the pods only when `underlay_routes`.
RouteAnswer FakeKernel(const config::ClusterSpec& spec, std::string_view plugin,
                       bool underlay_routes, const RouteQuery& q) {
  RouteAnswer a;
  a.query = q;
  const config::PodSpec* pod = nullptr;
  for (const config::PodSpec& p : spec.pods)
    if (p.ip == q.dst) pod = &p;
  const config::NodeSpec* dst_node = nullptr;
  for (const config::NodeSpec& n : spec.nodes)
    if (n.underlay_ip == q.dst) dst_node = &n;
  if (q.netns == net::NetnsName(spec.name, net::kUnderlayObject)) {
    if (pod != nullptr && !underlay_routes) {
      a.error = "Network is unreachable";
      return a;
    }
    a.ok = true;
    a.dev = "br0";
    a.src = spec.underlay_gateway;
    if (pod != nullptr) a.via = spec.nodes[pod->node].underlay_ip;
    return a;
  }
  for (const config::NodeSpec& n : spec.nodes) {
    if (n.netns != q.netns) continue;
    a.ok = true;
    if (dst_node == &n) {
      a.dev = "lo";
      a.src = n.underlay_ip;
    } else if (pod != nullptr && pod->node == n.index) {
      a.dev = plugin == "ptp" ? pod->host_veth : "cni0";
      a.src = n.pod_cidr.Host(1);
    } else {
      a.dev = "eth0";
      a.src = n.underlay_ip;
      if (pod != nullptr) a.via = spec.nodes[pod->node].underlay_ip;
    }
    return a;
  }
  a.error = "no such namespace";
  return a;
}

// A CNI lab's backend calling its own Service (web-1 -> svc/web), picked itself: masqueraded by
// the table's @hairpin rule to the address its node's kernel picks toward it (fully-random); the
// other endpoints see web-1's own address. Predicted as unmasqueraded, the trace said "lost".
TEST(Trace, CniLabsPredictTheHairpinMasquerade) {
  for (std::string_view plugin : {"bridge", "ptp"}) {
    SCOPED_TRACE(plugin);
    const config::ClusterSpec spec = CniExample(plugin);
    absl::StatusOr<Request> r = ParseRequest(spec, "web-1", "svc/web", "");
    ASSERT_TRUE(r.ok()) << r.status();
    std::vector<RouteAnswer> answers;
    for (const RouteQuery& q : CniRouteQueries(spec, *r))
      answers.push_back(FakeKernel(spec, plugin, false, q));
    ASSERT_TRUE(ApplyCniRoutes(spec, *r, std::move(answers)).ok());
    r->id = 4242;
    absl::StatusOr<Path> p = PredictPath(spec, *r);
    ASSERT_TRUE(p.ok()) << p.status();
    int checked = 0;
    for (const Hop& h : p->hops) {
      if (h.leg != Leg::kRequest || h.branch < 0) continue;
      const bool self = p->endpoints[h.branch] == "web-1";
      EXPECT_EQ(h.flow.src.ToString(), self ? "10.244.0.1" : "10.244.0.2") << h.object;
      EXPECT_EQ(h.random_port, self) << h.object;
      ++checked;
    }
    EXPECT_EQ(checked, 4);  // web-1 .. web-4
  }
}

// Every new kind of end in a CNI lab, on the bridge and the ptp plugin's example labs (web-1,
// web-2, dns-1 on node1; web-3, web-4 on node2): a node's own stack (its route's device first,
// the nft DNAT in its output hook for a Service), the underlay (given a route to the pods), a
// NodePort (DNAT and masquerade in its node, to the address the kernel picks toward each
// endpoint) from a pod, a node and the underlay, and the underlay to a node (the tool's rows).
TEST(Trace, CniLabsTraceFromNodesAndTheUnderlayAndToNodePorts) {
  const std::vector<Case> cases = {
      {"node-pod-same-node", "node1", "web-1", ""},
      {"node-pod-cross-node", "node1", "web-4", ""},
      {"node-pod-ip-tcp", "node1", "10.244.1.3:8080", ""},
      {"node-clusterip-svc", "node1", "svc/web", ""},
      {"node-clusterip-ip-udp", "node2", "10.96.0.53:53", ""},
      {"underlay-pod", "underlay", "web-4", ""},
      {"underlay-node", "underlay", "node2", ""},
      {"nodeport-underlay", "underlay", "node2:30080", ""},
      {"nodeport-pod", "dns-1", "node2:30080", ""},
      {"nodeport-pod-own-node", "dns-1", "node1:30080", ""},
      {"node-nodeport-own-node", "node1", "node1:30080", ""},
      {"pod-node-same-node", "web-1", "node1", ""},
      {"pod-node-cross-node", "web-1", "172.18.0.3", ""},
  };
  int n = 0;
  for (std::string_view plugin : {"bridge", "ptp"}) {
    const config::ClusterSpec spec = CniExample(plugin);
    for (const Case& c : cases) {
      SCOPED_TRACE(StrCat(plugin, " ", c.name));
      absl::StatusOr<Request> r = ParseRequest(spec, c.src, c.dst, c.proto);
      ASSERT_TRUE(r.ok()) << r.status();
      std::vector<RouteAnswer> answers;
      for (const RouteQuery& q : CniRouteQueries(spec, *r))
        answers.push_back(FakeKernel(spec, plugin, true, q));
      ASSERT_TRUE(ApplyCniRoutes(spec, *r, answers).ok());
      r->id = 4242;
      absl::StatusOr<Path> p = PredictPath(spec, *r);
      ASSERT_TRUE(p.ok()) << p.status();
      CheckGolden(RenderPrediction(*p),
                  SourceDir() / "testdata" / "trace" / StrCat("cni-", plugin, "-", c.name, ".txt"));
      ++n;
    }
  }
  EXPECT_EQ(n, 2 * 13);

  const config::ClusterSpec spec = CniExample("bridge");
  // A node's own probe leaves from the address its kernel picks toward DST, by that device.
  absl::StatusOr<Request> r = ParseRequest(spec, "node1", "web-4", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(CniRouteQueries(spec, *r),
            (std::vector<RouteQuery>{{"mkn-cni-bridge-node1", *net::Ipv4::Parse("10.244.1.3")}}));
  ASSERT_TRUE(
      ApplyCniRoutes(spec, *r, {FakeKernel(spec, "bridge", false, CniRouteQueries(spec, *r)[0])})
          .ok());
  EXPECT_EQ(r->src.ip.ToString(), "172.18.0.2");
  EXPECT_EQ(r->src_dev, "eth0");
  // The underlay without a route to the pods: refused with the kernel's answer.
  r = ParseRequest(spec, "underlay", "web-4", "");
  ASSERT_TRUE(r.ok()) << r.status();
  absl::Status refused =
      ApplyCniRoutes(spec, *r, {FakeKernel(spec, "bridge", false, CniRouteQueries(spec, *r)[0])});
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_NE(refused.message().find("`ip -n mkn-cni-bridge-underlay route get 10.244.1.3` "
                                   "answers \"Network is unreachable\""),
            std::string::npos)
      << refused;
  // An answer missing is a bug of the caller's.
  EXPECT_TRUE(absl::IsInternal(ApplyCniRoutes(spec, *r, {})));
  // A pod to a node: the node's device is the one its route back to the pod points at; a node
  // with none is refused with its kernel's answer.
  r = ParseRequest(spec, "web-1", "node2", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(CniRouteQueries(spec, *r),
            (std::vector<RouteQuery>{{"mkn-cni-bridge-node2", *net::Ipv4::Parse("10.244.0.2")}}));
  RouteAnswer none;
  none.query = CniRouteQueries(spec, *r)[0];
  none.error = "Network is unreachable";
  ASSERT_TRUE(ApplyCniRoutes(spec, *r, {none}).ok());
  absl::StatusOr<Path> unroutable = PredictPath(spec, *r);
  EXPECT_TRUE(absl::IsFailedPrecondition(unroutable.status())) << unroutable.status();
  EXPECT_NE(unroutable.status().message().find(
                "`ip -n mkn-cni-bridge-node2 route get 10.244.0.2` answers \"Network is "
                "unreachable\""),
            std::string::npos)
      << unroutable.status();
  // Still refused, with its reason: the underlay to a ClusterIP.
  for (const auto& [src, dst, code, text] :
       std::vector<std::tuple<std::string, std::string, absl::StatusCode, std::string>>{
           {"underlay", "svc/web", absl::StatusCode::kInvalidArgument, "are in the nodes"}}) {
    absl::StatusOr<Request> bad = ParseRequest(spec, src, dst, "");
    EXPECT_EQ(bad.status().code(), code) << src << " " << dst << ": " << bad.status();
    EXPECT_NE(bad.status().message().find(text), std::string::npos) << bad.status();
  }
}

// A node's own connection to a ClusterIP in a CNI lab: translated in its output hook (no device
// before it), masqueraded (its address is outside the pod network), the answer un-translated on
// input and proved by the probe's socket; the path composed from the copies keeps that proof.
TEST(Trace, CniNodeToClusterIpComposesAroundTheOutputHook) {
  const config::ClusterSpec spec = CniExample("bridge");
  absl::StatusOr<Request> r = ParseRequest(spec, "node1", "svc/dns", "");
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<RouteAnswer> answers;
  for (const RouteQuery& q : CniRouteQueries(spec, *r))
    answers.push_back(FakeKernel(spec, "bridge", false, q));
  ASSERT_TRUE(ApplyCniRoutes(spec, *r, answers).ok());
  r->id = 4242;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->endpoints, std::vector<std::string>{"dns-1"});
  EXPECT_EQ(p->hops.front().role, kNftOutputDnatRole);
  const Hop& in = p->hops[1];
  EXPECT_TRUE(in.random_port);
  EXPECT_EQ(in.flow.src.ToString(), "10.244.0.1");  // masqueraded to cni0's address
  Flow seen_in = in.flow;
  seen_in.sport = 51000;  // the masquerade's pick
  EXPECT_EQ(CniCopyOf(*p, seen_in), std::make_pair(Leg::kRequest, 0));
  EXPECT_EQ(CniCopyOf(*p, seen_in.Reversed()), std::make_pair(Leg::kReply, 0));

  const Place node1 = p->sniff_all[0], dns = p->sniff_all[1];
  ASSERT_EQ(node1.netns, "mkn-cni-bridge-node1");
  auto copy = [](const Place& place, std::string ifname, Direction dir, Leg leg, const Flow& f,
                 int64_t t) {
    SeenCopy c{place, std::move(ifname), dir, leg, {}, 0};
    c.ob.seen = true;
    c.ob.offset_ns = t;
    c.ob.flow = f;
    return c;
  };
  const std::vector<SeenCopy> copies = {
      copy(node1, "cni0", Direction::kOut, Leg::kRequest, seen_in, 1000),
      copy(dns, "eth0", Direction::kIn, Leg::kRequest, seen_in, 2000),
      copy(dns, "eth0", Direction::kOut, Leg::kReply, seen_in.Reversed(), 3000),
      copy(node1, "cni0", Direction::kIn, Leg::kReply, seen_in.Reversed(), 4000)};
  std::vector<Observation> seen(p->hops.size());
  for (size_t i = 0; i < p->hops.size(); ++i) seen[i].seen = p->hops[i].Sniffed();
  seen.back().seen = true;  // the socket's proof of the un-DNAT
  seen.back().why = "the probe's socket received the answer from 10.96.0.53:53";
  Path composed = *p;
  ComposeSeen(composed, copies, seen);
  std::vector<std::string> where;
  for (const Hop& h : composed.hops)
    where.push_back(h.Sniffed() ? h.object + ":" + h.ifname : h.object + " (" + h.role + ")");
  EXPECT_EQ(where, (std::vector<std::string>{"node1 (nft DNAT (output))", "node1:cni0",
                                             "dns-1:eth0", "dns-1:eth0", "node1:cni0",
                                             "node1 (nft un-DNAT (conntrack, input))"}));
  const Verdict v = Judge(composed, seen);
  EXPECT_TRUE(v.ok) << v.summary;
}

// What a new user read wrong: ICMP's ports in JSON (an echo has an identifier, not ports), the
// dry run's mark before it is picked (shown and filtered as 0), a long WHERE pushing its line
// out of the columns, and trailing blanks.
TEST(Trace, OutputSaysWhatThePacketHas) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kNftables);
  absl::StatusOr<Request> r = ParseRequest(spec, "client", "web-1", "");
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<Path> dry = PredictPath(spec, *r);  // id 0: --dry-run's, nothing sent
  ASSERT_TRUE(dry.ok()) << dry.status();
  const std::string prediction = RenderPrediction(*dry);
  EXPECT_EQ(prediction.find("id 0"), std::string::npos) << prediction;
  EXPECT_EQ(prediction.find("icmp[4:2] == 0"), std::string::npos) << prediction;
  EXPECT_NE(prediction.find("echo request id *"), std::string::npos) << prediction;
  EXPECT_NE(prediction.find("is picked when it is sent"), std::string::npos) << prediction;
  absl::StatusOr<Request> tcp = ParseRequest(spec, "client", "svc/web", "");
  ASSERT_TRUE(tcp.ok());
  absl::StatusOr<Path> tcp_dry = PredictPath(spec, *tcp);
  ASSERT_TRUE(tcp_dry.ok());
  EXPECT_EQ(RenderPrediction(*tcp_dry).find("port 0"), std::string::npos);

  r->id = 4242;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok());
  std::vector<Observation> seen(p->hops.size());
  for (size_t i = 0; i < p->hops.size(); ++i) {
    seen[i].seen = true;
    seen[i].flow = p->hops[i].flow;
  }
  Verdict v = Judge(*p, seen);
  const nlohmann::json j = nlohmann::json::parse(RenderJson(*p, seen, v));
  EXPECT_EQ(j["hops"][0]["packet"],
            nlohmann::json({{"src", "10.244.0.2"}, {"dst", "10.244.1.3"}, {"id", 4242}}));
  EXPECT_FALSE(j["hops"][0]["expected"].contains("sport"));

  // A NodePort's translation point is the longest WHERE: DIR stays in its column on every line.
  absl::StatusOr<Request> np = ParseRequest(spec, "underlay", "node1:30080", "");
  ASSERT_TRUE(np.ok());
  np->id = 40000;
  p = PredictPath(spec, *np);
  ASSERT_TRUE(p.ok());
  seen.assign(p->hops.size(), {});
  for (size_t i = 0; i < p->hops.size(); ++i) {
    seen[i].seen = p->hops[i].Sniffed();
    seen[i].flow = p->hops[i].flow;
  }
  v = Judge(*p, seen);
  // --dry-run's rows: the NodePort's translation point is wider than the usual column; DIR is
  // still apart from it.
  EXPECT_EQ(RenderPrediction(*p).find("(NodePort))-"), std::string::npos) << RenderPrediction(*p);
  // The masquerade's port in JSON: any (null) where it was expected, as the table's "*".
  const nlohmann::json np_json = nlohmann::json::parse(RenderJson(*p, seen, v));
  int any_ports = 0;
  for (const nlohmann::json& h : np_json["hops"]) {
    if (h["leg"] == "request" && h["interface"] == "vxlan0") {
      EXPECT_TRUE(h["expected"]["sport"].is_null()) << h;
      ++any_ports;
    }
    if (h["leg"] == "request" && h["object"] == "underlay" && h["interface"] == "br0") {
      EXPECT_EQ(h["expected"]["sport"], 40000) << h;  // the client's own port, not masqueraded
    }
  }
  EXPECT_GT(any_ports, 0);
  // --dry-run -o json: the prediction as JSON, each hop's branch (null: all), filter and the
  // masquerade's port left open.
  const nlohmann::json dry_json = nlohmann::json::parse(RenderPredictionJson(*p));
  EXPECT_EQ(dry_json["dry_run"], true);
  EXPECT_EQ(dry_json["service"], "web");
  ASSERT_EQ(dry_json["hops"].size(), p->hops.size());
  for (size_t i = 0; i < p->hops.size(); ++i) {
    const nlohmann::json& h = dry_json["hops"][i];
    EXPECT_EQ(h["branch"].is_null(), p->hops[i].branch < 0) << h;
    EXPECT_EQ(h["filter"], p->hops[i].filter) << h;
    if (p->hops[i].random_port && p->hops[i].leg == Leg::kRequest) {
      EXPECT_TRUE(h["expected"]["sport"].is_null()) << h;
    }
  }
  // Its header names the Service as the run's does ("# trace ... , Service web)").
  EXPECT_NE(RenderPrediction(*p).find("(tcp, network vxlan, proxy nftables, Service web)"),
            std::string::npos)
      << RenderPrediction(*p);
  const std::string table = RenderTable(*p, seen, v);
  std::istringstream lines(table);
  std::string line;
  size_t dir_col = std::string::npos;
  int rows = 0;
  while (std::getline(lines, line)) {
    EXPECT_TRUE(line.empty() || line.back() != ' ') << "trailing blank: [" << line << "]";
    if (line.starts_with("#   ")) dir_col = line.find("DIR");
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
    ++rows;
    ASSERT_NE(dir_col, std::string::npos);
    const std::string dir = line.substr(dir_col, 4);
    EXPECT_TRUE(dir == "in  " || dir == "out " || dir == "-   ") << "[" << dir << "] in " << line;
  }
  EXPECT_GT(rows, 5) << table;
}

// A URL in a lab without an edge: the lab has no ingress, from any SRC and for https too (not "not
// traced yet", which a new user read as a missing feature).
TEST(Trace, AUrlInALabWithoutAnEdgeSaysThereIsNoIngress) {
  config::LoadResult lab = config::Load(R"([cluster]
name = "plain"
[[pod]]
name = "client"
  [[pod.container]]
  name = "shell"
  command = ["sleep", "infinity"]
)",
                                        "plain.toml");
  ASSERT_TRUE(lab.spec) << lab.diags.FormatAll();
  for (const auto& [src, dst] : std::vector<std::pair<std::string, std::string>>{
           {"host", "http://web/"}, {"host", "https://web/"}, {"client", "http://web/"}}) {
    absl::StatusOr<Request> r = ParseRequest(*lab.spec, src, dst, "");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << dst;
    EXPECT_NE(r.status().message().find("this lab has no ingress"), std::string_view::npos)
        << r.status();
  }
}

TEST(Trace, RequestWordsAndTheirErrors) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kUserspace);
  struct Row {
    std::string src, dst, proto;
    absl::StatusCode code;
    std::string text;  // in the message
  };
  const std::vector<Row> rows = {
      {"client", "web-0", "", absl::StatusCode::kOk, ""},
      {"clinet", "web-0", "", absl::StatusCode::kInvalidArgument, "did you mean \"client\"?"},
      {"client", "web-9", "", absl::StatusCode::kInvalidArgument, "did you mean \"web-0\"?"},
      {"client", "svc/wbe", "", absl::StatusCode::kInvalidArgument, "did you mean \"svc/web\"?"},
      // A Service written as `get svc -A` lists it, or without its namespace: its svc/ spelling.
      {"client", "web", "", absl::StatusCode::kInvalidArgument, "did you mean \"svc/web\"?"},
      {"client", "kube-system/kube-dns", "", absl::StatusCode::kInvalidArgument,
       "did you mean \"svc/kube-system/kube-dns\"? (a Service is written svc/NAME)"},
      {"client", "kube-dns", "", absl::StatusCode::kInvalidArgument,
       "did you mean \"svc/kube-system/kube-dns\"?"},
      {"client", "svc/kube-dns", "", absl::StatusCode::kInvalidArgument,
       "did you mean \"svc/kube-system/kube-dns\"?"},
      {"client", "svc/web:81", "", absl::StatusCode::kInvalidArgument,
       "has no port 81 (it has 80)"},
      {"client", "svc/web:http", "", absl::StatusCode::kOk, ""},
      {"client", "svc/web:htp", "", absl::StatusCode::kInvalidArgument,
       "has no port named \"htp\" (it has (unnamed) 80)"},
      {"client", "web-0:http", "", absl::StatusCode::kInvalidArgument,
       "a name only after svc/NAME"},
      {"client", "svc/web", "icmp", absl::StatusCode::kInvalidArgument, "not ICMP"},
      // --proto picks among the ports DST names; a protocol none of them carries has no rule
      // that would translate the probe (it was predicted translated: a false "lost").
      {"client", "svc/web", "udp", absl::StatusCode::kInvalidArgument,
       "Service web's port 80 carries TCP, not UDP: leave --proto out or say tcp"},
      {"client", "node2:30080", "udp", absl::StatusCode::kInvalidArgument,
       "Service web's port 30080 carries TCP, not UDP"},
      {"client", "svc/dns", "tcp", absl::StatusCode::kInvalidArgument,
       "Service dns's port 53 carries UDP, not TCP: leave --proto out or say udp"},
      {"client", "svc/dns:53", "udp", absl::StatusCode::kOk, ""},
      {"client", "svc/kube-system/kube-dns:53", "tcp", absl::StatusCode::kOk, ""},
      {"client", "svc/kube-system/kube-dns:53", "udp", absl::StatusCode::kOk, ""},
      {"client", "web-0:8080", "icmp", absl::StatusCode::kInvalidArgument, "ICMP has no port"},
      {"client", "web-0", "tcp", absl::StatusCode::kInvalidArgument, "needs a port"},
      {"client", "web-0:70000", "", absl::StatusCode::kInvalidArgument, "1..65535"},
      {"client", "web-0:", "", absl::StatusCode::kInvalidArgument, "1..65535"},
      {"client", "svc/web:", "", absl::StatusCode::kInvalidArgument, "1..65535"},
      {"client", "10.1.2.3", "", absl::StatusCode::kInvalidArgument, "neither a pod"},
      {"node1", "web-0", "", absl::StatusCode::kOk, ""},
      {"client", "node2", "", absl::StatusCode::kOk, ""},
      {"underlay", "node2:30080", "", absl::StatusCode::kOk, ""},
      {"underlay", "web-0", "", absl::StatusCode::kInvalidArgument, "no route to the pods"},
      {"node1", "node1", "", absl::StatusCode::kInvalidArgument, "never leaves it"},
      {"client", "client", "", absl::StatusCode::kInvalidArgument, "it goes over lo"},
      {"web-0", "10.244.0.3", "", absl::StatusCode::kInvalidArgument, "it goes over lo"},
      {"client", "node2:22", "", absl::StatusCode::kInvalidArgument, "its NodePorts: 30080"},
      {"client", "svc/web:30080", "", absl::StatusCode::kInvalidArgument,
       "has no port 30080 (it has 80); 30080 is its NodePort, on every node: trace client "
       "node1:30080"},
      {"node1", "svc/web", "", absl::StatusCode::kOk, ""},
      {"node1", "node1:30080", "", absl::StatusCode::kOk, ""},
      {"client", "node1:30080", "", absl::StatusCode::kOk, ""},
      {"underlay", "svc/web", "", absl::StatusCode::kInvalidArgument,
       "no route to the pods or the Services"},
      {"nodee1", "web-0", "", absl::StatusCode::kInvalidArgument, "did you mean \"node1\"?"},
      {"host", "web-0", "", absl::StatusCode::kInvalidArgument, "must be an edge URL"},
      {"client", "http://127.0.0.1:8080/", "", absl::StatusCode::kInvalidArgument,
       "traced from SRC host"},
      {"host", "https://web.lab.test:8443/", "", absl::StatusCode::kUnimplemented, "over TLS"},
      {"host", "http://web.lab.test:9090/", "", absl::StatusCode::kInvalidArgument,
       "no http listener on port 9090 (the edge listens on http 127.0.0.1:8080, http "
       "127.0.0.1:8081)"},
      {"host", "http://127.0.0.2:8080/", "", absl::StatusCode::kInvalidArgument,
       "no http listener on 127.0.0.2:8080"},
      {"host", "http://web.lab.test:8080/a b", "", absl::StatusCode::kInvalidArgument, "a space"},
      {"host", "http://web.lab.test\r\nX-Mkn-Trace: forged:8080/", "",
       absl::StatusCode::kInvalidArgument, "the host has a space or a control character"},
      {"host", "http://web.lab.test\n:8080/", "", absl::StatusCode::kInvalidArgument,
       "a control character"},
      {"host", "http://[::1]:8080/", "", absl::StatusCode::kInvalidArgument, "an IPv6 literal"},
      {"host", "http://[::1]/", "", absl::StatusCode::kInvalidArgument, "an IPv6 literal"},
      {"host", "http://web.lab.test:8080/", "udp", absl::StatusCode::kInvalidArgument, "not udp"},
      {"hots", "web-0", "", absl::StatusCode::kInvalidArgument, "did you mean \"host\"?"},
      {"client", "world", "", absl::StatusCode::kOk, ""},
      {"node2", "echo.example.test:7", "udp", absl::StatusCode::kOk, ""},
      {"client", "203.0.113.3:7", "", absl::StatusCode::kOk, ""},
      {"client", "wwww.example.test", "", absl::StatusCode::kInvalidArgument,
       "did you mean \"www.example.test\"?"},
      {"client", "203.0.113.9", "", absl::StatusCode::kInvalidArgument,
       "none of its names has it: the world answers on 203.0.113.2 (example.test)"},
      {"client", "world:80", "icmp", absl::StatusCode::kInvalidArgument, "ICMP has no port"},
      {"underlay", "world", "", absl::StatusCode::kInvalidArgument, "not world"},
  };
  for (const Row& row : rows) {
    absl::StatusOr<Request> r = ParseRequest(spec, row.src, row.dst, row.proto);
    EXPECT_EQ(r.status().code(), row.code) << row.src << " -> " << row.dst << ": " << r.status();
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(row.text), std::string_view::npos) << r.status();
    }
  }
  // The edge: the URL's listener, Host and target; the route lib/ingress picks; its own answers.
  absl::StatusOr<Request> edge =
      ParseRequest(spec, "host", "http://web.lab.test:8080/soon?a=1", "");
  ASSERT_TRUE(edge.ok()) << edge.status();
  ASSERT_TRUE(edge->edge.has_value());
  EXPECT_EQ(edge->edge->host, "web.lab.test:8080");
  EXPECT_EQ(edge->edge->target, "/soon?a=1");
  EXPECT_EQ(edge->edge->route, "ingress/site/web.lab.test/soon");
  EXPECT_EQ(edge->edge->own_status, 503);
  EXPECT_EQ(edge->src.ip.ToString(), "127.0.0.1");
  EXPECT_EQ(edge->dst.ip.ToString() + ":" + std::to_string(edge->dst.port), "127.0.0.1:8080");
  // Userinfo is not Host (curl sends it as Authorization): the same route as without it.
  edge = ParseRequest(spec, "host", "http://u:p@ss@web.lab.test:8080/soon?a=1", "");
  ASSERT_TRUE(edge.ok()) << edge.status();
  EXPECT_EQ(edge->edge->host, "web.lab.test:8080");
  EXPECT_EQ(edge->edge->route, "ingress/site/web.lab.test/soon");
  edge = ParseRequest(spec, "host", "http://web.lab.test:8080", "");
  ASSERT_TRUE(edge.ok()) << edge.status();
  EXPECT_EQ(edge->edge->target, "/");
  EXPECT_EQ(edge->edge->services, std::vector<std::string>{"web"});
  EXPECT_EQ(edge->edge->own_status, 0);
  absl::StatusOr<Request> svc = ParseRequest(spec, "client", "svc/dns", "");
  ASSERT_TRUE(svc.ok());
  EXPECT_EQ(svc->proto, Proto::kUdp);
  EXPECT_EQ(svc->dst.port, 53);
  // A node's probe leaves with the address the kernel picks toward DST: cbr0's to its own pods,
  // vxlan0's across the overlay; the underlay's is br0's.
  EXPECT_EQ(ParseRequest(spec, "node1", "web-0", "")->src.ip.ToString(), "10.244.0.1");
  EXPECT_EQ(ParseRequest(spec, "node1", "web-1", "")->src.ip.ToString(), "10.244.0.0");
  EXPECT_EQ(ParseRequest(spec, "node1", "node2", "")->src.ip.ToString(), "172.18.0.2");
  // To a ClusterIP, from the address of the device the Service range's route points at: the
  // proxy TUN has none (userspace: eth0's), cbr0's gateway otherwise.
  EXPECT_EQ(ParseRequest(spec, "node1", "svc/web", "")->src.ip.ToString(), "172.18.0.2");
  EXPECT_EQ(ParseRequest(Lab(config::NetworkMode::kVxlan, config::ProxyMode::kNftables), "node1",
                         "svc/web", "")
                ->src.ip.ToString(),
            "10.244.0.1");
  absl::StatusOr<Request> np = ParseRequest(spec, "underlay", "node2:30080", "");
  ASSERT_TRUE(np.ok()) << np.status();
  EXPECT_EQ(np->src.ip.ToString(), "172.18.0.1");
  EXPECT_EQ(np->dst.kind, "NodePort");
  EXPECT_EQ(np->proto, Proto::kTcp);
  EXPECT_EQ(np->service, "web");
}

// The verdict: what was seen at each hop -> whole or where it died.
// A node whose route is gone: the probe's send fails (ENETUNREACH) and nothing leaves it. The
// lost hop is the node's own routing decision, first on the path, with the kernel's reason.
TEST(Trace, AProbeThatCannotLeaveDiesInTheSourcesRoutingDecision) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kUserspace);
  absl::StatusOr<Request> r = ParseRequest(spec, "node1", "web-1", "");
  ASSERT_TRUE(r.ok()) << r.status();
  r->id = 4242;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  const size_t predicted = p->hops.size();
  std::vector<Observation> seen(predicted);
  DiedAtSource(*p, seen,
               "route get 10.244.1.3: no route to 10.244.1.3 (the send: Network is unreachable)");
  ASSERT_EQ(p->hops.size(), predicted + 1);
  ASSERT_EQ(seen.size(), p->hops.size());
  EXPECT_EQ(p->hops[0].role, kSourceRouteRole);
  EXPECT_EQ(p->hops[0].object, "node1");
  EXPECT_FALSE(p->hops[0].Sniffed());
  EXPECT_EQ(p->hops[0].flow, p->hops[1].flow);
  const Verdict v = Judge(*p, seen);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.word, kVerdictLost);
  EXPECT_EQ(v.first_missing, 0);
  EXPECT_EQ(v.last_seen, -1);
  EXPECT_EQ(v.summary,
            "lost at the source: node1 did not send it (its routing decision): route get "
            "10.244.1.3: no route to 10.244.1.3 (the send: Network is unreachable)");
  const std::string table = RenderTable(*p, seen, v);
  EXPECT_NE(table.find("node1 (routing decision)"), std::string::npos) << table;
  EXPECT_EQ(table.find("vxlan0"), std::string::npos)
      << "the table stops at the lost hop: " << table;
  nlohmann::json j = nlohmann::json::parse(RenderJson(*p, seen, v));
  EXPECT_EQ(j["verdict"], "lost");
  EXPECT_EQ(j["first_missing"], "node1 (routing decision)");
}

TEST(Trace, VerdictNamesTheLastHopThatSawTheProbe) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kNftables);
  absl::StatusOr<Request> r = ParseRequest(spec, "client", "svc/web", "");
  ASSERT_TRUE(r.ok());
  r->id = 40000;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->endpoints.size(), 2u);
  // Everything of branch 1 (web-1, across nodes) and the common hops seen: whole, endpoint web-1.
  std::vector<Observation> seen(p->hops.size());
  for (size_t i = 0; i < p->hops.size(); ++i) {
    const Hop& h = p->hops[i];
    seen[i].seen = h.Sniffed() && (h.branch == -1 || h.branch == 1);
    seen[i].offset_ns = static_cast<int64_t>(i) * 1000;
    seen[i].flow = h.flow;
  }
  Verdict v = Judge(*p, seen);
  EXPECT_TRUE(v.ok) << v.summary;
  EXPECT_EQ(v.branch, 1);
  EXPECT_NE(v.summary.find("endpoint web-1"), std::string::npos) << v.summary;
  // Lost after node1's vxlan0: the first hop not seen is node1:eth0, the last seen node1:vxlan0.
  bool cut = false;
  for (size_t i = 0; i < p->hops.size(); ++i) {
    if (p->hops[i].object == "node1" && p->hops[i].ifname == "eth0" && p->hops[i].branch == 1)
      cut = true;
    if (cut) seen[i].seen = false;
  }
  seen[4].why = "route 10.244.2.0/24 via 10.244.2.0 dev vxlan0";
  v = Judge(*p, seen);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(p->hops[v.first_missing].object + ":" + p->hops[v.first_missing].ifname, "node1:eth0");
  EXPECT_EQ(p->hops[v.last_seen].object + ":" + p->hops[v.last_seen].ifname, "node1:vxlan0");
  EXPECT_NE(v.summary.find("last seen at node1:vxlan0"), std::string::npos) << v.summary;
  const std::string table = RenderTable(*p, seen, v);
  EXPECT_NE(table.find("MISSING"), std::string::npos) << table;
  const std::string json = RenderJson(*p, seen, v);
  EXPECT_NE(json.find("\"first_missing\": \"node1:eth0\""), std::string::npos) << json;
  // A policy's drop counters moved: the lost line names the policy, not node1:vxlan0's route.
  BlamePolicy(*p, seen, v, "dropped by NetworkPolicy default/deny (ingress of web-1)");
  EXPECT_EQ(v.summary.find("route 10.244.2.0/24"), std::string::npos) << v.summary;
  EXPECT_EQ(v.summary.rfind("lost: dropped by NetworkPolicy default/deny (ingress of web-1): ", 0),
            0u)
      << v.summary;
  EXPECT_NE(v.summary.find("last seen at node1:vxlan0"), std::string::npos) << v.summary;
  const std::string blamed = RenderTable(*p, seen, v);
  const size_t missing = blamed.find("MISSING");
  ASSERT_NE(missing, std::string::npos) << blamed;
  EXPECT_NE(blamed.substr(missing, blamed.find('\n', missing) - missing)
                .find("dropped by NetworkPolicy default/deny"),
            std::string::npos)
      << blamed;
  // Nothing seen: never seen.
  v = Judge(*p, std::vector<Observation>(p->hops.size()));
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.summary.find("never seen"), std::string::npos) << v.summary;
}

// A refused probe (nothing listens on the port): the reply hops see a RST or an ICMP port
// unreachable instead of the answer. The path works: "refused by web-1", never "lost".
TEST(Trace, ARefusalIsTheReplyNotALoss) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kUserspace);
  struct Row {
    std::string proto;
    std::string refused;
    int icmp_code;
    std::string in_filter;  // what the reply hops' filters must also match
    std::string in_table;
  };
  const std::vector<Row> rows = {
      {"tcp", "RST from 10.244.1.2:9999", -1, "& 0x04 != 0", " RST"},
      {"udp", "ICMP port unreachable from 10.244.1.2", 3, "icmp[0] == 3", "unreachable (code 3)"},
  };
  for (const Row& row : rows) {
    absl::StatusOr<Request> r = ParseRequest(spec, "client", "web-1:9999", row.proto);
    ASSERT_TRUE(r.ok()) << r.status();
    r->id = 40000;
    absl::StatusOr<Path> p = PredictPath(spec, *r);
    ASSERT_TRUE(p.ok()) << p.status();
    std::vector<Observation> seen(p->hops.size());
    bool encapsulated_reply = false;
    for (size_t i = 0; i < p->hops.size(); ++i) {
      const Hop& h = p->hops[i];
      seen[i].seen = h.Sniffed();
      seen[i].flow = h.flow;
      if (h.leg == Leg::kReply) {
        EXPECT_NE(h.filter.find(row.proto == "tcp" ? row.in_filter : "== 3"), std::string::npos)
            << h.filter;
        encapsulated_reply |= h.outer.has_value();
        seen[i].refused = row.refused;
        seen[i].icmp_code = row.icmp_code;
      } else {
        EXPECT_EQ(h.filter.find("0x04"), std::string::npos) << h.filter;
      }
    }
    EXPECT_TRUE(encapsulated_reply) << "the reply crosses vxlan0: its filter looks inside";
    const Verdict v = Judge(*p, seen);
    EXPECT_TRUE(v.refused) << v.summary;
    EXPECT_EQ(v.word, kVerdictRefused);
    EXPECT_EQ(v.summary, StrCat("refused by web-1 (", row.refused,
                                "): the packet got there, nothing listens on that port"));
    const std::string table = RenderTable(*p, seen, v);
    EXPECT_NE(table.find(row.in_table), std::string::npos) << table;
    EXPECT_EQ(table.find("MISSING"), std::string::npos) << table;
    const std::string json = RenderJson(*p, seen, v);
    EXPECT_NE(json.find("\"verdict\": \"refused\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"ok\": false"), std::string::npos) << json;
    // Without the refusal and without the reply: lost, as before.
    for (size_t i = 0; i < p->hops.size(); ++i)
      if (p->hops[i].leg == Leg::kReply) seen[i] = Observation{};
    const Verdict lost = Judge(*p, seen);
    EXPECT_EQ(lost.word, kVerdictLost) << lost.summary;
    EXPECT_FALSE(lost.refused);
  }
  // An error as JSON: one object, its verdict and text.
  EXPECT_EQ(RenderJsonError("client", "svc/empty", kVerdictNoEndpoints, "no endpoints"),
            "{\n  \"dst\": \"svc/empty\",\n  \"error\": \"no endpoints\",\n  \"ok\": false,\n"
            "  \"src\": \"client\",\n  \"verdict\": \"no endpoints\"\n}\n");
}

// The edge leg: its access-log line found by the marker, what the edge did put on its hops, and
// an error of the edge's own is where the request died (exit 1 naming the edge), a whole path
// otherwise.
TEST(Trace, TheEdgeHopIsExplainedByItsAccessLogLine) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kNftables);
  // The log line, as vnet/edge writes it; only the marker's own.
  const std::string line =
      "2026-12-06T13:21:47Z 127.0.0.1 web.lab.test:8080 \"GET /a b\" 200 "
      "route=ingress/site/web.lab.test/ backend=web-1 upstream_ms=4 total_ms=5 trace=00ff";
  EXPECT_FALSE(ParseEdgeLogLine(line, "00f").has_value());
  EXPECT_FALSE(ParseEdgeLogLine(line, "").has_value());
  EXPECT_FALSE(ParseEdgeLogLine("x trace=00ff", "00ff").has_value());
  std::optional<EdgeLogEntry> e = ParseEdgeLogLine(line, "00ff");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 200);
  EXPECT_EQ(e->route, "ingress/site/web.lab.test/");
  EXPECT_EQ(e->backend, "web-1");
  EXPECT_EQ(e->upstream_ms, 4);

  for (const bool own : {false, true}) {
    SCOPED_TRACE(own ? "the edge answers 503 itself" : "forwarded");
    absl::StatusOr<Request> r = ParseRequest(
        spec, "host", own ? "http://web.lab.test:8080/soon" : "http://web.lab.test:8080/", "");
    ASSERT_TRUE(r.ok()) << r.status();
    r->id = 40000;
    r->edge->marker = "00ff";
    absl::StatusOr<Path> p = PredictPath(spec, *r);
    ASSERT_TRUE(p.ok()) << p.status();
    // Every interface saw its copy (the upstream's branch 1: web-1).
    std::vector<Observation> seen(p->hops.size());
    for (size_t i = 0; i < p->hops.size(); ++i) {
      const Hop& h = p->hops[i];
      seen[i].seen = h.Sniffed() && (h.branch == -1 || h.branch == 1);
      seen[i].offset_ns = static_cast<int64_t>(i) * 1000;
      seen[i].flow = h.flow;
    }
    EdgeLogEntry log = *e;
    if (own) log = {503, "ingress/site/web.lab.test/soon", "-", -1};
    ExplainEdge(*p, log, "service soon:80 has no endpoints\n", seen);
    const Verdict v = Judge(*p, seen);
    if (!own) {
      EXPECT_TRUE(v.ok) << v.summary;
      EXPECT_EQ(v.branch, 1);
      const std::string table = RenderTable(*p, seen, v);
      EXPECT_NE(
          table.find("route ingress/site/web.lab.test/, backend web-1: 200 from upstream in 4 "
                     "ms (access log)"),
          std::string::npos)
          << table;
      EXPECT_NE(table.find("relayed 200 to the client"), std::string::npos) << table;
      // Without its log line the edge hop is not proved: the path is not whole.
      std::vector<Observation> bare(p->hops.size());
      for (size_t i = 0; i < p->hops.size(); ++i)
        bare[i].seen = seen[i].seen && p->hops[i].Sniffed();
      ExplainEdge(*p, std::nullopt, "", bare);
      EXPECT_FALSE(Judge(*p, bare).ok);
      continue;
    }
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.word, kVerdictLost);
    EXPECT_EQ(p->hops[v.first_missing].kind, "edge");
    EXPECT_EQ(v.summary,
              "lost at the edge: the edge answered 503 itself (service soon:80 has no endpoints); "
              "last seen at host:lo");
  }
}

}  // namespace
}  // namespace mkn::trace
