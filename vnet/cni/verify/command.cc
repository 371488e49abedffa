#include "vnet/cni/verify/command.h"

#include <fstream>
#include <ostream>

#include "lib/cni/report.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/client.h"
#include "vnet/cni/verify/verify.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {

absl::StatusOr<bool> RunVerifyCommand(const config::ClusterSpec& spec, const VerifyCommand& c,
                                      std::ostream& out, std::ostream& err) {
  if (!spec.cni_mode) {
    return absl::InvalidArgumentError(StrCat("verify ", c.lab, ": not a network = \"cni\" lab"));
  }
  for (const std::vector<std::string>* globs : {&c.only, &c.skip}) {
    for (const std::string& g : *globs) {
      bool any = false;
      for (const CheckInfo& check : VerifyChecks()) any = any || cni::GlobMatch(g, check.id);
      if (!any) {
        return absl::InvalidArgumentError(
            StrCat("verify: ", globs == &c.only ? "--only " : "--skip ", g,
                   " matches no check (minikube-net verify --help lists them)"));
      }
    }
  }
  if (absl::Status st = CheckPrivileges(); !st.ok()) return st;
  // As `up`: signals are taken by this thread (a pending one ends the suite, the lab goes down).
  BlockStopSignals();
  const std::string suite = StrCat("verify.", spec.name);
  VerifyOptions o;
  o.lab_path = c.lab;
  o.only = c.only;
  o.skip = c.skip;
  o.keep = c.keep;
  o.fail_fast = c.fail_fast;
  o.timeout = c.timeout;
  o.churn_pods = c.churn_pods;
  o.progress = [&err](const cni::CheckReport& r) {
    // The first line of its evidence: a passing check's measurement (churn's per-round times,
    // bandwidth's rates), what a failure saw, why a skip: a CI log says it as it happens.
    std::string note = r.evidence.substr(0, r.evidence.find('\n'));
    err << "verify: " << r.id << ": " << cni::OutcomeName(r.outcome) << " ("
        << cni::FormatDuration(r.duration) << ")" << (note.empty() ? "" : ": " + note) << "\n";
  };
  auto print = [&](const std::vector<cni::CheckReport>& reports) {
    if (c.output == "json") {
      out << cni::ReportJson(suite, reports).dump(2) << "\n";
    } else {
      out << cni::FormatTable(reports, c.color);
    }
    out.flush();
    if (!c.junit.empty()) {
      std::ofstream junit(c.junit);
      junit << cni::JUnitXml(suite, reports);
      if (!junit) err << "minikube-net: verify: cannot write " << c.junit << "\n";
    }
  };
  bool printed = false;
  o.kept = [&](const std::vector<cni::CheckReport>& reports) {
    print(reports);
    printed = true;
    err << "verify: lab " << spec.name
        << " left up (--keep): minikube-net get pods, cni check POD --show-exec, ...;\n"
        << "        Ctrl-C here or `minikube-net down " << spec.name << "` tears it down\n";
  };
  absl::StatusOr<VerifyRun> run = RunVerify(spec, o);
  if (!run.ok()) {
    return AsRuntimeFailure(
        absl::Status(run.status().code(), StrCat("verify: ", run.status().message())));
  }
  if (!printed) print(run->reports);
  // What the lab's own DELs left at teardown: the checks judge their own pods; this is the lab's.
  for (const std::string& l : run->leaks) err << "verify: down: plugin leak: " << l << "\n";
  bool ok = true;
  int not_run = 0;
  for (const cni::CheckReport& r : run->reports) {
    ok = ok && r.outcome != cni::Outcome::kFail && r.outcome != cni::Outcome::kError;
    not_run += r.evidence.rfind("not run: ", 0) == 0;
  }
  if (!run->stopped.empty()) {
    err << "verify: " << run->stopped << ": " << not_run << " of " << run->reports.size()
        << " checks not run\n";
  }
  // A run the clock cut short proves nothing either way: not a pass.
  return ok && !run->timed_out;
}

}  // namespace mkn::vnet
