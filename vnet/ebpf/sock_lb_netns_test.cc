// proxy_mode = "ebpf" against the real kernel, inside the test's own sandbox: the cluster's cgroup
// is made under the cgroup2 mount and marked; the programs attach to it and to nothing else (the
// root cgroup never shows one); a process in that cgroup and in an allowed pod netns has its
// connect() to a ClusterIP rewritten to the backend and its getpeername() / recvfrom() see the
// ClusterIP; a process in another netns, or outside the cgroup, is untouched; a service without
// endpoints refuses; the links go with their owner (destroyed, or SIGKILLed: no pin holds them)
// and the cgroup is removed, while an unmarked cgroup and the mount itself are never touched.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "lib/net/naming.h"
#include "lib/proxy/sock_lb.h"
#include "vnet/ebpf/cgroup.h"
#include "vnet/ebpf/sock_lb.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netns.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using testing::Sh;

constexpr char kCluster[] = "ebt";

std::string Marker() { return net::OwnerMarker(kCluster); }

// A key and its ops: one service port with the given backends (all 127.0.0.1 in the pod).
std::vector<proxy::SockLbOp> OneService(const char* vip, int port, config::Protocol proto,
                                        const std::vector<int>& backend_ports, uint32_t id) {
  proxy::SockLbMaps m;
  proxy::SockLbService s;
  s.key = {*net::Ipv4::Parse(vip), port, proto};
  s.id = id;
  for (size_t i = 0; i < backend_ports.size(); ++i) {
    const uint32_t bid = id * 100 + static_cast<uint32_t>(i) + 1;
    s.backends.push_back(bid);
    m.backends[bid] = {*net::Ipv4::Parse("127.0.0.1"), backend_ports[i], proto, id, "p"};
  }
  m.services.push_back(s);
  return proxy::Diff({}, m);
}

// What `bpftool cgroup show PATH` lists (attached programs, by name).
std::string Attached(const std::string& path) { return Sh("bpftool cgroup show " + path).output; }

// Runs python3 CODE in netns NS, first moving itself into the cgroup at CG ("" = stay out).
testing::CmdResult Client(const std::string& cg, const std::string& ns, const std::string& code) {
  // "0": the writing process itself (Sh runs the command in a subshell, whose pid is not $$).
  std::string join = cg.empty() ? "" : "echo 0 > " + CgroupProcsFile(cg) + " && ";
  return Sh(join + "exec ip netns exec " + ns + " python3 -c \"" + code + "\" 2>&1");
}

// A listening TCP socket and a bound UDP socket on 127.0.0.1, port 0, inside `netns_fd`.
struct Backend {
  Fd tcp, udp;
  int tcp_port = 0, udp_port = 0;
};

Backend OpenBackend(int netns_fd) {
  Backend b;
  EXPECT_TRUE(RunInNetns(netns_fd, [&]() -> absl::Status {
                b.tcp = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
                b.udp = Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
                for (Fd* fd : {&b.tcp, &b.udp}) {
                  sockaddr_in a{};
                  a.sin_family = AF_INET;
                  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0)
                    return absl::InternalError("bind");
                }
                if (::listen(b.tcp.get(), 16) < 0) return absl::InternalError("listen");
                return absl::OkStatus();
              }).ok());
  for (auto [fd, port] : {std::pair{&b.tcp, &b.tcp_port}, std::pair{&b.udp, &b.udp_port}}) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&a), &len);
    *port = ntohs(a.sin_port);
  }
  return b;
}

// Waits (bounded) until `pred` holds.
bool WaitFor(const std::function<bool()>& pred, int ms = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class SockLbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MKN_REQUIRE_NETNS();
    absl::StatusOr<std::string> mount = FindCgroup2Mount();
    ASSERT_TRUE(mount.ok()) << mount.status();
    mount_ = *mount;
    absl::StatusOr<NamedNetns> pod = NamedNetns::Create("mkn-ebt-pod");
    ASSERT_TRUE(pod.ok()) << pod.status();
    pod_ = std::move(*pod);
    absl::StatusOr<NamedNetns> other = NamedNetns::Create("mkn-ebt-other");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = std::move(*other);
    ASSERT_EQ(
        Sh("ip -n mkn-ebt-pod link set lo up && ip -n mkn-ebt-other link set lo up").exit_code, 0);
  }

  std::string mount_;
  NamedNetns pod_, other_;
};

TEST_F(SockLbTest, CgroupIsOursUnderTheMountAndMarked) {
  absl::StatusOr<LabCgroup> cg = LabCgroup::Create(kCluster, Marker());
  ASSERT_TRUE(cg.ok()) << cg.status();
  const std::string path = cg->path();
  EXPECT_EQ(path.rfind(mount_ + "/mkn-ebt-", 0), 0u) << path;
  EXPECT_NE(path, mount_);
  char buf[128] = {};
  ASSERT_GT(::getxattr(path.c_str(), "trusted.minikube-net", buf, sizeof(buf) - 1), 0);
  EXPECT_EQ(std::string(buf), Marker());
  // Made again by the same lab (an up after a SIGKILL): the marked directory is reused.
  absl::StatusOr<LabCgroup> again = LabCgroup::Create(kCluster, Marker());
  EXPECT_TRUE(again.ok()) << again.status();
  // Another cluster's marker: neither reused nor removed.
  EXPECT_TRUE(absl::IsAlreadyExists(LabCgroup::Create(kCluster, "minikube-net:other").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(RemoveLabCgroup(path, "minikube-net:other")));
  EXPECT_TRUE(std::filesystem::exists(path));
  // Never the mount (the root cgroup), never a cgroup deeper or elsewhere.
  EXPECT_TRUE(absl::IsFailedPrecondition(RemoveLabCgroup(mount_, Marker())));
  EXPECT_TRUE(absl::IsFailedPrecondition(RemoveLabCgroup("/tmp", Marker())));
  // An unmarked cgroup next to ours is left alone.
  const std::string stranger = mount_ + "/mkn-ebt-stranger";
  ASSERT_EQ(::mkdir(stranger.c_str(), 0755), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(RemoveLabCgroup(stranger, Marker())));
  EXPECT_TRUE(std::filesystem::exists(stranger));
  ::rmdir(stranger.c_str());
  // A process inside (an open `exec`): it is moved to the mount's root, where it would be without
  // the lab, keeps running, is named in `moved`, and the cgroup goes.
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_EQ(Sh("echo " + std::to_string(child) + " > " + CgroupProcsFile(path)).exit_code, 0);
  std::vector<pid_t> moved;
  absl::Status removed = RemoveLabCgroup(path, Marker(), &moved);
  EXPECT_TRUE(removed.ok()) << removed;
  EXPECT_EQ(moved, std::vector<pid_t>{child});
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(::kill(child, 0), 0) << "the process was moved, not stopped";
  const std::vector<pid_t> root = CgroupProcs(mount_);
  EXPECT_NE(std::find(root.begin(), root.end(), child), root.end()) << "not in the mount's root";
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // Removing again is fine.
  EXPECT_TRUE(RemoveLabCgroup(path, Marker()).ok());
}

TEST_F(SockLbTest, TranslatesOnlyTheLabsSocketsInItsCgroup) {
  absl::StatusOr<LabCgroup> cg = LabCgroup::Create(kCluster, Marker());
  ASSERT_TRUE(cg.ok()) << cg.status();
  const std::string path = cg->path();
  Backend be = OpenBackend(pod_.fd());
  {
    absl::StatusOr<std::unique_ptr<SockLb>> lb = SockLb::Load(cg->fd());
    ASSERT_TRUE(lb.ok()) << lb.status();
    ASSERT_TRUE((*lb)->Allow(pod_.fd()).ok());
    ASSERT_TRUE(
        (*lb)->Apply(OneService("10.96.0.10", 80, config::Protocol::kTcp, {be.tcp_port}, 1)).ok());
    ASSERT_TRUE(
        (*lb)->Apply(OneService("10.96.0.53", 53, config::Protocol::kUdp, {be.udp_port}, 2)).ok());
    ASSERT_TRUE((*lb)->Apply(OneService("10.96.0.99", 80, config::Protocol::kTcp, {}, 3)).ok());

    // Attached to the lab's cgroup, all four; the root cgroup has none of ours.
    const std::string here = Attached(path);
    for (const std::string& p : SockLb::ProgramNames())
      EXPECT_NE(here.find(p), std::string::npos) << here;
    EXPECT_EQ(Attached(mount_).find("mkn_"), std::string::npos) << Attached(mount_);

    // In the cgroup and a lab netns: connected to the backend, the application sees the ClusterIP.
    testing::CmdResult tcp =
        Client(path, "mkn-ebt-pod",
               "import socket; s=socket.create_connection(('10.96.0.10',80),timeout=3); "
               "print(s.getpeername()[0], s.getpeername()[1])");
    EXPECT_EQ(tcp.output, "10.96.0.10 80\n");
    EXPECT_EQ((*lb)->ServiceCounters(1).translated, 1u);
    EXPECT_EQ((*lb)->BackendPicks(101), 1u);
    // The kernel's own view of that socket is the backend: accept() shows the client on 127.0.0.1.
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    Fd conn(::accept4(be.tcp.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
    EXPECT_TRUE(conn.valid());

    // UDP, unconnected: sendto() the ClusterIP reaches the backend; recvfrom() names the ClusterIP.
    std::thread echo([&] {
      char buf[64];
      sockaddr_in from{};
      socklen_t flen = sizeof(from);
      timeval tv{5, 0};
      ::setsockopt(be.udp.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      ssize_t n =
          ::recvfrom(be.udp.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n > 0) ::sendto(be.udp.get(), buf, n, 0, reinterpret_cast<sockaddr*>(&from), flen);
    });
    testing::CmdResult udp = Client(
        path, "mkn-ebt-pod",
        "import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3); "
        "s.sendto(b'hi',('10.96.0.53',53)); d,a=s.recvfrom(64); print(d.decode(), a[0], a[1])");
    echo.join();
    EXPECT_EQ(udp.output, "hi 10.96.0.53 53\n");

    // No endpoints: the connect is refused at once.
    testing::CmdResult none =
        Client(path, "mkn-ebt-pod",
               "import socket\ntry: socket.create_connection(('10.96.0.99',80),timeout=3)\n"
               "except OSError as e: print(e.errno)");
    EXPECT_EQ(none.output, "1\n");  // EPERM
    EXPECT_EQ((*lb)->ServiceCounters(3).refused, 1u);

    // Another netns, in the cgroup: not the lab's, not translated (lo only: no route).
    testing::CmdResult stray =
        Client(path, "mkn-ebt-other",
               "import socket\ntry: socket.create_connection(('10.96.0.10',80),timeout=3)\n"
               "except OSError as e: print(e.errno)");
    EXPECT_EQ(stray.output, "101\n");  // ENETUNREACH
    // The lab's netns, outside the cgroup: not translated either.
    testing::CmdResult outside =
        Client("", "mkn-ebt-pod",
               "import socket\ntry: socket.create_connection(('10.96.0.10',80),timeout=3)\n"
               "except OSError as e: print(e.errno)");
    EXPECT_EQ(outside.output, "101\n");
    EXPECT_EQ((*lb)->ServiceCounters(1).translated, 1u);
  }
  // Destroyed: detached; the cgroup then goes.
  EXPECT_TRUE(WaitFor([&] { return Attached(path).find("mkn_") == std::string::npos; }))
      << Attached(path);
  EXPECT_TRUE(RemoveLabCgroup(path, Marker()).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Whether a connection waits in `listener`'s accept queue (taken off it if so).
bool Accepted(const Fd& listener) {
  Fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return conn.valid();
}

// Ids are reused: the backend id a ClientIP affinity entry names may since serve another Service.
// The entry must not send the client there; and a change of a service's endpoints (its slot 0
// written again) keeps its counters, while a backend id given to a new endpoint counts from zero.
TEST_F(SockLbTest, AffinityStaysInItsServiceAndCountersSurviveChanges) {
  absl::StatusOr<LabCgroup> cg = LabCgroup::Create(kCluster, Marker());
  ASSERT_TRUE(cg.ok()) << cg.status();
  const std::string path = cg->path();
  Backend a = OpenBackend(pod_.fd()), b = OpenBackend(pod_.fd());
  const net::Ipv4 lo = *net::Ipv4::Parse("127.0.0.1");
  const proxy::SockLbKey ka{*net::Ipv4::Parse("10.96.0.10"), 80, config::Protocol::kTcp};
  const proxy::SockLbKey kb{*net::Ipv4::Parse("10.96.0.20"), 80, config::Protocol::kTcp};
  // A (ClientIP affinity) on backend 1 = a; B on backend 2 = b.
  proxy::SockLbMaps m1;
  m1.services = {{ka, 1, {1}, 600, 0, 0}, {kb, 2, {2}, 0, 1, 0}};
  m1.backends[1] = {lo, a.tcp_port, config::Protocol::kTcp, 1, "a-0"};
  m1.backends[2] = {lo, b.tcp_port, config::Protocol::kTcp, 2, "b-0"};
  // A's endpoint comes back under id 3; the freed id 1 goes to B's new endpoint, also on b.
  proxy::SockLbMaps m2;
  m2.services = {{ka, 1, {3}, 600, 0, 0}, {kb, 2, {2, 1}, 0, 1, 0}};
  m2.backends[1] = {lo, b.tcp_port, config::Protocol::kTcp, 2, "b-1"};
  m2.backends[2] = m1.backends[2];
  m2.backends[3] = {lo, a.tcp_port, config::Protocol::kTcp, 1, "a-0"};
  // A gains a second endpoint (on a too): its slot 0 is written with count 2.
  proxy::SockLbMaps m3 = m2;
  m3.services[0].backends = {3, 4};
  m3.backends[4] = {lo, a.tcp_port, config::Protocol::kTcp, 1, "a-1"};
  const std::string connect_a =
      "import socket; s=socket.create_connection(('10.96.0.10',80),timeout=3); print('ok')";
  {
    absl::StatusOr<std::unique_ptr<SockLb>> lb = SockLb::Load(cg->fd());
    ASSERT_TRUE(lb.ok()) << lb.status();
    ASSERT_TRUE((*lb)->Allow(pod_.fd()).ok());
    ASSERT_TRUE((*lb)->Apply(proxy::Diff({}, m1)).ok());
    EXPECT_EQ(Client(path, "mkn-ebt-pod", connect_a).output, "ok\n");
    EXPECT_TRUE(Accepted(a.tcp));  // the affinity entry: {this netns, service 1} -> backend 1
    EXPECT_EQ((*lb)->BackendPicks(1), 1u);

    ASSERT_TRUE((*lb)->Apply(proxy::Diff(m1, m2)).ok());
    EXPECT_EQ((*lb)->BackendPicks(1), 0u) << "backend id 1 is a new endpoint now";
    EXPECT_EQ(Client(path, "mkn-ebt-pod", connect_a).output, "ok\n");
    EXPECT_TRUE(Accepted(a.tcp)) << "A's client went elsewhere";
    EXPECT_FALSE(Accepted(b.tcp)) << "affinity to backend id 1 sent A's client to B's endpoint";
    EXPECT_EQ((*lb)->ServiceCounters(2).translated, 0u);

    ASSERT_TRUE((*lb)->Apply(proxy::Diff(m2, m3)).ok());
    EXPECT_EQ((*lb)->ServiceCounters(1).translated, 2u) << "a change of A's endpoints reset them";
  }
  EXPECT_TRUE(WaitFor([&] { return Attached(path).find("mkn_") == std::string::npos; }));
  EXPECT_TRUE(RemoveLabCgroup(path, Marker()).ok());
}

TEST_F(SockLbTest, SigkillLeavesNoProgram) {
  absl::StatusOr<LabCgroup> cg = LabCgroup::Create(kCluster, Marker());
  ASSERT_TRUE(cg.ok()) << cg.status();
  const std::string path = cg->path();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    absl::StatusOr<std::unique_ptr<SockLb>> lb = SockLb::Load(cg->fd());
    char c = lb.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(c, 'y');
  EXPECT_NE(Attached(path).find("mkn_connect4"), std::string::npos);
  // This child's programs by id (bpftool's first column): programs are the machine's, and another
  // sandbox's lab or test may have its own mkn_ programs loaded meanwhile.
  const std::string ids =
      Sh("bpftool cgroup show " + path + " | awk '$1 ~ /^[0-9]+$/ {printf \"%s \", $1}'").output;
  ASSERT_FALSE(ids.empty()) << Attached(path);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // No pin: the kernel detaches the links with their last fd; no bpffs entry anywhere.
  EXPECT_TRUE(WaitFor([&] { return Attached(path).find("mkn_") == std::string::npos; }))
      << Attached(path);
  EXPECT_TRUE(WaitFor([&] {
    return Sh("for id in " + ids +
              "; do bpftool prog show id $id >/dev/null 2>&1 && exit 1; done; exit 0")
               .exit_code == 0;
  })) << "programs "
      << ids << " still loaded: " << Sh("bpftool prog show").output;
  EXPECT_TRUE(RemoveLabCgroup(path, Marker()).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace mkn::vnet
