// vnet/cni/verify/spec_checks — the checks of the CNI spec (SPEC.md), ids spec.*: what a plugin
// must answer (VERSION, ADD's result, CHECK, STATUS, GC, error objects) and what it must do to the
// pod and the node (the interface the result describes; DEL removes what ADD added, tolerates
// being repeated, a netns that is gone and a container never added). The verdicts on what was
// observed are lib/cni's (judge, result, snapshot); this file drives the chain and the probes.
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/str_join.h"
#include "lib/cni/judge.h"
#include "lib/cni/report.h"
#include "lib/cni/result.h"
#include "lib/cni/snapshot.h"
#include "lib/cni/version.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/nodefs.h"
#include "vnet/cni/verify/checks.h"

namespace mkn::vnet::verify_internal {
namespace {

using json = nlohmann::json;

std::string NoCheckReason(const Ctx& c, int node) {
  if (c.nodes[node].cni->config().list.disable_check) return "the conflist says disableCheck";
  if (!cni::SupportsCheck(c.version(node)))
    return StrCat("cniVersion ", c.version(node), " has no CHECK (0.4.0+)");
  return "";
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

}  // namespace

// --- VERSION and ADD ---------------------------------------------------------------------------

void CheckVersion(Ctx& c, cni::CheckReport& r) {
  for (NodeCtx& n : c.nodes) {
    ChainOutcome o = n.cni->Version();
    const std::string& want = n.cni->config().list.cni_version;
    for (const PluginCall& call : o.calls) {
      absl::StatusOr<json> supported =
          call.status.ok() ? cni::SupportedVersions(call.exec.stdout_data)
                           : absl::InvalidArgumentError("VERSION gave no supportedVersions list");
      if (!supported.ok()) {
        Fail(r, StrCat("node ", n.name, ": plugin \"", call.plugin,
                       "\": ", supported.status().message(), "\n",
                       cni::TrimLines(FormatCalls({call}), 20)));
        continue;
      }
      if (std::string e = cni::JudgeSupportedVersions(*supported, want); !e.empty()) {
        Fail(r, StrCat("node ", n.name, ": plugin \"", call.plugin, "\": ", e));
      }
    }
    if (r.outcome == cni::Outcome::kFail)
      return;  // one node says it all: every node runs the same binaries
  }
}

void CheckAdd(Ctx& c, cni::CheckReport& r) {
  for (const PodCtx& p : c.pods) {
    if (!p.error.empty()) {
      Fail(r, StrCat("pod ", p.name, " (node ", c.nodes[p.node].name,
                     "): ", cni::TrimLines(p.error, 20)));
    }
  }
  // The ADDs judged here ran at `up`, before any check: their time is this check's (a hanging
  // plugin's 5 s timeouts must not show as a check of a few microseconds).
  r.duration = c.up_time;
  StrAppend(&r.evidence, "ADD ran at up (", cni::FormatDuration(c.up_time),
            ", counted in this check's time)\n");
}

void CheckAddResult(Ctx& c, cni::CheckReport& r) {
  for (const PodCtx& p : c.pods) {
    if (p.result.is_null()) continue;
    std::vector<std::string> bad = cni::ValidateResult(p.result, c.version(p.node));
    if (bad.empty()) continue;
    Fail(r,
         StrCat("pod ", p.name, ": ADD result not valid for cniVersion ", c.version(p.node), ":"));
    for (const std::string& b : bad) Fail(r, StrCat("  ", b));
    Fail(r, StrCat("  result: ", cni::TrimLines(p.result.dump(), 5)));
  }
  if (OkPods(c).empty()) Skip(r, "no pod's ADD succeeded (see spec.add)");
}

void CheckAddInterface(Ctx& c, cni::CheckReport& r) {
  Findings f(c.pods.size());
  ParallelFor(c.pods.size(), [&](size_t i) {
    const PodCtx& p = c.pods[i];
    if (p.result.is_null()) return;
    const std::string& ifname = c.nodes[p.node].ifname;
    absl::StatusOr<cni::Result> res = cni::ParseResult(p.result.dump(), c.version(p.node));
    if (!res.ok()) {
      return f.Fail(i, StrCat("pod ", p.name, ": ADD result unreadable: ", res.status().message()));
    }
    absl::StatusOr<cni::ObservedInterface> seen = ObserveInterface(p.fd.get(), ifname);
    if (!seen.ok()) {
      return f.FailOrError(
          i, seen.status(),
          StrCat("pod ", p.name, ": expected interface ", ifname, " (CNI_IFNAME) in the pod; "));
    }
    for (const std::string& e : cni::JudgeInterface(*res, c.version(p.node), ifname, *seen)) {
      f.Fail(i, StrCat("pod ", p.name, ": ", e));
    }
  });
  f.MergeInto(r);
  if (OkPods(c).empty()) Skip(r, "no pod's ADD succeeded (see spec.add)");
}

// --- CHECK -------------------------------------------------------------------------------------

void CheckCheckPass(Ctx& c, cni::CheckReport& r) {
  if (std::string why = NoCheckReason(c, 0); !why.empty()) return Skip(r, why);
  std::vector<std::optional<cni::PodEvidence>> failed(c.pods.size());
  ParallelFor(c.pods.size(), [&](size_t i) {
    const PodCtx& p = c.pods[i];
    if (p.result.is_null()) return;
    ChainOutcome o = c.nodes[p.node].cni->Check(p.rt);
    NoteErrors(c, o.calls, StrCat("pod ", p.name));
    if (!o.status.ok()) {
      failed[i] = cni::PodEvidence{
          p.name,
          StrCat("pod ", p.name, ": CHECK after a successful ADD failed: ", o.status.message()),
          ShowCalls(o.calls), CallsKey(o.calls)};
    }
  });
  // One line per pod; the calls once per way they failed (a plugin's fault fails every pod alike).
  std::vector<cni::PodEvidence> pods;
  for (std::optional<cni::PodEvidence>& e : failed)
    if (e) pods.push_back(std::move(*e));
  if (!pods.empty()) Fail(r, cni::GroupEvidence(pods));
  if (OkPods(c).empty()) Skip(r, "no pod's ADD succeeded (see spec.add)");
}

void CheckCheckTamper(Ctx& c, cni::CheckReport& r) {
  if (std::string why = NoCheckReason(c, 0); !why.empty()) return Skip(r, why);
  if (std::string why = NeedsAddReason(c); !why.empty()) return Skip(r, why);
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "tamper");
  if (!tp.ok()) return Error(r, tp.status());
  const cni::RuntimeConf& rt = (*tp)->rt();
  json res;
  if (absl::Status s = AddPod(c, n, rt, "test pod", &res); !s.ok()) return Fail(r, s);
  absl::StatusOr<PodAddress> a = PodAddressFromResult(res, rt.ifname);
  absl::StatusOr<cni::Result> parsed = cni::ParseResult(res.dump(), c.version(0));
  absl::StatusOr<cni::ObservedInterface> seen = ObserveInterface((*tp)->netns_fd(), rt.ifname);
  std::vector<std::string> wrong;
  if (a.ok() && parsed.ok() && seen.ok())
    wrong = cni::JudgeInterface(*parsed, c.version(0), rt.ifname, *seen);
  if (!a.ok()) {
    Fail(r, StrCat("test pod: ", a.status().message()));
  } else if (!wrong.empty()) {
    // The result already disagrees with the pod: there is nothing of what it says to remove, and
    // what CHECK would then say is spec.add.interface's finding, not this check's.
    Skip(r, StrCat("the test pod's ADD result is already wrong (", wrong.front(),
                   "): nothing of it to tamper with; see spec.add.interface"));
  } else {
    std::string cidr = StrCat(a->ip, "/", a->prefix_len);
    ToolResult del = RunTool((*tp)->netns_fd(), {"ip", "addr", "del", cidr, "dev", rt.ifname});
    if (!del.ok) {
      // The suite's own step failed, not the plugin: the check could not be made.
      Error(r, StrCat("could not tamper with the test pod: ", del.Say()));
    } else {
      ChainOutcome o = n.Check(rt);
      NoteErrors(c, o.calls, "test pod");
      if (o.status.ok()) {
        Fail(r,
             StrCat("expected CHECK to fail after ", cidr, " was removed from the pod's ",
                    rt.ifname, "; every plugin answered CHECK with success\n", ShowCalls(o.calls)));
      } else {
        // The failing call's output must be a spec error object.
        for (const PluginCall& call : o.calls) {
          if (call.status.ok()) continue;
          json j = json::parse(call.exec.stdout_data, nullptr, false);
          std::vector<std::string> bad = j.is_discarded()
                                             ? std::vector<std::string>{"stdout is not JSON"}
                                             : cni::ValidateError(j);
          if (!bad.empty()) {
            Fail(r,
                 StrCat("CHECK failed as it should, but not with a well-formed error: ",
                        absl::StrJoin(bad, "; "), "\n", cni::TrimLines(FormatCalls({call}), 20)));
          }
          break;
        }
      }
    }
  }
  if (absl::Status s = DelPod(c, n, rt, "test pod"); !s.ok()) Fail(r, s);
}

// --- DEL and the lifecycle ---------------------------------------------------------------------

void CheckDelClean(Ctx& c, cni::CheckReport& r) {
  if (std::string why = NeedsAddReason(c); !why.empty()) return Skip(r, why);
  CniNode& n = *c.nodes[0].cni;
  // Warm-up, in a pod of its own kept until the end (what it may leak is in both snapshots, and
  // the kernel does not remove its links between them): what a plugin keeps for all pods (cni0,
  // a lock file) exists before the measured ADD.
  absl::StatusOr<std::unique_ptr<TestPod>> warm = MakeTestPod(c, 0, "warmup");
  if (!warm.ok()) return Error(r, warm.status());
  if (absl::Status s = AddPod(c, n, (*warm)->rt(), "warm-up pod"); !s.ok()) return Fail(r, s);
  if (absl::Status s = DelPod(c, n, (*warm)->rt(), "warm-up pod"); !s.ok()) return Fail(r, s);
  absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "clean");
  if (!tp.ok()) return Error(r, tp.status());
  TestPod& p = **tp;
  // The processes too: a daemon an ADD starts and no DEL stops holds the node's (or the pod's)
  // namespace for good, which no snapshot of links and files shows.
  const std::vector<std::pair<int, std::string>> where = {
      {n.netns_fd(), StrCat("node ", c.nodes[0].name)}, {p.netns_fd(), "the test pod"}};
  absl::StatusOr<cni::Snapshot> before = SnapshotNode(n, p.netns_fd());
  if (!before.ok()) return Error(r, before.status());
  absl::StatusOr<std::vector<cni::SeenProcess>> procs_before = ProcessesIn(where);
  if (!procs_before.ok()) return Error(r, procs_before.status());
  if (absl::Status s = AddPod(c, n, p.rt(), "test pod"); !s.ok()) return Fail(r, s);
  ChainOutcome del = n.Del(p.rt());
  NoteErrors(c, del.calls, "test pod");
  if (!del.status.ok())
    return Fail(r, StrCat("DEL failed: ", del.status.message(), "\n", ShowCalls(del.calls)));
  absl::StatusOr<cni::Snapshot> after = SnapshotNode(n, p.netns_fd());
  if (!after.ok()) return Error(r, after.status());
  absl::StatusOr<std::vector<cni::SeenProcess>> procs_after = ProcessesIn(where);
  if (!procs_after.ok()) return Error(r, procs_after.status());
  cni::SnapshotDiff d = cni::Diff(*before, *after);
  if (!d.empty()) {
    Fail(r, StrCat("expected node ", c.nodes[0].name,
                   " and the test pod as before ADD; after DEL (+ left, - gone):\n",
                   cni::TrimLines(d.ToString(), 30), "the DEL calls:\n", ShowCalls(del.calls)));
  }
  for (const std::string& left : cni::JudgeLeftProcesses(*procs_before, *procs_after)) {
    Fail(r, StrCat(left,
                   ": started since ADD and still running after DEL, it keeps that "
                   "namespace alive (left running; `down` names it again)"));
  }
}

void CheckDelTwice(Ctx& c, cni::CheckReport& r) {
  if (std::string why = NeedsAddReason(c); !why.empty()) return Skip(r, why);
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "deltwice");
  if (!tp.ok()) return Error(r, tp.status());
  const cni::RuntimeConf& rt = (*tp)->rt();
  if (absl::Status s = AddPod(c, n, rt, "test pod"); !s.ok()) return Fail(r, s);
  if (absl::Status s = DelPod(c, n, rt, "first DEL"); !s.ok()) return Fail(r, s);
  if (absl::Status s = DelPod(c, n, rt, "second DEL"); !s.ok())
    Fail(r, StrCat("expected a second DEL to succeed; ", s.message()));
}

void CheckDelNetnsGone(Ctx& c, cni::CheckReport& r) {
  if (std::string why = NeedsAddReason(c); !why.empty()) return Skip(r, why);
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "nsgone");
  if (!tp.ok()) return Error(r, tp.status());
  const cni::RuntimeConf& rt = (*tp)->rt();
  if (absl::Status s = AddPod(c, n, rt, "test pod"); !s.ok()) return Fail(r, s);
  (*tp)->RemoveNetns();
  if (absl::Status s = DelPod(c, n, rt, StrCat("DEL with CNI_NETNS=", rt.netns, " removed"));
      !s.ok()) {
    Fail(r, StrCat("expected DEL to succeed after the pod's netns is gone; ", s.message()));
  }
}

void CheckDelNoAdd(Ctx& c, cni::CheckReport& r) {
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "noadd");
  if (!tp.ok()) return Error(r, tp.status());
  if (absl::Status s = DelPod(c, n, (*tp)->rt(), "DEL of a container never added"); !s.ok()) {
    Fail(r, StrCat("expected DEL without a prior ADD to succeed; ", s.message()));
  }
}

void CheckReadd(Ctx& c, cni::CheckReport& r) {
  if (std::string why = NeedsAddReason(c); !why.empty()) return Skip(r, why);
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "readd");
  if (!tp.ok()) return Error(r, tp.status());
  const cni::RuntimeConf& rt = (*tp)->rt();
  if (absl::Status s = AddPod(c, n, rt, "first ADD"); !s.ok()) return Fail(r, s);
  if (absl::Status s = DelPod(c, n, rt, "DEL"); !s.ok()) return Fail(r, s);
  if (absl::Status s = AddPod(c, n, rt, "ADD after DEL of the same container"); !s.ok())
    return Fail(r, s);
  if (absl::StatusOr<cni::ObservedInterface> s = ObserveInterface((*tp)->netns_fd(), rt.ifname);
      !s.ok()) {
    FailOrError(r, s.status(), "after ADD->DEL->ADD: ");
  }
  if (absl::Status s = DelPod(c, n, rt, "final DEL"); !s.ok()) Fail(r, s);
}

void CheckConcurrent(Ctx& c, cni::CheckReport& r) {
  constexpr int kN = 8;
  if (std::string why = NeedsAddReason(c); !why.empty()) return Skip(r, why);
  CniNode& n = *c.nodes[0].cni;
  std::vector<std::unique_ptr<TestPod>> pods;
  for (int i = 0; i < kN; ++i) {
    absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "conc");
    if (!tp.ok()) return Error(r, tp.status());
    pods.push_back(std::move(*tp));
  }
  std::vector<ChainOutcome> outs(kN);
  {
    std::vector<std::thread> ts;
    for (int i = 0; i < kN; ++i) ts.emplace_back([&, i] { outs[i] = n.Add(pods[i]->rt()); });
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
    absl::StatusOr<PodAddress> a = PodAddressFromResult(outs[i].result, pods[i]->rt().ifname);
    if (a.ok()) by_ip[a->ip].push_back(i);
  }
  for (const auto& [ip, who] : by_ip) {
    if (who.size() > 1) {
      std::vector<std::string> ids;
      for (int i : who) ids.push_back(pods[i]->rt().container_id);
      Fail(r, StrCat("expected unique IPs from ", kN, " concurrent ADDs on node ", c.nodes[0].name,
                     "; ", ip, " was given to ", who.size(), " pods: ", absl::StrJoin(ids, ", ")));
    }
  }
  for (int i = 0; i < kN; ++i) {
    if (absl::Status s = DelPod(c, n, pods[i]->rt(), StrCat("concurrent pod ", i)); !s.ok())
      Fail(r, s);
  }
}

// --- STATUS, GC and errors ---------------------------------------------------------------------

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

void CheckGc(Ctx& c, cni::CheckReport& r) {
  if (!cni::SupportsStatusAndGc(c.version(0)))
    return Skip(r, StrCat("cniVersion ", c.version(0), " has no GC (1.1.0+)"));
  if (c.nodes[0].cni->config().list.disable_gc) return Skip(r, "the conflist says disableGC");
  if (std::string why = NeedsAddReason(c); !why.empty()) return Skip(r, why);
  CniNode& n = *c.nodes[0].cni;
  absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "gc");
  if (!tp.ok()) return Error(r, tp.status());
  const cni::RuntimeConf& rt = (*tp)->rt();
  json res;
  if (absl::Status s = AddPod(c, n, rt, "test pod", &res); !s.ok()) return Fail(r, s);
  absl::StatusOr<PodAddress> a = PodAddressFromResult(res, rt.ifname);
  std::vector<cni::Attachment> all, without;
  for (const cni::RuntimeConf& at : n.Attachments()) {
    all.push_back({at.container_id, at.ifname});
    if (at.container_id != rt.container_id) without.push_back({at.container_id, at.ifname});
  }
  bool tracked = a.ok() && HasAllocation(c, 0, a->ip);
  ChainOutcome keep = n.Gc(all);
  NoteErrors(c, keep.calls, "GC");
  if (!keep.status.ok()) {
    Fail(r, StrCat("GC with every attachment valid failed: ", keep.status.message(), "\n",
                   ShowCalls(keep.calls)));
  } else if (tracked && !HasAllocation(c, 0, a->ip)) {
    Fail(r, StrCat("GC released ", a->ip, " although its attachment ", rt.container_id,
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
    Fail(r, StrCat("expected GC to release ", a->ip, " of attachment ", rt.container_id,
                   " (not in the valid list); its allocation file is still there\n",
                   ShowCalls(drop.calls)));
  }
  (void)DelPod(c, n, rt, "test pod");
}

void CheckErrors(Ctx& c, cni::CheckReport& r) {
  // Provoke one: a second container's ADD into a netns whose CNI_IFNAME already exists. Without a
  // working ADD there is nothing to provoke it with; the errors seen so far are still judged.
  const std::string no_add = NeedsAddReason(c);
  if (no_add.empty()) {
    CniNode& n = *c.nodes[0].cni;
    absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "errors");
    if (!tp.ok()) return Error(r, tp.status());
    if (absl::Status s = AddPod(c, n, (*tp)->rt(), "test pod"); !s.ok()) return Fail(r, s);
    cni::RuntimeConf dup = (*tp)->rt();
    dup.container_id += "-dup";
    for (auto& [k, v] : dup.args) {
      if (k == "K8S_POD_INFRA_CONTAINER_ID") v = dup.container_id;
    }
    ChainOutcome o = n.Add(dup);
    NoteErrors(c, o.calls, StrCat("ADD with ", dup.ifname, " already in the netns"));
    if (o.status.ok()) {
      Fail(r,
           StrCat("expected an error from ADD of a second container with CNI_IFNAME=", dup.ifname,
                  " already present in the netns; it succeeded\n", ShowCalls(o.calls)));
      (void)n.Del(dup);
    }
    (void)DelPod(c, n, (*tp)->rt(), "test pod");
  }
  int judged = 0;
  std::lock_guard<std::mutex> lock(c.errors_mu);  // runs alone; the lock is for form's sake
  for (const auto& [where, out] : c.errors_seen) {
    ++judged;
    json j = json::parse(out, nullptr, false);
    std::vector<std::string> bad =
        j.is_discarded() ? std::vector<std::string>{"stdout is not a JSON error object"}
                         : cni::ValidateError(j);
    if (!bad.empty()) {
      Fail(r, StrCat(where, ": error not well-formed: ", absl::StrJoin(bad, "; "),
                     "\n  stdout: ", cni::TrimLines(out.empty() ? "(empty)" : out, 5)));
    }
  }
  if (judged == 0 && !no_add.empty()) return Skip(r, StrCat(no_add, "; no plugin error to judge"));
  if (r.outcome != cni::Outcome::kFail) r.evidence = StrCat(judged, " plugin errors judged");
}

}  // namespace mkn::vnet::verify_internal
