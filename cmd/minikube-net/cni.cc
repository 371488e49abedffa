#include "cmd/minikube-net/cni.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "cmd/minikube-net/common.h"
#include "lib/cni/invoke.h"
#include "lib/cni/suite.h"
#include "lib/control/format.h"
#include "lib/control/protocol.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/lab.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/verify/command.h"
#include "vnet/cni/verify/verify.h"

namespace mkn {
namespace {

// What `cni` takes as its first word: the chain's verbs, and render.
std::vector<std::string> CniWords() {
  std::vector<std::string> words(std::begin(cni::kVerbs), std::end(cni::kVerbs));
  words.push_back("render");
  return words;
}

// --- cni: the plugin developer's loop ------------------------------------------------------------

struct CniFlags {
  std::string verb, target, node, cluster, output = "json";
  bool show_exec = false;
};

int RunCni(const CniFlags& f) {
  if (f.verb == "render") {  // `cni render [LAB] [--node N]`: nothing runs
    std::string lab = f.target;
    if (lab.empty()) {  // the lab file the running cluster came up with, as it reads now
      absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(f.cluster);
      if (absl::IsFailedPrecondition(s.status())) {
        return Exit(absl::InvalidArgumentError(
            "cni render: name the lab file (no cluster is up to take it from)"));
      }
      if (!s.ok()) return Exit(s.status());
      lab = s->lab;
    }
    int code = kExitOk;
    std::optional<config::ClusterSpec> spec = Lab(lab, code);
    if (!spec) return code;
    absl::StatusOr<std::string> text = vnet::RenderCniConfigs(*spec, lab, f.node);
    if (!text.ok()) return Exit(text.status());
    std::cout << *text;
    return kExitOk;
  }
  if (absl::Status st = vnet::CheckPrivileges("run a CNI plugin in a node's namespaces"); !st.ok())
    return Exit(st);
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(f.cluster);
  if (!s.ok()) return Exit(s.status());
  const control::CniRequest request{f.verb, f.target, f.node};
  absl::StatusOr<control::CniAnswer> a = vnet::RunCniVerb(*s, request);
  if (!a.ok()) return Exit(a.status());
  std::cout << control::CniText(request, *a, f.show_exec);
  if (!a->chain_ok) return Exit(absl::AbortedError(StrCat("cni ", f.verb, ": ", a->chain_error)));
  return kExitOk;
}

// --- verify: the CNI conformance suite -----------------------------------------------------------

struct VerifyFlags {
  std::string lab, junit, output = "table";
  std::vector<std::string> only, skip;
  bool keep = false;
  bool fail_fast = false;
  std::string timeout = cni::FormatRunTimeout(cni::kDefaultRunTimeout);
  int churn = 0;  // 0: sized to the lab
};

CLI::App* AddVerifyCommand(CLI::App& app, VerifyFlags& f) {
  CLI::App* cmd = app.add_subcommand("verify",
                                     "Bring a network = \"cni\" lab up with its plugin chain, run "
                                     "the CNI conformance suite, tear down");
  cmd->add_option("lab", f.lab, "Lab file (TOML) with [cluster] network = \"cni\"")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--junit", f.junit, "Also write the results as JUnit XML to FILE (for CI)");
  cmd->add_option("-o,--output", f.output, "table (default) or json, on stdout")
      ->check(OneOf({"table", "json"}));
  cmd->add_option(
         "--only", f.only,
         "Run only the checks whose id matches one of these globs (comma list or repeated)")
      ->delimiter(',');
  cmd->add_option(
         "--skip", f.skip,
         "Do not run the checks whose id matches one of these globs (comma list or repeated)")
      ->delimiter(',');
  cmd->add_flag(
      "--keep", f.keep,
      "Leave the lab up after the checks (for debugging) until Ctrl-C, SIGTERM or `down`");
  cmd->add_option("--churn", f.churn,
                  "Pods per round of the churn check (5 rounds; default: twice the lab's pods, 4 "
                  "to 200)")
      ->check(IntIn(1, config::kMaxPods));
  cmd->add_flag("--fail-fast", f.fail_fast,
                "Start no check once one has failed or errored (the rest: not run); the lab "
                "still goes down");
  cmd->add_option("--timeout", f.timeout,
                  "Bound the run (up and the checks) to DURATION (90s, 2m, 1m30s): "
                  "probes and plugin calls are cut at it, checks not started are reported as not "
                  "run, exit 1; the teardown always completes")
      ->type_name("DURATION")
      ->capture_default_str();
  std::string footer = "Checks (id: what it asserts [where the rule comes from]):\n";
  for (const vnet::CheckInfo& c : vnet::VerifyChecks())
    footer += StrCat("  ", c.id, ": ", c.title, " [", c.source, "]\n");
  footer +=
      "A check that does not apply (CHECK before 0.4.0, STATUS/GC before 1.1.0, no portmap or "
      "bandwidth in the\n"
      "chain, no pod of the lab got an address from ADD) is SKIP with the reason. ERROR: the "
      "suite itself could\n"
      "not carry the check out (a probe that would not start, the --timeout running out): JUnit "
      "<error>, not\n"
      "<failure>. Checks that do not disturb each other run in parallel, each probe waits up to "
      "2 s for its answer.\n"
      "Test pods are throw-away namespaces mkn-<cluster>-vfy-*, removed after.\n"
      "Examples:\n  minikube-net verify examples/cni/bridge.toml --junit cni-junit.xml\n"
      "  minikube-net verify LAB --only 'spec.*' --skip spec.gc\n  minikube-net verify LAB --churn "
      "20 -o json\n"
      "  minikube-net verify LAB --fail-fast --timeout 2m --junit cni-junit.xml   # in CI\n"
      "Exit codes: 0 every check passed or was skipped; 1 a check failed or errored, the "
      "--timeout ran out,\n"
      "or the lab could not come up; 2 bad lab file or usage (an --only/--skip glob that matches "
      "no check, a bad\n"
      "--timeout).";
  cmd->footer(footer);
  return cmd;
}

int RunVerifyCommand(const VerifyFlags& f) {
  absl::StatusOr<std::chrono::milliseconds> timeout = cni::ParseRunTimeout(f.timeout);
  if (!timeout.ok())
    return Exit(absl::InvalidArgumentError(StrCat("verify: ", timeout.status().message())));
  vnet::VerifyCommand c{.lab = std::filesystem::absolute(f.lab).lexically_normal().string(),
                        .junit = f.junit,
                        .output = f.output,
                        .only = f.only,
                        .skip = f.skip,
                        .keep = f.keep,
                        .fail_fast = f.fail_fast,
                        .timeout = *timeout,
                        .churn_pods = f.churn,
                        .color = isatty(1) == 1};
  int code = kExitOk;
  std::optional<config::ClusterSpec> spec = Lab(c.lab, code);
  if (!spec) return code;
  absl::StatusOr<bool> passed = vnet::RunVerifyCommand(*spec, c, std::cout, std::cerr);
  if (!passed.ok()) return Exit(passed.status());
  return *passed ? kExitOk : kExitFailure;
}

}  // namespace

struct CniVerbs {
  CniFlags cni;
  VerifyFlags verify;
  CLI::App *cni_cmd = nullptr, *verify_cmd = nullptr;
};

CniVerbsPtr AddCniVerbs(CLI::App& app) {
  CniVerbsPtr owned(new CniVerbs, [](CniVerbs* p) { delete p; });
  CniVerbs& v = *owned;
  v.cni_cmd = app.add_subcommand("cni",
                                 "Run one CNI verb of a network = \"cni\" lab's chain, as "
                                 "a runtime (libcni) does, or render its conflist");
  v.cni_cmd
      ->add_option("verb", v.cni.verb,
                   "add|check|del POD: that pod's attachment; status|gc|version: a node's chain; "
                   "render [LAB]: each node's conflist with ${...} filled")
      ->required()
      ->check(OneOf(CniWords()));
  v.cni_cmd->add_option("target", v.cni.target,
                        "The pod (add, check, del), or the lab file (render; default: the running "
                        "cluster's)");
  v.cni_cmd->add_option("-n,--node", v.cni.node,
                        "status, gc, version, render: this node (default: the first; render: all)");
  v.cni_cmd->add_option("-c,--cluster", v.cni.cluster, kClusterFlag);
  v.cni_cmd->add_flag(
      "--show-exec", v.cni.show_exec,
      "Print each plugin call: its binary, environment, stdin, stdout, stderr, exit "
      "status and time");
  v.cni_cmd->footer(
      "Examples:\n  minikube-net cni render examples/cni/bridge.toml --node node2\n"
      "  minikube-net cni render --node node2     # the running cluster's lab file\n"
      "  minikube-net cni del web-0 --show-exec\n  minikube-net cni add web-0\n  minikube-net cni "
      "check web-0\n"
      "  minikube-net cni version --node node1\n"
      "add/del act on the pod's network only: Services and `get pods` keep the address the lab "
      "came up with.");
  v.verify_cmd = AddVerifyCommand(app, v.verify);
  return owned;
}

std::optional<int> RunCniVerbs(const CniVerbs& v) {
  if (*v.cni_cmd) return RunCni(v.cni);
  if (*v.verify_cmd) return RunVerifyCommand(v.verify);
  return std::nullopt;
}

}  // namespace mkn
