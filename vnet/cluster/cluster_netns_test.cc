// RunningCluster and DownCluster against the real kernel, inside the test's own sandbox.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using testing::CmdResult;
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
  EXPECT_EQ(LockHolder("rc").pid, getpid());  // the lock file names its holder
  std::vector<ChildProcess> procs = ProcessesOf(st);
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_TRUE(IsAlive(procs[0]));
  // The command runs in its pod's netns; the app answers across the overlay.
  EXPECT_EQ(Sh("readlink /proc/" + std::to_string(procs[0].pid) + "/ns/net").output,
            Sh("ip netns exec mkn-rc-a readlink /proc/self/ns/net").output);
  auto curl = Sh("ip netns exec mkn-rc-b curl -sS --max-time 5 http://10.244.0.2:8080/");
  EXPECT_NE(curl.output.find("client: 10.244.1.2:"), std::string::npos) << curl.output;

  absl::StatusOr<TeardownReport> r = (*rc)->Down();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed, 1 + 2 + 2 + 1 + 1);  // underlay, nodes, pods, the DNS pod, the world
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

// A kill or scale the kernel refuses midway is a failure of the running system (exit 1), even when
// the kernel's errno maps to NotFound or InvalidArgument (exit 2: "you named something wrong").
// Here the node's pod bridge is gone, so the new pod's veth finds no master (ENODEV).
TEST(RunningCluster, AFailedKillOrScaleIsARuntimeFailure) {
  MKN_REQUIRE_NETNS();
  absl::StatusOr<std::unique_ptr<RunningCluster>> rc = RunningCluster::Up(Spec(), {});
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ((*rc)->KillPod("nope").code(), absl::StatusCode::kNotFound);  // the user's mistake
  ASSERT_EQ(Sh("ip -n mkn-rc-node1 link del cbr0").exit_code, 0);
  absl::Status killed = (*rc)->KillPod("a");
  ASSERT_FALSE(killed.ok());
  EXPECT_EQ(killed.code(), absl::StatusCode::kFailedPrecondition) << killed;
  ASSERT_TRUE((*rc)->Down().ok());
  EXPECT_TRUE(NothingLeft());

  config::LoadResult lab = config::Load(R"([cluster]
name = "rc"
nodes = 1
[[deployment]]
name = "web"
replicas = 1
  [deployment.template]
  [[deployment.template.container]]
  app = "http-echo"
)",
                                        "rc.toml");
  ASSERT_TRUE(lab.spec) << lab.diags.FormatAll();
  rc = RunningCluster::Up(*lab.spec, {});
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ((*rc)->Scale("nope", 2).code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(Sh("ip -n mkn-rc-node1 link del cbr0").exit_code, 0);
  absl::Status scaled = (*rc)->Scale("web", 2);
  ASSERT_FALSE(scaled.ok());
  EXPECT_EQ(scaled.code(), absl::StatusCode::kFailedPrecondition) << scaled;
  ASSERT_TRUE((*rc)->Down().ok());
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
  applied->world_dns_udp.clear();  // the world's DNS sockets hold its namespace too
  applied->world_dns_tcp = Fd();
  ClusterState st = StateFromSpec(spec, "/nowhere/rc.toml");
  st.owner = {999999, 1};  // no such process
  ASSERT_TRUE(WriteState(st).ok());
  absl::StatusOr<DownResult> r = DownCluster("rc");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->was_up);
  EXPECT_FALSE(r->owner_stopped);
  EXPECT_EQ(r->report.removed, 7);  // underlay, 2 nodes, 2 pods, the DNS pod, the world
  EXPECT_TRUE(NothingLeft());
  r = DownCluster("rc");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->was_up);
}

// The lock records its holder; a live minikube-net holder is refused at once, anything else is
// given the grace and then its lock file replaced.
TEST(LockCluster, ALiveHolderIsRefusedAtOnce) {
  MKN_REQUIRE_NETNS();
  absl::StatusOr<Fd> first = LockCluster("lk");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(LockHolder("lk").pid, getpid());
  EXPECT_EQ(Sh("stat -c %a /run/minikube-net/lk /run/minikube-net/lk/lock").output, "700\n600\n");
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<Fd> second = LockCluster("lk");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(kForeignLockGraceMs));
  ASSERT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find(StrCat("minikube-net pid ", getpid())),
            std::string::npos)
      << second.status();
  first->Reset();
  EXPECT_TRUE(LockCluster("lk").ok());
  EXPECT_TRUE(RemoveStateDir("lk").ok());
}

TEST(LockCluster, AForeignHolderIsReplacedAfterTheGrace) {
  MKN_REQUIRE_NETNS();
  ASSERT_TRUE(LockCluster("lk").ok());  // taken and released: the file records this process
  // As an owner that died would leave it: its record names a process that is gone.
  ASSERT_EQ(
      Sh("printf '999999 1' | dd of=/run/minikube-net/lk/lock conv=notrunc 2>/dev/null").exit_code,
      0);
  const std::string inode = Sh("stat -c %i /run/minikube-net/lk/lock").output;
  // Another program holds it (shared, as `flock -s` would).
  CmdResult holder =
      Sh("(exec 9</run/minikube-net/lk/lock; flock -s 9; exec sleep 60) >/dev/null 2>&1 & echo $!");
  ASSERT_EQ(holder.exit_code, 0);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Sh("flock -n -x /run/minikube-net/lk/lock true").exit_code == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "the holder did not take the lock";
  }
  std::vector<std::string> notices;
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<Fd> lock =
      LockCluster("lk", [&](const std::string& line) { notices.push_back(line); });
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_GE(took, std::chrono::milliseconds(kForeignLockGraceMs - 50));
  EXPECT_LT(took, std::chrono::milliseconds(kForeignLockGraceMs + 2000));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("not a running minikube-net"), std::string::npos) << notices[0];
  EXPECT_NE(Sh("stat -c %i /run/minikube-net/lk/lock").output, inode);  // a fresh file
  EXPECT_EQ(LockHolder("lk").pid, getpid());
  // The fresh lock is ours like any other: a second taker is refused.
  EXPECT_EQ(LockCluster("lk").status().code(), absl::StatusCode::kFailedPrecondition);
  Sh("kill " + holder.output);
  lock->Reset();
  EXPECT_TRUE(RemoveStateDir("lk").ok());
}

}  // namespace
}  // namespace mkn::vnet
