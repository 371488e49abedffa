#include "vnet/cluster/client.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "lib/cni/invoke.h"
#include "lib/config/mutate.h"
#include "lib/config/toml/load.h"
#include "lib/control/usage.h"
#include "lib/net/naming.h"
#include "lib/netpol/nft.h"
#include "lib/status/status.h"
#include "lib/strings/edit_distance.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/exec.h"
#include "vnet/cni/runtime.h"
#include "vnet/ebpf/cgroup.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/nft.h"

namespace mkn::vnet {
namespace {

// Appends every line of `path` to `out`, each after `prefix` (a missing file adds nothing).
void AppendLines(const std::string& path, const std::string& prefix, std::string& out) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) StrAppend(&out, prefix, line, "\n");
}

// What to add to "no cluster is up" in a terminal that is not in the sandbox the cluster runs in: a
// second terminal sees none of a sandbox's namespaces or state (ci/sandbox.sh records each running
// sandbox on the host, by the pid of its unshare).
std::string SandboxHint() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(std::string(net::kSandboxRunDir), ec)) {
    if (std::filesystem::exists(StrCat("/proc/", e.path().filename().string()), ec)) {
      return StrCat("; a sandbox is running: ", HowToRunHere().sandbox,
                    " --join opens a shell in it");
    }
  }
  return "";
}

}  // namespace

HowToRun HowToRunHere() {
  HowToRun h{"ci/sandbox.sh", "build/minikube-net", "examples"};
  std::error_code ec;
  const std::filesystem::path dir =
      std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec || ::access((dir / "minikube-net-sandbox").c_str(), X_OK) != 0) return h;
  h.sandbox = "minikube-net-sandbox";
  h.binary = "minikube-net";
  if (const std::filesystem::path ex = dir.parent_path() / "share/minikube-net/examples";
      std::filesystem::is_directory(ex, ec))
    h.examples = ex.string();
  return h;
}

absl::Status AsRuntimeFailure(const absl::Status& s) {
  if (absl::IsInvalidArgument(s) || absl::IsNotFound(s))
    return absl::FailedPreconditionError(s.message());
  return s;
}

absl::Status CheckPrivileges(std::string_view what) {
  if (HaveNetAdmin()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      StrCat("need CAP_NET_ADMIN and CAP_SYS_ADMIN to ", what, ": run as root or with sudo"));
}

absl::StatusOr<ClusterState> PickCluster(const std::string& name) {
  std::string c = name;
  if (const char* env = std::getenv("MKN_CLUSTER"); c.empty() && env != nullptr) c = env;
  if (c.empty()) {
    std::vector<std::string> all = ListClusters();
    if (all.empty()) {
      return absl::FailedPreconditionError(
          StrCat("no cluster is up (start one with: minikube-net up LAB.toml)", SandboxHint()));
    }
    if (all.size() > 1) {
      return absl::InvalidArgumentError(control::SeveralClustersUp(all));
    }
    c = all[0];
  } else if (std::vector<std::string> all = ListClusters();
             std::find(all.begin(), all.end(), c) == all.end()) {
    // Named, and not up: the user's word (exit 2), with the name that was probably meant.
    std::string hint = " (none is)" + SandboxHint();
    if (const std::string meant = control::Nearest(c, all); !meant.empty()) {
      hint = StrCat(" (did you mean \"", meant, "\"?)");
    } else if (!all.empty()) {
      hint = " (up:";
      for (const std::string& n : all) StrAppend(&hint, " ", n);
      hint += ")";
    }
    return absl::NotFoundError(StrCat("no cluster named ", c, " is up", hint));
  }
  absl::StatusOr<ClusterState> st = ReadState(c);
  if (!st.ok()) return AsRuntimeFailure(st.status());
  return st;
}

absl::StatusOr<std::string> ReadLogs(const ClusterState& s, const std::string& pod) {
  const std::string dir = StrCat(StateDirOf(s.cluster), "/logs/");
  std::string out;
  const PodState* p = s.FindPod(pod);
  if (p == nullptr && pod == "ingress") {  // the edge's access log: one line per request
    AppendLines(StrCat(dir, "ingress/access.log"), "", out);
    return out;
  }
  if (p == nullptr) {
    std::vector<std::string> names = {"ingress"};
    for (const PodState& ps : s.pods) names.push_back(ps.name);
    const std::string near = Closest(pod, names, 2);
    return absl::InvalidArgumentError(
        StrCat("no pod named ", pod, " in cluster ", s.cluster,
               near.empty() ? "" : StrCat(" (did you mean \"", near, "\"?)")));
  }
  for (const ContainerState& c : p->containers)
    AppendLines(StrCat(dir, pod, "/", c.name, ".log"), StrCat("[", c.name, "] "), out);
  return out;
}

absl::Status EnterNetnsOf(const ClusterState& s, const std::string& name) {
  std::string ns;
  if (const PodState* p = s.FindPod(name)) {
    ns = p->netns;
    ::setenv("POD_NAME", p->name.c_str(), 1);
    ::setenv("POD_IP", p->ip.c_str(), 1);
    ::setenv("NODE_NAME", p->node.c_str(), 1);
  } else {
    for (const NodeState& n : s.nodes) {
      if (n.name == name) ns = n.netns;
    }
    for (const RouterState& r : s.routers) {
      if (r.name == name) ns = r.netns;
    }
    if (name == "underlay") ns = s.underlay;
    if (name == net::kWorldObject && s.world) ns = s.world->netns;
  }
  if (ns.empty()) {
    std::vector<std::string> names;
    for (const PodState& p : s.pods) names.push_back(p.name);
    for (const NodeState& n : s.nodes) names.push_back(n.name);
    for (const RouterState& r : s.routers) names.push_back(r.name);
    if (!s.underlay.empty()) names.push_back(std::string(net::kUnderlayObject));
    if (s.world) names.push_back(std::string(net::kWorldObject));
    const std::string meant = control::Nearest(name, names);
    return absl::InvalidArgumentError(
        StrCat(s.routers.empty() ? "no pod or node named " : "no pod, node or router named ", name,
               " in cluster ", s.cluster,
               meant.empty() ? "" : StrCat(" (did you mean \"", meant, "\"?)")));
  }
  absl::StatusOr<Fd> fd = OpenNetns(ns);
  if (!fd.ok()) return AsRuntimeFailure(fd.status());
  // proxy_mode = "ebpf": a command in a pod joins the cluster's cgroup, as a container does, so its
  // sockets are load-balanced by the programs there.
  if (!s.cgroup.empty() && s.FindPod(name) != nullptr) {
    Fd procs(::open(CgroupProcsFile(s.cgroup).c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs.valid() || ::write(procs.get(), "0", 1) != 1)
      return AsRuntimeFailure(KernelError(errno, StrCat("join cgroup ", s.cgroup)));
  }
  if (::setns(fd->get(), CLONE_NEWNET) < 0)
    return AsRuntimeFailure(KernelError(errno, StrCat("enter ", ns)));
  // The cluster DNS: a pod's processes see the resolv.conf kubelet would write (the cluster wrote
  // one per namespace at up; none: [cluster] dns = false).
  if (const PodState* p = s.FindPod(name)) {
    const std::string conf = net::ResolvConfPath(s.cluster, config::NamespaceOfKey(p->name));
    if (::access(conf.c_str(), R_OK) == 0) {
      if (absl::Status st = UseResolvConf(conf); !st.ok()) return AsRuntimeFailure(st);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<control::CniAnswer> RunCniVerb(const ClusterState& s,
                                              const control::CniRequest& request) {
  const std::string& verb = request.verb;
  const bool per_pod = cni::IsPodVerb(verb);
  if (per_pod && request.pod.empty())
    return absl::InvalidArgumentError(StrCat("cni ", verb, ": name a pod"));
  if (IsAlive(s.owner)) {
    control::CniRequest wire{verb, "", ""};
    if (per_pod) {
      wire.pod = request.pod;
    } else if (!request.node.empty()) {
      wire.node = request.node;
    } else if (!request.pod.empty() && s.FindPod(request.pod) != nullptr) {
      wire.pod = request.pod;  // status/gc/version POD: that pod's node
    }
    return Call(s.cluster, wire);
  }
  // The owner is gone: reopen the node's chain from its state, as the owner opened it.
  std::string node = request.node;
  const PodState* pod = nullptr;
  if (per_pod) {
    pod = s.FindPod(request.pod);
    if (pod == nullptr) {
      std::vector<std::string> names;
      for (const PodState& p : s.pods) names.push_back(p.name);
      return control::NoSuch("pod", request.pod, s.cluster, names);
    }
    node = pod->node;
  } else if (node.empty() && !request.pod.empty()) {
    if (const PodState* p = s.FindPod(request.pod)) node = p->node;
  }
  if (node.empty() && !s.nodes.empty()) node = s.nodes[0].name;
  std::vector<std::string> nodes;
  for (const NodeState& n : s.nodes) nodes.push_back(n.name);
  if (std::find(nodes.begin(), nodes.end(), node) == nodes.end())
    return control::NoSuch("node", node, s.cluster, nodes);
  absl::StatusOr<std::unique_ptr<CniNode>> cn =
      CniNode::Reopen(StrCat(StateDirOf(s.cluster), "/nodes/", node));
  if (!cn.ok()) {
    return AsRuntimeFailure(absl::Status(
        cn.status().code(),
        StrCat("node ", node, ": ", cn.status().message(),
               absl::IsNotFound(cn.status()) ? " (is this a network = \"cni\" lab?)" : "")));
  }
  cni::RuntimeConf rt;
  if (pod != nullptr) {
    // What `up` gives this pod's chain (the node's ifname, the lab's cni_args and capability args),
    // from the lab file the cluster came up with; else the runtime's defaults.
    rt = cni::PodRuntimeConf(pod->name, pod->netns, "eth0");
    if (std::ifstream in(s.lab); in) {
      std::stringstream ss;
      ss << in.rdbuf();
      config::LoadResult lab = config::Load(ss.str(), s.lab);
      if (lab.spec && lab.spec->FindPod(pod->name) != nullptr)
        rt = PodRuntimeConf(*lab.spec, *lab.spec->FindPod(pod->name));
    }
    rt = (*cn)->AsCached(rt);  // exactly as ADD made it, when it is cached
  }
  return CniAnswerOf((*cn)->RunVerb(verb, rt), node, (*cn)->version());
}

control::CniAnswer CniAnswerOf(const ChainOutcome& out, const std::string& node,
                               const std::string& version) {
  control::CniAnswer a;
  a.chain_ok = out.status.ok();
  a.chain_error = std::string(out.status.message());
  a.result = out.result;
  a.calls = FormatCalls(out.calls);
  a.ncalls = out.calls.size();
  a.node = node;
  a.negotiated = version;
  for (const PluginCall& c : out.calls) {
    if (c.command != "VERSION") continue;
    // A plugin that answers VERSION with something that is not JSON is what the user asked about:
    // its text is kept as a string (a discarded parse would not even encode as JSON).
    nlohmann::json v = nlohmann::json::parse(c.exec.stdout_data, nullptr, false);
    a.plugins[c.plugin] = v.is_discarded() ? nlohmann::json(c.exec.stdout_data) : std::move(v);
  }
  return a;
}

absl::Status WithLivePolicies(const ClusterState& s, config::ClusterSpec& lab) {
  if (s.policies_applied.empty() && s.policies_deleted.empty()) return absl::OkStatus();
  config::PolicyEdits edits;
  edits.deleted = s.policies_deleted;
  for (const ClusterState::AppliedPolicy& a : s.policies_applied) {
    config::PoliciesResult r = config::LoadPolicies(a.text, a.file, lab);
    if (!r.policies) {
      return absl::DataLossError(StrCat("the policy ", a.key, " applied from ", a.file,
                                        " no longer resolves against the lab file:\n",
                                        r.diags.FormatAll()));
    }
    for (config::NetworkPolicySpec& p : *r.policies) {
      if (p.key() == a.key) edits.applied.push_back({std::move(p), a.file, ""});
    }
  }
  lab.network_policies = config::ComposePolicies(lab.network_policies, edits);
  return absl::OkStatus();
}

absl::Status WithLivePods(const ClusterState& s, config::ClusterSpec& lab) {
  if (lab.cni_mode || s.pods.empty()) return absl::OkStatus();
  std::vector<config::LivePod> live;
  for (const PodState& p : s.pods) live.push_back({p.name, p.node, p.ip, p.netns, p.deployment});
  absl::Status st = config::MatchLivePods(lab, live);
  if (!st.ok()) {
    return absl::InvalidArgumentError(StrCat("the pods of cluster ", s.cluster,
                                             " do not match its lab file ", s.lab, ": ",
                                             st.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, uint64_t>> NetpolCounters(const ClusterState& s) {
  std::map<std::string, uint64_t> counters;
  const std::string list = StrCat("list counters table inet ", netpol::kTable);
  for (const NodeState& n : s.nodes) {
    Fd fd(::open(StrCat(net::kNetnsDir, "/", n.netns).c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return KernelError(errno, StrCat("open the namespace of node ", n.name));
    std::string out;
    MKN_RETURN_IF_ERROR(RunInNetns(fd.get(), [&]() -> absl::Status {
      absl::StatusOr<std::string> o = NftOutput(list);
      // No table in this node (no policy isolates a pod of the lab): nothing to count.
      if (!o.ok() && o.status().message().find("No such file or directory") != std::string::npos)
        return absl::OkStatus();
      if (!o.ok()) return o.status();
      out = *o;
      return absl::OkStatus();
    }));
    for (const auto& [k, v] : netpol::ParseCounters(out)) counters[k] += v;
  }
  // The userspace proxy judges Service flows itself and counts its drops under the same names
  // (lib/nat/nat.h). Its answer is best effort: an owner that does not answer has no pump either
  // (the proxy lives in it), so nothing of its own to add.
  if (absl::StatusOr<control::ServicesAnswer> a = Call(s.cluster, control::EndpointsRequest{});
      a.ok()) {
    for (const control::NodeProxyStats& n : a->nodes) {
      if (!n.nat) continue;
      for (const auto& [k, v] : n.nat->netpol_drops) counters[k] += v;
    }
  }
  return counters;
}

absl::StatusOr<std::string> NetpolTable(const ClusterState& s, const config::ClusterSpec& spec) {
  MKN_ASSIGN_OR_RETURN(const auto counters, NetpolCounters(s));
  std::vector<std::string> live;
  for (const PodState& p : s.pods) live.push_back(p.name);
  return netpol::PolicyTable(spec, live, counters);
}

}  // namespace mkn::vnet
