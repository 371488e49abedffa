// vnet/cni/verify/verify — see the header. The suite's driver: the table of checks (ids, titles,
// sources, order), selecting them with --only/--skip, running each on the lab's context and
// reporting it, and the lab's life around them (up, down, --keep). The checks are in
// spec_checks.cc, model_checks.cc and churn_checks.cc; what they share in context.h; the tools
// they run in the namespaces and their test pods in probe.h.
#include "vnet/cni/verify/verify.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cni/verify/checks.h"
#include "vnet/cni/verify/context.h"

namespace mkn::vnet {
namespace verify_internal {
namespace {

// --- the table of checks ------------------------------------------------------------------------

struct CheckDef {
  CheckInfo info;
  CheckFn run;
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

}  // namespace
}  // namespace verify_internal

using verify_internal::CheckDef;
using verify_internal::Defs;
using verify_internal::Selected;

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
    verify_internal::Ctx c(spec, options);
    absl::Status built = verify_internal::BuildCtx(c, **rc);
    if (!built.ok()) {
      (void)(*rc)->Down();
      return absl::Status(built.code(), StrCat("verify ", spec.name, ": ", built.message()));
    }
    for (const CheckDef& d : Defs()) {
      if (!Selected(d.info.id, options)) continue;
      if (verify_internal::StopRequested()) {
        interrupted = true;
        break;
      }
      cni::CheckReport r;
      r.id = d.info.id;
      r.title = d.info.title;
      r.source = d.info.source;
      auto t0 = std::chrono::steady_clock::now();
      d.run(c, r);
      r.duration = std::chrono::steady_clock::now() - t0;
      if (options.progress) options.progress(r);
      reports.push_back(std::move(r));
    }
    c.servers.StopAll();  // before --keep waits: the lab stays up as `up` made it
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
