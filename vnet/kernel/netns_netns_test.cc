// NamedNetns against the real kernel, inside the test's own sandbox: a handle removes the netns it
// made when it dies, leaves it when released, hands it on when moved, and never touches a name it
// did not make.
#include "vnet/kernel/netns.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include "lib/net/naming.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/owned.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using testing::CmdResult;
using testing::Sh;

bool Exists(const std::string& name) { return std::filesystem::exists("/run/netns/" + name); }

// The inode of a netns fd: two fds of one namespace have the same.
ino_t Inode(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

class NamedNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MKN_REQUIRE_NETNS();
    ASSERT_TRUE(PrepareNetnsDir().ok());
  }
};

TEST_F(NamedNetnsTest, IsGoneAfterItsHandleDies) {
  {
    absl::StatusOr<NamedNetns> ns = NamedNetns::Create("mkn-t-nn", "minikube-net:t");
    ASSERT_TRUE(ns.ok()) << ns.status();
    EXPECT_EQ(ns->name(), "mkn-t-nn");
    EXPECT_GE(ns->fd(), 0);
    EXPECT_TRUE(Exists("mkn-t-nn"));
    // The marker went on lo before the mount, and ip(8) sees the namespace.
    EXPECT_EQ(*ReadMarker("mkn-t-nn"), "minikube-net:t");
    EXPECT_EQ(Sh("ip -n mkn-t-nn link show lo").exit_code, 0);
  }
  EXPECT_FALSE(Exists("mkn-t-nn"));
  EXPECT_TRUE(absl::IsNotFound(OpenNetns("mkn-t-nn").status()));
}

TEST_F(NamedNetnsTest, SurvivesRelease) {
  Fd fd;
  {
    absl::StatusOr<NamedNetns> ns = NamedNetns::Create("mkn-t-kept", "minikube-net:t");
    ASSERT_TRUE(ns.ok()) << ns.status();
    int raw = ns->fd();
    fd = ns->Release();
    EXPECT_EQ(fd.get(), raw);  // the same open fd, handed over
    EXPECT_FALSE(*ns);
    EXPECT_EQ(ns->name(), "");
    EXPECT_EQ(ns->fd(), -1);
  }
  ASSERT_TRUE(Exists("mkn-t-kept"));
  absl::StatusOr<Fd> again = OpenNetns("mkn-t-kept");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Inode(fd.get()), Inode(again->get()));
  EXPECT_TRUE(RemoveNetns("mkn-t-kept").ok());
}

TEST_F(NamedNetnsTest, MovesHandOwnershipOn) {
  absl::StatusOr<NamedNetns> a = NamedNetns::Create("mkn-t-a");
  ASSERT_TRUE(a.ok()) << a.status();
  ino_t ino = Inode(a->fd());
  NamedNetns b(std::move(*a));
  EXPECT_FALSE(*a);
  EXPECT_EQ(a->fd(), -1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b.name(), "mkn-t-a");
  EXPECT_EQ(Inode(b.fd()), ino);
  *a = NamedNetns();  // destroying or resetting the moved-from handle removes nothing
  EXPECT_TRUE(Exists("mkn-t-a"));

  // Assigning over a live handle removes what it held.
  absl::StatusOr<NamedNetns> c = NamedNetns::Create("mkn-t-c");
  ASSERT_TRUE(c.ok()) << c.status();
  *c = std::move(b);
  EXPECT_FALSE(Exists("mkn-t-c"));
  EXPECT_TRUE(Exists("mkn-t-a"));
  EXPECT_EQ(c->name(), "mkn-t-a");

  // An undo stack: growing the vector moves the handles, which must not remove anything; clearing
  // it removes all of them.
  std::vector<NamedNetns> stack;
  stack.push_back(std::move(*c));
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<NamedNetns> n = NamedNetns::Create("mkn-t-s" + std::to_string(i));
    ASSERT_TRUE(n.ok()) << n.status();
    stack.push_back(std::move(*n));
  }
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(Exists("mkn-t-s" + std::to_string(i))) << i;
  EXPECT_TRUE(Exists("mkn-t-a"));
  while (!stack.empty()) stack.pop_back();
  for (int i = 0; i < 8; ++i) EXPECT_FALSE(Exists("mkn-t-s" + std::to_string(i))) << i;
  EXPECT_FALSE(Exists("mkn-t-a"));
}

TEST_F(NamedNetnsTest, RefusesATakenNameAndLeavesItsOwnerAlone) {
  ASSERT_EQ(Sh("ip netns add mkn-t-taken").exit_code, 0);
  absl::StatusOr<NamedNetns> ns = NamedNetns::Create("mkn-t-taken", "minikube-net:t");
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kAlreadyExists) << ns.status();
  EXPECT_TRUE(Exists("mkn-t-taken"));
  EXPECT_EQ(*ReadMarker("mkn-t-taken"), "");  // still the other one's: no marker
  EXPECT_EQ(Sh("ip netns del mkn-t-taken").exit_code, 0);
}

// What a SIGKILL between creating the file and mounting the netns (or between unmounting and
// unlinking) leaves: an empty file. It is told apart from a live namespace and from anything else,
// a name being made over it clears it, and Teardown removes it as stale.
TEST_F(NamedNetnsTest, AStaleFileIsToldApartAndClearedOnlyWhenOurs) {
  EXPECT_EQ(StatNetnsPath("mkn-t-none"), NetnsPath::kAbsent);
  ASSERT_EQ(Sh("touch /run/netns/mkn-t-stale && echo x > /run/netns/mkn-t-other").exit_code, 0);
  EXPECT_EQ(StatNetnsPath("mkn-t-stale"), NetnsPath::kStale);
  EXPECT_EQ(StatNetnsPath("mkn-t-other"), NetnsPath::kOther);  // not empty: not what we leave
  EXPECT_EQ(*RemoveStaleNetns("mkn-t-other"), false);
  EXPECT_TRUE(Exists("mkn-t-other"));
  {
    absl::StatusOr<NamedNetns> ns = NamedNetns::Create("mkn-t-stale", "minikube-net:t");
    ASSERT_TRUE(ns.ok()) << ns.status();
    EXPECT_EQ(StatNetnsPath("mkn-t-stale"), NetnsPath::kMounted);
    EXPECT_EQ(*RemoveStaleNetns("mkn-t-stale"), false);  // a live namespace is never stale
  }
  EXPECT_FALSE(Exists("mkn-t-stale"));
  ASSERT_EQ(Sh("touch /run/netns/mkn-t-stale").exit_code, 0);
  absl::StatusOr<TeardownReport> r = Teardown(
      ClusterNetns{"", {}, {"mkn-t-stale", "mkn-t-other"}, {}, ""}, "minikube-net:t", 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stale, std::vector<std::string>{"mkn-t-stale"});
  EXPECT_EQ(r->not_ours, std::vector<std::string>{"mkn-t-other"});
  EXPECT_FALSE(Exists("mkn-t-stale"));
  EXPECT_TRUE(Exists("mkn-t-other"));
  ASSERT_EQ(Sh("rm /run/netns/mkn-t-other").exit_code, 0);
}

TEST_F(NamedNetnsTest, WithoutAMarkerLoStaysDown) {
  absl::StatusOr<NamedNetns> ns = NamedNetns::Create("mkn-t-bare");
  ASSERT_TRUE(ns.ok()) << ns.status();
  absl::Status st = RunInNetns(ns->fd(), []() -> absl::Status {
    absl::StatusOr<NlSocket> s = NlSocket::Open();
    if (!s.ok()) return s.status();
    absl::StatusOr<LinkInfo> lo = s->GetLink("lo");
    if (!lo.ok()) return lo.status();
    EXPECT_FALSE(lo->up);
    EXPECT_EQ(lo->alias, "");
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
}

TEST_F(NamedNetnsTest, CreateOnThisThreadLeavesTheThreadInside) {
  absl::StatusOr<NamedNetns> ns = absl::InternalError("not run");
  ino_t here = 0;
  std::thread t([&] {
    ns = NamedNetns::CreateOnThisThread("mkn-t-here", "minikube-net:t");
    absl::StatusOr<Fd> cur = OpenCurrentNetns();
    if (cur.ok()) here = Inode(cur->get());
  });
  t.join();
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(here, Inode(ns->fd()));
  // The test's own thread never moved.
  absl::StatusOr<Fd> mine = OpenCurrentNetns();
  ASSERT_TRUE(mine.ok());
  EXPECT_NE(Inode(mine->get()), Inode(ns->fd()));
}

// NlSocket's creation errors have the codes netlink.h declares: the kernel answers a `master` or a
// peer netns fd that names nothing with EINVAL/EBADF (InvalidArgument), and a vxlan `link` that
// names nothing with ENODEV (NotFound).
TEST_F(NamedNetnsTest, CreationErrorsHaveTheDeclaredCodes) {
  absl::StatusOr<NamedNetns> ns = NamedNetns::Create("mkn-t-codes");
  ASSERT_TRUE(ns.ok()) << ns.status();
  Fd not_a_netns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(not_a_netns.valid());
  absl::Status st = RunInNetns(ns->fd(), [&]() -> absl::Status {
    absl::StatusOr<NlSocket> s = NlSocket::Open();
    if (!s.ok()) return s.status();
    VethSpec veth;
    veth.name = "v0";
    veth.peer_name = "v1";
    veth.master = 9999;
    EXPECT_EQ(s->CreateVeth(veth).code(), absl::StatusCode::kInvalidArgument);
    veth.master = 0;
    veth.peer_netns_fd = not_a_netns.get();
    EXPECT_EQ(s->CreateVeth(veth).code(), absl::StatusCode::kInvalidArgument);
    veth.peer_netns_fd = 999;  // no such fd
    EXPECT_EQ(s->CreateVeth(veth).code(), absl::StatusCode::kInvalidArgument);
    VxlanSpec vxlan;
    vxlan.name = "vx0";
    vxlan.vni = 7;
    vxlan.local = *net::Ipv4::Parse("192.0.2.1");
    vxlan.link = 9999;
    EXPECT_EQ(s->CreateVxlan(vxlan).code(), absl::StatusCode::kNotFound);
    EXPECT_FALSE(s->GetLink("v0").ok());  // nothing was made
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
}

// The socket that set the marker is handed over, open inside the new netns (the applier's worker
// goes on with it instead of opening a second).
TEST_F(NamedNetnsTest, CreateOnThisThreadCanHandOverItsSocket) {
  absl::StatusOr<NamedNetns> ns = absl::InternalError("not run");
  std::optional<NlSocket> sock;
  absl::StatusOr<LinkInfo> lo = absl::InternalError("not run");
  std::thread t([&] {
    ns = NamedNetns::CreateOnThisThread("mkn-t-sock", "minikube-net:t", &sock);
    if (sock) lo = sock->GetLink("lo");
  });
  t.join();
  ASSERT_TRUE(ns.ok()) << ns.status();
  ASSERT_TRUE(sock.has_value());
  ASSERT_TRUE(lo.ok()) << lo.status();
  EXPECT_EQ(lo->alias, "minikube-net:t");  // the new netns's lo, as the marker left it
  // Used from another thread, the socket still speaks for the netns it was opened in.
  absl::StatusOr<LinkInfo> again = sock->GetLink("lo");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->alias, "minikube-net:t");
}

TEST_F(NamedNetnsTest, ErrorsSayWhichNetns) {
  // A name with a slash cannot be a file in /run/netns: the mount point cannot be made.
  absl::StatusOr<NamedNetns> ns = NamedNetns::Create("mkn-t-no/such");
  ASSERT_FALSE(ns.ok());
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kNotFound) << ns.status();
  EXPECT_NE(ns.status().message().find("create netns mkn-t-no/such"), absl::string_view::npos)
      << ns.status();
}

// The attack's liar-daemon: a process a plugin left in a node's namespace keeps it alive once its
// name is gone, and with it the node's uplink whose peer is in the underlay. Teardown names that
// node and the process (pid, comm), found by /proc/<pid>/ns/net, instead of waiting out its
// deadline on the underlay and blaming it; the process is left running (it could be a user's
// shell). A process in a pod is named the same way.
TEST_F(NamedNetnsTest, TeardownNamesTheNamespacesProcessesHoldAndDoesNotWaitForThem) {
  const std::string marker = "minikube-net:th";
  std::vector<std::string> names = {"mkn-th-underlay", "mkn-th-node1", "mkn-th-node2",
                                    "mkn-th-web-1"};
  for (const std::string& n : names) {
    absl::StatusOr<NamedNetns> ns = NamedNetns::Create(n, marker);
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns->Release();  // Teardown removes them, as `down` does
  }
  const std::string uplink(net::kNodeUplinkIf);
  for (const char* cmd :
       {"ip -n mkn-th-underlay link add u1 type veth peer name UP netns mkn-th-node1",
        "ip -n mkn-th-underlay link add u2 type veth peer name UP netns mkn-th-node2",
        "ip -n mkn-th-node1 link add v1 type veth peer name eth0 netns mkn-th-web-1"}) {
    std::string c = cmd;
    if (size_t up = c.find("UP"); up != std::string::npos) c.replace(up, 2, uplink);
    ASSERT_EQ(Sh(c).exit_code, 0) << c;
  }
  // A daemon in its own session (out of reach of a process group kill), as `setsid cmd &` in a
  // plugin leaves it; and a shell-like process in the pod.
  CmdResult d =
      Sh("ip netns exec mkn-th-node1 setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $!");
  CmdResult p = Sh("ip netns exec mkn-th-web-1 sleep 61 </dev/null >/dev/null 2>&1 & echo $!");
  const pid_t daemon = std::atoi(d.output.c_str()), in_pod = std::atoi(p.output.c_str());
  ASSERT_GT(daemon, 0) << d.output;
  ASSERT_GT(in_pod, 0) << p.output;
  // Both are in their namespaces before Teardown looks (`ip netns exec` setns()es, then execs).
  auto in_ns = [](pid_t pid, const std::string& ns) {
    return Sh("[ \"$(readlink /proc/" + std::to_string(pid) + "/ns/net)\" = \"$(ip netns exec " +
              ns + " readlink /proc/self/ns/net)\" ]")
               .exit_code == 0;
  };
  for (int i = 0; i < 200 && !(in_ns(daemon, "mkn-th-node1") && in_ns(in_pod, "mkn-th-web-1"));
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(in_ns(daemon, "mkn-th-node1") && in_ns(in_pod, "mkn-th-web-1"));

  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<TeardownReport> r = Teardown(
      ClusterNetns{"mkn-th-underlay", {"mkn-th-node1", "mkn-th-node2"}, {"mkn-th-web-1"}, {}, ""},
      marker, 10000);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->removed, 4);
  ASSERT_EQ(r->held.size(), 2u);
  EXPECT_EQ(r->held[0].netns, "mkn-th-web-1");
  ASSERT_EQ(r->held[0].processes.size(), 1u);
  EXPECT_EQ(r->held[0].processes[0].pid, in_pod);
  EXPECT_EQ(r->held[0].processes[0].comm, "sleep");
  EXPECT_EQ(r->held[1].netns, "mkn-th-node1");
  ASSERT_EQ(r->held[1].processes.size(), 1u);
  EXPECT_EQ(r->held[1].processes[0].pid, daemon);
  EXPECT_EQ(DescribeProcesses(r->held[1].processes), "pid " + std::to_string(daemon) + " (sleep)");
  EXPECT_EQ(KillCommand(r->held[1].processes), "kill " + std::to_string(daemon));
  EXPECT_TRUE(r->still_held.empty()) << r->still_held[0];  // the underlay is not blamed
  EXPECT_LT(took, std::chrono::seconds(5)) << "waited for namespaces that processes hold";
  for (const std::string& n : names) EXPECT_FALSE(Exists(n)) << n;
  // Left running: Teardown only reports.
  EXPECT_EQ(::kill(daemon, 0), 0);
  EXPECT_EQ(::kill(in_pod, 0), 0);
  ::kill(daemon, SIGKILL);
  ::kill(in_pod, SIGKILL);
}

}  // namespace
}  // namespace mkn::vnet
