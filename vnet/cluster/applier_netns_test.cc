// The applier against the real kernel, inside the test's own sandbox.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "lib/net/naming.h"
#include "vnet/cluster/applier.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using testing::Sh;

// `extra` goes under [cluster] (e.g. "world = false\n").
config::ClusterSpec LoadExample(const std::string& rel, const std::string& extra = "") {
  const char* src = std::getenv("MKN_SOURCE_DIR");
  std::ifstream in(std::filesystem::path(src ? src : ".") / rel);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (const size_t at = text.find("[cluster]\n"); at != std::string::npos && !extra.empty())
    text.insert(at + 10, extra);
  config::LoadResult r = config::Load(text, rel);
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return *r.spec;
}

ClusterNetns NetnsOf(const config::ClusterSpec& s) {
  ClusterNetns ns{net::NetnsName(s.name, net::kUnderlayObject), {}, {}, {}, s.world.netns};
  for (const auto& n : s.nodes) ns.nodes.push_back(n.netns);
  for (const auto& p : s.pods) ns.pods.push_back(p.netns);
  return ns;
}

int CountNetns() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns"))
    n += e.path().filename().string().rfind("mkn-", 0) == 0;
  return n;
}

TEST(Applier, BuildsQuickstartAndTearsItDown) {
  MKN_REQUIRE_NETNS();
  config::ClusterSpec spec = LoadExample("examples/quickstart/lab.toml");
  plan::Plan plan = plan::BuildPlan(spec);
  absl::StatusOr<Applied> applied = Apply(plan);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->netns.size(), plan.netns.size());
  EXPECT_EQ(CountNetns(), static_cast<int>(plan.netns.size()));
  // sidecar, web-0, web-1, tcp-echo, udp-echo; the cluster DNS on UDP and TCP; the world's
  // http-echo and tcp-echo, and a udp-echo per address (each answers from the address asked).
  int lab = 0, dns = 0, world = 0;
  for (const AppSocket& a : applied->apps) {
    if (a.app.world) {
      ++world;
    } else if (a.app.app == config::AppKind::kDns) {
      ++dns;
    } else {
      ++lab;
    }
  }
  EXPECT_EQ(lab, 5);
  EXPECT_EQ(dns, 2);
  EXPECT_EQ(world, 5);
  EXPECT_EQ(applied->commands.size(), 1u);

  // The kernel carries our marker, and ip(8) sees what we made.
  EXPECT_EQ(*ReadMarker("mkn-quickstart-node1"), "minikube-net:quickstart");
  auto link = Sh("ip -n mkn-quickstart-node1 -d link show vxlan0");
  EXPECT_NE(link.output.find("vxlan id 1 local 172.18.0.2 dev eth0"), std::string::npos)
      << link.output;
  EXPECT_NE(link.output.find("alias minikube-net:quickstart"), std::string::npos) << link.output;
  auto fdb = Sh("bridge -n mkn-quickstart-node1 fdb show dev vxlan0");
  EXPECT_NE(fdb.output.find("dst 172.18.0.3 self permanent"), std::string::npos) << fdb.output;

  // Pod to pod on the same node and across the overlay.
  const auto* client = spec.FindPod("client");
  for (const auto& p : spec.pods) {
    if (&p == client) continue;
    auto ping = Sh("ip netns exec " + client->netns + " ping -c1 -W2 " + p.ip.ToString());
    EXPECT_EQ(ping.exit_code, 0) << p.name << ": " << ping.output;
  }
  // Drop every fd the apply handed over, as the runtime does before teardown: the namespaces, the
  // apps' and the world's sockets, the proxy's TUNs (kube-dns is a Service): each holds its
  // namespace.
  *applied = Applied();
  absl::StatusOr<TeardownReport> r = Teardown(NetnsOf(spec), spec.marker);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed, static_cast<int>(plan.netns.size()));
  EXPECT_TRUE(r->still_held.empty()) << r->still_held.size() << " held, the first "
                                     << (r->still_held.empty() ? "" : r->still_held[0]);
  EXPECT_EQ(CountNetns(), 0);
  // down is idempotent: a second teardown finds nothing and fails nothing.
  r = Teardown(NetnsOf(spec), spec.marker);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed, 0);
}

TEST(Applier, RollsBackEverythingAfterAFailureInAnyPhase) {
  MKN_REQUIRE_NETNS();
  config::ClusterSpec spec = LoadExample("examples/quickstart/lab.toml");
  plan::Plan plan = plan::BuildPlan(spec);
  // A step in each phase: the underlay, a node, a pod, a cross-node route, the last step.
  std::vector<int> points;
  int phase = -1;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (plan.steps[i].phase != phase) {
      phase = plan.steps[i].phase;
      points.push_back(static_cast<int>(i) + 1);
    }
  }
  points.push_back(static_cast<int>(plan.steps.size()) - 1);
  for (int at : points) {
    ApplyOptions o;
    o.fail_at_step = at;
    absl::StatusOr<Applied> applied = Apply(plan, o);
    ASSERT_FALSE(applied.ok()) << "step " << at;
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kInternal);
    EXPECT_EQ(CountNetns(), 0) << "left behind after failing at step " << at;
  }
}

TEST(Applier, StopsWhenAskedBetweenGroupsAndRollsBack) {
  MKN_REQUIRE_NETNS();
  config::ClusterSpec spec = LoadExample("examples/quickstart/lab.toml");
  plan::Plan plan = plan::BuildPlan(spec);
  // Told to stop once some groups ran (a Ctrl-C midway): the rest never starts, what was made goes.
  std::atomic<int> asked{0};
  std::atomic<size_t> done{0};
  ApplyOptions o;
  o.workers = 1;
  o.progress = &done;
  o.stop_requested = [&] { return ++asked > 3; };
  absl::StatusOr<Applied> applied = Apply(plan, o);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kCancelled) << applied.status();
  EXPECT_EQ(applied.status().message(), "interrupted");
  EXPECT_GT(done.load(), 0u);
  EXPECT_LT(done.load(), plan.steps.size());
  EXPECT_EQ(CountNetns(), 0);
}

TEST(Applier, RefusesANameThatIsTakenAndLeavesTheOwnerAlone) {
  MKN_REQUIRE_NETNS();
  config::ClusterSpec spec = LoadExample("examples/quickstart/lab.toml");
  plan::Plan plan = plan::BuildPlan(spec);
  absl::StatusOr<Applied> first = Apply(plan);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Applied> second = Apply(plan);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists) << second.status();
  EXPECT_EQ(CountNetns(), static_cast<int>(plan.netns.size()));
  *first = Applied();  // every fd it holds, as BuildsQuickstartAndTearsItDown says
  absl::StatusOr<TeardownReport> r = Teardown(NetnsOf(spec), spec.marker);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->still_held.empty()) << r->still_held[0];
  EXPECT_EQ(CountNetns(), 0);
}

TEST(Applier, TeardownLeavesUnmarkedNamespacesAlone) {
  MKN_REQUIRE_NETNS();
  ASSERT_EQ(Sh("ip netns add mkn-quickstart-client").exit_code, 0);  // same name, not ours
  config::ClusterSpec spec = LoadExample("examples/quickstart/lab.toml");
  absl::StatusOr<TeardownReport> r = Teardown(NetnsOf(spec), spec.marker);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->not_ours, std::vector<std::string>{"mkn-quickstart-client"});
  EXPECT_TRUE(std::filesystem::exists("/run/netns/mkn-quickstart-client"));
  EXPECT_EQ(Sh("ip netns del mkn-quickstart-client").exit_code, 0);
}

TEST(Netlink, EachHandleCreatesAndRemovesItsObject) {
  MKN_REQUIRE_NETNS();
  ASSERT_EQ(Sh("ip netns add mkn-t-a && ip netns add mkn-t-b").exit_code, 0);
  absl::StatusOr<Fd> a = OpenNetns("mkn-t-a");
  absl::StatusOr<Fd> b = OpenNetns("mkn-t-b");
  ASSERT_TRUE(a.ok() && b.ok());
  absl::Status st = RunInNetns(a->get(), [&]() -> absl::Status {
    absl::StatusOr<NlSocket> s = NlSocket::Open();
    if (!s.ok()) return s.status();
    net::Mac mac = net::Mac::FromIpv4(*net::Ipv4::Parse("10.0.0.1"));
    if (auto e = s->CreateBridge("br9", 1400, mac); !e.ok()) return e;
    absl::StatusOr<LinkInfo> br = s->GetLink("br9");
    EXPECT_TRUE(br.ok());
    EXPECT_EQ(br->kind, "bridge");
    EXPECT_EQ(br->mtu, 1400);
    EXPECT_EQ(br->mac, mac);
    // A duplicate is refused with the kernel's word for it.
    EXPECT_EQ(s->CreateBridge("br9", 1400, mac).code(), absl::StatusCode::kAlreadyExists);
    VethSpec v{"va", 1400, br->index, "vb", b->get(), mac};
    if (auto e = s->CreateVeth(v); !e.ok()) return e;
    absl::StatusOr<LinkInfo> va = s->GetLink("va");
    EXPECT_EQ(va->master, br->index);
    if (auto e = s->SetUpWithAlias("va", "minikube-net:t"); !e.ok()) return e;
    EXPECT_EQ(s->GetLink("va")->alias, "minikube-net:t");
    EXPECT_TRUE(s->GetLink("va")->up);
    VxlanSpec x{"vx9", 7, *net::Ipv4::Parse("10.0.0.1"), 0, 4789, 1350, mac};
    if (auto e = s->CreateVxlan(x); !e.ok()) return e;
    EXPECT_EQ(s->GetLink("vx9")->kind, "vxlan");
    for (const char* n : {"vx9", "va", "br9"}) {
      if (auto e = s->DeleteLink(s->GetLink(n)->index); !e.ok()) return e;
      EXPECT_TRUE(absl::IsNotFound(s->GetLink(n).status())) << n;
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  // The veth's peer went with it.
  EXPECT_EQ(Sh("ip -n mkn-t-b link show vb").exit_code, 1);
  EXPECT_EQ(Sh("ip netns del mkn-t-a && ip netns del mkn-t-b").exit_code, 0);
}

}  // namespace
}  // namespace mkn::vnet
