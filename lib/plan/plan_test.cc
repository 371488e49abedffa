#include "lib/plan/plan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "lib/config/toml/load.h"

namespace mkn::plan {
namespace {

config::ClusterSpec Spec(const std::string& text) {
  config::LoadResult r = config::Load(text, "lab.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return *r.spec;
}

constexpr char kLab[] = R"([cluster]
dns = false
name = "t"
network = "vxlan"
nodes = 3
[[deployment]]
name = "web"
replicas = 7
[deployment.template]
[[deployment.template.container]]
app = "http-echo"
[[deployment.template.container]]
command = ["sleep", "infinity"]
env = { GREETING = "hello world" }
)";

TEST(Plan, PhasesAreOrderedAndEveryLinkIsMarkedUp) {
  Plan p = BuildPlan(Spec(kLab));
  EXPECT_EQ(p.netns.size(), 1u + 3 + 7 + 1);  // + the world ([cluster] world, on by default)
  int phase = 0;
  std::set<std::pair<std::string, std::string>> created, up;
  for (const Step& s : p.steps) {
    EXPECT_GE(s.phase, phase);
    phase = s.phase;
    if (auto* v = std::get_if<CreateVeth>(&s.op)) {
      created.insert({v->ns, v->name});
      created.insert({v->peer_ns, v->peer_name});
    }
    if (auto* b = std::get_if<CreateBridge>(&s.op)) created.insert({b->ns, b->name});
    if (auto* x = std::get_if<CreateVxlan>(&s.op)) created.insert({x->ns, x->name});
    if (auto* t = std::get_if<CreateTap>(&s.op)) created.insert({t->ns, t->name});
    if (auto* u = std::get_if<SetLinkUp>(&s.op)) up.insert({u->ns, u->dev});
  }
  EXPECT_EQ(created, up);
}

TEST(Plan, VxlanProgramsEveryRemoteNodeAsFlannelDoes) {
  config::ClusterSpec spec = Spec(kLab);
  Plan p = BuildPlan(spec);
  int neigh = 0, fdb = 0, routes = 0;
  for (const Step& s : p.steps) {
    if (s.phase != kPhaseRoutes) continue;
    neigh += std::holds_alternative<AddNeighbor>(s.op);
    fdb += std::holds_alternative<AddFdb>(s.op);
    if (auto* r = std::get_if<AddRoute>(&s.op)) {
      ++routes;
      EXPECT_TRUE(r->onlink);
      EXPECT_EQ(r->dev, "vxlan0");
    }
  }
  EXPECT_EQ(neigh, 3 * 2);
  EXPECT_EQ(fdb, 3 * 2);
  EXPECT_EQ(routes, 3 * 2);
}

// Geneve: VXLAN's layout on gnv0 (the .0 address, the 0e:58 MAC, a neighbour and an onlink route
// per remote node), the pump's socket on the node's underlay address, and its table as steps.
TEST(Plan, GeneveProgramsEveryRemoteNodeOnGnv0) {
  std::string lab = kLab;
  lab.replace(lab.find("\"vxlan\""), 7, "\"geneve\"\nvni = 9");
  config::ClusterSpec spec = Spec(lab);
  EXPECT_EQ(spec.pod_mtu, 1500 - 58);
  Plan p = BuildPlan(spec);
  int taps = 0, serve = 0, neigh = 0, peers = 0, routes = 0;
  std::set<std::pair<std::string, std::string>> up;
  for (const Step& s : p.steps) {
    EXPECT_FALSE(std::holds_alternative<CreateVxlan>(s.op));
    EXPECT_FALSE(std::holds_alternative<AddFdb>(s.op));
    if (auto* u = std::get_if<SetLinkUp>(&s.op)) up.insert({u->ns, u->dev});
    if (auto* t = std::get_if<CreateTap>(&s.op)) {
      ++taps;
      EXPECT_EQ(s.phase, kPhaseNodes);
      EXPECT_EQ(t->name, "gnv0");
      EXPECT_EQ(t->mtu, 1442);
      EXPECT_EQ(t->mac, spec.FindNode(t->ns.substr(6))->vtep_mac);
    }
    if (auto* g = std::get_if<ServeGeneve>(&s.op)) {
      ++serve;
      const config::NodeSpec* n = spec.FindNode(g->ns.substr(6));
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(g->local, n->underlay_ip);
      EXPECT_EQ(g->port, 6081);
      EXPECT_EQ(g->vni, 9);
      EXPECT_EQ(g->node, n->index + 1);
      EXPECT_TRUE(up.count({g->ns, "gnv0"})) << "served before it is up";
    }
    if (s.phase != kPhaseRoutes) continue;
    neigh += std::holds_alternative<AddNeighbor>(s.op);
    peers += std::holds_alternative<GenevePeer>(s.op);
    if (auto* r = std::get_if<AddRoute>(&s.op)) {
      ++routes;
      EXPECT_TRUE(r->onlink);
      EXPECT_EQ(r->dev, "gnv0");
    }
  }
  EXPECT_EQ(taps, 3);
  EXPECT_EQ(serve, 3);
  EXPECT_EQ(neigh, 3 * 2);
  EXPECT_EQ(peers, 3 * 2);
  EXPECT_EQ(routes, 3 * 2);
  const std::string sh = RenderShell(p);
  EXPECT_NE(sh.find("ip -n mkn-t-node1 tuntap add dev gnv0 mode tap vnet_hdr"), std::string::npos);
  EXPECT_NE(sh.find("ip -n mkn-t-node1 link set gnv0 mtu 1442 address 0e:58:0a:f4:00:00"),
            std::string::npos);
  EXPECT_NE(sh.find("# minikube-net serves gnv0 in mkn-t-node1: Geneve on udp 172.18.0.2:6081, "
                    "VNI 9, option class 0xfff0 type 0x01 (source node) = 1"),
            std::string::npos)
      << sh;
  EXPECT_NE(sh.find("# minikube-net: gnv0 in mkn-t-node1: frames to 0e:58:0a:f4:01:00 go to "
                    "172.18.0.3:6081"),
            std::string::npos);
  nlohmann::json j = nlohmann::json::parse(RenderJson(p));
  std::set<std::string> ops;
  for (const auto& s : j["steps"]) ops.insert(s["op"]);
  EXPECT_TRUE(ops.count("create_tap") && ops.count("serve_geneve") && ops.count("geneve_peer"));
}

TEST(Plan, HostGwRoutesViaTheRemoteNode) {
  std::string lab = kLab;
  lab.replace(lab.find("\"vxlan\""), 7, "\"host-gw\"");
  config::ClusterSpec spec = Spec(lab);
  Plan p = BuildPlan(spec);
  for (const Step& s : p.steps) {
    EXPECT_FALSE(std::holds_alternative<CreateVxlan>(s.op));
    if (auto* r = std::get_if<AddRoute>(&s.op); r && s.phase == kPhaseRoutes) {
      EXPECT_EQ(r->dev, "eth0");
      EXPECT_EQ(r->via->ToString().substr(0, 8), "172.18.0");
    }
  }
}

// Every node's pod side filters reverse paths strictly, whatever carries traffic between nodes: a
// pod cannot send from another node's underlay address (the forged outer source of a tunnel
// packet). The sysctl names cbr0, so it comes after cbr0 exists.
TEST(Plan, PodSideFiltersReversePathsInEveryNetworkMode) {
  for (const char* mode : {"vxlan", "host-gw", "geneve"}) {
    SCOPED_TRACE(mode);
    std::string lab = kLab;
    lab.replace(lab.find("network = \"vxlan\""), 17, std::string("network = \"") + mode + "\"");
    config::ClusterSpec spec = Spec(lab);
    Plan p = BuildPlan(spec);
    std::set<std::string> bridges, strict;
    for (const Step& s : p.steps) {
      if (auto* b = std::get_if<CreateBridge>(&s.op); b && b->name == "cbr0") bridges.insert(b->ns);
      if (auto* x = std::get_if<SetSysctl>(&s.op); x && x->key == "net.ipv4.conf.cbr0.rp_filter") {
        EXPECT_EQ(x->value, "1");
        EXPECT_TRUE(bridges.contains(x->ns)) << x->ns;
        strict.insert(x->ns);
      }
    }
    std::set<std::string> nodes;
    for (const auto& n : spec.nodes) nodes.insert(n.netns);
    EXPECT_EQ(strict, nodes);
  }
}

TEST(Plan, RendersShellAndJson) {
  Plan p = BuildPlan(Spec(kLab));
  std::string sh = RenderShell(p);
  EXPECT_NE(sh.find("ip netns add mkn-t-underlay\n"), std::string::npos);
  EXPECT_NE(sh.find("type vxlan id 1 local 172.18.0.2 dev eth0 dstport 4789 nolearning"),
            std::string::npos);
  EXPECT_NE(sh.find("env 'GREETING=hello world' sleep infinity &"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(RenderJson(p));
  EXPECT_EQ(j["cluster"], "t");
  EXPECT_EQ(j["steps"].size(), p.steps.size());
  EXPECT_EQ(j["steps"][0]["op"], "create_netns");
}

// nftables Services: per node, bridged frames through conntrack, no redirects, the service CIDR
// routed, one ruleset; per pod, hairpin on its bridge port. The userspace mode's TUN is absent.
TEST(Plan, NftablesModeProgramsEachNodeForKernelNat) {
  std::string lab = kLab;
  lab.replace(lab.find("network = \"vxlan\""), 17,
              "network = \"vxlan\"\nproxy_mode = \"nftables\"");
  lab += "[[service]]\nname = \"s\"\nselector = {}\n[[service.port]]\nport = 80\n";
  config::ClusterSpec spec = Spec(lab);
  ASSERT_EQ(spec.proxy_mode, config::ProxyMode::kNftables);
  Plan p = BuildPlan(spec);
  std::set<std::string> brnf, redirects_off, rulesets, routed, hairpin;
  for (const Step& s : p.steps) {
    EXPECT_FALSE(std::holds_alternative<CreateTun>(s.op));
    if (auto* x = std::get_if<SetSysctl>(&s.op)) {
      if (x->key == "net.bridge.bridge-nf-call-iptables" && x->value == "1") brnf.insert(x->ns);
      if (x->key == "net.ipv4.conf.cbr0.send_redirects" && x->value == "0")
        redirects_off.insert(x->ns);
    }
    if (auto* r = std::get_if<AddRoute>(&s.op); r && s.phase == kPhaseServices) {
      EXPECT_EQ(r->dst, spec.service_cidr);
      EXPECT_EQ(r->dev, "cbr0");
      routed.insert(r->ns);
    }
    // Each node's kube-proxy table (not the world's egress masquerade, which each node also loads).
    if (auto* l = std::get_if<LoadNftRuleset>(&s.op);
        l && l->ruleset.find("table ip mkn-egress") == std::string::npos) {
      EXPECT_EQ(s.phase, kPhaseServices);
      EXPECT_NE(l->ruleset.find("\ntable ip kube-proxy {\n"), std::string::npos);
      rulesets.insert(l->ns);
    }
    if (auto* h = std::get_if<SetHairpin>(&s.op)) hairpin.insert(h->dev);
  }
  std::set<std::string> nodes, veths;
  for (const auto& n : spec.nodes) nodes.insert(n.netns);
  for (const auto& pod : spec.pods) veths.insert(pod.host_veth);
  EXPECT_EQ(brnf, nodes);
  EXPECT_EQ(redirects_off, nodes);
  EXPECT_EQ(routed, nodes);
  EXPECT_EQ(rulesets, nodes);
  EXPECT_EQ(hairpin, veths);
  EXPECT_NE(RenderShell(p).find(" link set dev " + spec.pods[0].host_veth + " hairpin on\n"),
            std::string::npos);
}

TEST(Plan, ShellQuote) {
  EXPECT_EQ(ShellQuote("plain-word"), "plain-word");
  EXPECT_EQ(ShellQuote("two words"), "'two words'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

}  // namespace
}  // namespace mkn::plan
