#include "lib/config/mutate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "lib/config/toml/load.h"
#include "lib/plan/plan.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {
namespace {

using ::testing::ElementsAre;

ClusterSpec Lab() {
  LoadResult r = Load(R"([cluster]
name = "m"
nodes = 2
node_cidr_mask = 28
dns = false  # the mutations' own arithmetic (lib/dns's tests cover the DNS pod through kill)
[[pod]]
name = "client"
node = "node1"
  [[pod.container]]
  command = ["sleep", "infinity"]
[[deployment]]
name = "web"
replicas = 3
  [deployment.template]
  labels = { app = "web" }
  [[deployment.template.container]]
  app = "http-echo"
[[service]]
name = "web"
selector = { app = "web" }
  [[service.port]]
  port = 80
  target_port = 8080
)",
                      "m.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return *r.spec;
}

// Checks the invariants every mutation keeps.
void ExpectConsistent(const ClusterSpec& s) {
  std::set<uint32_t> ips;
  std::set<std::string> names;
  size_t placed = 0;
  for (const NodeSpec& n : s.nodes) {
    uint32_t prev = 0;
    for (int i : n.pods) {
      const PodSpec& p = s.pods[i];
      EXPECT_EQ(p.node, n.index) << p.name;
      EXPECT_GT(p.ip.value, prev) << "node pods in address order";
      prev = p.ip.value;
      EXPECT_TRUE(n.pod_cidr.Contains(p.ip)) << p.name;
      EXPECT_NE(p.ip, n.gateway);
      EXPECT_NE(p.ip, n.proxy_ip);
      EXPECT_NE(p.ip, n.vtep_ip);
      EXPECT_EQ(p.mac, net::Mac::FromIpv4(p.ip));
      EXPECT_EQ(p.netns, "mkn-m-" + p.name);
      ++placed;
    }
  }
  EXPECT_EQ(placed, s.pods.size());
  for (const PodSpec& p : s.pods) {
    EXPECT_TRUE(ips.insert(p.ip.value).second) << "duplicate address " << p.ip.ToString();
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
  }
  for (const ServiceSpec& svc : s.services) {
    for (int e : svc.endpoints) EXPECT_EQ(s.pods[e].labels.at("app"), "web");
  }
}

TEST(Mutate, RecreatedPodGetsTheNextFreeAddressOnItsNode) {
  ClusterSpec s = Lab();
  const PodSpec* web0 = s.FindPod("web-0");
  ASSERT_NE(web0, nullptr);
  net::Ipv4 before = web0->ip;
  int node = web0->node;
  absl::StatusOr<int> idx = RecreatePod(s, "web-0");
  ASSERT_TRUE(idx.ok()) << idx.status();
  const PodSpec& p = s.pods[*idx];
  EXPECT_EQ(p.name, "web-0");
  EXPECT_EQ(p.node, node);
  EXPECT_NE(p.ip, before);
  // After the highest address in use on the node, as host-local's sequential allocator does.
  uint32_t highest = 0;
  for (int i : s.nodes[node].pods) {
    if (i != *idx) highest = std::max(highest, s.pods[i].ip.value);
  }
  EXPECT_GT(p.ip.value, std::max(highest, before.value));
  ExpectConsistent(s);
  EXPECT_EQ(s.services[0].endpoints.size(), 3u);
  EXPECT_EQ(RecreatePod(s, "nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(Mutate, RecreateWrapsAroundAndNeverReusesTheOldAddress) {
  ClusterSpec s = Lab();  // /28 per node: hosts .2 .. .13 (.14 is the proxy address)
  std::set<uint32_t> seen;
  for (int round = 0; round < 30; ++round) {
    net::Ipv4 before = s.FindPod("web-1")->ip;
    absl::StatusOr<int> idx = RecreatePod(s, "web-1");
    ASSERT_TRUE(idx.ok()) << idx.status();
    EXPECT_NE(s.pods[*idx].ip, before);
    seen.insert(s.pods[*idx].ip.value);
    ExpectConsistent(s);
  }
  EXPECT_GT(seen.size(), 5u) << "addresses cycle through the range";
}

TEST(Mutate, ScaleUpSpreadsAndScaleDownRemovesTheNewest) {
  ClusterSpec s = Lab();
  absl::StatusOr<ScaleResult> up = ScaleDeployment(s, "web", 6);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_THAT(up->added, ElementsAre("web-3", "web-4", "web-5"));
  EXPECT_TRUE(up->removed.empty());
  ExpectConsistent(s);
  EXPECT_EQ(s.services[0].endpoints.size(), 6u);
  EXPECT_EQ(s.FindDeployment("web")->replicas, 6);
  // 1 client + 6 web over two nodes: 4 and 3 or 3 and 4.
  EXPECT_LE(
      std::abs(static_cast<int>(s.nodes[0].pods.size()) - static_cast<int>(s.nodes[1].pods.size())),
      1);

  absl::StatusOr<ScaleResult> down = ScaleDeployment(s, "web", 2);
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_THAT(down->removed, ElementsAre("web-5", "web-4", "web-3", "web-2"));
  ExpectConsistent(s);
  EXPECT_EQ(s.services[0].endpoints.size(), 2u);
  EXPECT_NE(s.FindPod("web-0"), nullptr);
  EXPECT_NE(s.FindPod("client"), nullptr);

  // Gaps are filled first.
  absl::StatusOr<ScaleResult> again = ScaleDeployment(s, "web", 3);
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->added, ElementsAre("web-2"));

  absl::StatusOr<ScaleResult> zero = ScaleDeployment(s, "web", 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(s.services[0].endpoints.empty());
  ExpectConsistent(s);
}

TEST(Mutate, ScaleRefusesWhatCannotBe) {
  ClusterSpec s = Lab();
  EXPECT_EQ(ScaleDeployment(s, "nope", 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ScaleDeployment(s, "web", -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScaleDeployment(s, "web", 100, 50).status().code(), absl::StatusCode::kInvalidArgument);
  // Two /28 nodes hold 12 pods each; the client takes one.
  EXPECT_EQ(ScaleDeployment(s, "web", 24).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(Mutate, AFailedScaleChangesNothing) {
  ClusterSpec s = Lab();  // two /28 nodes: 24 pods at most
  const size_t pods = s.pods.size();
  EXPECT_EQ(ScaleDeployment(s, "web", 30).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.pods.size(), pods);
  EXPECT_EQ(s.FindDeployment("web")->replicas, 3);
  EXPECT_EQ(s.services[0].endpoints.size(), 3u);
  ExpectConsistent(s);
  // Far over any bound, without overflowing the check.
  EXPECT_EQ(ScaleDeployment(s, "web", 2147483647).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.pods.size(), pods);
}

// What another process sees after `kill` and `scale` in the cluster's own: the lab file's spec
// made to match the state's pods equals the owner's mutated spec (trace predicts from it).
TEST(Mutate, MatchLivePodsRebuildsWhatKillAndScaleDid) {
  ClusterSpec owner = Lab();
  ASSERT_TRUE(RecreatePod(owner, "web-0").ok());
  ASSERT_TRUE(ScaleDeployment(owner, "web", 1).ok());
  ASSERT_TRUE(ScaleDeployment(owner, "web", 4).ok());  // web-1..3 again, maybe on other nodes
  std::vector<LivePod> live;
  for (const PodSpec& p : owner.pods)
    live.push_back({p.name, owner.nodes[p.node].name, p.ip.ToString(), p.netns, p.deployment});

  ClusterSpec lab = Lab();
  ASSERT_TRUE(MatchLivePods(lab, live).ok());
  ExpectConsistent(lab);
  ASSERT_EQ(lab.pods.size(), owner.pods.size());
  for (const PodSpec& o : owner.pods) {
    const PodSpec* p = lab.FindPod(o.name);
    ASSERT_NE(p, nullptr) << o.name;
    EXPECT_EQ(p->node, o.node) << o.name;
    EXPECT_EQ(p->ip, o.ip) << o.name;
    EXPECT_EQ(p->host_veth, o.host_veth) << o.name;
    EXPECT_EQ(p->labels, o.labels) << o.name;
  }
  for (size_t i = 0; i < owner.nodes.size(); ++i) {
    std::vector<std::string> a, b;
    for (int k : owner.nodes[i].pods) a.push_back(owner.pods[k].name);
    for (int k : lab.nodes[i].pods) b.push_back(lab.pods[k].name);
    EXPECT_EQ(a, b) << owner.nodes[i].name;
  }
  std::vector<std::string> eps;
  for (int e : lab.services[0].endpoints) eps.push_back(lab.pods[e].name);
  EXPECT_EQ(eps.size(), 4u);
  EXPECT_EQ(lab.FindDeployment("web")->replicas, 4);

  // Scaled to 0: the pods go, the Service has no endpoints.
  ClusterSpec none = Lab();
  ASSERT_TRUE(MatchLivePods(none, {{"client", "node1", none.FindPod("client")->ip.ToString(),
                                    "mkn-m-client", ""}})
                  .ok());
  EXPECT_EQ(none.pods.size(), 1u);
  EXPECT_TRUE(none.services[0].endpoints.empty());
  ExpectConsistent(none);
}

TEST(Mutate, MatchLivePodsRefusesWhatTheLabCannotHave) {
  ClusterSpec s = Lab();
  const ClusterSpec before = s;
  EXPECT_EQ(MatchLivePods(s, {{"web-0", "node9", "10.244.0.5", "", "web"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MatchLivePods(s, {{"web-0", "node1", "10.244.0", "", "web"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MatchLivePods(s, {{"stray", "node1", "10.244.0.9", "", "nope"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.pods.size(), before.pods.size());
  EXPECT_EQ(s.pods[0].ip, before.pods[0].ip);
}

TEST(Mutate, WithoutEndpointsDropsOnlyThosePods) {
  ClusterSpec s = Lab();
  ClusterSpec w = WithoutEndpoints(s, {"web-1", "client"});
  ASSERT_EQ(w.services[0].endpoints.size(), 2u);
  for (int e : w.services[0].endpoints) EXPECT_NE(w.pods[e].name, "web-1");
  EXPECT_EQ(w.pods.size(), s.pods.size());
  EXPECT_EQ(s.services[0].endpoints.size(), 3u);
}

TEST(Mutate, PodPlanHoldsOnlyThatPodsSteps) {
  ClusterSpec s = Lab();
  int idx = static_cast<int>(s.FindPod("web-1") - s.pods.data());
  plan::Plan p = plan::BuildPodPlan(s, {idx});
  const PodSpec& pod = s.pods[idx];
  EXPECT_EQ(p.netns, std::vector<std::string>{pod.netns});
  std::string sh = plan::RenderShell(p);
  EXPECT_THAT(sh, ::testing::HasSubstr("ip netns add " + pod.netns));
  EXPECT_THAT(sh, ::testing::HasSubstr("link add " + pod.host_veth));
  EXPECT_THAT(sh, ::testing::HasSubstr("link set " + pod.host_veth + " alias"));
  EXPECT_THAT(sh, ::testing::HasSubstr("addr add " + pod.ip.ToString() + "/"));
  EXPECT_THAT(sh, ::testing::HasSubstr("serves http-echo"));
  for (std::string_view other : {"web-0", "web-2", "client", "underlay"}) {
    EXPECT_THAT(sh, ::testing::Not(::testing::HasSubstr(StrCat("mkn-m-", other, " ")))) << other;
  }
  // In the node, only the pod's own veth is touched.
  for (absl::string_view line : absl::StrSplit(sh, '\n')) {
    if (absl::StrContains(line, "-n mkn-m-node")) {
      EXPECT_TRUE(absl::StrContains(line, pod.host_veth)) << line;
    }
  }
  // Every step of the full plan that names the pod is in the pod plan.
  size_t mentions = 0;
  for (absl::string_view line : absl::StrSplit(plan::RenderShell(plan::BuildPlan(s)), '\n')) {
    if (absl::StrContains(line, pod.netns) || absl::StrContains(line, pod.host_veth)) ++mentions;
  }
  size_t in_pod_plan = 0;
  for (absl::string_view line : absl::StrSplit(sh, '\n')) {
    if (absl::StrContains(line, pod.netns) || absl::StrContains(line, pod.host_veth)) ++in_pod_plan;
  }
  EXPECT_EQ(in_pod_plan, mentions);
}

}  // namespace
}  // namespace mkn::config
