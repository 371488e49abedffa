// RunningCluster and DownCluster against the real kernel, inside the test's own sandbox.
#include <gtest/gtest.h>

#include <filesystem>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "vnet/cluster/cluster.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using testing::Sh;

constexpr char kLab[] = R"([cluster]
name = "rc"
nodes = 2
[[pod]]
name = "a"
node = "node1"
  [[pod.container]]
  app = "http-echo"
  [[pod.container]]
  command = ["sh", "-c", "echo started $POD_NAME; exec sleep 1000"]
[[pod]]
name = "b"
node = "node2"
  [[pod.container]]
  app = "udp-echo"
)";

config::ClusterSpec Spec() {
  config::LoadResult r = config::Load(kLab, "rc.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return *r.spec;
}

bool NothingLeft() {
  return !std::filesystem::exists("/run/minikube-net/rc") &&
         Sh("ls /run/netns | grep -c '^mkn-rc-'").output == "0\n";
}

TEST(RunningCluster, UpServesAndDownRemovesEverything) {
  MKN_REQUIRE_NETNS();
  absl::StatusOr<std::unique_ptr<RunningCluster>> rc = RunningCluster::Up(Spec(), {});
  ASSERT_TRUE(rc.ok()) << rc.status();
  const ClusterState& st = (*rc)->state();
  EXPECT_EQ(st.phase, "ready");
  ASSERT_TRUE(ReadState("rc").ok());
  EXPECT_EQ(ReadState("rc")->phase, "ready");
  EXPECT_TRUE(ClusterLocked("rc"));
  std::vector<ChildProcess> procs = st.Processes();
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_TRUE(IsAlive(procs[0]));
  // The command runs in its pod's netns; the app answers across the overlay.
  EXPECT_EQ(Sh("readlink /proc/" + std::to_string(procs[0].pid) + "/ns/net").output,
            Sh("ip netns exec mkn-rc-a readlink /proc/self/ns/net").output);
  auto curl = Sh("ip netns exec mkn-rc-b curl -sS --max-time 5 http://10.244.0.2:8080/");
  EXPECT_NE(curl.output.find("client: 10.244.1.2:"), std::string::npos) << curl.output;

  absl::StatusOr<TeardownReport> r = (*rc)->Down();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed, 1 + 2 + 2);
  EXPECT_FALSE(IsAlive(procs[0]));
  EXPECT_TRUE(NothingLeft());
  EXPECT_TRUE((*rc)->Down().ok());  // idempotent
}

TEST(RunningCluster, AFailedUpLeavesNothing) {
  MKN_REQUIRE_NETNS();
  UpOptions o;
  o.fail_at_step = 20;
  absl::StatusOr<std::unique_ptr<RunningCluster>> rc = RunningCluster::Up(Spec(), o);
  ASSERT_FALSE(rc.ok());
  EXPECT_TRUE(NothingLeft());
}

TEST(RunningCluster, ASecondUpIsRefusedAndHarmsNothing) {
  MKN_REQUIRE_NETNS();
  absl::StatusOr<std::unique_ptr<RunningCluster>> first = RunningCluster::Up(Spec(), {});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<RunningCluster>> second = RunningCluster::Up(Spec(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_TRUE(ReadState("rc").ok());
  EXPECT_TRUE(std::filesystem::exists("/run/netns/mkn-rc-a"));
  ASSERT_TRUE((*first)->Down().ok());
  EXPECT_TRUE(NothingLeft());
}

TEST(DownCluster, RemovesWhatAStateFileAndMarkersProveOurs) {
  MKN_REQUIRE_NETNS();
  // Simulate a killed owner: build the namespaces, write the state, forget the process side.
  config::ClusterSpec spec = Spec();
  plan::Plan plan = plan::BuildPlan(spec);
  absl::StatusOr<Applied> applied = Apply(plan);
  ASSERT_TRUE(applied.ok()) << applied.status();
  applied->netns.clear();
  applied->apps.clear();
  ClusterState st = StateFromSpec(spec, "/nowhere/rc.toml");
  st.owner = {999999, 1};  // no such process
  ASSERT_TRUE(WriteState(st).ok());
  absl::StatusOr<DownResult> r = DownCluster("rc");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->was_up);
  EXPECT_FALSE(r->owner_stopped);
  EXPECT_EQ(r->report.removed, 5);
  EXPECT_TRUE(NothingLeft());
  r = DownCluster("rc");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->was_up);
}

}  // namespace
}  // namespace mkn::vnet
