#include "lib/plan/plan.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

namespace mkn::plan {
namespace {

config::ClusterSpec Spec(const std::string& text) {
  config::LoadResult r = config::Load(text, "lab.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return *r.spec;
}

constexpr char kLab[] = R"([cluster]
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
  EXPECT_EQ(p.netns.size(), 1u + 3 + 7);
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

TEST(Plan, RendersShellAndJson) {
  Plan p = BuildPlan(Spec(kLab));
  std::string sh = RenderShell(p);
  EXPECT_NE(sh.find("ip netns add mkn-t-underlay\n"), std::string::npos);
  EXPECT_NE(sh.find("type vxlan id 1 local 172.18.0.2 dev eth0 dstport 4789 nolearning"), std::string::npos);
  EXPECT_NE(sh.find("env 'GREETING=hello world' sleep infinity &"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(RenderJson(p));
  EXPECT_EQ(j["cluster"], "t");
  EXPECT_EQ(j["steps"].size(), p.steps.size());
  EXPECT_EQ(j["steps"][0]["op"], "create_netns");
}

TEST(Plan, ShellQuote) {
  EXPECT_EQ(ShellQuote("plain-word"), "plain-word");
  EXPECT_EQ(ShellQuote("two words"), "'two words'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

}  // namespace
}  // namespace mkn::plan
