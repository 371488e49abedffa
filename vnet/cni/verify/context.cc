// vnet/cni/verify/context — see context.h.
#include "vnet/cni/verify/context.h"

#include <signal.h>

#include <algorithm>

#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet::verify_internal {

using json = nlohmann::json;

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

// --- reports -----------------------------------------------------------------------------------

void Fail(cni::CheckReport& r, const std::string& text) {
  r.outcome = cni::Outcome::kFail;
  StrAppend(&r.evidence, text, text.empty() || text.back() == '\n' ? "" : "\n");
}
void Fail(cni::CheckReport& r, const absl::Status& status) {
  Fail(r, std::string(status.message()));
}
void Skip(cni::CheckReport& r, const std::string& why) {
  if (r.outcome == cni::Outcome::kFail) return;
  r.outcome = cni::Outcome::kSkip;
  r.evidence = why;
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

bool StopRequested() {
  sigset_t pending;
  if (sigpending(&pending) != 0) return false;
  return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1 ||
         sigismember(&pending, SIGHUP) == 1;
}

// --- the chain ---------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TestPod>> MakeTestPod(Ctx& c, int node, const std::string& label) {
  return TestPod::Make(c.st.cluster, c.st.marker,
                       StrCat(net::kVerifyPodPrefix, label, "-", ++c.seq), c.nodes[node].ifname);
}

void NoteErrors(Ctx& c, const std::vector<PluginCall>& calls, const std::string& where) {
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
