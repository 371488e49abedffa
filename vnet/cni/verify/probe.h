// vnet/cni/verify/probe — how the conformance suite looks at a lab: tools run as child processes
// inside a namespace (ip, nft, ping, socat, curl, iperf3), each bounded in time, and the throw-away
// test pods the checks make. Internal to vnet/cni/verify.
//
// No thread of ours enters a namespace for a probe: every tool is a child of RunPlugin
// (vnet/cni/exec) that setns()es itself, so probes may run from any thread. What the tools print
// is judged in lib/cni (judge, snapshot); this file only runs them and hands their text over.
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
#include <string>
#include <string_view>
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

// What a tool did. Its exit status is data, not an error: a failed ping is what a check judges.
struct ToolResult {
  bool ok = false;  // exited 0 within the deadline
  int code = -1;
  bool timed_out = false;
  std::string cmd, out, err;
  // "`ping -c1 ...` exit 1: <stderr, else stdout>", for evidence.
  std::string Say() const;
};

// Runs argv (argv[0] looked up with FindTool unless absolute) in the netns `netns_fd` (-1: ours),
// with `in` on stdin, killed with its process group after `timeout`. A tool that is not installed
// or cannot be started is a ToolResult with ok = false and the reason in err.
ToolResult RunTool(int netns_fd, const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5),
                   const std::string& in = "");

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

// `ip -j addr show dev IFNAME` in the netns, parsed (cni::ParseIpAddrShow). NotFound with ip's
// message when the device does not exist, or when ip printed no interface.
absl::StatusOr<cni::ObservedInterface> ObserveInterface(int netns_fd, const std::string& ifname);

// The suite's servers in the pods: TCP on kTcpPort and UDP on kUdpPort, each answering
// "tcp|udp <peer IP>" (cni::EchoPeer reads it), one sh supervising both socats. Stopped by
// StopAll or the destructor.
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
  std::map<int, pid_t> pids_;  // pod -> the supervising sh
};

// One probe from netns `from` to `ip` with `proto` "icmp" (one ping), "tcp" or "udp" (the
// EchoServers, retried for up to 5 s while they may still be starting). The peer address the
// server saw ("" for icmp), or Unavailable with the last try's ToolResult::Say().
absl::StatusOr<std::string> Probe(int from, std::string_view proto, const std::string& ip);

// A measured rate: a one-off `iperf3 -s -1 -p port` in server_fd, `iperf3 -c ip -p port -t 3 -J`
// from client_fd (with -R when `reverse`: the server sends), retried for ~3 s while the server is
// not yet listening.
struct RateProbe {
  ToolResult last;  // the client's last run
  double bits_per_second = 0;
};
// StartDaemon's Status when the server cannot be started; a run without a rate is a RateProbe
// with bits_per_second 0.
absl::StatusOr<RateProbe> MeasureRate(int server_fd, int client_fd, const std::string& ip, int port,
                                      bool reverse);

}  // namespace mkn::vnet::verify_internal
