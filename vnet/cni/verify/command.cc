#include "vnet/cni/verify/command.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "lib/cni/report.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/client.h"
#include "vnet/cni/verify/verify.h"

namespace mkn::vnet {

absl::StatusOr<bool> RunVerifyCommand(const config::ClusterSpec& spec, const VerifyCommand& c) {
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
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  const bool color = isatty(1) == 1;
  const std::string suite = StrCat("verify.", spec.name);
  VerifyOptions o;
  o.lab_path = c.lab;
  o.only = c.only;
  o.skip = c.skip;
  o.keep = c.keep;
  o.churn_pods = c.churn_pods;
  o.progress = [](const cni::CheckReport& r) {
    // A passing check's evidence is its measurement (churn's per-round times, bandwidth's rates).
    std::string note =
        r.outcome == cni::Outcome::kPass ? r.evidence.substr(0, r.evidence.find('\n')) : "";
    std::cerr << "verify: " << r.id << ": " << cni::OutcomeName(r.outcome) << " ("
              << cni::FormatDuration(r.duration) << ")" << (note.empty() ? "" : ": " + note)
              << "\n";
  };
  auto print = [&](const std::vector<cni::CheckReport>& reports) {
    if (c.output == "json") {
      std::cout << cni::ReportJson(suite, reports).dump(2) << "\n";
    } else {
      std::cout << cni::FormatTable(reports, color);
    }
    std::cout.flush();
    if (!c.junit.empty()) {
      std::ofstream out(c.junit);
      out << cni::JUnitXml(suite, reports);
      if (!out) std::cerr << "minikube-net: verify: cannot write " << c.junit << "\n";
    }
  };
  bool printed = false;
  o.kept = [&](const std::vector<cni::CheckReport>& reports) {
    print(reports);
    printed = true;
    std::cerr << "verify: lab " << spec.name
              << " left up (--keep): minikube-net get pods, cni check POD --show-exec, ...;\n"
              << "        Ctrl-C here or `minikube-net down " << spec.name << "` tears it down\n";
  };
  absl::StatusOr<std::vector<cni::CheckReport>> reports = RunVerify(spec, o);
  if (!reports.ok()) {
    return AsRuntimeFailure(
        absl::Status(reports.status().code(), StrCat("verify: ", reports.status().message())));
  }
  if (!printed) print(*reports);
  for (const cni::CheckReport& r : *reports) {
    if (r.outcome == cni::Outcome::kFail) return false;
  }
  return true;
}

}  // namespace mkn::vnet
