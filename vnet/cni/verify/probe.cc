// vnet/cni/verify/probe — see probe.h.
#include "vnet/cni/verify/probe.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "absl/strings/str_join.h"
#include "lib/cni/invoke.h"
#include "lib/cni/suite.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/exec.h"
#include "vnet/cni/nodefs.h"
#include "vnet/kernel/holders.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet::verify_internal {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

void ListFiles(const std::string& root, const std::string& shown_as,
               std::vector<std::string>& out) {
  std::error_code ec;
  if (!std::filesystem::exists(root, ec)) return;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::string rel = std::filesystem::relative(it->path(), root, ec).string();
    out.push_back(StrCat(shown_as, "/", rel, it->is_directory(ec) ? "/" : ""));
  }
}

absl::Status AddIpSections(cni::Snapshot& s, int fd, const std::string& prefix) {
  struct Q {
    std::string section;
    std::vector<std::string> argv;
  };
  const std::vector<Q> qs = {{"links", {"ip", "-j", "-d", "link", "show"}},
                             {"addresses", {"ip", "-j", "addr", "show"}},
                             // `table all` dumps both families (measured: iproute2 6.1).
                             {"routes", {"ip", "-j", "route", "show", "table", "all"}},
                             {"neighbours", {"ip", "-j", "neigh", "show"}}};
  for (const Q& q : qs) {
    ToolResult o = RunTool(fd, q.argv);
    if (!o.ok) return absl::InternalError(StrCat("snapshot: ", o.Say()));
    MKN_ASSIGN_OR_RETURN(std::vector<std::string> lines, cni::NormalizeIpJson(q.section, o.out));
    std::vector<std::string>& sec = s.sections[prefix + q.section];
    sec.insert(sec.end(), lines.begin(), lines.end());
  }
  return absl::OkStatus();
}

}  // namespace

// --- tools in a namespace ----------------------------------------------------------------------

std::string FindTool(std::string_view name) {
  for (const char* dir :
       {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    std::string p = StrCat(dir, "/", name);
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

std::chrono::milliseconds ProbeLimits::Cap(std::chrono::milliseconds want) const {
  if (deadline == Clock::time_point::max()) return want;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::clamp(left, 0ms, want);
}

std::string ToolSeconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(std::max(d, 1ms).count()) / 1000);
  return buf;
}

bool ToolResult::Refused() const {
  return !ok && started &&
         (err.find("Connection refused") != std::string::npos ||
          out.find("Connection refused") != std::string::npos);
}

std::string ToolResult::Say() const {
  std::string how = timed_out ? "timed out" : StrCat("exit ", code);
  std::string text = err.empty() ? out : err;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return StrCat("`", cmd, "` ", how, text.empty() ? "" : StrCat(": ", text));
}

ToolResult RunTool(int netns_fd, const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout, const std::string& in) {
  ToolResult o;
  o.cmd = absl::StrJoin(argv, " ");
  std::string bin = argv[0][0] == '/' ? argv[0] : FindTool(argv[0]);
  if (bin.empty()) {
    o.err = StrCat(argv[0], ": not installed (the conformance suite runs it as a probe)");
    return o;
  }
  ExecRequest req;
  req.binary = bin;
  req.argv = argv;
  req.env = {StrCat("PATH=", cni::kPluginPath), "LC_ALL=C"};
  req.stdin_data = in;
  req.netns_fd = netns_fd;
  req.timeout = timeout;
  // The suite's own tools, not a plugin: `ip -j` or `nft -j` of a node with many pods prints more
  // than a CNI result ever should.
  req.max_stdout = kToolMaxStdout;
  absl::StatusOr<ExecResult> r = RunPlugin(req);
  if (!r.ok()) {
    o.err = std::string(r.status().message());
    return o;
  }
  o.started = true;
  o.code = r->exit_code;
  o.timed_out = r->timed_out;
  o.out = std::move(r->stdout_data);
  o.err = std::move(r->stderr_data);
  o.ok = o.code == 0 && !o.timed_out;
  return o;
}

absl::StatusOr<std::vector<cni::SeenProcess>> ProcessesIn(
    const std::vector<std::pair<int, std::string>>& where) {
  std::vector<NetnsId> ids;
  for (const auto& [fd, name] : where) {
    absl::StatusOr<NetnsId> id = NetnsIdOfFd(fd);
    if (!id.ok()) {
      return absl::InternalError(
          StrCat("look for processes in ", name, ": ", id.status().message()));
    }
    ids.push_back(*id);
  }
  absl::StatusOr<std::vector<NetnsProcess>> procs = ProcessesInNetns(ids);
  if (!procs.ok()) return absl::InternalError(procs.status().message());
  std::vector<cni::SeenProcess> out;
  for (const NetnsProcess& p : *procs) {
    const size_t i = static_cast<size_t>(std::find(ids.begin(), ids.end(), p.netns) - ids.begin());
    // Started by a daemon of ours: the lab's node daemons and the suite's servers lead sessions of
    // their own (StartDaemon), and what they start runs in them. A session's leader itself is never
    // taken for ours: an orphan (a plugin's `setsid cmd &`) is reparented to verify when verify
    // is the sandbox's pid 1, and it leads its own session.
    const bool ours = p.session != p.pid && ParentPid(p.session) == ::getpid();
    out.push_back({p.pid, p.start_time, p.comm, where[i].second, ours});
  }
  return out;
}

// --- test pods ---------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TestPod>> TestPod::Make(const std::string& cluster,
                                                       const std::string& marker,
                                                       const std::string& object,
                                                       const std::string& ifname) {
  auto p = std::unique_ptr<TestPod>(new TestPod());
  const std::string name = net::NetnsName(cluster, object);
  // Recorded before it exists, so that `down` after a SIGKILL right after the create finds it.
  if (absl::Status st = RecordVerifyPod(cluster, name); !st.ok()) {
    return absl::Status(st.code(), StrCat("make test pod netns ", name, ": ", st.message()));
  }
  absl::StatusOr<NamedNetns> ns = NamedNetns::Create(name, marker);
  if (!ns.ok()) {
    return absl::Status(ns.status().code(),
                        StrCat("make test pod netns ", name, ": ", ns.status().message()));
  }
  p->netns_ = std::move(*ns);
  // A runtime hands the chain a fresh netns, lo down (the loopback plugin's DEL takes it down
  // again): the marker needed it up for a moment.
  if (ToolResult o = RunTool(p->netns_.fd(), {"ip", "link", "set", "lo", "down"}); !o.ok) {
    return absl::InternalError(StrCat("make test pod netns ", name, ": ", o.Say()));
  }
  p->rt_ = cni::PodRuntimeConf(object, name, ifname);
  return p;
}

// --- snapshots and interfaces ------------------------------------------------------------------

absl::StatusOr<cni::Snapshot> SnapshotNode(const CniNode& node, int pod_fd) {
  cni::Snapshot s;
  MKN_RETURN_IF_ERROR(AddIpSections(s, node.netns_fd(), "node "));
  if (pod_fd >= 0) MKN_RETURN_IF_ERROR(AddIpSections(s, pod_fd, "pod "));
  ToolResult nft = RunTool(node.netns_fd(), {"nft", "list", "ruleset"});
  if (nft.ok) s.sections["node nft"] = cni::NormalizeNftRuleset(nft.out);
  if (!FindTool("iptables-save").empty()) {
    ToolResult ipt = RunTool(node.netns_fd(), {"iptables-save"});
    if (ipt.ok) s.sections["node iptables"] = cni::NormalizeIptablesSave(ipt.out);
  }
  std::vector<std::string> files;
  ListFiles(StrCat(NodeUpperDir(node.config().state_dir, "/var/lib"), "/cni"), "/var/lib/cni",
            files);
  ListFiles(NodeUpperDir(node.config().state_dir, "/run"), "/run", files);
  std::sort(files.begin(), files.end());
  s.sections["node files"] = files;
  return s;
}

absl::StatusOr<cni::ObservedInterface> ObserveInterface(int netns_fd, const std::string& ifname) {
  ToolResult o = RunTool(netns_fd, {"ip", "-j", "addr", "show", "dev", ifname});
  if (!o.started) return absl::InternalError(StrCat("could not run ip: ", o.err));
  if (!o.ok) return absl::NotFoundError(o.Say());
  return cni::ParseIpAddrShow(o.out, ifname);
}

// --- traffic -----------------------------------------------------------------------------------

absl::Status EchoServers::Ensure(int pod, int netns_fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pids_.count(pod)) return absl::OkStatus();
  std::string socat = FindTool("socat");
  if (socat.empty()) {
    return absl::FailedPreconditionError("socat is not installed (the suite's TCP/UDP servers)");
  }
  ExecRequest req;
  req.binary = FindTool("sh");
  // The UDP side's command reads the datagram before it answers: socat writes the datagram to
  // the command's stdin, and an `echo` that has already exited makes that write fail (EPIPE) and
  // socat drop the answer, in about one exchange of four when they come at once (measured: 4
  // concurrent probes, socat 1.7.4.4).
  req.argv = {
      "sh", "-c",
      StrCat("socat TCP-LISTEN:", kTcpPort, ",reuseaddr,fork SYSTEM:'echo tcp $SOCAT_PEERADDR' & ",
             "exec socat UDP-RECVFROM:", kUdpPort,
             ",fork SYSTEM:'head -c1 >/dev/null; echo udp $SOCAT_PEERADDR'")};
  req.env = {StrCat("PATH=", cni::kPluginPath)};
  req.netns_fd = netns_fd;
  MKN_ASSIGN_OR_RETURN(pid_t pid, StartDaemon(req, "/dev/null"));
  pids_[pod] = pid;
  // Bound before the first probe (cni::ProcNetBound says why: a refusal, then silence). The
  // daemon's /proc/PID/net shows the sockets of the netns it runs in.
  auto bound = [&](const char* table, int port, bool tcp) {
    std::ifstream f(StrCat("/proc/", pid, "/net/", table));
    std::stringstream text;
    text << f.rdbuf();
    return cni::ProcNetBound(text.str(), port, tcp);
  };
  const auto give_up = Clock::now() + cni::kServerStartWindow;
  while (!(bound("tcp", kTcpPort, true) && bound("udp", kUdpPort, false))) {
    if (Clock::now() >= give_up) {
      return absl::DeadlineExceededError(StrCat("the suite's socat servers did not bind ports ",
                                                kTcpPort, "/tcp and ", kUdpPort, "/udp within ",
                                                cni::kServerStartWindow.count() / 1000, " s"));
    }
    std::this_thread::sleep_for(5ms);  // polling a condition, with the deadline above
  }
  return absl::OkStatus();
}

void EchoServers::StopAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [pod, pid] : pids_) (void)StopDaemon(pid, 500ms);
  pids_.clear();
}

ToolResult UdpExchange(int from, const std::string& ip, int port, const std::string& msg,
                       const ProbeLimits& limits, bool retry_refused) {
  // bash connects a UDP socket to the peer (so an ICMP port unreachable comes back as
  // "Connection refused" on the read) and sends `msg`; dd takes the answer with one read(2), a
  // whole datagram (bash's own `read` takes one byte, and the datagram's rest is lost), and
  // returns as soon as it is there; `timeout` ends the wait. Arguments, not text pasted into the
  // script: nothing to quote.
  const std::string w = ToolSeconds(limits.wait);
  const std::vector<std::string> argv = {"bash",
                                         "-c",
                                         "exec 3<>\"/dev/udp/$1/$2\" && printf '%s' \"$3\" >&3 && "
                                         "exec timeout \"$4\" dd bs=65535 count=1 status=none <&3",
                                         "udp-probe",
                                         ip,
                                         std::to_string(port),
                                         msg,
                                         w};
  const auto give_up = Clock::now() + cni::kServerStartWindow;
  ToolResult o;
  for (;;) {
    o = RunTool(from, argv, limits.ToolTimeout());
    o.cmd = StrCat("udp ", ip, ":", port, " (", msg.size(),
                   " bytes, bash /dev/udp, answer read by dd)");
    if (o.started && o.code == 124 && o.err.empty()) o.err = StrCat("no answer within ", w, " s");
    if (o.ok || !retry_refused || !o.Refused() || Clock::now() >= give_up || limits.Expired())
      return o;
    std::this_thread::sleep_for(50ms);  // the server is starting: its socket is not bound yet
  }
}

ToolResult TcpConnect(int from, const std::string& ip, int port, const ProbeLimits& limits) {
  const std::string w = ToolSeconds(limits.wait);
  return RunTool(from,
                 {"socat", StrCat("-T", w), "/dev/null",
                  StrCat("TCP:", ip, ":", port, ",connect-timeout=", w)},
                 limits.ToolTimeout());
}

absl::StatusOr<std::string> Probe(int from, std::string_view proto, const std::string& ip,
                                  const ProbeLimits& limits) {
  const std::string w = ToolSeconds(limits.wait);
  ToolResult last;
  if (proto == "icmp") {
    // One echo request: the kernel queues it while ARP resolves, so no retry is needed.
    last = RunTool(from, {"ping", "-n", "-c1", "-W", w, ip}, limits.ToolTimeout());
    if (last.ok) return "";
  } else if (proto == "tcp") {
    const auto give_up = Clock::now() + cni::kServerStartWindow;
    for (;;) {
      last = RunTool(from,
                     {"socat", StrCat("-T", w), "STDIO",
                      StrCat("TCP:", ip, ":", kTcpPort, ",connect-timeout=", w)},
                     limits.ToolTimeout());
      if (!last.Refused() || Clock::now() >= give_up || limits.Expired()) break;
      std::this_thread::sleep_for(50ms);  // the server is starting: not listening yet
    }
  } else {
    last = UdpExchange(from, ip, kUdpPort, "x\n", limits, /*retry_refused=*/true);
  }
  if (last.ok) {
    if (std::optional<std::string> peer = cni::EchoPeer(proto, last.out)) return *peer;
  }
  if (!last.started) return absl::FailedPreconditionError(StrCat("could not probe: ", last.err));
  return absl::UnavailableError(last.Say());
}

absl::StatusOr<RateProbe> MeasureRate(int server_fd, int client_fd, const std::string& ip, int port,
                                      bool reverse, const ProbeLimits& limits) {
  ExecRequest req;
  req.binary = FindTool("iperf3");
  req.argv = {"iperf3", "-s", "-1", "-p", std::to_string(port)};
  req.env = {StrCat("PATH=", cni::kPluginPath)};
  req.netns_fd = server_fd;
  MKN_ASSIGN_OR_RETURN(pid_t server, StartDaemon(req, "/dev/null"));
  std::vector<std::string> argv = {"iperf3",
                                   "-c",
                                   ip,
                                   "-p",
                                   std::to_string(port),
                                   "-t",
                                   "3",
                                   "-J",
                                   "--connect-timeout",
                                   std::to_string(limits.wait.count())};
  if (reverse) argv.push_back("-R");
  RateProbe probe;
  // Until the server listens (bounded by the start window and the run's deadline).
  const auto give_up = Clock::now() + cni::kServerStartWindow;
  for (;;) {
    probe.last = RunTool(client_fd, argv, limits.Cap(3s + 2 * limits.wait + 1s));
    cni::Iperf3Reading reading = cni::ParseIperf3Json(probe.last.out);
    probe.bits_per_second = reading.bits_per_second;
    if (probe.bits_per_second > 0 || !reading.server_not_ready || Clock::now() >= give_up ||
        limits.Expired())
      break;
    std::this_thread::sleep_for(100ms);
  }
  (void)StopDaemon(server, 500ms);
  return probe;
}

}  // namespace mkn::vnet::verify_internal
