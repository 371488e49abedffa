// vnet/cni/verify/verify — see the header. Each check is a function of the lab's context filling
// one CheckReport; the probes are child processes (RunPlugin) inside the pods' and nodes'
// namespaces.
#include "vnet/cni/verify/verify.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "lib/cni/result.h"
#include "lib/cni/snapshot.h"
#include "lib/cni/version.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/exec.h"
#include "vnet/cni/nodefs.h"
#include "vnet/cni/runtime.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kTcpPort = 7471;  // the suite's own servers in the pods (socat)
constexpr int kUdpPort = 7472;
constexpr int kIperfPort = 7473;

// --- probes: child processes in a namespace
// ---------------------------------------------------------

std::string FindTool(std::string_view name) {
  for (const char* dir :
       {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    std::string p = StrCat(dir, "/", name);
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

struct Out {
  bool ok = false;
  int code = -1;
  bool timed_out = false;
  std::string cmd, out, err;
  // "`ping -c1 ...` exit 1: <stderr or stdout>", for evidence.
  std::string Say() const {
    std::string how = timed_out ? "timed out" : StrCat("exit ", code);
    std::string text = err.empty() ? out : err;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return StrCat("`", cmd, "` ", how, text.empty() ? "" : StrCat(": ", text));
  }
};

// Runs argv (argv[0] looked up in the usual sbin/bin directories) in the netns `netns_fd` (-1:
// ours), killed after timeout_ms.
Out Run(int netns_fd, const std::vector<std::string>& argv, int timeout_ms = 5000,
        const std::string& in = "") {
  Out o;
  o.cmd = absl::StrJoin(argv, " ");
  std::string bin = argv[0][0] == '/' ? argv[0] : FindTool(argv[0]);
  if (bin.empty()) {
    o.err = StrCat(argv[0], ": not installed");
    return o;
  }
  ExecRequest req;
  req.binary = bin;
  req.argv = argv;
  req.env = {StrCat("PATH=", cni::kPluginPath), "LC_ALL=C"};
  req.stdin_data = in;
  req.netns_fd = netns_fd;
  req.timeout = std::chrono::milliseconds(timeout_ms);
  absl::StatusOr<ExecResult> r = RunPlugin(req);
  if (!r.ok()) {
    o.err = std::string(r.status().message());
    return o;
  }
  o.code = r->exit_code;
  o.timed_out = r->timed_out;
  o.out = std::move(r->stdout_data);
  o.err = std::move(r->stderr_data);
  o.ok = o.code == 0 && !o.timed_out;
  return o;
}

// At most max_lines lines of text, saying how many were left out.
std::string Trim(const std::string& text, size_t max_lines = 40) {
  size_t pos = 0, lines = 0;
  while (pos < text.size() && lines < max_lines) {
    size_t nl = text.find('\n', pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++lines;
  }
  if (pos >= text.size()) return text;
  size_t rest = std::count(text.begin() + pos, text.end(), '\n');
  return StrCat(text.substr(0, pos), "... (", rest, " more lines)\n");
}

// A SIGINT/SIGTERM/SIGHUP is waiting (the caller blocks them): stop at the next safe point.
bool StopRequested() {
  sigset_t pending;
  if (sigpending(&pending) != 0) return false;
  return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1 ||
         sigismember(&pending, SIGHUP) == 1;
}

// The calls worth showing: the failed ones, else the last few.
std::string ShowCalls(const std::vector<PluginCall>& calls) {
  std::vector<PluginCall> bad;
  for (const PluginCall& c : calls) {
    if (!c.status.ok()) bad.push_back(c);
  }
  if (bad.empty()) {
    size_t from = calls.size() > 2 ? calls.size() - 2 : 0;
    bad.assign(calls.begin() + from, calls.end());
  }
  return Trim(FormatCalls(bad), 30);
}

// --- the lab as the suite sees it
// ---------------------------------------------------------------------

struct NodeCtx {
  std::string name, netns, underlay_ip;
  std::unique_ptr<CniNode> cni;
  std::string ifname;
};

struct PodCtx {
  std::string name, netns, ip, error;
  int node = 0;
  int spec_index = -1;
  Fd fd;
  cni::RuntimeConf rt;
  json result;  // cached ADD result (null if none)
};

struct Ctx {
  const config::ClusterSpec& spec;
  const VerifyOptions& opt;
  ClusterState st;
  std::vector<NodeCtx> nodes;
  std::vector<PodCtx> pods;
  int seq = 0;
  // Every plugin error seen (a failed call's stdout), "where" first: spec.errors judges them all.
  std::vector<std::pair<std::string, std::string>> errors_seen;
  std::map<int, pid_t> servers;  // pod index -> socat supervisor (tcp and udp in one sh)
  std::vector<pid_t> daemons;

  Ctx(const config::ClusterSpec& s, const VerifyOptions& o) : spec(s), opt(o) {}
  const std::string& version(int node) const { return nodes[node].cni->version(); }
};

void NoteErrors(Ctx& c, const std::vector<PluginCall>& calls, const std::string& where) {
  for (const PluginCall& call : calls) {
    if (call.exec.exit_code > 0 && !call.exec.timed_out) {
      c.errors_seen.push_back(
          {StrCat(where, ": ", call.command, " ", call.plugin), call.exec.stdout_data});
    }
  }
}

// A throw-away pod: its own netns on a node, marked as the cluster's, removed when destroyed.
class TestPod {
 public:
  static absl::StatusOr<std::unique_ptr<TestPod>> Make(Ctx& c, int node, const std::string& label) {
    auto p = std::unique_ptr<TestPod>(new TestPod());
    p->node = node;
    std::string object = StrCat(net::kVerifyPodPrefix, label, "-", ++c.seq);
    p->netns = net::NetnsName(c.st.cluster, object);
    absl::Status st;
    std::thread t([&] {
      st = [&]() -> absl::Status {
        MKN_RETURN_IF_ERROR(UnshareNetns());
        MKN_ASSIGN_OR_RETURN(NlSocket sock, NlSocket::Open());
        MKN_RETURN_IF_ERROR(sock.SetUpWithAlias("lo", c.st.marker));
        MKN_RETURN_IF_ERROR(MountCurrentNetns(p->netns));
        MKN_ASSIGN_OR_RETURN(p->fd, OpenCurrentNetns());
        return absl::OkStatus();
      }();
    });
    t.join();
    if (!st.ok())
      return absl::Status(st.code(), StrCat("make test pod netns ", p->netns, ": ", st.message()));
    p->mounted_ = true;
    // A runtime hands the chain a fresh netns, lo down (the loopback plugin's DEL takes it down
    // again): the marker needed it up for a moment.
    if (Out o = Run(p->fd.get(), {"ip", "link", "set", "lo", "down"}); !o.ok) {
      return absl::InternalError(StrCat("make test pod netns ", p->netns, ": ", o.Say()));
    }
    p->rt.container_id = p->netns;
    p->rt.netns = StrCat(net::kNetnsDir, "/", p->netns);
    p->rt.ifname = c.nodes[node].ifname;
    p->rt.args = {{"IgnoreUnknown", "1"},
                  {"K8S_POD_NAMESPACE", "default"},
                  {"K8S_POD_NAME", object},
                  {"K8S_POD_INFRA_CONTAINER_ID", p->netns}};
    return p;
  }
  ~TestPod() { RemoveNs(); }
  void RemoveNs() {
    fd.Reset();
    if (mounted_) (void)RemoveNetns(netns);
    mounted_ = false;
  }

  int node = 0;
  std::string netns;
  Fd fd;
  cni::RuntimeConf rt;

 private:
  TestPod() = default;
  bool mounted_ = false;
};

// --- snapshots: what ADD may add and DEL must take away
// ----------------------------------------------

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
    Out o = Run(fd, q.argv);
    if (!o.ok) return absl::InternalError(StrCat("snapshot: ", o.Say()));
    MKN_ASSIGN_OR_RETURN(std::vector<std::string> lines, cni::NormalizeIpJson(q.section, o.out));
    std::vector<std::string>& sec = s.sections[prefix + q.section];
    sec.insert(sec.end(), lines.begin(), lines.end());
  }
  return absl::OkStatus();
}

// Node (links, addresses, routes, neighbours, nft, iptables, the plugin state files in its own
// /var/lib/cni and /run) and, when pod_fd >= 0, the pod's links, addresses, routes, neighbours.
absl::StatusOr<cni::Snapshot> Snap(Ctx& c, int node, int pod_fd) {
  cni::Snapshot s;
  const CniNode& n = *c.nodes[node].cni;
  MKN_RETURN_IF_ERROR(AddIpSections(s, n.netns_fd(), "node "));
  if (pod_fd >= 0) MKN_RETURN_IF_ERROR(AddIpSections(s, pod_fd, "pod "));
  Out nft = Run(n.netns_fd(), {"nft", "list", "ruleset"});
  if (nft.ok) s.sections["node nft"] = cni::NormalizeNftRuleset(nft.out);
  if (!FindTool("iptables-save").empty()) {
    Out ipt = Run(n.netns_fd(), {"iptables-save"});
    if (ipt.ok) s.sections["node iptables"] = cni::NormalizeIptablesSave(ipt.out);
  }
  std::vector<std::string> files;
  ListFiles(StrCat(NodeUpperDir(n.config().state_dir, "/var/lib"), "/cni"), "/var/lib/cni", files);
  ListFiles(NodeUpperDir(n.config().state_dir, "/run"), "/run", files);
  std::sort(files.begin(), files.end());
  s.sections["node files"] = files;
  return s;
}

// --- pods' interfaces
// ----------------------------------------------------------------------------------

struct IfaceSeen {
  std::string mac;
  int mtu = 0;
  std::vector<std::string> addrs;  // "10.244.1.5/24"
};

absl::StatusOr<IfaceSeen> SeeIface(int fd, const std::string& ifname) {
  Out o = Run(fd, {"ip", "-j", "addr", "show", "dev", ifname});
  if (!o.ok) return absl::NotFoundError(o.Say());
  json j = json::parse(o.out, nullptr, false);
  if (!j.is_array() || j.empty() || !j[0].is_object())
    return absl::NotFoundError(StrCat("no ", ifname, " in `ip -j addr`"));
  IfaceSeen s;
  s.mac = j[0].value("address", "");
  s.mtu = j[0].value("mtu", 0);
  for (const json& a : j[0].value("addr_info", json::array())) {
    if (a.value("family", "") != "inet" && a.value("family", "") != "inet6") continue;
    std::string local = a.value("local", "");
    if (local.rfind("fe80:", 0) == 0) continue;
    s.addrs.push_back(StrCat(local, "/", a.value("prefixlen", 0)));
  }
  return s;
}

// Every address the result puts on ifname (an ip with no interface index counts: it can only be the
// container's), and the MAC it reports for it ("" if none).
void ExpectedOnIface(const cni::Result& r, const std::string& ifname,
                     std::vector<std::string>& addrs, std::string& mac, bool& listed) {
  listed = false;
  for (const cni::Interface& i : r.interfaces) {
    if (i.name == ifname && !i.sandbox.empty()) {
      mac = i.mac;
      listed = true;
    }
  }
  for (const cni::IpConfig& ip : r.ips) {
    if (ip.interface && *ip.interface >= 0 &&
        *ip.interface < static_cast<int>(r.interfaces.size())) {
      const cni::Interface& i = r.interfaces[*ip.interface];
      if (i.name != ifname || i.sandbox.empty()) continue;
    }
    addrs.push_back(ip.address);
  }
}

// --- reports
// --------------------------------------------------------------------------------------------

void Fail(cni::CheckReport& r, const std::string& text) {
  r.outcome = cni::Outcome::kFail;
  StrAppend(&r.evidence, text, text.empty() || text.back() == '\n' ? "" : "\n");
}
void Skip(cni::CheckReport& r, const std::string& why) {
  if (r.outcome == cni::Outcome::kFail) return;
  r.outcome = cni::Outcome::kSkip;
  r.evidence = why;
}

std::vector<int> OkPods(const Ctx& c) {
  std::vector<int> out;
  for (size_t i = 0; i < c.pods.size(); ++i) {
    if (c.pods[i].error.empty() && !c.pods[i].ip.empty()) out.push_back(static_cast<int>(i));
  }
  return out;
}

bool ChainHas(const Ctx& c, const std::string& type) {
  for (const cni::PluginConf& p : c.nodes[0].cni->config().list.plugins) {
    if (p.type == type) return true;
  }
  return false;
}

// Whether a plugin of the chain declares capability `cap` (what the runtime's capability args go
// to).
bool ChainHasCapability(const Ctx& c, const std::string& cap) {
  for (const cni::PluginConf& p : c.nodes[0].cni->config().list.plugins) {
    if (std::find(p.capabilities.begin(), p.capabilities.end(), cap) != p.capabilities.end())
      return true;
  }
  return false;
}

// Add that records the plugin errors seen; "" or what went wrong, with the calls.
std::string AddPod(Ctx& c, CniNode& n, const cni::RuntimeConf& rt, const std::string& what,
                   json* result = nullptr) {
  ChainOutcome o = n.Add(rt);
  NoteErrors(c, o.calls, what);
  if (o.status.ok()) {
    if (result) *result = o.result;
    return "";
  }
  return StrCat(what, ": ADD failed: ", o.status.message(), "\n", ShowCalls(o.calls));
}
std::string DelPod(Ctx& c, CniNode& n, const cni::RuntimeConf& rt, const std::string& what) {
  ChainOutcome o = n.Del(rt);
  NoteErrors(c, o.calls, what);
  if (o.status.ok()) return "";
  return StrCat(what, ": DEL failed: ", o.status.message(), "\n", ShowCalls(o.calls));
}

// --- spec checks
// ----------------------------------------------------------------------------------------

void CheckVersion(Ctx& c, cni::CheckReport& r) {
  for (NodeCtx& n : c.nodes) {
    ChainOutcome o = n.cni->Version();
    const std::string& want = n.cni->config().list.cni_version;
    for (const PluginCall& call : o.calls) {
      json j = json::parse(call.exec.stdout_data, nullptr, false);
      if (!call.status.ok() || !j.is_object() || !j.contains("supportedVersions") ||
          !j["supportedVersions"].is_array()) {
        Fail(r,
             StrCat("node ", n.name, ": plugin \"", call.plugin,
                    "\": VERSION gave no supportedVersions list\n", Trim(FormatCalls({call}), 20)));
        continue;
      }
      bool has = false;
      for (const json& v : j["supportedVersions"])
        has = has || (v.is_string() && v.get<std::string>() == want);
      if (!has) {
        Fail(r, StrCat("node ", n.name, ": plugin \"", call.plugin, "\": supportedVersions ",
                       j["supportedVersions"].dump(), " does not list the conflist's cniVersion ",
                       want));
      }
    }
    if (r.outcome == cni::Outcome::kFail)
      return;  // one node says it all: every node runs the same binaries
  }
}

void CheckAdd(Ctx& c, cni::CheckReport& r) {
  for (const PodCtx& p : c.pods) {
    if (!p.error.empty())
      Fail(r, StrCat("pod ", p.name, " (node ", c.nodes[p.node].name, "): ", Trim(p.error, 20)));
  }
}

void CheckAddResult(Ctx& c, cni::CheckReport& r) {
  for (const PodCtx& p : c.pods) {
    if (p.result.is_null()) continue;
    std::vector<std::string> bad = cni::ValidateResult(p.result, c.version(p.node));
    if (bad.empty()) continue;
    Fail(r,
         StrCat("pod ", p.name, ": ADD result not valid for cniVersion ", c.version(p.node), ":"));
    for (const std::string& b : bad) Fail(r, StrCat("  ", b));
    Fail(r, StrCat("  result: ", Trim(p.result.dump(), 5)));
  }
  if (OkPods(c).empty()) Skip(r, "no pod's ADD succeeded (see spec.add)");
}

void CheckAddInterface(Ctx& c, cni::CheckReport& r) {
  for (const PodCtx& p : c.pods) {
    if (p.result.is_null()) continue;
    const std::string& ifname = c.nodes[p.node].ifname;
    absl::StatusOr<cni::Result> res = cni::ParseResult(p.result.dump(), c.version(p.node));
    if (!res.ok()) {
      Fail(r, StrCat("pod ", p.name, ": ADD result unreadable: ", res.status().message()));
      continue;
    }
    std::vector<std::string> want;
    std::string mac;
    bool listed = false;
    ExpectedOnIface(*res, ifname, want, mac, listed);
    absl::StatusOr<IfaceSeen> seen = SeeIface(p.fd.get(), ifname);
    if (!seen.ok()) {
      Fail(r, StrCat("pod ", p.name, ": expected interface ", ifname, " (CNI_IFNAME) in the pod; ",
                     seen.status().message()));
      continue;
    }
    if (!listed && cni::CompareVersions(c.version(p.node), "0.3.0") >= 0) {
      Fail(r,
           StrCat("pod ", p.name, ": the result's interfaces list no ", ifname, " with a sandbox"));
    }
    if (!mac.empty() && !absl::EqualsIgnoreCase(mac, seen->mac)) {
      Fail(r, StrCat("pod ", p.name, ": result says ", ifname, " has MAC ", mac, ", the pod's ",
                     ifname, " has ", seen->mac));
    }
    for (const std::string& a : want) {
      if (std::find(seen->addrs.begin(), seen->addrs.end(), a) == seen->addrs.end()) {
        Fail(r, StrCat("pod ", p.name, ": result says ", ifname, " has ", a, ", the pod's ", ifname,
                       " has [", absl::StrJoin(seen->addrs, ", "), "]"));
      }
    }
  }
  if (OkPods(c).empty()) Skip(r, "no pod's ADD succeeded (see spec.add)");
}

std::string NoCheckReason(const Ctx& c, int node) {
  if (c.nodes[node].cni->config().list.disable_check) return "the conflist says disableCheck";
  if (!cni::SupportsCheck(c.version(node)))
    return StrCat("cniVersion ", c.version(node), " has no CHECK (0.4.0+)");
  return "";
}

void CheckCheckPass(Ctx& c, cni::CheckReport& r) {
  if (std::string why = NoCheckReason(c, 0); !why.empty()) return Skip(r, why);
  for (PodCtx& p : c.pods) {
    if (p.result.is_null()) continue;
    ChainOutcome o = c.nodes[p.node].cni->Check(p.rt);
    NoteErrors(c, o.calls, StrCat("pod ", p.name));
    if (!o.status.ok()) {
      Fail(r, StrCat("pod ", p.name, ": CHECK after a successful ADD failed: ", o.status.message(),
                     "\n", ShowCalls(o.calls)));
    }
  }
  if (OkPods(c).empty()) Skip(r, "no pod's ADD succeeded (see spec.add)");
}

void CheckCheckTamper(Ctx& c, cni::CheckReport& r) {
  if (std::string why = NoCheckReason(c, 0); !why.empty()) return Skip(r, why);
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "tamper");
  if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
  json res;
  if (std::string e = AddPod(c, n, (*tp)->rt, "test pod", &res); !e.empty()) return Fail(r, e);
  absl::StatusOr<PodAddress> a = PodAddressFromResult(res, (*tp)->rt.ifname);
  if (!a.ok()) {
    Fail(r, StrCat("test pod: ", a.status().message()));
  } else {
    std::string cidr = StrCat(a->ip, "/", a->prefix_len);
    Out del = Run((*tp)->fd.get(), {"ip", "addr", "del", cidr, "dev", (*tp)->rt.ifname});
    if (!del.ok) {
      Fail(r, StrCat("could not tamper with the test pod: ", del.Say()));
    } else {
      ChainOutcome o = n.Check((*tp)->rt);
      NoteErrors(c, o.calls, "test pod");
      if (o.status.ok()) {
        Fail(r, StrCat("expected CHECK to fail after ", cidr, " was removed from the pod's ",
                       (*tp)->rt.ifname, "; every plugin answered CHECK with success\n",
                       ShowCalls(o.calls)));
      } else {
        // The failing call's output must be a spec error object.
        for (const PluginCall& call : o.calls) {
          if (call.status.ok()) continue;
          json j = json::parse(call.exec.stdout_data, nullptr, false);
          std::vector<std::string> bad = j.is_discarded()
                                             ? std::vector<std::string>{"stdout is not JSON"}
                                             : cni::ValidateError(j);
          if (!bad.empty()) {
            Fail(r, StrCat("CHECK failed as it should, but not with a well-formed error: ",
                           absl::StrJoin(bad, "; "), "\n", Trim(FormatCalls({call}), 20)));
          }
          break;
        }
      }
    }
  }
  if (std::string e = DelPod(c, n, (*tp)->rt, "test pod"); !e.empty()) Fail(r, e);
}

void CheckDelClean(Ctx& c, cni::CheckReport& r) {
  CniNode& n = *c.nodes[0].cni;
  // Warm-up, in a pod of its own kept until the end (what it may leak is in both snapshots, and
  // the kernel does not remove its links between them): what a plugin keeps for all pods (cni0,
  // a lock file) exists before the measured ADD.
  absl::StatusOr<std::unique_ptr<TestPod>> warm = TestPod::Make(c, 0, "warmup");
  if (!warm.ok()) return Fail(r, std::string(warm.status().message()));
  if (std::string e = AddPod(c, n, (*warm)->rt, "warm-up pod"); !e.empty()) return Fail(r, e);
  if (std::string e = DelPod(c, n, (*warm)->rt, "warm-up pod"); !e.empty()) return Fail(r, e);
  absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "clean");
  if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
  TestPod& p = **tp;
  absl::StatusOr<cni::Snapshot> before = Snap(c, 0, p.fd.get());
  if (!before.ok()) return Fail(r, std::string(before.status().message()));
  if (std::string e = AddPod(c, n, p.rt, "test pod"); !e.empty()) return Fail(r, e);
  ChainOutcome del = n.Del(p.rt);
  NoteErrors(c, del.calls, "test pod");
  if (!del.status.ok())
    return Fail(r, StrCat("DEL failed: ", del.status.message(), "\n", ShowCalls(del.calls)));
  absl::StatusOr<cni::Snapshot> after = Snap(c, 0, p.fd.get());
  if (!after.ok()) return Fail(r, std::string(after.status().message()));
  cni::SnapshotDiff d = cni::Diff(*before, *after);
  if (!d.empty()) {
    Fail(r, StrCat("expected node ", c.nodes[0].name,
                   " and the test pod as before ADD; after DEL (+ left, - gone):\n",
                   Trim(d.ToString(), 30), "the DEL calls:\n", ShowCalls(del.calls)));
  }
}

void CheckDelTwice(Ctx& c, cni::CheckReport& r) {
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "deltwice");
  if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
  if (std::string e = AddPod(c, n, (*tp)->rt, "test pod"); !e.empty()) return Fail(r, e);
  if (std::string e = DelPod(c, n, (*tp)->rt, "first DEL"); !e.empty()) return Fail(r, e);
  if (std::string e = DelPod(c, n, (*tp)->rt, "second DEL"); !e.empty())
    Fail(r, StrCat("expected a second DEL to succeed; ", e));
}

void CheckDelNetnsGone(Ctx& c, cni::CheckReport& r) {
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "nsgone");
  if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
  if (std::string e = AddPod(c, n, (*tp)->rt, "test pod"); !e.empty()) return Fail(r, e);
  (*tp)->RemoveNs();
  if (std::string e =
          DelPod(c, n, (*tp)->rt, StrCat("DEL with CNI_NETNS=", (*tp)->rt.netns, " removed"));
      !e.empty()) {
    Fail(r, StrCat("expected DEL to succeed after the pod's netns is gone; ", e));
  }
}

void CheckDelNoAdd(Ctx& c, cni::CheckReport& r) {
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "noadd");
  if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
  if (std::string e = DelPod(c, n, (*tp)->rt, "DEL of a container never added"); !e.empty()) {
    Fail(r, StrCat("expected DEL without a prior ADD to succeed; ", e));
  }
}

void CheckReadd(Ctx& c, cni::CheckReport& r) {
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "readd");
  if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
  if (std::string e = AddPod(c, n, (*tp)->rt, "first ADD"); !e.empty()) return Fail(r, e);
  if (std::string e = DelPod(c, n, (*tp)->rt, "DEL"); !e.empty()) return Fail(r, e);
  if (std::string e = AddPod(c, n, (*tp)->rt, "ADD after DEL of the same container"); !e.empty())
    return Fail(r, e);
  if (absl::StatusOr<IfaceSeen> s = SeeIface((*tp)->fd.get(), (*tp)->rt.ifname); !s.ok()) {
    Fail(r, StrCat("after ADD->DEL->ADD: ", s.status().message()));
  }
  if (std::string e = DelPod(c, n, (*tp)->rt, "final DEL"); !e.empty()) Fail(r, e);
}

void CheckConcurrent(Ctx& c, cni::CheckReport& r) {
  constexpr int kN = 8;
  CniNode& n = *c.nodes[0].cni;
  std::vector<std::unique_ptr<TestPod>> pods;
  for (int i = 0; i < kN; ++i) {
    absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "conc");
    if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
    pods.push_back(std::move(*tp));
  }
  std::vector<ChainOutcome> outs(kN);
  {
    std::vector<std::thread> ts;
    for (int i = 0; i < kN; ++i) ts.emplace_back([&, i] { outs[i] = n.Add(pods[i]->rt); });
    for (std::thread& t : ts) t.join();
  }
  std::map<std::string, std::vector<int>> by_ip;
  for (int i = 0; i < kN; ++i) {
    NoteErrors(c, outs[i].calls, StrCat("concurrent pod ", i));
    if (!outs[i].status.ok()) {
      Fail(r, StrCat("concurrent ADD ", i, " of ", kN, " failed: ", outs[i].status.message(), "\n",
                     ShowCalls(outs[i].calls)));
      continue;
    }
    absl::StatusOr<PodAddress> a = PodAddressFromResult(outs[i].result, pods[i]->rt.ifname);
    if (a.ok()) by_ip[a->ip].push_back(i);
  }
  for (const auto& [ip, who] : by_ip) {
    if (who.size() > 1) {
      std::vector<std::string> ids;
      for (int i : who) ids.push_back(pods[i]->rt.container_id);
      Fail(r, StrCat("expected unique IPs from ", kN, " concurrent ADDs on node ", c.nodes[0].name,
                     "; ", ip, " was given to ", who.size(), " pods: ", absl::StrJoin(ids, ", ")));
    }
  }
  for (int i = 0; i < kN; ++i) {
    if (std::string e = DelPod(c, n, pods[i]->rt, StrCat("concurrent pod ", i)); !e.empty())
      Fail(r, e);
  }
}

void CheckStatus(Ctx& c, cni::CheckReport& r) {
  if (!cni::SupportsStatusAndGc(c.version(0)))
    return Skip(r, StrCat("cniVersion ", c.version(0), " has no STATUS (1.1.0+)"));
  for (NodeCtx& n : c.nodes) {
    ChainOutcome o = n.cni->Status();
    NoteErrors(c, o.calls, StrCat("node ", n.name));
    if (!o.status.ok())
      Fail(r, StrCat("node ", n.name, ": STATUS failed: ", o.status.message(), "\n",
                     ShowCalls(o.calls)));
  }
}

// host-local's allocation files for `ip` under the node's own /var/lib/cni/networks/*/.
bool HasAllocation(const Ctx& c, int node, const std::string& ip) {
  std::string root =
      StrCat(NodeUpperDir(c.nodes[node].cni->config().state_dir, "/var/lib"), "/cni/networks");
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(root, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (std::filesystem::exists(it->path() / ip, ec)) return true;
  }
  return false;
}

void CheckGc(Ctx& c, cni::CheckReport& r) {
  if (!cni::SupportsStatusAndGc(c.version(0)))
    return Skip(r, StrCat("cniVersion ", c.version(0), " has no GC (1.1.0+)"));
  if (c.nodes[0].cni->config().list.disable_gc) return Skip(r, "the conflist says disableGC");
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "gc");
  if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
  json res;
  if (std::string e = AddPod(c, n, (*tp)->rt, "test pod", &res); !e.empty()) return Fail(r, e);
  absl::StatusOr<PodAddress> a = PodAddressFromResult(res, (*tp)->rt.ifname);
  std::vector<cni::Attachment> all, without;
  for (const cni::RuntimeConf& at : n.Attachments()) {
    all.push_back({at.container_id, at.ifname});
    if (at.container_id != (*tp)->rt.container_id) without.push_back({at.container_id, at.ifname});
  }
  bool tracked = a.ok() && HasAllocation(c, 0, a->ip);
  ChainOutcome keep = n.Gc(all);
  NoteErrors(c, keep.calls, "GC");
  if (!keep.status.ok()) {
    Fail(r, StrCat("GC with every attachment valid failed: ", keep.status.message(), "\n",
                   ShowCalls(keep.calls)));
  } else if (tracked && !HasAllocation(c, 0, a->ip)) {
    Fail(r, StrCat("GC released ", a->ip, " although its attachment ", (*tp)->rt.container_id,
                   " was in the valid list"));
  }
  for (const int i : OkPods(c)) {
    if (c.pods[i].node == 0 && HasAllocation(c, 0, c.pods[i].ip) == false && tracked) {
      Fail(r, StrCat("after GC the allocation of lab pod ", c.pods[i].name, " (", c.pods[i].ip,
                     ") is gone"));
    }
  }
  ChainOutcome drop = n.Gc(without);
  NoteErrors(c, drop.calls, "GC");
  if (!drop.status.ok()) {
    Fail(r, StrCat("GC without the test attachment failed: ", drop.status.message(), "\n",
                   ShowCalls(drop.calls)));
  } else if (!tracked) {
    if (r.outcome != cni::Outcome::kFail)
      r.evidence = "the IPAM keeps no allocation files: only GC's success was checked";
  } else if (HasAllocation(c, 0, a->ip)) {
    Fail(r, StrCat("expected GC to release ", a->ip, " of attachment ", (*tp)->rt.container_id,
                   " (not in the valid list); its allocation file is still there\n",
                   ShowCalls(drop.calls)));
  }
  (void)DelPod(c, n, (*tp)->rt, "test pod");
}

void CheckErrors(Ctx& c, cni::CheckReport& r) {
  // Provoke one: a second container's ADD into a netns whose CNI_IFNAME already exists.
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "errors");
  if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
  if (std::string e = AddPod(c, n, (*tp)->rt, "test pod"); !e.empty()) return Fail(r, e);
  cni::RuntimeConf dup = (*tp)->rt;
  dup.container_id += "-dup";
  for (auto& [k, v] : dup.args) {
    if (k == "K8S_POD_INFRA_CONTAINER_ID") v = dup.container_id;
  }
  ChainOutcome o = n.Add(dup);
  NoteErrors(c, o.calls, StrCat("ADD with ", dup.ifname, " already in the netns"));
  if (o.status.ok()) {
    Fail(r, StrCat("expected an error from ADD of a second container with CNI_IFNAME=", dup.ifname,
                   " already present in the netns; it succeeded\n", ShowCalls(o.calls)));
    (void)n.Del(dup);
  }
  (void)DelPod(c, n, (*tp)->rt, "test pod");
  int judged = 0;
  for (const auto& [where, out] : c.errors_seen) {
    ++judged;
    json j = json::parse(out, nullptr, false);
    std::vector<std::string> bad =
        j.is_discarded() ? std::vector<std::string>{"stdout is not a JSON error object"}
                         : cni::ValidateError(j);
    if (!bad.empty()) {
      Fail(r, StrCat(where, ": error not well-formed: ", absl::StrJoin(bad, "; "),
                     "\n  stdout: ", Trim(out.empty() ? "(empty)" : out, 5)));
    }
  }
  if (r.outcome != cni::Outcome::kFail) r.evidence = StrCat(judged, " plugin errors judged");
}

// --- the Kubernetes network model
// -----------------------------------------------------------------------

// The suite's servers in pod i: TCP and UDP on kTcpPort/kUdpPort, each answering "tcp|udp <peer
// IP>".
absl::Status EnsureServers(Ctx& c, int i) {
  if (c.servers.count(i)) return absl::OkStatus();
  std::string socat = FindTool("socat");
  if (socat.empty())
    return absl::FailedPreconditionError("socat is not installed (the suite's TCP/UDP servers)");
  ExecRequest req;
  req.binary = FindTool("sh");
  req.argv = {
      "sh", "-c",
      StrCat("socat TCP-LISTEN:", kTcpPort, ",reuseaddr,fork SYSTEM:'echo tcp $SOCAT_PEERADDR' & ",
             "exec socat UDP-RECVFROM:", kUdpPort, ",fork SYSTEM:'echo udp $SOCAT_PEERADDR'")};
  req.env = {StrCat("PATH=", cni::kPluginPath)};
  req.netns_fd = c.pods[i].fd.get();
  MKN_ASSIGN_OR_RETURN(pid_t pid, StartDaemon(req, "/dev/null"));
  c.servers[i] = pid;
  return absl::OkStatus();
}

// One probe from netns `from` to ip: "" if it answered (seen = the address the server saw), else
// why.
std::string Probe(int from, const std::string& proto, const std::string& ip,
                  std::string* seen = nullptr) {
  auto deadline = Clock::now() + std::chrono::seconds(5);
  Out last;
  do {
    if (proto == "icmp") {
      last = Run(from, {"ping", "-n", "-c1", "-w3", ip}, 5000);
      if (last.ok) return "";
      break;  // ping waited its own deadline
    }
    if (proto == "tcp") {
      last = Run(from,
                 {"socat", "-T3", "STDIO", StrCat("TCP:", ip, ":", kTcpPort, ",connect-timeout=2")},
                 5000);
    } else {
      last = Run(from, {"socat", "-T2", "-t1", "STDIO", StrCat("UDP:", ip, ":", kUdpPort)}, 4000,
                 "x\n");
    }
    std::string word = StrCat(proto, " ");
    if (last.ok && last.out.rfind(word, 0) == 0) {
      if (seen) {
        *seen = last.out.substr(word.size());
        while (!seen->empty() && (seen->back() == '\n' || seen->back() == '\r')) seen->pop_back();
      }
      return "";
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(100));  // the server may still be starting
  } while (Clock::now() < deadline);
  return last.Say();
}

// Pods for the model checks: a client, a server on its node, a server on another node.
struct Pair {
  int client = -1, same = -1, cross = -1;
};
Pair PickPods(const Ctx& c) {
  Pair p;
  std::vector<int> ok = OkPods(c);
  for (int a : ok) {
    for (int b : ok) {
      if (a == b) continue;
      if (c.pods[a].node == c.pods[b].node && p.same < 0 && (p.client < 0 || p.client == a)) {
        p.client = a;
        p.same = b;
      }
    }
  }
  if (p.client < 0 && !ok.empty()) p.client = ok[0];
  if (p.client >= 0) {
    for (int b : ok) {
      if (c.pods[b].node != c.pods[p.client].node) {
        p.cross = b;
        break;
      }
    }
  }
  return p;
}

void PodToPod(Ctx& c, cni::CheckReport& r, int client, int server, const std::string& where) {
  if (client < 0 || server < 0) return Skip(r, StrCat("the lab has no two wired pods ", where));
  if (absl::Status s = EnsureServers(c, server); !s.ok()) return Fail(r, std::string(s.message()));
  const PodCtx& a = c.pods[client];
  const PodCtx& b = c.pods[server];
  for (const char* proto : {"icmp", "tcp", "udp"}) {
    if (std::string e = Probe(a.fd.get(), proto, b.ip); !e.empty()) {
      Fail(r,
           StrCat(proto, " from pod ", a.name, " (", a.ip, ", ", c.nodes[a.node].name, ") to pod ",
                  b.name, " (", b.ip, ", ", c.nodes[b.node].name, "): no answer: ", e));
    }
  }
}

void CheckPodPodNode(Ctx& c, cni::CheckReport& r) {
  Pair p = PickPods(c);
  PodToPod(c, r, p.client, p.same, "on one node");
}
void CheckPodPodCross(Ctx& c, cni::CheckReport& r) {
  Pair p = PickPods(c);
  PodToPod(c, r, p.client, p.cross, "on two nodes");
}

void CheckSourceIp(Ctx& c, cni::CheckReport& r) {
  Pair p = PickPods(c);
  if (p.client < 0 || (p.same < 0 && p.cross < 0)) return Skip(r, "the lab has no two wired pods");
  const PodCtx& a = c.pods[p.client];
  for (int s : {p.same, p.cross}) {
    if (s < 0) continue;
    if (absl::Status st = EnsureServers(c, s); !st.ok()) return Fail(r, std::string(st.message()));
    for (const char* proto : {"tcp", "udp"}) {
      std::string seen;
      if (std::string e = Probe(a.fd.get(), proto, c.pods[s].ip, &seen); !e.empty()) {
        Fail(r, StrCat(proto, " to pod ", c.pods[s].name, ": no answer: ", e));
      } else if (seen != a.ip) {
        Fail(r, StrCat(proto, " from pod ", a.name, " to pod ", c.pods[s].name, " (",
                       c.nodes[c.pods[s].node].name,
                       "): expected the server to see the client's own IP ", a.ip, ", it saw ",
                       seen, " (NAT between pods)"));
      }
    }
  }
}

void CheckNodePod(Ctx& c, cni::CheckReport& r) {
  std::vector<int> ok = OkPods(c);
  if (ok.empty()) return Skip(r, "no pod's ADD succeeded (see spec.add)");
  for (int i : ok) {
    const PodCtx& p = c.pods[i];
    if (std::string e = Probe(c.nodes[p.node].cni->netns_fd(), "icmp", p.ip); !e.empty()) {
      Fail(r, StrCat("icmp from node ", c.nodes[p.node].name, " to its pod ", p.name, " (", p.ip,
                     "): no answer: ", e));
    }
  }
  Pair pp = PickPods(c);
  for (int s : {pp.same, pp.cross}) {
    if (s < 0) continue;
    if (absl::Status st = EnsureServers(c, s); !st.ok()) return Fail(r, std::string(st.message()));
    const PodCtx& p = c.pods[s];
    if (std::string e = Probe(c.nodes[p.node].cni->netns_fd(), "tcp", p.ip); !e.empty()) {
      Fail(r, StrCat("tcp from node ", c.nodes[p.node].name, " to its pod ", p.name, " (", p.ip,
                     "): no answer: ", e));
    }
  }
}

void CheckOwnIp(Ctx& c, cni::CheckReport& r) {
  std::vector<int> ok = OkPods(c);
  if (ok.empty()) return Skip(r, "no pod's ADD succeeded (see spec.add)");
  for (int i : ok) {
    const PodCtx& p = c.pods[i];
    absl::StatusOr<IfaceSeen> s = SeeIface(p.fd.get(), c.nodes[p.node].ifname);
    if (!s.ok()) {
      Fail(r, StrCat("pod ", p.name, ": ", s.status().message()));
      continue;
    }
    bool has = false;
    for (const std::string& a : s->addrs) has = has || a.substr(0, a.find('/')) == p.ip;
    if (!has) {
      Fail(r, StrCat("pod ", p.name, ": the result gives ", p.ip, ", its ", c.nodes[p.node].ifname,
                     " has [", absl::StrJoin(s->addrs, ", "), "]"));
    }
  }
  Pair pp = PickPods(c);
  int server = pp.cross >= 0 ? pp.cross : pp.same;
  if (server < 0) return;
  if (absl::Status st = EnsureServers(c, server); !st.ok())
    return Fail(r, std::string(st.message()));
  std::string seen;
  const PodCtx& a = c.pods[pp.client];
  if (std::string e = Probe(a.fd.get(), "tcp", c.pods[server].ip, &seen); !e.empty()) {
    Fail(r, StrCat("tcp to pod ", c.pods[server].name, ": no answer: ", e));
  } else if (seen != a.ip) {
    Fail(r, StrCat("pod ", a.name, " has ", a.ip, " on its interface, pod ", c.pods[server].name,
                   " sees it as ", seen));
  }
}

void CheckMtu(Ctx& c, cni::CheckReport& r) {
  Pair p = PickPods(c);
  if (p.cross < 0) return Skip(r, "the lab has no two wired pods on two nodes");
  const PodCtx& a = c.pods[p.client];
  const PodCtx& b = c.pods[p.cross];
  absl::StatusOr<IfaceSeen> s = SeeIface(a.fd.get(), c.nodes[a.node].ifname);
  if (!s.ok() || s->mtu <= 28)
    return Fail(r, StrCat("pod ", a.name, ": cannot read its interface MTU"));
  Out fit =
      Run(a.fd.get(),
          {"ping", "-n", "-c1", "-w3", "-M", "do", "-s", std::to_string(s->mtu - 28), b.ip}, 5000);
  if (!fit.ok) {
    Fail(r, StrCat("pod ", a.name, "'s ", c.nodes[a.node].ifname, " has MTU ", s->mtu, ", but a ",
                   s->mtu, "-byte packet with DF set did not reach pod ", b.name, " on ",
                   c.nodes[b.node].name,
                   " (the path across nodes is narrower: the plugin should set a smaller MTU): ",
                   fit.Say()));
  }
  Out over =
      Run(a.fd.get(),
          {"ping", "-n", "-c1", "-w2", "-M", "do", "-s", std::to_string(s->mtu - 27), b.ip}, 4000);
  if (over.ok) {
    Fail(r, StrCat("a ", s->mtu + 1, "-byte packet with DF set crossed an interface of MTU ",
                   s->mtu, ": ", over.Say()));
  }
}

void CheckService(Ctx& c, cni::CheckReport& r) {
  Pair pp = PickPods(c);
  if (pp.client < 0) return Skip(r, "no pod's ADD succeeded (see spec.add)");
  const PodCtx& a = c.pods[pp.client];
  int probed = 0;
  for (const config::ServiceSpec& svc : c.spec.services) {
    if (svc.cluster_ip.ToString() == "0.0.0.0" || svc.endpoints.empty()) continue;
    std::set<std::string> eps;
    bool http = true, udp_echo = true;
    for (int e : svc.endpoints) {
      eps.insert(c.spec.pods[e].name);
      bool has_http = false, has_udp = false;
      for (const config::ContainerSpec& ct : c.spec.pods[e].containers) {
        has_http = has_http || ct.app == config::AppKind::kHttpEcho;
        has_udp = has_udp || ct.app == config::AppKind::kUdpEcho;
      }
      http = http && has_http;
      udp_echo = udp_echo && has_udp;
    }
    for (const config::ServicePortSpec& port : svc.ports) {
      std::string addr = StrCat(svc.cluster_ip.ToString(), ":", port.port);
      if (port.protocol == config::Protocol::kUdp) {
        if (!udp_echo) continue;  // only udp-echo says whether a datagram arrived
        ++probed;
        const std::string msg = "mkn-verify\n";
        Out o;
        for (int attempt = 0; attempt < 3 && !(o.ok && o.out == msg); ++attempt) {
          o = Run(a.fd.get(), {"socat", "-T2", "-t1", "STDIO", StrCat("UDP:", addr)}, 4000, msg);
        }
        if (!o.ok || o.out != msg) {
          Fail(r, StrCat("service ", svc.name, " (udp ", addr, ") from pod ", a.name,
                         ": expected udp-echo's echo \"mkn-verify\"; ", o.Say(),
                         o.ok ? StrCat(" (got \"", o.out, "\")") : ""));
        }
        continue;
      }
      ++probed;
      if (!http) {
        Out o =
            Run(a.fd.get(),
                {"socat", "-T2", "/dev/null", StrCat("TCP:", addr, ",connect-timeout=2")}, 4000);
        if (!o.ok)
          Fail(r, StrCat("service ", svc.name, " (", addr, ") from pod ", a.name,
                         ": no connection: ", o.Say()));
        continue;
      }
      Out o = Run(a.fd.get(), {"curl", "-sS", "-m3", StrCat("http://", addr, "/")}, 5000);
      std::string pod;
      if (size_t at = o.out.find("pod: "); at != std::string::npos)
        pod = o.out.substr(at + 5, o.out.find('\n', at) - at - 5);
      if (!o.ok) {
        Fail(r, StrCat("service ", svc.name, " (", addr, ") from pod ", a.name,
                       ": no answer: ", o.Say()));
      } else if (!eps.count(pod)) {
        Fail(r, StrCat("service ", svc.name, " (", addr,
                       "): expected an answer from one of its endpoints [",
                       absl::StrJoin(eps, ", "), "], got from \"", pod, "\""));
      }
    }
  }
  if (probed == 0)
    Skip(r, "the lab has no ClusterIP Service with endpoints (TCP, or UDP to udp-echo)");
}

// Whether one of the pod's containers is the lab's udp-echo app on UDP `port` (what a UDP hostPort
// probe needs to get an answer from).
bool ServesUdpEcho(const config::PodSpec& ps, int port) {
  for (const config::ContainerSpec& ct : ps.containers) {
    if (ct.app != config::AppKind::kUdpEcho) continue;
    for (const config::ContainerPort& cp : ct.ports) {
      if (cp.port == port && cp.protocol == config::Protocol::kUdp) return true;
    }
  }
  return false;
}

void CheckHostPort(Ctx& c, cni::CheckReport& r) {
  // portmap, or a plugin of its own that takes the portMappings capability as portmap does.
  if (!ChainHas(c, "portmap") && !ChainHasCapability(c, "portMappings"))
    return Skip(r, "no plugin of the chain is portmap or takes the portMappings capability");
  int probed = 0, probed_udp = 0;
  for (int i : OkPods(c)) {
    const PodCtx& p = c.pods[i];
    const config::PodSpec& ps = c.spec.pods[p.spec_index];
    for (const config::PortMappingSpec& m : ps.cni.port_mappings) {
      // TCP: a connection through the mapping (the pod's app accepts it). UDP: a datagram through
      // it and its echo back, where the pod runs udp-echo on the container port (nothing else is
      // known to answer).
      const bool udp = m.protocol == "udp";
      if (!udp && m.protocol != "tcp") continue;
      if (udp && !ServesUdpEcho(ps, m.container_port)) continue;
      int from = p.node;
      for (size_t n = 0; n < c.nodes.size(); ++n) {
        if (static_cast<int>(n) != p.node) from = static_cast<int>(n);
      }
      std::string addr = StrCat(c.nodes[p.node].underlay_ip, ":", m.host_port);
      ++probed;
      if (udp) {
        ++probed_udp;
        const std::string probe = StrCat("mkn-hostport ", p.name, "\n");
        Out o = Run(c.nodes[from].cni->netns_fd(),
                    {"socat", "-T2", "-t1", "STDIO", StrCat("UDP:", addr)}, 4000, probe);
        if (!o.ok || o.out.find(probe) == std::string::npos) {
          Fail(r, StrCat("UDP hostPort ", addr, " -> pod ", p.name, ":", m.container_port,
                         " from node ", c.nodes[from].name, ": expected the datagram echoed back; ",
                         o.Say()));
        }
        continue;
      }
      Out o = Run(c.nodes[from].cni->netns_fd(),
                  {"socat", "-T2", "/dev/null", StrCat("TCP:", addr, ",connect-timeout=2")}, 4000);
      if (!o.ok) {
        Fail(r, StrCat("hostPort ", addr, " -> pod ", p.name, ":", m.container_port, " from node ",
                       c.nodes[from].name, ": no connection: ", o.Say()));
      }
    }
  }
  if (probed == 0) {
    Skip(r, "no pod has a TCP port_mappings entry, or a UDP one to udp-echo");
  } else if (r.outcome != cni::Outcome::kFail) {
    r.evidence = StrCat(probed, " mapping(s) probed from another node (", probed_udp, " UDP)");
  }
}

void CheckBandwidth(Ctx& c, cni::CheckReport& r) {
  if (!ChainHas(c, "bandwidth")) return Skip(r, "the chain has no bandwidth plugin");
  if (FindTool("iperf3").empty()) return Skip(r, "iperf3 is not installed");
  Pair pp = PickPods(c);
  int probed = 0;
  for (int i : OkPods(c)) {
    const config::PodSpec& ps = c.spec.pods[c.pods[i].spec_index];
    if (!ps.cni.bandwidth) continue;
    int client = -1;
    for (int j : OkPods(c)) {
      if (j != i) client = j;
    }
    if (client < 0) continue;
    const PodCtx& p = c.pods[i];
    for (int dir = 0; dir < 2; ++dir) {  // 0: into the pod (ingress), 1: out of it (egress)
      int64_t rate = dir == 0 ? ps.cni.bandwidth->ingress_rate : ps.cni.bandwidth->egress_rate;
      if (rate <= 0) continue;
      ++probed;
      ExecRequest req;
      req.binary = FindTool("iperf3");
      // A port per direction: the first direction's one-off server may still be exiting.
      const std::string port = std::to_string(kIperfPort + dir);
      req.argv = {"iperf3", "-s", "-1", "-p", port};
      req.env = {StrCat("PATH=", cni::kPluginPath)};
      req.netns_fd = p.fd.get();
      absl::StatusOr<pid_t> srv = StartDaemon(req, "/dev/null");
      if (!srv.ok()) return Fail(r, std::string(srv.status().message()));
      std::vector<std::string> argv = {"iperf3", "-c", p.ip, "-p", port, "-t", "3", "-J"};
      if (dir == 1) argv.push_back("-R");
      Out o;
      double bps = 0;
      // Until the server listens (bounded: ~3 s of tries). iperf3 -J reports a refused or busy
      // server in its JSON "error" with exit status 0 on some versions: judge by the rate.
      for (int attempt = 0; attempt < 30; ++attempt) {
        o = Run(c.pods[client].fd.get(), argv, 10000);
        json j = json::parse(o.out, nullptr, false);
        if (j.is_object() && j.contains("end") && j["end"].contains("sum_received"))
          bps = j["end"]["sum_received"].value("bits_per_second", 0.0);
        bool not_yet = j.is_object() && j.contains("error") && j["error"].is_string() &&
                       j["error"].get<std::string>().find("connect") != std::string::npos;
        if (bps > 0 || !(not_yet || o.out.find("Connection refused") != std::string::npos)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      (void)StopDaemon(*srv, std::chrono::milliseconds(500));
      const char* what = dir == 0 ? "ingress" : "egress";
      if (!o.ok || bps <= 0) {
        Fail(r, StrCat("pod ", p.name, " ", what, ": iperf3 gave no rate: ", o.Say()));
      } else if (bps < rate * 0.7 || bps > rate * 1.3) {
        Fail(r, StrCat("pod ", p.name, " ", what, " limit ", rate, " bit/s: measured ",
                       static_cast<int64_t>(bps), " bit/s over 3 s (outside +-30%)"));
      } else {
        StrAppend(&r.evidence, "pod ", p.name, " ", what, ": limit ", rate, " bit/s, measured ",
                  static_cast<int64_t>(bps), " bit/s\n");
      }
    }
  }
  (void)pp;
  if (probed == 0) Skip(r, "no pod has a bandwidth limit");
}

// --- churn
// ----------------------------------------------------------------------------------------------

void CheckChurn(Ctx& c, cni::CheckReport& r) {
  const int n_pods = std::max(1, c.opt.churn_pods), rounds = std::max(1, c.opt.churn_rounds);
  CniNode& n = *c.nodes[0].cni;
  std::vector<std::unique_ptr<TestPod>> pods;
  for (int i = 0; i < n_pods; ++i) {
    absl::StatusOr<std::unique_ptr<TestPod>> tp = TestPod::Make(c, 0, "churn");
    if (!tp.ok()) return Fail(r, std::string(tp.status().message()));
    pods.push_back(std::move(*tp));
  }
  absl::StatusOr<std::unique_ptr<TestPod>> warm =
      TestPod::Make(c, 0, "warmup");  // as in spec.del.clean
  if (!warm.ok()) return Fail(r, std::string(warm.status().message()));
  if (std::string e = AddPod(c, n, (*warm)->rt, "warm-up pod"); !e.empty()) return Fail(r, e);
  if (std::string e = DelPod(c, n, (*warm)->rt, "warm-up pod"); !e.empty()) return Fail(r, e);
  absl::StatusOr<cni::Snapshot> base = Snap(c, 0, -1);
  if (!base.ok()) return Fail(r, std::string(base.status().message()));
  const size_t base_cache = n.Attachments().size();
  std::string times;
  for (int round = 1; round <= rounds; ++round) {
    if (StopRequested()) {
      Fail(r, StrCat("interrupted before round ", round));
      break;
    }
    auto t0 = Clock::now();
    int failed = 0;
    for (auto& p : pods) {
      if (std::string e = AddPod(c, n, p->rt, StrCat("round ", round, " ", p->rt.container_id));
          !e.empty()) {
        if (failed++ == 0) Fail(r, e);
      }
    }
    for (auto& p : pods) {
      if (std::string e = DelPod(c, n, p->rt, StrCat("round ", round, " ", p->rt.container_id));
          !e.empty()) {
        if (failed++ == 0) Fail(r, e);
      }
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    char buf[64];
    snprintf(buf, sizeof buf, "%.2fs", s);
    StrAppend(&times, times.empty() ? "" : ", ", "round ", round, " ", buf);
    if (failed > 0) {
      Fail(r, StrCat("round ", round, ": ", failed, " of ", 2 * n_pods, " calls failed"));
      break;
    }
    absl::StatusOr<cni::Snapshot> now = Snap(c, 0, -1);
    if (!now.ok()) return Fail(r, std::string(now.status().message()));
    cni::SnapshotDiff d = cni::Diff(*base, *now);
    size_t cache = n.Attachments().size();
    if (!d.empty() || cache != base_cache) {
      Fail(r, StrCat("after round ", round, " (", n_pods, " pods ADDed then DELeted on ",
                     c.nodes[0].name, ") expected the node as before; left (+) or gone (-):\n",
                     Trim(d.ToString(), 30),
                     cache != base_cache
                         ? StrCat("cache entries: ", base_cache, " before, ", cache, " after\n")
                         : ""));
      break;
    }
  }
  StrAppend(&r.evidence, n_pods, " pods x ", rounds, " rounds: ", times);
}

// --- the table of checks
// --------------------------------------------------------------------------------

struct CheckDef {
  CheckInfo info;
  void (*run)(Ctx&, cni::CheckReport&);
};

const std::vector<CheckDef>& Defs() {
  static const std::vector<CheckDef> defs = {
      {{"spec.version", "VERSION lists the conflist's cniVersion", "SPEC.md §2 VERSION"},
       CheckVersion},
      {{"spec.add", "ADD succeeds for every pod of the lab", "SPEC.md §2 ADD"}, CheckAdd},
      {{"spec.add.result", "ADD result valid for its cniVersion", "SPEC.md §5 ADD Success"},
       CheckAddResult},
      {{"spec.add.interface", "CNI_IFNAME in the pod has the reported MAC and addresses",
        "SPEC.md §2 ADD, §5 interfaces/ips"},
       CheckAddInterface},
      {{"spec.check.pass", "CHECK passes after ADD", "SPEC.md §2 CHECK"}, CheckCheckPass},
      {{"spec.check.tamper", "CHECK fails with a spec error once the pod's address is removed",
        "SPEC.md §2 CHECK"},
       CheckCheckTamper},
      {{"spec.del.clean", "DEL removes everything ADD added (node and pod)", "SPEC.md §2 DEL"},
       CheckDelClean},
      {{"spec.del.twice", "DEL twice succeeds", "SPEC.md §2 DEL (idempotent)"}, CheckDelTwice},
      {{"spec.del.netns-gone", "DEL succeeds after the pod's netns is gone",
        "SPEC.md §2 DEL (CNI_NETNS may be gone)"},
       CheckDelNetnsGone},
      {{"spec.del.no-add", "DEL without a prior ADD succeeds",
        "SPEC.md §2 DEL (resources missing)"},
       CheckDelNoAdd},
      {{"spec.readd", "ADD -> DEL -> ADD of the same container works", "SPEC.md §3 lifecycle"},
       CheckReadd},
      {{"spec.add.concurrent", "8 concurrent ADDs on one node get unique IPs",
        "SPEC.md §3 lifecycle (parallel containers)"},
       CheckConcurrent},
      {{"spec.status", "STATUS succeeds", "SPEC.md §2 STATUS (1.1.0)"}, CheckStatus},
      {{"spec.gc", "GC keeps valid attachments, releases the others", "SPEC.md §2 GC (1.1.0)"},
       CheckGc},
      {{"spec.errors", "every plugin error is a well-formed error object", "SPEC.md §5 Error"},
       CheckErrors},
      {{"model.pod-pod.node", "pod <-> pod on one node (ICMP, TCP, UDP)",
        "k8s network model rule 1"},
       CheckPodPodNode},
      {{"model.pod-pod.cross", "pod <-> pod across nodes (ICMP, TCP, UDP)",
        "k8s network model rule 1"},
       CheckPodPodCross},
      {{"model.source-ip", "the server sees the client pod's own IP (no NAT)",
        "k8s network model rule 1"},
       CheckSourceIp},
      {{"model.node-pod", "a node reaches each of its pods", "k8s network model rule 2"},
       CheckNodePod},
      {{"model.own-ip", "a pod's own IP = the IP others see = the result's",
        "k8s network model rule 3"},
       CheckOwnIp},
      {{"model.mtu", "a DF packet of the pod MTU crosses nodes", "RFC 1191 path MTU, k8s rule 1"},
       CheckMtu},
      {{"model.service", "ClusterIP Services reach plugin-wired pods", "k8s Service (ClusterIP)"},
       CheckService},
      {{"model.hostport", "hostPort reaches the pod from another node",
        "CNI CONVENTIONS.md portMappings"},
       CheckHostPort},
      {{"model.bandwidth", "the pod's bandwidth limit is enforced (+-30%)",
        "CNI CONVENTIONS.md bandwidth"},
       CheckBandwidth},
      {{"churn", "N pods x R rounds of ADD then DEL leave nothing behind",
        "SPEC.md §2 ADD/DEL (issue 7 churn)"},
       CheckChurn},
  };
  return defs;
}

bool Selected(const std::string& id, const VerifyOptions& o) {
  if (!o.only.empty() && !cni::MatchesSelector(id, o.only)) return false;
  return !cni::MatchesSelector(id, o.skip);
}

absl::Status BuildCtx(Ctx& c, RunningCluster& rc) {
  c.st = rc.state();
  for (size_t i = 0; i < c.st.nodes.size(); ++i) {
    NodeCtx n;
    n.name = c.st.nodes[i].name;
    n.netns = c.st.nodes[i].netns;
    n.underlay_ip = c.st.nodes[i].underlay_ip;
    n.ifname = i < c.spec.nodes.size() ? c.spec.nodes[i].cni.ifname : std::string(net::kPodIf);
    MKN_ASSIGN_OR_RETURN(n.cni,
                         CniNode::Reopen(StrCat(StateDirOf(c.st.cluster), "/nodes/", n.name)));
    c.nodes.push_back(std::move(n));
  }
  if (c.nodes.empty()) return absl::FailedPreconditionError("the lab has no nodes");
  for (const PodState& ps : c.st.pods) {
    PodCtx p;
    p.name = ps.name;
    p.netns = ps.netns;
    p.ip = ps.ip == "0.0.0.0" ? "" : ps.ip;
    p.error = ps.error;
    for (size_t i = 0; i < c.nodes.size(); ++i) {
      if (c.nodes[i].name == ps.node) p.node = static_cast<int>(i);
    }
    for (size_t i = 0; i < c.spec.pods.size(); ++i) {
      if (c.spec.pods[i].name == ps.name) p.spec_index = static_cast<int>(i);
    }
    if (p.spec_index < 0) continue;
    MKN_ASSIGN_OR_RETURN(p.fd, OpenNetns(ps.netns));
    p.rt = PodRuntimeConf(c.spec, c.spec.pods[p.spec_index]);
    p.rt.ifname = c.nodes[p.node].ifname;
    for (const cni::RuntimeConf& a : c.nodes[p.node].cni->Attachments()) {
      if (a.container_id == ps.netns) p.rt = a;
    }
    if (p.error.empty()) {
      absl::StatusOr<json> cached = c.nodes[p.node].cni->CachedResult(p.rt);
      if (cached.ok()) p.result = *cached;
    }
    c.pods.push_back(std::move(p));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<CheckInfo>& VerifyChecks() {
  static const std::vector<CheckInfo> infos = [] {
    std::vector<CheckInfo> v;
    for (const CheckDef& d : Defs()) v.push_back(d.info);
    return v;
  }();
  return infos;
}

absl::StatusOr<std::vector<cni::CheckReport>> RunVerify(const config::ClusterSpec& spec,
                                                        const VerifyOptions& options) {
  if (!spec.cni_mode)
    return absl::InvalidArgumentError(StrCat(options.lab_path, ": not a network = \"cni\" lab"));
  UpOptions up;
  up.lab_path = std::filesystem::absolute(options.lab_path).string();
  up.strict = false;
  absl::StatusOr<std::unique_ptr<RunningCluster>> rc = RunningCluster::Up(spec, up);
  if (!rc.ok())
    return absl::Status(rc.status().code(), StrCat("up ", spec.name, ": ", rc.status().message()));
  std::vector<cni::CheckReport> reports;
  bool interrupted = false;
  {
    Ctx c(spec, options);
    absl::Status built = BuildCtx(c, **rc);
    if (!built.ok()) {
      (void)(*rc)->Down();
      return absl::Status(built.code(), StrCat("verify ", spec.name, ": ", built.message()));
    }
    for (const CheckDef& d : Defs()) {
      if (!Selected(d.info.id, options)) continue;
      if (StopRequested()) {
        interrupted = true;
        break;
      }
      cni::CheckReport r;
      r.id = d.info.id;
      r.title = d.info.title;
      r.source = d.info.source;
      auto t0 = Clock::now();
      d.run(c, r);
      r.duration = Clock::now() - t0;
      if (options.progress) options.progress(r);
      reports.push_back(std::move(r));
    }
    for (auto& [pod, pid] : c.servers) (void)StopDaemon(pid, std::chrono::milliseconds(500));
  }
  if (options.keep && !interrupted) {
    if (options.kept) options.kept(reports);
    sigset_t sigs;
    sigemptyset(&sigs);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&sigs, s);
    siginfo_t info;
    while (sigwaitinfo(&sigs, &info) < 0) {
    }
  }
  absl::StatusOr<TeardownReport> down = (*rc)->Down();
  if (!down.ok())
    return absl::Status(down.status().code(),
                        StrCat("down ", spec.name, ": ", down.status().message()));
  if (interrupted) {
    return absl::CancelledError(
        StrCat("interrupted after ", reports.size(), " checks; the lab is down"));
  }
  return reports;
}

}  // namespace mkn::vnet
