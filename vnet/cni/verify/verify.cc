// vnet/cni/verify/verify — see the header. The suite's driver: the table of checks (ids, titles,
// sources, order, which need the lab to themselves), selecting them with --only/--skip, running
// them in waves on the lab's context (lib/cni/suite's PlanWaves) and reporting each, --fail-fast
// and --timeout, and the lab's life around them (up, down, --keep). The checks are in
// spec_checks.cc, model_checks.cc and churn_checks.cc; what they share in context.h; the tools
// they run in the namespaces and their test pods in probe.h.
#include "vnet/cni/verify/verify.h"

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cni/verify/checks.h"
#include "vnet/cni/verify/context.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {
namespace verify_internal {
namespace {

// --- the table of checks ------------------------------------------------------------------------

// CheckInfo::alone, true for: del.clean and churn (they diff node 0 before and after their own
// ADD/DEL: another check's pod would show as their leak), spec.gc (it hands GC the list of every
// attachment: a test pod ADDed meanwhile would lose its address), spec.add.concurrent (8 ADDs race
// on purpose: another ADD in the race blurs which of them got a duplicate), model.bandwidth (a
// measured rate), spec.errors (it judges the errors every earlier check provoked).
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
      {{"spec.del.clean", "DEL removes everything ADD added (node and pod)", "SPEC.md §2 DEL",
        true},
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
        "SPEC.md §3 lifecycle (parallel containers)", true},
       CheckConcurrent},
      {{"spec.status", "STATUS succeeds", "SPEC.md §2 STATUS (1.1.0)"}, CheckStatus},
      {{"spec.gc", "GC keeps valid attachments, releases the others", "SPEC.md §2 GC (1.1.0)",
        true},
       CheckGc},
      {{"spec.errors", "every plugin error is a well-formed error object", "SPEC.md §5 Error",
        true},
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
        "CNI CONVENTIONS.md bandwidth", true},
       CheckBandwidth},
      {{"churn", "N pods x R rounds of ADD then DEL leave nothing behind",
        "SPEC.md §2 ADD/DEL, runtime practice", true},
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

namespace verify_internal {
namespace {

using Clock = std::chrono::steady_clock;

// Runs the selected checks on `c` in waves, filling reports[i] for checks[i] (a check that does
// not start keeps an empty id). The checks of a wave run on up to cni::kCheckWorkers threads;
// this thread collects them as they finish (progress, --fail-fast). No check starts once a signal
// is pending, --fail-fast has seen a failure or error, or the deadline has passed.
class Runner {
 public:
  Runner(Ctx& c, const std::vector<const CheckDef*>& checks, std::vector<cni::CheckReport>& reports)
      : c_(c), checks_(checks), reports_(reports) {}

  // Why no further check may start: "" to go on.
  std::string StopReason() const {
    if (StopSignalPending()) return "interrupted";
    if (c_.stop.load()) return StrCat("--fail-fast: ", failed_first_, " failed");
    if (c_.limits.Expired())
      return StrCat("the --timeout of ", cni::FormatRunTimeout(c_.opt.timeout), " ran out");
    return "";
  }

  // A check was cut short by the deadline (its failure turned into an error).
  bool cut() const { return cut_.load(); }

  void RunWave(const std::vector<size_t>& wave) {
    next_ = 0;
    size_t workers = std::min<size_t>(wave.size(), cni::kCheckWorkers);
    running_ = workers;
    std::vector<std::thread> threads;
    for (size_t t = 0; t < workers; ++t) threads.emplace_back([&] { Work(wave); });
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !done_.empty() || running_ == 0; });
      if (done_.empty()) break;
      size_t i = done_.front();
      done_.pop_front();
      lock.unlock();
      Finished(reports_[i]);
      lock.lock();
    }
    lock.unlock();
    for (std::thread& t : threads) t.join();
  }

 private:
  void Work(const std::vector<size_t>& wave) {
    for (;;) {
      if (!StopReason().empty()) break;
      size_t k = next_++;
      if (k >= wave.size()) break;
      RunOne(wave[k]);
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(wave[k]);
      cv_.notify_one();
    }
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    cv_.notify_one();
  }

  void RunOne(size_t i) {
    const CheckDef& d = *checks_[i];
    cni::CheckReport& r = reports_[i];
    r.id = d.info.id;
    r.title = d.info.title;
    r.source = d.info.source;
    const auto t0 = Clock::now();
    d.run(c_, r);
    r.duration += Clock::now() - t0;  // on top of the earlier calls it relied on (checks.h)
    // Cut short by the deadline: what it found may be the cut (a probe or a plugin call killed
    // at the deadline), not the plugin's doing.
    if (r.outcome == cni::Outcome::kFail && c_.limits.Expired()) {
      cut_ = true;
      r.outcome = cni::Outcome::kError;
      r.evidence = StrCat("the --timeout of ", cni::FormatRunTimeout(c_.opt.timeout),
                          " ran out during this check; what it saw until then:\n", r.evidence);
    }
  }

  // On this thread, as each check finishes.
  void Finished(const cni::CheckReport& r) {
    if (c_.opt.fail_fast && !c_.stop.load() &&
        (r.outcome == cni::Outcome::kFail || r.outcome == cni::Outcome::kError)) {
      failed_first_ = r.id;
      c_.stop = true;
    }
    if (c_.opt.progress) c_.opt.progress(r);
  }

  Ctx& c_;
  const std::vector<const CheckDef*>& checks_;
  std::vector<cni::CheckReport>& reports_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> cut_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<size_t> done_;   // finished, not yet reported
  size_t running_ = 0;        // workers still running
  std::string failed_first_;  // --fail-fast: the first check that failed or errored
};

}  // namespace
}  // namespace verify_internal

absl::StatusOr<VerifyRun> RunVerify(const config::ClusterSpec& spec, const VerifyOptions& options) {
  if (!spec.cni_mode)
    return absl::InvalidArgumentError(StrCat(options.lab_path, ": not a network = \"cni\" lab"));
  const auto deadline = verify_internal::Clock::now() + options.timeout;
  UpOptions up;
  up.lab_path = std::filesystem::absolute(options.lab_path).string();
  up.strict = false;
  // As `up` (vnet/cluster/session): a stop signal while the lab is being built stops the building
  // at its next step and rolls it back, instead of finishing a lab no check will run on.
  up.stop_requested = [] { return StopSignalPending(); };
  const auto up_start = verify_internal::Clock::now();
  absl::StatusOr<std::unique_ptr<RunningCluster>> rc = RunningCluster::Up(spec, up);
  const auto up_time = verify_internal::Clock::now() - up_start;
  if (!rc.ok())
    return absl::Status(rc.status().code(), StrCat("up ", spec.name, ": ", rc.status().message()));
  VerifyRun run;
  bool interrupted = false;
  {
    verify_internal::Ctx c(spec, options);
    c.limits.wait = cni::ProbeWait(options.timeout);
    c.limits.deadline = deadline;
    c.up_time = up_time;
    c.add_checked = Selected("spec.add", options);
    absl::Status built = verify_internal::BuildCtx(c, **rc);
    if (!built.ok()) {
      (void)(*rc)->Down();
      return absl::Status(built.code(), StrCat("verify ", spec.name, ": ", built.message()));
    }
    std::vector<const CheckDef*> checks;
    std::vector<bool> alone;
    for (const CheckDef& d : Defs()) {
      if (!Selected(d.info.id, options)) continue;
      checks.push_back(&d);
      alone.push_back(d.info.alone);
    }
    run.reports.resize(checks.size());
    verify_internal::Runner runner(c, checks, run.reports);
    for (const std::vector<size_t>& wave : cni::PlanWaves(alone)) {
      if (!runner.StopReason().empty()) break;
      runner.RunWave(wave);
    }
    c.servers.StopAll();  // before --keep waits: the lab stays up as `up` made it
    const std::string why = runner.StopReason();
    bool skipped_some = false;
    for (size_t i = 0; i < checks.size(); ++i) {
      cni::CheckReport& r = run.reports[i];
      if (r.id.empty()) {  // never started
        r.id = checks[i]->info.id;
        r.title = checks[i]->info.title;
        r.source = checks[i]->info.source;
        r.outcome = cni::Outcome::kSkip;
        r.evidence = StrCat("not run: ", why);
        skipped_some = true;
      }
      r.properties = {{"source", r.source}};
      r.properties.insert(r.properties.end(), c.chain_properties.begin(), c.chain_properties.end());
    }
    if (skipped_some) run.stopped = why;
    interrupted = skipped_some && why == "interrupted";
    run.timed_out = runner.cut() || (skipped_some && c.limits.Expired() && !interrupted);
  }
  const std::vector<cni::CheckReport>& reports = run.reports;
  if (options.keep && !interrupted) {
    if (options.kept) options.kept(reports);
    const sigset_t sigs = StopSignals();
    siginfo_t info;
    while (sigwaitinfo(&sigs, &info) < 0) {
    }
  }
  absl::StatusOr<TeardownReport> down = (*rc)->Down();
  if (!down.ok())
    return absl::Status(down.status().code(),
                        StrCat("down ", spec.name, ": ", down.status().message()));
  run.leaks = down->cni_leaks;
  if (interrupted) {
    size_t ran = 0;
    for (const cni::CheckReport& r : reports) ran += r.evidence.rfind("not run: ", 0) != 0;
    return absl::CancelledError(StrCat("interrupted after ", ran, " checks; the lab is down"));
  }
  return run;
}

}  // namespace mkn::vnet
