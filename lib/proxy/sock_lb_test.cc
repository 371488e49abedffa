#include "lib/proxy/sock_lb.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/config/mutate.h"
#include "lib/config/toml/load.h"

namespace mkn::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// Two nodes; web (3 pods, a named target port) behind a ClusterIP with affinity and a NodePort,
// dns (UDP, 2 pods), and a service without endpoints.
constexpr char kLab[] = R"(
[cluster]
dns = false  # the fixture pins the tables of its own Services (e2e.dns_* covers kube-dns)
name = "lb"
proxy_mode = "ebpf"
nodes = 2
[[deployment]]
name = "web"
replicas = 3
  [deployment.template]
  labels = { app = "web" }
  [[deployment.template.container]]
  name = "echo"
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]
[[deployment]]
name = "dns"
replicas = 2
  [deployment.template]
  labels = { app = "dns" }
  [[deployment.template.container]]
  name = "echo"
  app = "udp-echo"
  ports = [{ name = "dns", port = 5353, protocol = "UDP" }]
[[service]]
name = "web"
cluster_ip = "10.96.0.10"
selector = { app = "web" }
session_affinity = "ClientIP"
affinity_timeout = 600
  [[service.port]]
  port = 80
  target_port = "http"
[[service]]
name = "web-np"
type = "NodePort"
cluster_ip = "10.96.0.11"
selector = { app = "web" }
  [[service.port]]
  port = 80
  target_port = 8080
  node_port = 30080
[[service]]
name = "dns"
cluster_ip = "10.96.0.53"
selector = { app = "dns" }
  [[service.port]]
  port = 53
  target_port = "dns"
  protocol = "UDP"
[[service]]
name = "empty"
cluster_ip = "10.96.0.99"
selector = { app = "nothing" }
  [[service.port]]
  port = 80
)";

config::ClusterSpec Lab() {
  config::LoadResult r = config::Load(kLab, "lab.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return r.spec ? *r.spec : config::ClusterSpec{};
}

std::vector<std::string> Text(const std::vector<SockLbOp>& ops) {
  std::vector<std::string> out;
  for (const SockLbOp& op : ops) out.push_back(ToString(op));
  return out;
}

TEST(SockLb, FullLoadWritesBackendsThenSlotsThenCounts) {
  const config::ClusterSpec spec = Lab();
  const SockLbMaps m = SockLbMaps::Build(spec);
  ASSERT_EQ(m.services.size(), 4u);
  std::vector<std::string> want;
  // Pods' addresses in the order the spec places them.
  std::vector<std::string> web, dns;
  for (int e : spec.services[0].endpoints) web.push_back(spec.pods[e].ip.ToString());
  for (int e : spec.services[2].endpoints) dns.push_back(spec.pods[e].ip.ToString());
  ASSERT_EQ(web.size(), 3u);
  ASSERT_EQ(dns.size(), 2u);
  for (int i = 0; i < 3; ++i)
    want.push_back("put backend " + std::to_string(i + 1) + " " + web[i] + ":8080/TCP svc 1");
  for (int i = 0; i < 3; ++i)
    want.push_back("put backend " + std::to_string(i + 4) + " " + web[i] + ":8080/TCP svc 2");
  for (int i = 0; i < 2; ++i)
    want.push_back("put backend " + std::to_string(i + 7) + " " + dns[i] + ":5353/UDP svc 3");
  for (int i = 0; i < 3; ++i)
    want.push_back("put slot 10.96.0.10:80/TCP #" + std::to_string(i + 1) + " = " +
                   std::to_string(i + 1));
  want.push_back("put service 10.96.0.10:80/TCP id 1 count 3 affinity 600, new");
  for (int i = 0; i < 3; ++i)
    want.push_back("put slot 10.96.0.11:80/TCP #" + std::to_string(i + 1) + " = " +
                   std::to_string(i + 4));
  want.push_back("put service 10.96.0.11:80/TCP id 2 count 3 affinity 0, new");
  want.push_back("put slot 10.96.0.53:53/UDP #1 = 7");
  want.push_back("put slot 10.96.0.53:53/UDP #2 = 8");
  want.push_back("put service 10.96.0.53:53/UDP id 3 count 2 affinity 0, new");
  // No endpoints: the service is there with count 0, so the program refuses the connect.
  want.push_back("put service 10.96.0.99:80/TCP id 4 count 0 affinity 0, new");
  EXPECT_THAT(Text(Diff({}, m)), ElementsAreArray(want));
  for (const SockLbOp& op : Diff({}, m)) {
    EXPECT_EQ(op.fresh, op.kind == SockLbOp::kPutService) << ToString(op);
  }
}

TEST(SockLb, SameSpecSameMapsNoOps) {
  const config::ClusterSpec spec = Lab();
  const SockLbMaps a = SockLbMaps::Build(spec);
  const SockLbMaps b = SockLbMaps::Build(spec, &a);
  EXPECT_EQ(a.services, b.services);
  EXPECT_EQ(a.backends, b.backends);
  EXPECT_TRUE(Diff(a, b).empty());
}

// Table: a change of the spec and the exact writes it takes, ids kept.
TEST(SockLb, DeltasKeepIds) {
  const config::ClusterSpec spec = Lab();
  const SockLbMaps before = SockLbMaps::Build(spec);
  const std::string web0 = spec.pods[spec.services[0].endpoints[0]].name;
  const std::string web2 = spec.pods[spec.services[0].endpoints[2]].name;
  const std::string dns1 = spec.pods[spec.services[2].endpoints[1]].name;
  struct Case {
    std::string name;
    std::vector<std::string> killed;
    std::vector<std::string> ops;
  };
  const std::vector<Case> cases = {
      {"the last web pod goes: its two backends and the slots past the new count",
       {web2},
       {"put service 10.96.0.10:80/TCP id 1 count 2 affinity 600",
        "delete slot 10.96.0.10:80/TCP #3", "put service 10.96.0.11:80/TCP id 2 count 2 affinity 0",
        "delete slot 10.96.0.11:80/TCP #3", "delete backend 3", "delete backend 6"}},
      {"the first web pod goes: the slots move up, the others keep their ids",
       {web0},
       {"put slot 10.96.0.10:80/TCP #1 = 2", "put slot 10.96.0.10:80/TCP #2 = 3",
        "put service 10.96.0.10:80/TCP id 1 count 2 affinity 600",
        "delete slot 10.96.0.10:80/TCP #3", "put slot 10.96.0.11:80/TCP #1 = 5",
        "put slot 10.96.0.11:80/TCP #2 = 6",
        "put service 10.96.0.11:80/TCP id 2 count 2 affinity 0", "delete slot 10.96.0.11:80/TCP #3",
        "delete backend 1", "delete backend 4"}},
      {"a dns pod goes",
       {dns1},
       {"put service 10.96.0.53:53/UDP id 3 count 1 affinity 0", "delete slot 10.96.0.53:53/UDP #2",
        "delete backend 8"}},
  };
  for (const Case& c : cases) {
    const config::ClusterSpec next = config::WithoutEndpoints(spec, c.killed);
    const SockLbMaps after = SockLbMaps::Build(next, &before);
    const std::vector<SockLbOp> ops = Diff(before, after);
    EXPECT_THAT(Text(ops), ElementsAreArray(c.ops)) << c.name;
    // The ports stay: their counters go on (the loader zeroes only a fresh port's).
    for (const SockLbOp& op : ops) EXPECT_FALSE(op.fresh) << c.name << ": " << ToString(op);
    // And back: the pod returns with the lowest free id, which is the one it had.
    const SockLbMaps again = SockLbMaps::Build(spec, &after);
    EXPECT_EQ(again.backends, before.backends) << c.name;
  }
}

// A backend id freed by one Service goes to the next new endpoint, of whichever Service: the write
// names the service port it now serves, so an affinity entry made for the old one (which names
// only the id) is not trusted by the program (bpf/sock_lb.bpf.c compares the two).
TEST(SockLb, ReusedBackendIdIsWrittenWithItsNewService) {
  config::ClusterSpec spec = Lab();
  const SockLbMaps before = SockLbMaps::Build(spec);
  ASSERT_TRUE(config::ScaleDeployment(spec, "web", 2).ok());
  const SockLbMaps mid = SockLbMaps::Build(spec, &before);
  ASSERT_TRUE(config::ScaleDeployment(spec, "dns", 3).ok());
  const SockLbMaps after = SockLbMaps::Build(spec, &mid);
  ASSERT_EQ(after.backends.count(3), 1u);  // web's third backend id, now a dns pod's
  EXPECT_EQ(after.backends.at(3).service_id, 3u);
  const std::string dns2 = after.backends.at(3).ip.ToString();
  EXPECT_THAT(
      Text(Diff(mid, after)),
      ElementsAre("put backend 3 " + dns2 + ":5353/UDP svc 3", "put slot 10.96.0.53:53/UDP #3 = 3",
                  "put service 10.96.0.53:53/UDP id 3 count 3 affinity 0"));
  // Even a backend that keeps its address and port but changes service is written again.
  SockLbMaps moved = after;
  moved.backends.at(3).service_id = 1;
  EXPECT_THAT(Text(Diff(moved, after)), ElementsAre("put backend 3 " + dns2 + ":5353/UDP svc 3"));
}

// Counters start at zero only for a service port new to the maps (or under a new id): a kill or
// scale rewrites slot 0 with the new count, which must not reset what `get svc` counted.
TEST(SockLb, OnlyANewServicePortIsFresh) {
  config::ClusterSpec spec = Lab();
  const SockLbMaps before = SockLbMaps::Build(spec);
  for (const SockLbOp& op : Diff({}, before)) {
    if (op.kind != SockLbOp::kPutService) continue;
    EXPECT_TRUE(op.fresh) << ToString(op);
  }
  ASSERT_TRUE(config::ScaleDeployment(spec, "web", 1).ok());
  const SockLbMaps after = SockLbMaps::Build(spec, &before);
  int puts = 0;
  for (const SockLbOp& op : Diff(before, after)) {
    if (op.kind != SockLbOp::kPutService) continue;
    ++puts;
    EXPECT_FALSE(op.fresh) << ToString(op);
  }
  EXPECT_EQ(puts, 2);  // web and web-np, count 3 -> 1
  // A service port under a new id (it went and came back while another took its id) is fresh.
  SockLbMaps renumbered = after;
  renumbered.services[0].id = 9;
  const std::vector<SockLbOp> ops = Diff(after, renumbered);
  ASSERT_FALSE(ops.empty());
  EXPECT_EQ(ToString(ops.back()), "put service 10.96.0.10:80/TCP id 9 count 1 affinity 600, new");
}

TEST(SockLb, ServiceIdsSurviveAnotherServiceGoing) {
  config::ClusterSpec spec = Lab();
  const SockLbMaps before = SockLbMaps::Build(spec);
  spec.services.erase(spec.services.begin());  // "web" goes
  const SockLbMaps after = SockLbMaps::Build(spec, &before);
  ASSERT_EQ(after.services.size(), 3u);
  EXPECT_EQ(after.services[0].id, 2u);  // web-np
  EXPECT_EQ(after.services[1].id, 3u);  // dns
  EXPECT_THAT(Text(Diff(before, after)),
              ElementsAre("delete service 10.96.0.10:80/TCP", "delete slot 10.96.0.10:80/TCP #1",
                          "delete slot 10.96.0.10:80/TCP #2", "delete slot 10.96.0.10:80/TCP #3",
                          "delete backend 1", "delete backend 2", "delete backend 3"));
}

// Plan() + Commit() (a kill or scale names the services whose endpoints changed) is the full way,
// Build() then Diff(), in the same ops and the same maps, for kills, returns, scale-ups past every
// held id, and changes of several services at once.
TEST(SockLb, PlanOfChangedServicesIsTheFullWay) {
  const config::ClusterSpec spec = Lab();
  struct Case {
    std::string name;
    std::vector<std::string> killed;  // from spec
    bool grow = false;                // and web-np gets one more endpoint (a dns pod, :8080)
  };
  std::vector<std::string> pods;
  for (const config::PodSpec& p : spec.pods) pods.push_back(p.name);
  const std::vector<Case> cases = {
      {"nothing", {}},
      {"one web pod", {pods[spec.services[0].endpoints[1]]}},
      {"every web pod",
       {pods[spec.services[0].endpoints[0]], pods[spec.services[0].endpoints[1]],
        pods[spec.services[0].endpoints[2]]}},
      {"a web and a dns pod",
       {pods[spec.services[0].endpoints[0]], pods[spec.services[2].endpoints[0]]}},
      {"web-np grows", {}, true},
      {"web loses one, web-np grows", {pods[spec.services[0].endpoints[0]]}, true},
  };
  for (const Case& c : cases) {
    config::ClusterSpec next = config::WithoutEndpoints(spec, c.killed);
    if (c.grow) next.services[1].endpoints.push_back(spec.services[2].endpoints[0]);
    std::vector<int> changed;
    for (size_t i = 0; i < spec.services.size(); ++i) {
      if (next.services[i].endpoints != spec.services[i].endpoints)
        changed.push_back(static_cast<int>(i));
    }
    // Twice: away from the full load, and back again (ids freed and taken again).
    SockLbMaps full = SockLbMaps::Build(spec);
    SockLbMaps quick = full;
    for (const config::ClusterSpec* to : std::vector<const config::ClusterSpec*>{&next, &spec}) {
      const SockLbMaps after = SockLbMaps::Build(*to, &full);
      const std::vector<SockLbOp> want = Diff(full, after);
      full = after;
      SockLbChange change = quick.Plan(*to, changed);
      EXPECT_THAT(Text(change.ops), ElementsAreArray(Text(want))) << c.name;
      quick.Commit(std::move(change));
      EXPECT_EQ(quick.services, full.services) << c.name;
      EXPECT_EQ(quick.backends, full.backends) << c.name;
    }
  }
}

TEST(SockLb, PlanTakesTheFullWayWhenServicePortsChange) {
  config::ClusterSpec spec = Lab();
  SockLbMaps m = SockLbMaps::Build(spec);
  spec.services.erase(spec.services.begin());  // "web" goes: not an endpoints-only change
  const SockLbMaps want = SockLbMaps::Build(spec, &m);
  SockLbChange change = m.Plan(spec, {0});
  ASSERT_TRUE(change.full);
  EXPECT_THAT(Text(change.ops), ElementsAreArray(Text(Diff(SockLbMaps::Build(Lab()), want))));
  m.Commit(std::move(change));
  EXPECT_EQ(m.services, want.services);
  EXPECT_EQ(m.backends, want.backends);
}

// The maps' sizes are checked before a write: a full hash map refuses one halfway through a change.
TEST(SockLb, CheckFitsNamesWhatOverflows) {
  const config::ClusterSpec spec = Lab();
  const SockLbMaps m = SockLbMaps::Build(spec);  // 4 ports (ids 1..4), 8 backends, 12 entries
  EXPECT_TRUE(CheckFits(m, spec.pods.size()).ok());
  EXPECT_TRUE(CheckFits(m, 5, {4, 8, 12, 5}).ok());
  struct Case {
    std::string name;
    SockLbLimits limits;
    size_t pods;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"service ids", {3, 8, 12, 5}, 5, "service port id 4 (ids up to 3)"},
      {"backend ids", {4, 7, 12, 5}, 5, "backend id 8 (ids up to 7)"},
      {"slots",
       {4, 8, 11, 5},
       5,
       "12 service map entries (4 service ports and their endpoints; it holds 11)"},
      {"pods", {4, 8, 12, 5}, 6, "6 pod namespaces (mkn_netns holds 5)"},
  };
  for (const Case& c : cases) {
    const absl::Status st = CheckFits(m, c.pods, c.limits);
    EXPECT_TRUE(absl::IsResourceExhausted(st)) << c.name << ": " << st;
    EXPECT_NE(st.message().find(c.want), std::string::npos) << c.name << ": " << st;
  }
  // The real limits: a lab of kMaxPods pods does not fit mkn_netns.
  const absl::Status pods = CheckFits(m, config::kMaxPods);
  EXPECT_NE(pods.message().find("20000 pod namespaces (mkn_netns holds 4096)"), std::string::npos)
      << pods;
  // A kill or scale (Plan) is held against them too, from the change alone: web 3 -> 5 brings
  // backend ids 9..12 (two more for web, two for web-np): 4 + 12 = 16 entries.
  config::ClusterSpec more = spec;
  ASSERT_TRUE(config::ScaleDeployment(more, "web", 5).ok());
  const SockLbChange grow = m.Plan(more, {0, 1});
  ASSERT_EQ(grow.full, nullptr);
  EXPECT_TRUE(CheckFits(m, grow, 7, {4, 12, 16, 7}).ok());
  const absl::Status ids = CheckFits(m, grow, 7, {4, 11, 16, 7});
  EXPECT_NE(ids.message().find("backend id 12 (ids up to 11)"), std::string::npos) << ids;
  const absl::Status slots = CheckFits(m, grow, 7, {4, 12, 15, 7});
  EXPECT_NE(slots.message().find("16 service map entries"), std::string::npos) << slots;
}

TEST(SockLb, Cgroup2MountFromMountinfo) {
  struct Case {
    std::string name, mountinfo;
    std::optional<std::string> want;
  };
  const std::vector<Case> cases = {
      {"hybrid: v1 controllers and cgroup2 at unified",
       "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
       "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
       "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
       "/sys/fs/cgroup/unified"},
      {"unified: cgroup2 at /sys/fs/cgroup, optional fields",
       "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
       "/sys/fs/cgroup"},
      {"a bind of a subtree is no root", "35 24 0:30 /user.slice /mnt/x rw - cgroup2 cgroup2 rw\n",
       std::nullopt},
      {"v1 only", "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n",
       std::nullopt},
      {"empty", "", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(Cgroup2Mount(c.mountinfo), c.want) << c.name;
}

TEST(SockLb, ClusterCgroupPath) {
  EXPECT_EQ(ClusterCgroupPath("/sys/fs/cgroup/unified", "svc", 0xf0000098),
            "/sys/fs/cgroup/unified/mkn-svc-f0000098");
}

}  // namespace
}  // namespace mkn::proxy
