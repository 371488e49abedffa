// vnet/cni/verify/probe — how the conformance suite looks at a lab: tools run as child processes
// inside a namespace (ip, nft, ping, socat, curl, iperf3), each bounded in time, and the throw-away
// test pods the checks make. Internal to vnet/cni/verify.
//
// No thread of ours enters a namespace for a probe: every tool is a child of RunPlugin
// (vnet/cni/exec) that setns()es itself, so probes may run from any thread, and checks run them
// in parallel. What the tools print is judged in lib/cni (judge, snapshot); this file only runs
// them and hands their text over.
//
// Time (a failing probe must fail fast): every probe waits ProbeLimits::wait for its
// answer (lib/cni/suite's ProbeWait, from --timeout), and none runs past the run's deadline. A
// probe is retried only while its peer refuses (a RST, an ICMP port unreachable) and only against
// the suite's own servers, which may still be starting: silence is the verdict, never retried.
// A tool that cannot be started at all (not installed, exec failed) is the harness's problem, not
// the plugin's: the probes say which (ToolResult::started, FailedPrecondition).
//
// Every namespace the suite creates is a TestPod's, made and removed in one place
// (TestPod::MakeNetns / TestPod::RemoveNetns in probe.cc): it is named through lib/net/naming
// (mkn-<cluster>-vfy-...) and marked with the cluster's marker on lo as the applier marks its own,
// so `down` finds and removes it with the lab, also after verify was SIGKILLed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/cni/invoke.h"
#include "lib/cni/judge.h"
#include "lib/cni/snapshot.h"
#include "vnet/cni/runtime.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet::verify_internal {

inline constexpr int kTcpPort = 7471;  // the suite's own servers in the pods (socat)
inline constexpr int kUdpPort = 7472;
inline constexpr int kIperfPort = 7473;  // and 7474: one port per direction

// The tool's absolute path in the usual sbin/bin directories of this mount namespace, "" when it
// is not installed.
std::string FindTool(std::string_view name);

// How long probes may take: each waits `wait` for its answer; nothing runs past `deadline`.
struct ProbeLimits {
  std::chrono::milliseconds wait{2000};
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // `want`, or what is left until the deadline when that is less (0 once it has passed).
  std::chrono::milliseconds Cap(std::chrono::milliseconds want) const;
  // `wait` + `slack` (a tool's own start and exit around its wait), capped.
  std::chrono::milliseconds ToolTimeout(
      std::chrono::milliseconds slack = std::chrono::milliseconds(1000)) const {
    return Cap(wait + slack);
  }
  bool Expired() const { return std::chrono::steady_clock::now() >= deadline; }
};

// "1.5" for 1500 ms: a wait as the tools take it (ping -W, socat -T, curl -m, bash read -t).
std::string ToolSeconds(std::chrono::milliseconds d);

// What a tool did. Its exit status is data, not an error: a failed ping is what a check judges.
struct ToolResult {
  bool ok = false;       // exited 0 within the deadline
  bool started = false;  // it ran at all (false: not installed, or the spawn failed; see err)
  int code = -1;
  bool timed_out = false;
  std::string cmd, out, err;
  // "`ping -c1 ...` exit 1: <stderr, else stdout>", for evidence.
  std::string Say() const;
  // The peer refused (RST, ICMP port unreachable): nothing listens there, perhaps not yet.
  bool Refused() const;
};

// Runs argv (argv[0] looked up with FindTool unless absolute) in the netns `netns_fd` (-1: ours),
// with `in` on stdin, killed with its process group after `timeout`. A tool that is not installed
// or cannot be started is a ToolResult with ok = started = false and the reason in err.
ToolResult RunTool(int netns_fd, const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5),
                   const std::string& in = "");

// One datagram `msg` to ip:port from netns `from`, and the first line that comes back within
// limits.wait (bash's /dev/udp and `read -t`: it returns as soon as the answer is there, where
// socat waits out its half-close timeout on a datagram socket). ok with the line in `out`, the
// newline restored. With `retry_refused`, retried while the port is unreachable, for up to
// cni::kServerStartWindow (the suite's own servers may still be starting).
ToolResult UdpExchange(int from, const std::string& ip, int port, const std::string& msg,
                       const ProbeLimits& limits, bool retry_refused = false);

// A TCP connection to ip:port from netns `from`, closed at once (socat), within limits.wait.
ToolResult TcpConnect(int from, const std::string& ip, int port, const ProbeLimits& limits);

// A throw-away pod on a node: a netns of its own and the RuntimeConf a runtime would hand the
// chain for it (CNI_CONTAINERID = the netns name, CNI_NETNS its /run/netns path, CNI_IFNAME the
// node's, containerd's K8S_* args). lo is down, as a runtime hands it over. The netns is removed
// when the TestPod is destroyed; DEL is the caller's.
class TestPod {
 public:
  // object: the name's tail after the cluster ("vfy-churn-12"), the pod name in CNI_ARGS.
  // Status: "make test pod netns NAME: ..." with the code of the failing step (unshare, mount,
  // the marker over netlink, `ip link set lo down`). Needs CAP_SYS_ADMIN and CAP_NET_ADMIN.
  static absl::StatusOr<std::unique_ptr<TestPod>> Make(const std::string& cluster,
                                                       const std::string& marker,
                                                       const std::string& object,
                                                       const std::string& ifname);
  TestPod(const TestPod&) = delete;
  TestPod& operator=(const TestPod&) = delete;
  ~TestPod() = default;  // the NamedNetns removes the namespace

  // Closes and unmounts the namespace now (spec.del.netns-gone: DEL once it is gone). Idempotent;
  // a failure to remove is ignored (`down` removes what is left by its marker).
  void RemoveNetns() { netns_ = NamedNetns(); }

  int netns_fd() const { return netns_.fd(); }
  const cni::RuntimeConf& rt() const { return rt_; }

 private:
  TestPod() = default;
  // The namespace, marked with the cluster's marker as the applier marks its own, lo down as a
  // runtime hands it to a chain; removed when the handle goes (RemoveNetns, or the destructor).
  NamedNetns netns_;
  cni::RuntimeConf rt_;
};

// The node's links, addresses, routes and neighbours, its nft ruleset and iptables rules (when
// iptables-save is installed), the files of its own /var/lib/cni and /run; with pod_fd >= 0 also
// the pod's links, addresses, routes and neighbours ("pod " sections). Normalized by lib/cni
// snapshot. Internal when an `ip -j` fails or prints what NormalizeIpJson rejects.
absl::StatusOr<cni::Snapshot> SnapshotNode(const CniNode& node, int pod_fd);

// The processes running in each netns of `where` (an open netns fd, and how evidence names it:
// "node node1"), found by /proc/<pid>/ns/net (vnet/kernel/holders); verify's own process is
// not among them, and those a child of verify leads the session of (what the lab's node daemons
// and the suite's servers start) are marked `ours`. Internal (the harness's problem) when a
// namespace's identity or /proc cannot be read.
absl::StatusOr<std::vector<cni::SeenProcess>> ProcessesIn(
    const std::vector<std::pair<int, std::string>>& where);

// `ip -j addr show dev IFNAME` in the netns, parsed (cni::ParseIpAddrShow). NotFound with ip's
// message when the device does not exist, or when ip printed no interface.
// Internal (the harness's problem) when `ip` could not be started.
absl::StatusOr<cni::ObservedInterface> ObserveInterface(int netns_fd, const std::string& ifname);

// The suite's servers in the pods: TCP on kTcpPort and UDP on kUdpPort, each answering
// "tcp|udp <peer IP>" (cni::EchoPeer reads it), one sh supervising both socats. Stopped by
// StopAll or the destructor. Thread-safe: checks running in parallel share them.
class EchoServers {
 public:
  EchoServers() = default;
  EchoServers(const EchoServers&) = delete;
  EchoServers& operator=(const EchoServers&) = delete;
  ~EchoServers() { StopAll(); }

  // Starts them in netns_fd for `pod` unless they already run. FailedPrecondition when socat is
  // not installed; StartDaemon's Status when the spawn fails.
  absl::Status Ensure(int pod, int netns_fd);
  void StopAll();

 private:
  std::mutex mu_;
  std::map<int, pid_t> pids_;  // pod -> the supervising sh
};

// One probe from netns `from` to `ip` with `proto` "icmp" (one ping), "tcp" or "udp" (the
// EchoServers, retried while they refuse: they may still be starting), each waiting limits.wait
// for its answer. The peer address the server saw ("" for icmp); Unavailable with the last try's
// ToolResult::Say() when no answer came (the network's verdict); FailedPrecondition when the tool
// could not be started (the harness's problem).
absl::StatusOr<std::string> Probe(int from, std::string_view proto, const std::string& ip,
                                  const ProbeLimits& limits);

// A measured rate: a one-off `iperf3 -s -1 -p port` in server_fd, `iperf3 -c ip -p port -t 3 -J`
// from client_fd (with -R when `reverse`: the server sends), retried while the server is not yet
// listening (up to cni::kServerStartWindow), never past limits.deadline.
struct RateProbe {
  ToolResult last;  // the client's last run
  double bits_per_second = 0;
};
// StartDaemon's Status when the server cannot be started; a run without a rate is a RateProbe
// with bits_per_second 0.
absl::StatusOr<RateProbe> MeasureRate(int server_fd, int client_fd, const std::string& ip, int port,
                                      bool reverse, const ProbeLimits& limits);

}  // namespace mkn::vnet::verify_internal
