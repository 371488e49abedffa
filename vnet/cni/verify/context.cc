// vnet/cni/verify/context — see context.h.
#include "vnet/cni/verify/context.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_join.h"
#include "lib/cni/judge.h"
#include "lib/cni/suite.h"
#include "lib/cni/version.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/exec.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet::verify_internal {
namespace {

using json = nlohmann::json;

// A plugin of the chain (or an IPAM plugin one of them delegates to) and what it says about its
// version.
struct PluginInfo {
  std::string type, binary;
  const PluginCall* version_call = nullptr;  // its VERSION call (chain plugins only)
  std::string text, cni_versions;
};

// The about text a plugin prints without CNI_COMMAND, run as its calls run (the node's netns and
// mount namespace), and the Debian package its binary comes from, when dpkg knows it.
void DescribePlugin(const CniNode& node, const ProbeLimits& limits, PluginInfo& p) {
  ExecRequest req;
  req.binary = p.binary;
  req.env = {StrCat("PATH=", cni::kPluginPath)};
  req.netns_fd = node.netns_fd();
  req.mntns_fd = node.mntns_fd();
  req.timeout = limits.ToolTimeout();
  absl::StatusOr<ExecResult> about = RunPlugin(req);
  std::string package, package_version;
  if (!FindTool("dpkg-query").empty()) {
    ToolResult owner = RunTool(-1, {"dpkg-query", "-S", p.binary}, limits.ToolTimeout());
    package = cni::PackageOfFile(owner.out, p.binary);
    if (!package.empty()) {
      ToolResult v =
          RunTool(-1, {"dpkg-query", "-W", "-f=${Version}", package}, limits.ToolTimeout());
      if (v.ok) package_version = v.out;
    }
  }
  p.text = cni::PluginVersionText(about.ok() ? cni::PluginAbout(about->stderr_data) : "", package,
                                  package_version);
  if (p.version_call != nullptr && p.version_call->status.ok()) {
    absl::StatusOr<json> supported = cni::SupportedVersions(p.version_call->exec.stdout_data);
    if (supported.ok()) {
      std::vector<std::string> v;
      for (const json& e : *supported) {
        if (e.is_string()) v.push_back(e.get<std::string>());
      }
      p.cni_versions = absl::StrJoin(v, ", ");
    }
  }
}

// The chain's properties for the reports (Ctx::chain_properties), from node 0 (every node runs the
// same binaries): its negotiated version, then each plugin once, an IPAM plugin after the plugin
// that names it.
std::vector<std::pair<std::string, std::string>> ChainProperties(CniNode& node,
                                                                 const ProbeLimits& limits) {
  const CniNodeConfig& cfg = node.config();
  ChainOutcome version = node.Version();
  std::vector<PluginInfo> plugins;
  std::set<std::string> seen;
  for (size_t i = 0; i < cfg.list.plugins.size(); ++i) {
    const cni::PluginConf& pc = cfg.list.plugins[i];
    if (seen.insert(pc.type).second && i < cfg.binaries.size()) {
      PluginInfo p;
      p.type = pc.type;
      p.binary = cfg.binaries[i];
      if (i < version.calls.size()) p.version_call = &version.calls[i];
      plugins.push_back(std::move(p));
    }
    const json* ipam = pc.conf.is_object() && pc.conf.contains("ipam") ? &pc.conf["ipam"] : nullptr;
    if (ipam == nullptr || !ipam->is_object() || !ipam->contains("type") ||
        !(*ipam)["type"].is_string())
      continue;
    const std::string type = (*ipam)["type"].get<std::string>();
    if (type.find('/') != std::string::npos || !seen.insert(type).second) continue;
    for (const std::string& dir : cfg.bin_dirs) {
      std::error_code ec;
      std::string bin = std::filesystem::absolute(std::filesystem::path(dir) / type, ec).string();
      if (!ec && std::filesystem::is_regular_file(bin, ec)) {
        PluginInfo p;
        p.type = type;
        p.binary = bin;
        plugins.push_back(std::move(p));
        break;
      }
    }
  }
  ParallelFor(plugins.size(), [&](size_t i) { DescribePlugin(node, limits, plugins[i]); });
  std::vector<std::pair<std::string, std::string>> out = {{"cniVersion", node.version()}};
  for (const PluginInfo& p : plugins) {
    out.push_back({StrCat("plugin.", p.type), p.text});
    if (!p.cni_versions.empty())
      out.push_back({StrCat("plugin.", p.type, ".cniVersions"), p.cni_versions});
  }
  return out;
}

}  // namespace

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
    n.cni->SetDeadline(c.limits.deadline);
    c.nodes.push_back(std::move(n));
  }
  if (c.nodes.empty()) return absl::FailedPreconditionError("the lab has no nodes");
  c.chain_properties = ChainProperties(*c.nodes[0].cni, c.limits);
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

// --- reports -----------------------------------------------------------------------------------

void Fail(cni::CheckReport& r, const std::string& text) {
  r.outcome = cni::Outcome::kFail;
  StrAppend(&r.evidence, text, text.empty() || text.back() == '\n' ? "" : "\n");
}
void Fail(cni::CheckReport& r, const absl::Status& status) {
  Fail(r, std::string(status.message()));
}
void Error(cni::CheckReport& r, const std::string& text) {
  if (r.outcome != cni::Outcome::kFail) r.outcome = cni::Outcome::kError;
  StrAppend(&r.evidence, text, text.empty() || text.back() == '\n' ? "" : "\n");
}
void Error(cni::CheckReport& r, const absl::Status& status) {
  Error(r, std::string(status.message()));
}

namespace {
bool IsVerdict(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsNotFound(status);
}
}  // namespace

void FailOrError(cni::CheckReport& r, const absl::Status& status, const std::string& context) {
  std::string text = StrCat(context, status.message());
  IsVerdict(status) ? Fail(r, text) : Error(r, text);
}

void Skip(cni::CheckReport& r, const std::string& why) {
  if (r.outcome == cni::Outcome::kFail || r.outcome == cni::Outcome::kError) return;
  r.outcome = cni::Outcome::kSkip;
  r.evidence = why;
}

void Findings::FailOrError(size_t i, const absl::Status& status, const std::string& context) {
  std::string text = StrCat(context, status.message());
  IsVerdict(status) ? Fail(i, text) : Error(i, text);
}

void Findings::MergeInto(cni::CheckReport& r) const {
  for (const std::vector<One>& slot : slots) {
    for (const One& f : slot) {
      f.outcome == cni::Outcome::kFail ? verify_internal::Fail(r, f.text)
                                       : verify_internal::Error(r, f.text);
    }
  }
}

void ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n <= 1) {
    if (n == 1) fn(0);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> threads;
  const size_t workers = std::min<size_t>(n, cni::kProbeWorkers);
  for (size_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();  // this thread is one of the workers
  for (std::thread& t : threads) t.join();
}

// --- the lab -----------------------------------------------------------------------------------

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

bool ChainHasCapability(const Ctx& c, const std::string& cap) {
  for (const cni::PluginConf& p : c.nodes[0].cni->config().list.plugins) {
    if (std::find(p.capabilities.begin(), p.capabilities.end(), cap) != p.capabilities.end())
      return true;
  }
  return false;
}

std::string NeedsAddReason(const Ctx& c) {
  if (!c.add_checked || c.pods.empty() || !OkPods(c).empty()) return "";
  return "needs a working ADD: no pod of the lab got one (see spec.add)";
}

bool Ctx::Stopping() const { return stop.load() || limits.Expired() || StopSignalPending(); }

// --- the chain ---------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TestPod>> MakeTestPod(Ctx& c, int node, const std::string& label) {
  return TestPod::Make(c.st.cluster, c.st.marker,
                       StrCat(net::kVerifyPodPrefix, label, "-", ++c.seq), c.nodes[node].ifname);
}

void NoteErrors(Ctx& c, const std::vector<PluginCall>& calls, const std::string& where) {
  std::lock_guard<std::mutex> lock(c.errors_mu);
  for (const PluginCall& call : calls) {
    if (call.exec.exit_code > 0 && !call.exec.timed_out) {
      c.errors_seen.push_back(
          {StrCat(where, ": ", call.command, " ", call.plugin), call.exec.stdout_data});
    }
  }
}

std::string ShowCalls(const std::vector<PluginCall>& calls) {
  std::vector<PluginCall> bad;
  for (const PluginCall& c : calls) {
    if (!c.status.ok()) bad.push_back(c);
  }
  if (bad.empty()) {
    size_t from = calls.size() > 2 ? calls.size() - 2 : 0;
    bad.assign(calls.begin() + from, calls.end());
  }
  return cni::TrimLines(FormatCalls(bad), 30);
}

std::string CallsKey(const std::vector<PluginCall>& calls) {
  std::string key;
  for (const PluginCall& c : calls) {
    if (c.status.ok()) continue;
    const json out = json::parse(c.exec.stdout_data, nullptr, false);
    const std::string code =
        out.is_object() && out.contains("code") ? out["code"].dump() : std::string("-");
    StrAppend(&key, c.plugin, " ", c.command, " exit ", c.exec.exit_code, " signal ",
              c.exec.term_signal, c.exec.timed_out ? " timeout" : "", " code ", code, ";");
  }
  return key;
}

absl::Status AddPod(Ctx& c, CniNode& n, const cni::RuntimeConf& rt, const std::string& what,
                    json* result) {
  ChainOutcome o = n.Add(rt);
  NoteErrors(c, o.calls, what);
  if (o.status.ok()) {
    if (result) *result = o.result;
    return absl::OkStatus();
  }
  return absl::Status(o.status.code(),
                      StrCat(what, ": ADD failed: ", o.status.message(), "\n", ShowCalls(o.calls)));
}

absl::Status DelPod(Ctx& c, CniNode& n, const cni::RuntimeConf& rt, const std::string& what) {
  ChainOutcome o = n.Del(rt);
  NoteErrors(c, o.calls, what);
  if (o.status.ok()) return absl::OkStatus();
  return absl::Status(o.status.code(),
                      StrCat(what, ": DEL failed: ", o.status.message(), "\n", ShowCalls(o.calls)));
}

}  // namespace mkn::vnet::verify_internal
