// vnet/cni/exec and vnet/cni/nodefs with real processes: /bin/sh scripts as "plugins", real
// namespaces and overlay mounts, inside the test's own sandbox; and a CniNode's calls against the
// caller's deadline. Tests that need no privilege run everywhere.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "lib/cni/conflist.h"
#include "vnet/cni/exec.h"
#include "vnet/cni/nodefs.h"
#include "vnet/cni/runtime.h"
#include "vnet/kernel/netns.h"
#include "vnet/testing/sandbox.h"

extern char** environ;

namespace mkn::vnet {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A scratch directory: in the sandbox's own tmpfs when sandboxed, else under /tmp. Removed at the
// end.
class TempDir {
 public:
  TempDir() {
    const char* in = std::getenv("MKN_IN_SANDBOX");
    std::string tmpl = (in != nullptr && std::string(in) == "1")
                           ? "/run/minikube-net/cniexec-XXXXXX"
                           : "/tmp/mkn-cniexec-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr) << std::strerror(errno);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  // Writes an executable /bin/sh script and returns its path.
  std::string Script(const std::string& name, const std::string& body) const {
    std::string p = path_ + "/" + name;
    {
      std::ofstream out(p);
      out << "#!/bin/sh\n" << body << "\n";
    }
    ::chmod(p.c_str(), 0755);
    return p;
  }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ExecRequest Sh(const std::string& script,
               std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}) {
  ExecRequest r;
  r.binary = "/bin/sh";
  r.argv = {"sh", "-c", script};
  r.env = std::move(env);
  return r;
}

// 'Z' for a zombie, 0 if the process is gone.
char ProcState(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = s.rfind(')');
  return paren == std::string::npos || paren + 2 >= s.size() ? 0 : s[paren + 2];
}
bool Dead(pid_t pid) {
  char st = ProcState(pid);
  return st == 0 || st == 'Z' || st == 'X';
}
// Waits (with a deadline) until `pred` holds.
template <typename F>
bool WaitFor(F pred, milliseconds limit = milliseconds(3000)) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return pred();
}

std::string InodeLink(const char* kind, int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return std::string(kind) + ":[" + std::to_string(st.st_ino) + "]\n";
}

// A named netns made on a disposable thread (STYLE.md §4); removed by the destructor.
class TestNetns {
 public:
  explicit TestNetns(std::string name) : name_(std::move(name)) {
    absl::Status st;
    std::thread t([&] {
      st = UnshareNetns();
      if (st.ok()) st = MountCurrentNetns(name_);
    });
    t.join();
    EXPECT_TRUE(st.ok()) << st;
    absl::StatusOr<Fd> fd = OpenNetns(name_);
    EXPECT_TRUE(fd.ok()) << fd.status();
    if (fd.ok()) fd_ = std::move(*fd);
  }
  ~TestNetns() {
    fd_.Reset();
    (void)RemoveNetns(name_);
  }
  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  Fd fd_;
};

// ---- RunPlugin: what a runtime relies on --------------------------------------------------------

TEST(RunPlugin, EnvironmentIsExactlyWhatWasGiven) {
  setenv("MKN_TEST_LEAK", "must-not-reach-the-plugin", 1);
  ExecRequest r;
  r.binary = "/usr/bin/env";
  r.argv = {"env"};
  r.env = {"CNI_COMMAND=ADD",
           "CNI_CONTAINERID=c1",
           "CNI_NETNS=/run/netns/x",
           "CNI_IFNAME=eth0",
           "CNI_ARGS=K8S_POD_NAME=p;IgnoreUnknown=1",
           "CNI_PATH=/usr/lib/cni"};
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  std::string want;
  for (const std::string& e : r.env) want += e + "\n";
  EXPECT_EQ(res->stdout_data, want);
  EXPECT_EQ(res->exit_code, 0);
  unsetenv("MKN_TEST_LEAK");
}

TEST(RunPlugin, ArgvZeroDefaultsToTheBinary) {
  ExecRequest r = Sh("");
  r.binary = "/bin/sh";
  r.argv = {};
  r.stdin_data = "echo \"$0\"\n";  // sh without -c reads its script from stdin
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->stdout_data, "/bin/sh\n");
}

TEST(RunPlugin, FourMebibytesOfStdinComeBackOnStdout) {
  std::string data(4 << 20, '\0');
  std::mt19937 rng(7);
  for (char& c : data) c = static_cast<char>(rng());
  ExecRequest r;
  r.binary = "/bin/cat";
  r.stdin_data = data;
  r.max_stdout = kToolMaxStdout;  // a tool's output, not a plugin's (1 MiB at most)
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, 0);
  EXPECT_FALSE(res->timed_out);
  ASSERT_EQ(res->stdout_data.size(), data.size());
  EXPECT_TRUE(res->stdout_data == data);
}

TEST(RunPlugin, LargeStdoutAndStderrAtOnceDoNotDeadlock) {
  // stderr first: a parent that read stdout to EOF before stderr would block the child on a full
  // pipe.
  ExecRequest r =
      Sh("head -c 4194304 /dev/zero | tr '\\0' e >&2; head -c 4194304 /dev/zero | tr '\\0' o");
  r.max_stdout = kToolMaxStdout;
  r.stderr_tail = 8 << 20;
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, 0);
  EXPECT_EQ(res->stdout_data, std::string(4 << 20, 'o'));
  EXPECT_EQ(res->stderr_data, std::string(4 << 20, 'e'));
}

// The attack's liar-stdout: a plugin printing without end. A CNI result is a few KiB: one byte past
// max_stdout and the process group is killed, without waiting for the timeout, and the memory
// kept is the limit, not what the plugin printed.
TEST(RunPlugin, StdoutPastTheLimitKillsThePluginAndItsGroup) {
  ExecRequest r = Sh("yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa & echo $! >&2; wait");
  r.max_stdout = 1 << 20;
  r.timeout = milliseconds(20000);
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_TRUE(res->stdout_overflow);
  EXPECT_FALSE(res->timed_out);
  // The group's SIGKILL ends the plugin. RunPlugin sends it before it closes the pipe, but should
  // the writer still see the closed pipe first (SIGPIPE), the plugin's `wait` ends with it and the
  // plugin exits 128 + SIGPIPE: gone either way, which is the point; the writer is checked below.
  EXPECT_TRUE(res->term_signal == SIGKILL ||
              (res->term_signal == 0 && res->exit_code == 128 + SIGPIPE))
      << "term_signal " << res->term_signal << ", exit_code " << res->exit_code;
  EXPECT_EQ(res->stdout_data.size(), size_t{1} << 20);
  EXPECT_LT(res->elapsed, milliseconds(10000));
  pid_t writer = std::atoi(res->stderr_data.c_str());
  ASSERT_GT(writer, 0) << res->stderr_data;
  EXPECT_TRUE(WaitFor([&] { return Dead(writer); })) << "the writer " << writer << " survived";
  // Exactly the limit is no overflow.
  r = Sh("head -c 1048576 /dev/zero");
  r.max_stdout = 1 << 20;
  res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_FALSE(res->stdout_overflow);
  EXPECT_EQ(res->exit_code, 0);
  EXPECT_EQ(res->stdout_data.size(), size_t{1} << 20);
}

// The attack's liar-stderr: 256 MiB of stderr cost 1.5 GB. Only the tail is ever shown: it is all
// that is kept, the rest counted.
TEST(RunPlugin, StderrKeepsOnlyItsTail) {
  ExecRequest r = Sh("head -c 33554432 /dev/zero | tr '\\0' x >&2; echo the-end >&2; echo ok");
  r.stderr_tail = 64 << 10;
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, 0);
  EXPECT_EQ(res->stdout_data, "ok\n");
  ASSERT_EQ(res->stderr_data.size(), size_t{64} << 10);
  EXPECT_EQ(res->stderr_data.substr(res->stderr_data.size() - 8), "the-end\n");
  EXPECT_EQ(res->stderr_data.find_first_not_of('x'), res->stderr_data.size() - 8);
  EXPECT_EQ(res->stderr_dropped, (uint64_t{32} << 20) + 8 - (64 << 10));
}

TEST(RunPlugin, StdinNotReadByThePluginIsNoError) {
  ExecRequest r = Sh("echo done");
  r.stdin_data = std::string(8 << 20, 'x');  // more than a pipe holds: our write gets EPIPE
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, 0);
  EXPECT_EQ(res->stdout_data, "done\n");
  // The EPIPE's SIGPIPE was consumed: none is left pending on this thread.
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));
}

TEST(RunPlugin, ExitCodeStdoutAndStderrAreKept) {
  absl::StatusOr<ExecResult> res =
      RunPlugin(Sh("echo '{\"code\":7,\"msg\":\"boom\"}'; echo 'plugin: details' >&2; exit 3"));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, 3);
  EXPECT_EQ(res->term_signal, 0);
  EXPECT_EQ(res->stdout_data, "{\"code\":7,\"msg\":\"boom\"}\n");
  EXPECT_EQ(res->stderr_data, "plugin: details\n");
  EXPECT_GT(res->elapsed.count(), 0);
}

TEST(RunPlugin, DeathBySignalIsReported) {
  absl::StatusOr<ExecResult> res = RunPlugin(Sh("kill -TERM $$"));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, -1);
  EXPECT_EQ(res->term_signal, SIGTERM);
}

TEST(RunPlugin, PluginStartsWithDefaultSignalsEvenIfWeIgnoreThem) {
  // minikube-net ignores SIGPIPE; an ignored signal would stay ignored across exec.
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &old);
  absl::StatusOr<ExecResult> res = RunPlugin(Sh("grep SigIgn /proc/self/status"));
  sigaction(SIGPIPE, &old, nullptr);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->stdout_data, "SigIgn:\t0000000000000000\n");
}

TEST(RunPlugin, MissingBinaryIsAClearError) {
  ExecRequest r;
  r.binary = "/usr/lib/cni/nope-mkn-test";
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(
      res.status().message().find("exec /usr/lib/cni/nope-mkn-test: No such file or directory"),
      std::string::npos)
      << res.status();
}

TEST(RunPlugin, NotExecutableAndRelativePathAreErrors) {
  TempDir dir;
  std::string p = dir.path() + "/plain";
  std::ofstream(p) << "not a program\n";
  ::chmod(p.c_str(), 0644);
  ExecRequest r;
  r.binary = p;
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("exec " + p + ": Permission denied"), std::string::npos)
      << res.status();

  r.binary = "bridge";
  res = RunPlugin(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(res.status().message().find("absolute path"), std::string::npos) << res.status();
}

TEST(RunPlugin, BinaryStillOpenForWritingIsRetriedThenAClearError) {
  TempDir dir;
  std::string p = dir.Script("busy", "echo ran");
  Fd writer(::open(p.c_str(), O_WRONLY | O_CLOEXEC));  // as while `install` copies the plugin
  ASSERT_TRUE(writer.valid());
  ExecRequest r;
  r.binary = p;
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("exec " + p + ": Text file busy"), std::string::npos)
      << res.status();
  writer.Reset();
  res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->stdout_data, "ran\n");
}

TEST(RunPlugin, BadCwdIsAClearError) {
  ExecRequest r = Sh("pwd");
  r.cwd = "/nonexistent-mkn-dir";
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("change directory for /bin/sh"), std::string::npos)
      << res.status();
  r.cwd = "/usr";
  res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->stdout_data, "/usr\n");
}

TEST(RunPlugin, HangingPluginAndItsGrandchildAreKilledAtTheTimeout) {
  // The grandchild holds stdout too: reading must stop at the deadline, not at its EOF.
  ExecRequest r = Sh("sleep 60 & echo $!; sleep 60");
  r.timeout = milliseconds(300);
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_TRUE(res->timed_out);
  EXPECT_EQ(res->term_signal, SIGKILL);
  EXPECT_GE(res->elapsed, milliseconds(300));
  EXPECT_LT(res->elapsed, milliseconds(300 + 500));
  pid_t grandchild = std::atoi(res->stdout_data.c_str());
  ASSERT_GT(grandchild, 0) << res->stdout_data;
  EXPECT_TRUE(WaitFor([&] { return Dead(grandchild); }))
      << "grandchild " << grandchild << " survived";
}

// The attack's liar-pipeholder: a plugin that exits 0 with its result printed, leaving a process
// that keeps its stdout open. The plugin's exit ends the call (after exit_grace for what its
// leftovers still write), not the timeout; the leftover is not killed (it is reported by whoever
// looks at the namespace: `verify`'s spec.del.clean, `down`).
TEST(RunPlugin, ExitedPluginWhoseGrandchildHoldsStdoutEndsAtItsExit) {
  ExecRequest r = Sh("sleep 60 & echo $!; echo '{\"result\":1}'; exit 0");
  r.timeout = milliseconds(5000);
  r.exit_grace = milliseconds(200);
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_FALSE(res->timed_out);
  EXPECT_TRUE(res->output_held);
  EXPECT_EQ(res->exit_code, 0);
  EXPECT_GE(res->elapsed, milliseconds(200));
  EXPECT_LT(res->elapsed, milliseconds(2000));
  pid_t grandchild = std::atoi(res->stdout_data.c_str());
  ASSERT_GT(grandchild, 0);
  EXPECT_NE(res->stdout_data.find("{\"result\":1}\n"), std::string::npos) << res->stdout_data;
  EXPECT_FALSE(Dead(grandchild));
  ::kill(grandchild, SIGKILL);
  // A leftover that writes within the grace is read; the call still ends at the grace.
  r = Sh("(sleep 0.05; echo late; exec sleep 60) & echo $! >&2; exit 0");
  r.exit_grace = milliseconds(1000);
  res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_TRUE(res->output_held);
  EXPECT_EQ(res->stdout_data, "late\n");
  pid_t late = std::atoi(res->stderr_data.c_str());
  ASSERT_GT(late, 0) << res->stderr_data;
  ::kill(late, SIGKILL);
}

TEST(RunPlugin, DetachedGrandchildDoesNotDelayTheResult) {
  ExecRequest r = Sh("sleep 60 </dev/null >/dev/null 2>&1 & echo $!");
  r.timeout = milliseconds(5000);
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_FALSE(res->timed_out);
  EXPECT_LT(res->elapsed, milliseconds(2000));
  pid_t grandchild = std::atoi(res->stdout_data.c_str());
  ASSERT_GT(grandchild, 0);
  EXPECT_FALSE(Dead(grandchild));
  ::kill(grandchild, SIGKILL);
}

TEST(RunPlugin, SixteenThreadsEachGetTheirOwnOutput) {
  constexpr int kThreads = 16, kCalls = 20;
  std::atomic<int> bad{0}, ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        std::string id = "t" + std::to_string(t) + "c" + std::to_string(i);
        ExecRequest r = Sh("cat; echo \"$ID\"; echo \"$ID\" >&2", {"ID=" + id});
        r.stdin_data =
            std::string(70000 + t * 100 + i, static_cast<char>('a' + t));  // > a pipe buffer
        absl::StatusOr<ExecResult> res = RunPlugin(r);
        if (res.ok() && res->exit_code == 0 && !res->timed_out &&
            res->stdout_data == r.stdin_data + id + "\n" && res->stderr_data == id + "\n") {
          ++ok;
        } else {
          ++bad;
          ADD_FAILURE() << id << ": " << (res.ok() ? res->stderr_data : res.status().ToString());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kCalls);
  EXPECT_EQ(bad.load(), 0);
}

TEST(RunPlugin, ChildsPipesDoNotLeakIntoOtherChildren) {
  // A plugin sees only 0, 1, 2 (+ the fd ls itself opens), however many calls run at once.
  std::atomic<int> leaks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<ExecResult> res = RunPlugin(Sh("ls /proc/self/fd | wc -l; cat >/dev/null"));
        // sh's pipeline: ls sees 0,1,2 and its own directory fd: 4.
        if (!res.ok() || res->stdout_data != "4\n") ++leaks;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(leaks.load(), 0);
}

// ---- RunPlugin in namespaces --------------------------------------------------------------------

TEST(RunPlugin, RunsInTheGivenNetnsAndLeavesTheCallerWhereItWas) {
  MKN_REQUIRE_NETNS();
  TestNetns ns("mkn-cniexec-t1");
  std::string before = std::filesystem::read_symlink("/proc/thread-self/ns/net").string();
  ExecRequest r = Sh("readlink /proc/self/ns/net; ip -o link show | wc -l");
  r.netns_fd = ns.fd();
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->stdout_data, InodeLink("net", ns.fd()) + "1\n");  // a fresh netns: only lo
  EXPECT_EQ(std::filesystem::read_symlink("/proc/thread-self/ns/net").string(), before);
}

TEST(RunPlugin, BadNamespaceFdIsAClearError) {
  MKN_REQUIRE_NETNS();
  Fd not_ns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ExecRequest r = Sh("true");
  r.netns_fd = not_ns.get();
  absl::StatusOr<ExecResult> res = RunPlugin(r);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("enter network namespace for /bin/sh"), std::string::npos)
      << res.status();
}

// ---- nodefs -------------------------------------------------------------------------------------

class NodeFs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::Privileged()) {
      if (testing::InCi()) FAIL() << "CI=true but no CAP_NET_ADMIN/CAP_SYS_ADMIN";
      GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) inside a sandbox";
    }
    ASSERT_TRUE(PrepareNetnsDir().ok());
    state_ = dir_.path() + "/nodes";
  }
  absl::StatusOr<ExecResult> RunIn(const Fd& mntns, const std::string& script, int netns_fd = -1) {
    ExecRequest r = Sh(script);
    r.mntns_fd = mntns.get();
    r.netns_fd = netns_fd;
    return RunPlugin(r);
  }
  TempDir dir_;
  std::string state_;
};

TEST_F(NodeFs, WritesArePerNodeAndNeverReachTheHost) {
  ASSERT_FALSE(std::filesystem::exists("/var/lib/cni"));  // the premise: the host has none
  ASSERT_FALSE(std::filesystem::exists("/run/flannel"));
  absl::StatusOr<Fd> a = MakeNodeMountNs(state_ + "/a");
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<Fd> b = MakeNodeMountNs(state_ + "/b");
  ASSERT_TRUE(b.ok()) << b.status();

  absl::StatusOr<ExecResult> w =
      RunIn(*a,
            "mkdir -p /var/lib/cni/networks/n /run/flannel /etc/cni/net.d && "
            "echo A > /var/lib/cni/x && echo p1 > /var/lib/cni/networks/n/10.244.1.3 && "
            "echo FLANNEL_SUBNET=10.244.1.1/24 > /run/flannel/subnet.env && "
            "echo '{}' > /etc/cni/net.d/10-a.conflist");
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->exit_code, 0) << w->stderr_data;

  // Node A's later calls see them.
  absl::StatusOr<ExecResult> ra = RunIn(*a,
                                        "cat /var/lib/cni/x /var/lib/cni/networks/n/10.244.1.3 "
                                        "/run/flannel/subnet.env /etc/cni/net.d/10-a.conflist");
  ASSERT_TRUE(ra.ok()) << ra.status();
  EXPECT_EQ(ra->stdout_data, "A\np1\nFLANNEL_SUBNET=10.244.1.1/24\n{}\n") << ra->stderr_data;
  // Node B does not.
  absl::StatusOr<ExecResult> rb = RunIn(
      *b, "for f in /var/lib/cni /run/flannel /etc/cni; do test -e $f && echo $f; done; echo end");
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_EQ(rb->stdout_data, "end\n");
  // Nor the host (this sandbox's own view), and the files are in A's upper dirs.
  EXPECT_FALSE(std::filesystem::exists("/var/lib/cni"));
  EXPECT_FALSE(std::filesystem::exists("/run/flannel"));
  EXPECT_FALSE(std::filesystem::exists("/etc/cni"));
  EXPECT_EQ(ReadFile(NodeUpperDir(state_ + "/a", "/var/lib") + "/cni/x"), "A\n");
  EXPECT_EQ(ReadFile(NodeUpperDir(state_ + "/a", "/run") + "/flannel/subnet.env"),
            "FLANNEL_SUBNET=10.244.1.1/24\n");
  EXPECT_TRUE(
      std::filesystem::exists(NodeUpperDir(state_ + "/a", "/etc") + "/cni/net.d/10-a.conflist"));

  // The host's files are visible underneath.
  absl::StatusOr<ExecResult> passwd = RunIn(*a, "head -1 /etc/passwd");
  ASSERT_TRUE(passwd.ok());
  std::string host_first = ReadFile("/etc/passwd");
  EXPECT_EQ(passwd->stdout_data, host_first.substr(0, host_first.find('\n') + 1));
}

TEST_F(NodeFs, RunsInTheGivenMountNamespace) {
  absl::StatusOr<Fd> a = MakeNodeMountNs(state_ + "/a");
  ASSERT_TRUE(a.ok()) << a.status();
  TestNetns ns("mkn-cniexec-t2");
  absl::StatusOr<ExecResult> r = RunIn(*a, "readlink /proc/self/ns/mnt /proc/self/ns/net", ns.fd());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, InodeLink("mnt", a->get()) + InodeLink("net", ns.fd()));
  EXPECT_NE(std::filesystem::read_symlink("/proc/self/ns/mnt").string() + "\n",
            InodeLink("mnt", a->get()));
}

TEST_F(NodeFs, PodNamespacesAppearAndDisappearInTheNodeView) {
  auto before = std::make_unique<TestNetns>("mkn-cniexec-before");
  absl::StatusOr<Fd> a = MakeNodeMountNs(state_ + "/a");
  ASSERT_TRUE(a.ok()) << a.status();
  auto after = std::make_unique<TestNetns>("mkn-cniexec-after");  // made after the node view
  const std::string probe =
      "for n in mkn-cniexec-before mkn-cniexec-after; do "
      "  if [ -e /run/netns/$n ]; then echo $n $(stat -f -c %T /run/netns/$n); else echo $n "
      "absent; fi; done; "
      "ls /run/minikube-net >/dev/null && echo state-visible";
  absl::StatusOr<ExecResult> r = RunIn(*a, probe);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "mkn-cniexec-before nsfs\nmkn-cniexec-after nsfs\nstate-visible\n")
      << r->stderr_data;
  // CNI_NETNS works: a plugin can enter the pod's netns by path.
  r = RunIn(*a, "nsenter --net=/run/netns/mkn-cniexec-after readlink /proc/self/ns/net");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_data, InodeLink("net", after->fd())) << r->stderr_data;
  // Removing them on the host removes them in the node view: the node never pins a pod's netns.
  before.reset();
  after.reset();
  r = RunIn(*a, probe);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_data, "mkn-cniexec-before absent\nmkn-cniexec-after absent\nstate-visible\n");
}

TEST_F(NodeFs, RecreatedFromTheStateDirShowsTheSameFiles) {
  {
    absl::StatusOr<Fd> a = MakeNodeMountNs(state_ + "/a");
    ASSERT_TRUE(a.ok()) << a.status();
    absl::StatusOr<ExecResult> w =
        RunIn(*a,
              "mkdir -p /var/lib/cni/networks/n && echo p7 > /var/lib/cni/networks/n/10.244.1.7 && "
              "mkdir -p /run/cni && echo 1 > /run/cni/cache");
    ASSERT_TRUE(w.ok() && w->exit_code == 0);
  }  // the namespace is gone, as after minikube-net was SIGKILLed
  absl::StatusOr<Fd> again = MakeNodeMountNs(state_ + "/a");
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<ExecResult> r =
      RunIn(*again, "cat /var/lib/cni/networks/n/10.244.1.7 /run/cni/cache");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_data, "p7\n1\n") << r->stderr_data;
}

// A host's layout: /run is one tmpfs and /run/minikube-net a plain directory in it, so each node's
// /run upper dir lies inside its own lower /run on the same filesystem (in ci/sandbox.sh both are
// separate tmpfs). The test binary re-runs this one test in a mount namespace built like that.
TEST_F(NodeFs, HostLikeRunLayoutWhereTheUpperDirIsInsideTheLowerRun) {
  if (std::getenv("MKN_NODEFS_HOSTLIKE") == nullptr) {
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.push_back("MKN_NODEFS_HOSTLIKE=1");
    ExecRequest r;
    r.binary = "/usr/bin/unshare";
    r.argv = {"unshare",
              "--mount",
              "--propagation",
              "private",
              "--",
              "/bin/sh",
              "-c",
              "set -e; mount -t tmpfs hostlike-run /run; mkdir -p /run/netns /run/minikube-net; "
              "mount --bind /run/netns /run/netns; mount --make-shared /run/netns; "
              "mkdir -p /run/hostmnt /run/cni; mount -t tmpfs hostmnt /run/hostmnt; echo h > "
              "/run/hostmnt/f; "
              "mount -t tmpfs hostcni /run/cni; echo host > /run/cni/f; exec \"$0\" "
              "--gtest_filter=NodeFs.HostLikeRunLayoutWhereTheUpperDirIsInsideTheLowerRun",
              self};
    r.env = env;
    r.timeout = milliseconds(20000);
    absl::StatusOr<ExecResult> res = RunPlugin(r);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->exit_code, 0) << res->stdout_data << res->stderr_data;
    EXPECT_NE(res->stdout_data.find("[  PASSED  ] 1 test"), std::string::npos) << res->stdout_data;
    return;
  }
  struct stat run {
  }, mkn{};
  ASSERT_EQ(::stat("/run", &run), 0);
  ASSERT_EQ(::stat("/run/minikube-net", &mkn), 0);
  ASSERT_EQ(run.st_dev, mkn.st_dev) << "premise: one filesystem";
  std::string state = "/run/minikube-net/hostlike/nodes/a";
  absl::StatusOr<Fd> a = MakeNodeMountNs(state);
  ASSERT_TRUE(a.ok()) << a.status();
  TestNetns ns("mkn-cniexec-hostlike");
  absl::StatusOr<ExecResult> w = RunIn(
      *a,
      "mkdir -p /run/flannel /var/lib/cni && echo s > /run/flannel/subnet.env && "
      "echo v > /var/lib/cni/x && cat /run/flannel/subnet.env && "
      "stat -f -c %T /run/netns/mkn-cniexec-hostlike && ls /run/minikube-net/hostlike/nodes/a/fs");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->stdout_data, "s\nnsfs\netc\nrun\nvar\n") << w->stderr_data;
  EXPECT_FALSE(std::filesystem::exists("/run/flannel"));
  EXPECT_EQ(ReadFile(NodeUpperDir(state, "/run") + "/flannel/subnet.env"), "s\n");
  a->Reset();
  absl::StatusOr<Fd> again = MakeNodeMountNs(state);
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<ExecResult> r = RunIn(*again, "cat /run/flannel/subnet.env /var/lib/cni/x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_data, "s\nv\n") << r->stderr_data;
  // Another mount under /run is the host's and bound back; one on /run/cni is not: that stays per
  // node.
  r = RunIn(*again, "cat /run/hostmnt/f; test -e /run/cni/f && echo host-cni-visible; echo end");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_data, "h\nend\n") << r->stderr_data;
  std::filesystem::remove_all("/run/minikube-net/hostlike");
}

TEST_F(NodeFs, BadStateDirsAreRefused) {
  for (const char* bad : {"relative/dir", "/run/minikube-net/a:b", "/run/minikube-net/a,b",
                          "/var/lib/mkn", "/etc/x"}) {
    absl::StatusOr<Fd> r = MakeNodeMountNs(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad << ": " << r.status();
  }
}

// CniNode::SetDeadline (the conformance suite's --timeout): a plugin that hangs is killed at the
// caller's deadline, not after the lab's [cni] timeout, and the error says which limit cut it.
TEST_F(NodeFs, APluginCallEndsAtTheCallersDeadline) {
  TestNetns ns("mkn-cniexec-deadline");
  const std::string plugin = dir_.Script("slow", R"(
case "$CNI_COMMAND" in
  VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' ;;
  ADD) exec sleep 60 ;;
  *) exit 0 ;;
esac)");
  CniNodeConfig cfg;
  cfg.node = "n";
  cfg.node_netns = ns.name();
  cfg.state_dir = state_ + "/n";
  cfg.origin = "test.conflist";
  cfg.conf_text = R"({"cniVersion":"1.0.0","name":"t","plugins":[{"type":"slow"}]})";
  absl::StatusOr<cni::ConfList> list = cni::ParseConfList(cfg.conf_text, cfg.origin);
  ASSERT_TRUE(list.ok()) << list.status();
  cfg.list = *list;
  cfg.binaries = {plugin};
  cfg.bin_dirs = {dir_.path()};
  cfg.timeout_ms = 20000;  // the lab's [cni] timeout: far beyond the deadline
  absl::StatusOr<std::unique_ptr<CniNode>> node = CniNode::Open(cfg, ns.fd());
  ASSERT_TRUE(node.ok()) << node.status();
  cni::RuntimeConf rt;
  rt.container_id = "c1";
  rt.netns = "/run/netns/" + ns.name();
  rt.ifname = "eth0";
  (*node)->SetDeadline(Clock::now() + milliseconds(300));
  const auto t0 = Clock::now();
  ChainOutcome add = (*node)->Add(rt);
  const auto took = Clock::now() - t0;
  EXPECT_EQ(add.status.code(), absl::StatusCode::kDeadlineExceeded) << add.status;
  EXPECT_NE(add.status.message().find("the caller's deadline came before the [cni] timeout"),
            std::string::npos)
      << add.status;
  EXPECT_LT(took, milliseconds(5000)) << "the call waited for the [cni] timeout";
  // Once the deadline has passed, a call does not start a wait at all.
  const auto t1 = Clock::now();
  ChainOutcome again = (*node)->Add(rt);
  EXPECT_EQ(again.status.code(), absl::StatusCode::kDeadlineExceeded) << again.status;
  EXPECT_LT(Clock::now() - t1, milliseconds(2000));
}

// The attack's lying plugins, as the runtime reports them (the words `up`, `cni add` and `verify`
// show): each ADD fails with the plugin named and what it did, not a consequence of it.
TEST_F(NodeFs, LyingPluginsAreReportedForWhatTheyDid) {
  TestNetns ns("mkn-cniexec-liars");
  const std::string plugin = dir_.Script("liar", R"(
case "$CNI_COMMAND" in
  VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'; exit 0 ;;
  ADD) ;;
  *) exit 0 ;;
esac
cat >/dev/null
case $(cat "$0.mode") in
  stdout) exec yes aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ;;
  stderr) head -c 33554432 /dev/zero | tr '\0' e >&2
          echo '{"cniVersion":"1.0.0","code":7,"msg":"after 32 MiB of stderr"}'; exit 1 ;;
  errjson) echo '{"cniVersion":"1.0.0","code":7,"msg":"I failed but exit 0"}'; exit 0 ;;
esac)");
  CniNodeConfig cfg;
  cfg.node = "n";
  cfg.node_netns = ns.name();
  cfg.state_dir = state_ + "/n";
  cfg.origin = "test.conflist";
  cfg.conf_text = R"({"cniVersion":"1.0.0","name":"t","plugins":[{"type":"liar"}]})";
  absl::StatusOr<cni::ConfList> list = cni::ParseConfList(cfg.conf_text, cfg.origin);
  ASSERT_TRUE(list.ok()) << list.status();
  cfg.list = *list;
  cfg.binaries = {plugin};
  cfg.bin_dirs = {dir_.path()};
  cfg.timeout_ms = 20000;
  absl::StatusOr<std::unique_ptr<CniNode>> node = CniNode::Open(cfg, ns.fd());
  ASSERT_TRUE(node.ok()) << node.status();
  cni::RuntimeConf rt;
  rt.container_id = "c1";
  rt.netns = "/run/netns/" + ns.name();
  rt.ifname = "eth0";
  struct Case {
    const char* mode;
    absl::StatusCode code;
    std::vector<std::string> says;
  } cases[] = {
      {"stdout",
       absl::StatusCode::kResourceExhausted,
       {"plugin \"liar\" (ADD) wrote more than 1 MiB on stdout (a CNI result is a few KiB): "
        "killed with its process group"}},
      {"stderr",
       absl::StatusCode::kFailedPrecondition,
       {"plugin \"liar\" failed: code 7 (invalid network config): after 32 MiB of stderr",
        "\n    " + std::string(300, 'e') + "..."}},
      {"errjson",
       absl::StatusCode::kFailedPrecondition,
       {"ADD: plugin \"liar\" failed: code 7 (invalid network config): I failed but exit 0",
        "(it exited 0, but a CNI error goes with a nonzero exit: SPEC.md §5 Error)"}},
  };
  for (const Case& c : cases) {
    std::ofstream(plugin + ".mode") << c.mode;
    const auto t0 = Clock::now();
    ChainOutcome add = (*node)->Add(rt);
    EXPECT_LT(Clock::now() - t0, milliseconds(10000)) << c.mode;
    EXPECT_EQ(add.status.code(), c.code) << c.mode << ": " << add.status;
    for (const std::string& want : c.says) {
      EXPECT_NE(add.status.message().find(want), std::string::npos)
          << c.mode << ": expected \"" << want << "\" in: " << add.status.message().substr(0, 2000);
    }
    ASSERT_FALSE(add.calls.empty());
    // What is kept of a call (--show-exec, the suite's evidence) is bounded too.
    EXPECT_LE(add.calls[0].exec.stdout_data.size(), kMaxPluginStdout) << c.mode;
    EXPECT_LE(add.calls[0].exec.stderr_data.size(), kPluginStderrTail) << c.mode;
  }
}

TEST_F(NodeFs, CostOfMakeNodeMountNs) {
  constexpr int kN = 20;
  auto t0 = Clock::now();
  for (int i = 0; i < kN; ++i) {
    absl::StatusOr<Fd> a = MakeNodeMountNs(state_ + "/n" + std::to_string(i));
    ASSERT_TRUE(a.ok()) << a.status();
  }
  double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / kN;
  std::printf("[ cost     ] MakeNodeMountNs: %.0f us per node (%d nodes)\n", us, kN);
  RecordProperty("make_node_mount_ns_us", static_cast<int>(us));
}

// ---- daemons ------------------------------------------------------------------------------------

TEST(Daemon, LogHasItsOutputAndStopIsQuickWhenItObeysSigterm) {
  TempDir dir;
  std::string log = dir.path() + "/agent.log";
  std::ofstream(log) << "earlier line\n";
  // stdin is /dev/null: `read` sees EOF at once.
  ExecRequest r = Sh(
      "echo started pid=$$; echo to-stderr >&2; if read x; then echo got-stdin; fi; exec sleep 60");
  absl::StatusOr<pid_t> pid = StartDaemon(r, log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_TRUE(WaitFor([&] { return ReadFile(log).find("to-stderr") != std::string::npos; }))
      << ReadFile(log);
  EXPECT_EQ(::getpgid(*pid), *pid);  // its own process group
  EXPECT_EQ(::getsid(*pid), *pid);
  auto t0 = Clock::now();
  ASSERT_TRUE(StopDaemon(*pid, milliseconds(2000)).ok());
  EXPECT_LT(Clock::now() - t0, milliseconds(1000));
  EXPECT_EQ(ProcState(*pid), 0) << "reaped";
  EXPECT_EQ(ReadFile(log), "earlier line\nstarted pid=" + std::to_string(*pid) + "\nto-stderr\n");
}

TEST(Daemon, IgnoringSigtermGetsSigkillAfterTheGrace) {
  TempDir dir;
  std::string log = dir.path() + "/stubborn.log";
  // The grandchild ignores TERM too and stays in the group.
  ExecRequest r = Sh("trap '' TERM; sleep 60 & echo child=$!; echo ready; exec sleep 60");
  absl::StatusOr<pid_t> pid = StartDaemon(r, log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_TRUE(WaitFor([&] { return ReadFile(log).find("ready") != std::string::npos; }));
  std::string text = ReadFile(log);
  pid_t child = std::atoi(text.c_str() + text.find("child=") + 6);
  ASSERT_GT(child, 0);
  auto t0 = Clock::now();
  ASSERT_TRUE(StopDaemon(*pid, milliseconds(300)).ok());
  auto took = Clock::now() - t0;
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(300 + 500));
  EXPECT_EQ(ProcState(*pid), 0);
  EXPECT_TRUE(WaitFor([&] { return Dead(child); }));
}

TEST(Daemon, StopOfSomethingNotOurChildIsNotFound) {
  absl::Status st = StopDaemon(1, milliseconds(10));
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
}

TEST(Daemon, MissingBinaryIsAClearError) {
  TempDir dir;
  ExecRequest r;
  r.binary = "/usr/lib/cni/nope-agent";
  absl::StatusOr<pid_t> pid = StartDaemon(r, dir.path() + "/x.log");
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.status().message().find("exec /usr/lib/cni/nope-agent: No such file or directory"),
            std::string::npos);
}

TEST(Daemon, DiesWithTheProcessThatStartedIt) {
  // An intermediate process starts the daemon and is SIGKILLed, as minikube-net might be.
  TempDir dir;
  std::string log = dir.path() + "/orphan.log";
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  pid_t mid = ::fork();
  ASSERT_GE(mid, 0);
  if (mid == 0) {
    absl::StatusOr<pid_t> d = StartDaemon(Sh("exec sleep 60"), log);
    pid_t v = d.ok() ? *d : -1;
    (void)!::write(p[1], &v, sizeof(v));
    ::kill(::getpid(), SIGKILL);
  }
  ::close(p[1]);
  pid_t daemon = -1;
  ASSERT_EQ(::read(p[0], &daemon, sizeof(daemon)), static_cast<ssize_t>(sizeof(daemon)));
  ::close(p[0]);
  ASSERT_GT(daemon, 0);
  ::waitpid(mid, nullptr, 0);
  EXPECT_TRUE(WaitFor([&] { return Dead(daemon); }))
      << "daemon " << daemon << " outlived its parent";
}

TEST(Daemon, RunsInTheNodesNamespaces) {
  MKN_REQUIRE_NETNS();
  ASSERT_TRUE(PrepareNetnsDir().ok());
  TempDir dir;
  TestNetns ns("mkn-cniexec-t3");
  absl::StatusOr<Fd> mnt = MakeNodeMountNs(dir.path() + "/node");
  ASSERT_TRUE(mnt.ok()) << mnt.status();
  std::string log = dir.path() + "/agent.log";
  ExecRequest r =
      Sh("readlink /proc/self/ns/net /proc/self/ns/mnt; mkdir -p /run/flannel; "
         "echo x > /run/flannel/subnet.env; echo ready; exec sleep 60");
  r.netns_fd = ns.fd();
  r.mntns_fd = mnt->get();
  absl::StatusOr<pid_t> pid = StartDaemon(r, log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_TRUE(WaitFor([&] { return ReadFile(log).find("ready") != std::string::npos; }))
      << ReadFile(log);
  EXPECT_EQ(ReadFile(log), InodeLink("net", ns.fd()) + InodeLink("mnt", mnt->get()) + "ready\n");
  EXPECT_FALSE(std::filesystem::exists("/run/flannel"));
  EXPECT_TRUE(StopDaemon(*pid, milliseconds(1000)).ok());
}

// ---- per-call overhead --------------------------------------------------------------------------

double MedianUs(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The machine is shared (2 cores, other builds): each round times the baseline and RunPlugin back
// to back, so load hits both alike, and medians drop the outliers.
TEST(RunPlugin, OverheadPerCallOfTrue) {
  constexpr int kN = 1000;
  const char* kTrue = "/bin/true";
  char* argv[] = {const_cast<char*>("true"), nullptr};
  char* envp[] = {nullptr};
  auto spawn_wait = [&] {  // baseline: posix_spawn + waitpid, no pipes, no namespaces
    pid_t pid;
    EXPECT_EQ(::posix_spawn(&pid, kTrue, nullptr, nullptr, argv, envp), 0);
    int st;
    ::waitpid(pid, &st, 0);
  };
  auto us_since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
  };
  auto measure = [&](const ExecRequest& r, const char* what, const char* property) {
    std::vector<double> base, run, extra;
    for (int i = 0; i < kN; ++i) {
      auto t0 = Clock::now();
      spawn_wait();
      base.push_back(us_since(t0));
      t0 = Clock::now();
      absl::StatusOr<ExecResult> res = RunPlugin(r);
      run.push_back(us_since(t0));
      ASSERT_TRUE(res.ok() && res->exit_code == 0) << (res.ok() ? "" : res.status().ToString());
      extra.push_back(run.back() - base.back());
    }
    double added = MedianUs(extra);
    std::printf(
        "[ cost     ] %s %s x%d, median: posix_spawn+waitpid %.0f us, RunPlugin %.0f us, "
        "added %.0f us a call\n",
        kTrue, what, kN, MedianUs(base), MedianUs(run), added);
    RecordProperty(property, static_cast<int>(added));
    // The budget: the harness adds at most 1 ms per plugin call.
    EXPECT_LT(added, 1000.0);
  };
  ExecRequest r;
  r.binary = kTrue;
  r.stdin_data = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"bridge\"}";
  measure(r, "(stdin, no namespaces)", "run_plugin_added_us");
  if (!testing::Privileged()) return;
  ASSERT_TRUE(PrepareNetnsDir().ok());
  TempDir dir;
  TestNetns ns("mkn-cniexec-bench");
  absl::StatusOr<Fd> mnt = MakeNodeMountNs(dir.path() + "/node");
  ASSERT_TRUE(mnt.ok()) << mnt.status();
  r.netns_fd = ns.fd();
  r.mntns_fd = mnt->get();
  measure(r, "(stdin, in a node's netns + mount ns)", "run_plugin_in_node_added_us");
}

}  // namespace
}  // namespace mkn::vnet
