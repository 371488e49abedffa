// minikube-net: a Kubernetes-style cluster network on one Linux machine, in one process.
// Long file: the verb table of ~30 subcommands and their flags; the newer verbs' bodies already
// live beside it (see.cc: capture, graph; trace.cc). Next split: the cluster verbs (get, bgp,
// check, scale, kill, conntrack) into their own file, as see.cc did, before this file grows again.
//
// Flags, subcommands and exit codes only (STYLE.md §1): each subcommand is one call into vnet/ (a
// lab read by vnet/cluster/lab, `up` and `down` by vnet/cluster/session, a running cluster asked
// through vnet/cluster/client and lib/control's protocol) whose result is printed here, with
// lib/control/format's tables. Exit codes: 0 success, 1 runtime failure (including missing
// privileges), 2 bad lab file or usage; Exit() maps a Status to them.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "cmd/minikube-net/see.h"
#include "cmd/minikube-net/trace.h"
#include "lib/bgp/report.h"
#include "lib/cni/invoke.h"
#include "lib/cni/suite.h"
#include "lib/config/spec.h"
#include "lib/control/format.h"
#include "lib/control/protocol.h"
#include "lib/control/usage.h"
#include "lib/plan/plan.h"
#include "lib/strings/str_cat.h"
#include "vnet/check/check.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/lab.h"
#include "vnet/cluster/session.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/verify/command.h"
#include "vnet/cni/verify/verify.h"
#include "vnet/edge/tls.h"

namespace mkn {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

// The one mapping from a Status to an exit code: the user named something wrong (kInvalidArgument,
// kNotFound) is 2, anything else 1. The message goes to stderr.
int Exit(const absl::Status& st) {
  std::cerr << "minikube-net: " << st.message() << "\n";
  return absl::IsInvalidArgument(st) || absl::IsNotFound(st) ? kExitBadInput : kExitFailure;
}

void Notice(const std::string& line) { std::cerr << "minikube-net: " << line << "\n"; }

// Every -c of a command that acts on a running cluster (vnet/cluster/client's PickCluster).
constexpr const char* kClusterFlag =
    "Cluster name (default: $MKN_CLUSTER, else the only cluster up)";

// A command line CLI11 refused, said as every other usage error (exit 2): `minikube-net: up:
// unknown flag --detatch: did you mean --detach? ...` (lib/control/usage's ParseErrorText), instead
// of CLI11's own unprefixed text and "Run with --help for more information.".
int UsageError(const CLI::App& app, const CLI::ParseError& e, const std::string& command) {
  const CLI::App* cmd = &app;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->get_name() == command) cmd = sub;
  std::vector<std::string> flags;
  for (const CLI::Option* o : cmd->get_options()) {
    for (const std::string& n : o->get_lnames()) flags.push_back("--" + n);
    for (const std::string& n : o->get_snames()) flags.push_back("-" + n);
  }
  // By exit code: CLI11 names some errors after the command that raised them ("up"), not their
  // kind.
  std::string kind = e.get_name();
  switch (static_cast<CLI::ExitCodes>(e.get_exit_code())) {
    case CLI::ExitCodes::ExtrasError:
      kind = "ExtrasError";
      break;
    case CLI::ExitCodes::RequiredError:
      kind = "RequiredError";
      break;
    case CLI::ExitCodes::ArgumentMismatch:
      kind = "ArgumentMismatch";
      break;
    default:
      break;
  }
  return Exit(absl::InvalidArgumentError(
      control::ParseErrorText(cmd == &app ? "" : command, kind, e.what(), flags)));
}

// `exec`'s usage line: CLI11 cannot know that what follows the pod (after an optional --) is the
// command.
class ExecFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    std::string line = CLI::Formatter::make_usage(app, std::move(name));
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line + " [-- CMD [ARGS...]]\n";
  }
};

// An integer option in [lo, hi], checked on its text before CLI11 converts it: CLI11's own range
// checks print their bounds as 300-digit doubles, and a number past int is "Could not convert".
CLI::Validator IntIn(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) {
        absl::StatusOr<int64_t> v = control::ParseIntIn(text, lo, hi);
        return v.ok() ? std::string() : std::string(v.status().message());
      },
      StrCat(lo, "..", hi));
}

// A word that must be one of `choices`; a wrong one is named with the nearest choice.
CLI::Validator OneOf(std::vector<std::string> choices) {
  std::string braces;
  for (const std::string& c : choices) StrAppend(&braces, braces.empty() ? "{" : ",", c);
  return CLI::Validator(
      [choices](std::string& word) {
        return std::find(choices.begin(), choices.end(), word) != choices.end()
                   ? std::string()
                   : control::NotOneOf(word, choices);
      },
      braces + "}");
}

// What `cni` takes as its first word: the chain's verbs, and render.
std::vector<std::string> CniWords() {
  std::vector<std::string> words(std::begin(cni::kVerbs), std::end(cni::kVerbs));
  words.push_back("render");
  return words;
}

// A lab file, read as every subcommand reads it: its diagnostics (warnings too) on stderr; exit 2
// when it does not load.
std::optional<config::ClusterSpec> Lab(const std::string& path, int& exit_code) {
  absl::StatusOr<vnet::LabFile> lab = vnet::LoadLab(path);
  if (!lab.ok()) {
    exit_code = Exit(lab.status());
    return std::nullopt;
  }
  std::cerr << lab->report;
  if (!lab->spec) exit_code = kExitBadInput;
  return std::move(lab->spec);
}

int PrintPlan(const config::ClusterSpec& spec, const std::string& output) {
  plan::Plan p = plan::BuildPlan(spec);
  std::cout << (output == "json" ? plan::RenderJson(p) : plan::RenderShell(p));
  return kExitOk;
}

// A request to the cluster's owner, its answer printed by `print`.
template <typename Request, typename Print>
int AskAndPrint(const std::string& cluster, const Request& request, Print print) {
  absl::StatusOr<typename Request::Answer> a = vnet::Ask(cluster, request);
  if (!a.ok()) return Exit(a.status());
  std::cout << print(*a);
  return kExitOk;
}

// --- up, down, status ----------------------------------------------------------------------------

struct UpFlags {
  std::string lab;
  bool dry_run = false;
  bool detach = false;
  bool keep_going = false;  // CNI labs: a failed ADD is reported, the rest comes up
  bool strict = false;      // the default; kept for scripts
  bool shell = false;
  bool check = false;  // run `check` once ready
  std::string output = "sh";
  int workers = 0;
};

int RunUp(const UpFlags& f) {
  int code = kExitOk;
  std::optional<config::ClusterSpec> spec = Lab(f.lab, code);
  if (!spec) return code;
  if (f.dry_run) return PrintPlan(*spec, f.output);
  if (f.check && spec->expects.empty()) {
    return Exit(absl::InvalidArgumentError(
        StrCat("up --check: ", f.lab,
               " has no [[expect]] rows to check (see minikube-net check "
               "--help)")));
  }
  if (absl::Status st = vnet::CheckPrivileges(); !st.ok()) return Exit(st);
  vnet::SessionOptions o;
  if (f.check) {
    o.check = [&spec](const vnet::ClusterState& st, std::ostream& out) {
      absl::StatusOr<check::Report> r = vnet::RunCheck(*spec, st);
      if (!r.ok()) return Exit(r.status()), kExitFailure;
      absl::StatusOr<int> code = vnet::PrintCheck(*r, "table", "", out);
      return code.ok() ? *code : (Exit(code.status()), kExitFailure);
    };
  }
  o.lab_path = f.lab;
  o.detach = f.detach;
  o.shell = f.shell;
  o.keep_going = f.keep_going;
  o.workers = f.workers;
  o.notice = Notice;
  if (const char* at = std::getenv("MKN_FAIL_AT_STEP")) o.fail_at_step = std::atoi(at);  // e2e
  o.meter = isatty(2) == 1;
  absl::StatusOr<int> r = vnet::RunSession(*spec, o, std::cout, std::cerr);
  return r.ok() ? *r : Exit(r.status());
}

int RunDown(const std::string& target, bool all) {
  if (absl::Status st =
          vnet::CheckPrivileges("take a cluster down (stop its process, remove its namespaces)");
      !st.ok())
    return Exit(st);
  int code = kExitOk;
  absl::StatusOr<vnet::DownTargets> t = vnet::ChooseDownTargets(target, all);
  if (!t.ok()) return Exit(t.status());
  if (t->none_up) return std::cout << "no cluster is up\n", kExitOk;
  std::vector<std::string> names = t->clusters;
  if (!t->lab.empty()) {
    std::optional<config::ClusterSpec> spec = Lab(t->lab, code);
    if (!spec) return code;
    names = {spec->name};
  }
  for (const std::string& n : names) {
    absl::StatusOr<vnet::DownSummary> r = vnet::TakeDown(n);
    if (!r.ok()) {
      code = Exit(r.status());
      continue;
    }
    std::cout << r->summary;
    std::cerr << r->details;
    // The cluster is gone, but the chain's DELs left state in it: the plugin's bug, worth a
    // failing exit (CI) rather than a line nobody reads.
    if (r->cni_leaks > 0) {
      code = Exit(absl::FailedPreconditionError(
          StrCat("down ", n, ": the CNI plugins left ", r->cni_leaks,
                 " things behind after every DEL (the \"cni: plugin leak\" lines above)")));
    }
  }
  return code;
}

int RunStatus(const std::string& output) {
  std::vector<std::string> names = vnet::ListClusters();
  if (output == "json") return std::cout << vnet::StatesJson(names), kExitOk;
  if (names.empty()) return std::cout << "no cluster is up\n", kExitOk;
  std::cout << control::StatusTable(vnet::ClusterRows(names));
  return kExitOk;
}

// --- check: the lab's [[expect]] rows probed on its running cluster ------------------------------

struct CheckFlags {
  std::string target, junit, output = "table";
};

int RunCheckCommand(const CheckFlags& f) {
  if (absl::Status st = vnet::CheckPrivileges("probe from inside the lab's namespaces"); !st.ok())
    return Exit(st);
  // LAB: the running cluster of that lab; CLUSTER (or nothing: $MKN_CLUSTER, else the only one
  // up): the rows of the lab file it came up from, as that file reads now.
  std::string lab = f.target;
  absl::StatusOr<vnet::ClusterState> s = absl::UnknownError("");
  int code = kExitOk;
  std::optional<config::ClusterSpec> spec;
  if (!f.target.empty() && vnet::NamesALabFile(f.target)) {
    spec = Lab(f.target, code);
    if (!spec) return code;
    s = vnet::PickCluster(spec->name);
  } else {
    s = vnet::PickCluster(f.target);
    if (s.ok()) {
      lab = s->lab;
      spec = Lab(lab, code);
      if (!spec) return code;
    }
  }
  if (!s.ok()) return Exit(s.status());
  if (s->phase != "ready") {
    return Exit(absl::FailedPreconditionError(
        StrCat("check ", s->cluster, ": the cluster is ", s->phase, ", not ready")));
  }
  absl::StatusOr<check::Report> r = vnet::RunCheck(*spec, *s);
  if (!r.ok()) return Exit(r.status());
  absl::StatusOr<int> exit_code = vnet::PrintCheck(*r, f.output, f.junit, std::cout);
  if (!exit_code.ok()) return Exit(exit_code.status());
  return *exit_code;
}

// --- get, exec, logs: a cluster's state, or its owner over the control socket --------------------

int RunGet(const std::string& what, const std::string& cluster, const std::string& output) {
  const bool json = output == "json";
  if (what == "svc" || what == "service" || what == "services") {
    return AskAndPrint(cluster, control::ServicesRequest{},
                       json ? control::ServicesJson : control::ServicesTable);
  }
  if (what == "proxy") {  // the same answer as svc: its node counters, not its services
    return AskAndPrint(cluster, control::ServicesRequest{},
                       json ? control::ProxyJson : control::ProxyText);
  }
  if (what == "endpoints" || what == "ep") {
    return AskAndPrint(cluster, control::EndpointsRequest{},
                       json ? control::ServicesJson : control::EndpointsTable);
  }
  if (what == "routes" || what == "route") {
    return AskAndPrint(cluster, control::RoutesRequest{},
                       json ? control::RoutesJson : control::RoutesText);
  }
  if (what == "overlay") {
    return AskAndPrint(cluster, control::OverlayRequest{},
                       json ? control::OverlayJson : control::OverlayText);
  }
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(cluster);
  if (!s.ok()) return Exit(s.status());
  if (what == "pods" || what == "pod") {
    std::cout << (json ? control::PodsJson(*s) : control::PodsTable(vnet::PodRows(*s)));
  } else {
    std::cout << (json ? control::NodesJson(*s) : control::NodesTable(vnet::NodeRows(*s)));
  }
  return kExitOk;
}

int RunExec(const std::string& name, const std::string& cluster, std::vector<std::string> cmd) {
  if (absl::Status st = vnet::CheckPrivileges("enter a network namespace"); !st.ok())
    return Exit(st);
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(cluster);
  if (!s.ok()) return Exit(s.status());
  // Single-threaded here: entering the netns for the exec is safe.
  if (absl::Status st = vnet::EnterNetnsOf(*s, name); !st.ok()) return Exit(st);
  if (cmd.empty()) cmd = {"sh"};
  // birdc without -s looks for BIRD's default socket (/run/bird/bird.ctl), which no speaker here
  // uses: say which one this speaker has before birdc says it cannot connect.
  if (std::filesystem::path(cmd[0]).filename() == "birdc" &&
      std::none_of(cmd.begin() + 1, cmd.end(),
                   [](const std::string& a) { return a.rfind("-s", 0) == 0; })) {
    for (const control::SpeakerState& sp : s->speakers) {
      if (sp.name == name) {
        std::cerr << "minikube-net: " << name << "'s BIRD listens on " << sp.socket << ": birdc -s "
                  << sp.socket << " ...\n";
      }
    }
  }
  signal(SIGPIPE, SIG_DFL);  // main() ignores it; the command must not inherit that
  std::vector<char*> argv;
  for (std::string& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::cerr << "minikube-net: run " << cmd[0] << ": " << std::strerror(errno) << "\n";
  return 127;  // as a shell says "command not found"
}

int RunLogs(const std::string& pod, const std::string& cluster) {
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(cluster);
  if (!s.ok()) return Exit(s.status());
  absl::StatusOr<std::string> logs = vnet::ReadLogs(*s, pod);
  if (!logs.ok()) return Exit(logs.status());
  std::cout << *logs;
  return kExitOk;
}

// --- bgp: a network = "bgp" lab's speakers ------------------------------------------------------

int RunBgp(const std::string& speaker, bool named, const std::string& cluster,
           const std::string& output) {
  // `bgp ''` names a speaker, none is called that: not "every speaker" (what no name means).
  if (named && speaker.empty()) {
    return Exit(absl::InvalidArgumentError(
        "bgp: an empty speaker name; name a node, tor-<rack> or spine, or none for every speaker"));
  }
  if (absl::Status st = vnet::CheckPrivileges(); !st.ok()) return Exit(st);
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(cluster);
  if (!s.ok()) return Exit(s.status());
  absl::StatusOr<std::vector<bgp::SpeakerStatus>> st = vnet::BgpStatus(*s, speaker);
  if (!st.ok()) return Exit(st.status());
  std::cout << (output == "json" ? bgp::BgpJson(*st) : bgp::BgpTable(*st));
  return kExitOk;
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

// --- cert: a local CA and a server certificate for labs (vnet/edge/tls) --------------------------

int RunCert(const std::string& dir, const std::string& name,
            const std::vector<std::string>& hosts) {
  absl::StatusOr<vnet::LabCert> c = vnet::MakeLabCert(dir, name, hosts);
  if (!c.ok()) return Exit(c.status());
  std::cout << control::CertText(c->ca_cert_path, c->ca_key_path, c->ca_reused, c->cert_path,
                                 c->key_path, hosts);
  return kExitOk;
}

}  // namespace
}  // namespace mkn

int main(int argc, char** argv) {
  using namespace mkn;
  // A reader that goes away (`up -d | head`, a closed terminal) must not kill a process that owns a
  // cluster: writes to it fail with EPIPE instead, and the cluster keeps running (or is torn down
  // in order). Children get the default back (ShellChild, Spawn).
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "minikube-net: a Kubernetes-style cluster network (pods, nodes, bridges, VXLAN or direct "
      "routes)\n"
      "built from a lab file on one Linux machine, in one process. Everything it makes lives in\n"
      "network namespaces it owns (ip netns list | grep mkn-)."};
  app.require_subcommand(1);
  const vnet::HowToRun run = vnet::HowToRunHere();  // the names the user types, here
  app.footer(StrCat(
      "Exit codes: 0 ok, 1 runtime failure or missing privileges, 2 bad lab file or usage (a word, "
      "flag,\nname or number a command cannot use is named, with the nearest one it knows).\n",
      "Labs run in a sandbox (", run.sandbox, " CMD) are invisible to other terminals: `",
      run.sandbox, " --join`\nopens a shell in the running sandbox from a second one."));
  app.set_version_flag("--version", "minikube-net 0.1.0");

  UpFlags up;
  CLI::App* up_cmd = app.add_subcommand(
      "up", "Build the cluster network of a lab file and run it until Ctrl-C, SIGTERM or `down`");
  up_cmd->add_option("lab", up.lab, "Lab file (TOML); with --dry-run, - reads standard input")
      ->required();
  up_cmd->add_flag("--dry-run", up.dry_run,
                   "Print the plan as ip/bridge/sysctl commands; create nothing");
  up_cmd->add_option("-o,--output", up.output, "With --dry-run: sh or json")
      ->check(OneOf({"sh", "json"}));
  up_cmd->add_flag("-d,--detach", up.detach, "Run in the background once ready");
  up_cmd->add_flag("--keep-going", up.keep_going,
                   "network = \"cni\" labs: when pods' CNI ADD fails, bring up the rest and name "
                   "those pods in the ready line (default: roll everything back and fail)");
  up_cmd->add_flag("--strict", up.strict,
                   "network = \"cni\" labs: a failed ADD rolls everything back (the default; kept "
                   "for scripts)");
  up_cmd->add_flag(
      "--shell", up.shell,
      "Once ready, run $SHELL (else /bin/bash) here with MKN_CLUSTER set; tear down when it exits");
  up_cmd->add_option("--workers", up.workers, "Threads creating namespaces (default: one per CPU)")
      ->check(IntIn(0, 1024));
  up_cmd->footer(
      "Examples:\n  minikube-net up examples/quickstart/lab.toml      # foreground; Ctrl-C tears "
      "it down\n"
      "  minikube-net up -d examples/quickstart/lab.toml   # background; minikube-net down "
      "quickstart\n" +
      StrCat("  ", run.sandbox, " ", run.binary, " up --shell ", run.examples,
             "/quickstart/lab.toml\n") +
      "                                                    # explore in a shell inside the "
      "sandbox; exit to tear down\n"
      "  MKN_TRACE=1 minikube-net up -d LAB.toml           # per-phase timings on stderr\n"
      "--shell: the shell gets this terminal; Ctrl-C in it stops the shell's job, not the cluster. "
      "The cluster\n"
      "is torn down when the shell exits, or on SIGINT/SIGTERM/SIGHUP to minikube-net (the shell "
      "then gets SIGHUP).\n"
      "In the shell, PATH starts with this binary's directory and get/exec/logs default to "
      "$MKN_CLUSTER.\n"
      "-d: the terminal gets the background process's stdout and stderr until it is ready; "
      "from then on\n"
      "they go to /run/minikube-net/<cluster>/up.log (root only), which starts with what the "
      "terminal saw.\n"
      "A failed up removes what it made and says \"nothing was left behind\", or names each "
      "leftover.\n"
      "Ctrl-C, SIGTERM or SIGHUP before it is ready (-d too) stops the building at the next step "
      "and rolls back:\n"
      "\"interrupted: rolled back (nothing was left behind)\", exit 128 + the signal (130 for "
      "Ctrl-C, 143 for SIGTERM).\n"
      "Exit codes: 0 ok, 1 runtime failure (a failed CNI ADD without --keep-going, a busy or "
      "taken name,\n"
      "missing privileges), 2 bad lab file (unreadable, not a regular file, over 16 MiB, "
      "invalid) or usage;\n"
      "with --shell, the shell's exit status when it ends by itself (0 when minikube-net is "
      "signalled).");

  up_cmd->add_flag("--check", up.check,
                   "Once ready, probe the lab's [[expect]] rows as `check` does; exit 1 if any "
                   "cell disagrees (the cluster's life is unchanged: see check --help)");

  CheckFlags check_flags;
  CLI::App* check_cmd = app.add_subcommand(
      "check", "Probe a running lab's [[expect]] rows for real and print the reachability matrix");
  check_cmd->add_option("target", check_flags.target,
                        "Lab file (its running cluster) or cluster name (default: $MKN_CLUSTER, "
                        "else the only cluster up)");
  check_cmd->add_option("--junit", check_flags.junit,
                        "Also write JUnit XML to FILE: one testcase per cell (for CI)");
  check_cmd->add_option("-o,--output", check_flags.output, "table (default) or json, on stdout")
      ->check(OneOf({"table", "json"}));
  check_cmd->footer(
      "Each [[expect]] row of the lab file (as the file reads now) becomes cells: every source pod "
      "of its\n"
      "`from` (a pod, a selector, a node, or \"host\") to every destination of its `to` (a pod, a "
      "selector, a\n"
      "pod IP, a node and port, svc/NAME[:PORT], or host-edge), probed from inside the source's "
      "namespace:\n"
      "  tcp   allow = the handshake completed          udp   allow = a datagram came back\n"
      "  icmp  allow = an echo reply                     http(s) to host-edge: allow = status "
      "1xx-3xx\n"
      "Deny is everything else: no answer within 1 s (a drop), a refusal (TCP reset, ICMP "
      "unreachable),\n"
      "no route, an HTTP 4xx/5xx. Probes run 16 at once; the run is bounded (10 s, more for big "
      "matrices).\n"
      "The matrix: rows = from, numbered columns = to; . allowed, X denied, ! not what the lab "
      "expects,\n"
      "E a probe that could not run (a missing tool), - no row for that pair.\n"
      "Examples:\n"
      "  minikube-net check                               # the only cluster up\n"
      "  minikube-net check examples/quickstart/lab.toml --junit check.xml\n"
      "  minikube-net up -d --check LAB.toml              # up, then check: exit 1 on a mismatch, "
      "the lab stays up\n"
      "up --check: -d exits with the verdict once checked and leaves the cluster running (down it "
      "when done);\n"
      "the foreground and --shell run as usual and exit 1 at the end when the check failed.\n"
      "Exit codes: 0 every cell as expected, 1 a mismatch, a probe error, a row with nothing to "
      "probe, no\n"
      "[[expect]] rows, or missing privileges; 2 bad lab file or usage, an unknown cluster.");

  std::string plan_lab, plan_output = "sh";
  CLI::App* plan_cmd = app.add_subcommand(
      "plan", "Print the ordered plan as the equivalent ip/bridge/sysctl commands (or JSON)");
  plan_cmd->add_option("lab", plan_lab, "Lab file (TOML), or - for standard input")->required();
  plan_cmd->add_option("-o,--output", plan_output, "sh or json")->check(OneOf({"sh", "json"}));

  std::string validate_lab;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "Check a lab file and print every problem as file:line:col");
  validate_cmd->add_option("lab", validate_lab, "Lab file (TOML), or - for standard input")
      ->required();
  validate_cmd->footer(
      "A lab file must be a regular file of at most 16 MiB (a FIFO, a device or a directory is "
      "refused).\n"
      "Example: minikube-net validate - < lab.toml\n"
      "Exit codes: 0 the lab is valid, 2 it is not (or cannot be read), or bad usage.");

  std::string down_target;
  bool down_all = false;
  CLI::App* down_cmd =
      app.add_subcommand("down", "Remove a cluster, even one whose process was killed; idempotent");
  down_cmd->add_option(
      "cluster", down_target,
      "Cluster name or lab file (default: $MKN_CLUSTER, else the only cluster up)");
  down_cmd->add_flag(
      "--all", down_all,
      "Every cluster with state under /run/minikube-net (each proven by its markers)");
  down_cmd->footer(
      "A live owner (the pid and start time its state names) is asked to stop (SIGTERM); after a "
      "crash or\n"
      "SIGKILL, what the state file lists and the kernel's ownership markers (ifalias "
      "minikube-net:<cluster>)\n"
      "prove to be the cluster's is removed. A lock on the state held by a process that is not "
      "minikube-net\n"
      "does not stop it. A process still running in one of the cluster's namespaces is named "
      "(pid, command)\n"
      "and left running (it may be your shell): `kill PID` stops it.\n"
      "Exit codes: 0 down (or was not up), 1 runtime failure or missing privileges, or a CNI lab "
      "whose\n"
      "plugins left something behind (a process included), 2 bad usage or lab file (several "
      "clusters up\n"
      "and none named: they are listed; or a name with --all).");

  std::string status_output = "table";
  CniFlags cni;
  CLI::App* cni_cmd = app.add_subcommand("cni",
                                         "Run one CNI verb of a network = \"cni\" lab's chain, as "
                                         "a runtime (libcni) does, or render its conflist");
  cni_cmd
      ->add_option("verb", cni.verb,
                   "add|check|del POD: that pod's attachment; status|gc|version: a node's chain; "
                   "render [LAB]: each node's conflist with ${...} filled")
      ->required()
      ->check(OneOf(CniWords()));
  cni_cmd->add_option("target", cni.target,
                      "The pod (add, check, del), or the lab file (render; default: the running "
                      "cluster's)");
  cni_cmd->add_option("-n,--node", cni.node,
                      "status, gc, version, render: this node (default: the first; render: all)");
  cni_cmd->add_option("-c,--cluster", cni.cluster, kClusterFlag);
  cni_cmd->add_flag("--show-exec", cni.show_exec,
                    "Print each plugin call: its binary, environment, stdin, stdout, stderr, exit "
                    "status and time");
  cni_cmd->footer(
      "Examples:\n  minikube-net cni render examples/cni/bridge.toml --node node2\n"
      "  minikube-net cni render --node node2     # the running cluster's lab file\n"
      "  minikube-net cni del web-0 --show-exec\n  minikube-net cni add web-0\n  minikube-net cni "
      "check web-0\n"
      "  minikube-net cni version --node node1\n"
      "add/del act on the pod's network only: Services and `get pods` keep the address the lab "
      "came up with.");

  VerifyFlags verify;
  CLI::App* verify_cmd = AddVerifyCommand(app, verify);

  CLI::App* status_cmd = app.add_subcommand("status", "List the clusters that are up");
  status_cmd->add_option("-o,--output", status_output, "table or json")
      ->check(OneOf({"table", "json"}));

  std::string get_what, get_cluster, get_output = "table";
  CLI::App* get_cmd = app.add_subcommand(
      "get",
      "Show pods, nodes, services, endpoints, the Services proxy's node counters, routes (the "
      "edge's counters) or the overlay of a cluster");
  get_cmd
      ->add_option("what", get_what,
                   "pods, nodes, svc (services, with their counters), endpoints, proxy (each "
                   "node's Services proxy: drops by reason, conntrack table, fragments), routes "
                   "(the edge's listeners and per-route counters) or overlay (network = "
                   "\"geneve\": each node's Geneve endpoint, its counters and drops by reason)")
      ->required()
      ->check(OneOf({"pods", "nodes", "pod", "node", "svc", "services", "service", "endpoints",
                     "ep", "proxy", "routes", "route", "overlay"}));
  get_cmd->footer(
      "Pods and nodes come from the cluster's state file; services, endpoints, proxy and overlay "
      "from its\n"
      "running process (they change with kill and scale). `get svc -o json` is the array of "
      "services; what a\n"
      "node's proxy counts as a whole (a full table, fragments, drops no service owns) is `get "
      "proxy`. Examples:\n"
      "  minikube-net get pods\n  minikube-net get svc -o json\n  minikube-net get endpoints\n"
      "  minikube-net get proxy -o json | jq '.nodes[] | {node, drops: .nat.drops}'\n"
      "  minikube-net get overlay");
  get_cmd->add_option("-c,--cluster", get_cluster, kClusterFlag);
  get_cmd->add_option("-o,--output", get_output, "table or json")->check(OneOf({"table", "json"}));

  std::string exec_pod, exec_cluster;
  std::vector<std::string> exec_cmd;
  CLI::App* exec_cmd_app = app.add_subcommand("exec",
                                              "Run CMD (default: sh) in a pod's (or node's, "
                                              "router's, or the underlay's) network namespace");
  exec_cmd_app->formatter(std::make_shared<ExecFormatter>());
  exec_cmd_app->add_option("pod", exec_pod, "Pod, node, router (tor-<rack>, spine) or `underlay`")
      ->required();
  exec_cmd_app->add_option("-c,--cluster", exec_cluster, kClusterFlag);
  exec_cmd_app->allow_extras();
  exec_cmd_app
      ->prefix_command();  // everything after POD (and an optional --) is the command; default sh
  exec_cmd_app->footer(
      "CMD runs with its arguments, untouched by minikube-net's flag parsing after --; without "
      "one, sh.\n"
      "A pod's command gets POD_NAME, POD_IP and NODE_NAME in its environment.\n"
      "Examples:\n  minikube-net exec client -- ping -c1 10.244.1.3\n"
      "  minikube-net exec node1 -- ip route\n  minikube-net exec web-0      # a shell in the pod\n"
      "Exit codes: CMD's own; 127 CMD could not be run (not found, not executable); 1 runtime "
      "failure or\n"
      "missing privileges; 2 bad usage, an unknown pod or node, or several clusters up and none "
      "named.");

  std::string ct_node, ct_cluster, ct_output = "table";
  CLI::App* conntrack_cmd = app.add_subcommand(
      "conntrack", "List the Services' flows of each node with their translation");
  conntrack_cmd->add_option("-n,--node", ct_node,
                            "Only this node's flows (each node has its own table)");
  conntrack_cmd->add_option("-c,--cluster", ct_cluster, kClusterFlag);
  conntrack_cmd->add_option("-o,--output", ct_output, "table or json")
      ->check(OneOf({"table", "json"}));
  conntrack_cmd->footer(
      "Each flow shows what the client sent (client -> ClusterIP or NodePort) and what the "
      "endpoint sees and\n"
      "answers (userspace: pod -> the node's proxy address). proxy_mode = \"nftables\": the "
      "kernel's own\n"
      "table, translated flows only (all of it: minikube-net exec node1 -- cat "
      "/proc/net/nf_conntrack).\n"
      "proxy_mode = \"ebpf\": the same node tables; a pod's socket the programs translated "
      "goes to the pod\nitself and makes no flow here (get svc's NEW counts them).");

  std::string kill_pod, kill_cluster;
  CLI::App* kill_cmd = app.add_subcommand(
      "kill", "Kill a pod: it is recreated on its node with a new IP, Services follow");
  kill_cmd->add_option("pod", kill_pod, "Pod name")->required();
  kill_cmd->add_option("-c,--cluster", kill_cluster, kClusterFlag);
  kill_cmd->footer(
      "As a Deployment's pod dies and comes back: its containers stop, its namespace is removed, a "
      "new one\n"
      "gets the next free address; endpoints follow at once and flows to the old address are "
      "flushed.");

  std::string scale_dep, scale_cluster;
  int scale_replicas = 0;
  CLI::App* scale_cmd = app.add_subcommand("scale", "Set the number of replicas of a Deployment");
  scale_cmd->add_option("deployment", scale_dep, "Deployment name")->required();
  scale_cmd->add_option("replicas", scale_replicas, "Number of replicas")
      ->required()
      ->check(IntIn(0, config::kMaxPods));
  scale_cmd->add_option("-c,--cluster", scale_cluster, kClusterFlag);
  scale_cmd->footer(
      "New pods are <deployment>-<i> on the least loaded node; scaling down removes the newest "
      "first.");

  bool resync_check = false;
  std::string resync_cluster;
  CLI::App* resync_cmd = app.add_subcommand(
      "resync",
      "proxy_mode = \"nftables\" or \"ebpf\": compare each node's table with a full sync; "
      "rewrite those that differ");
  resync_cmd->add_flag("--check", resync_check,
                       "Only compare: print the differences, change nothing (exit 1 if any)");
  resync_cmd->add_option("-c,--cluster", resync_cluster, kClusterFlag);
  resync_cmd->footer(
      "After up, a kill or scale writes only what it changes: a delta, one nft transaction per "
      "node.\n"
      "resync lists each node's table, loads a full sync of the spec in a scratch namespace, and "
      "compares the\n"
      "two (element order, counters and affinity entries aside). A node that differs (an nft "
      "command typed by\n"
      "hand) gets the full sync, in one transaction; a node in sync is left alone, its counters, "
      "round-robin\n"
      "positions and affinity entries kept. Every transaction is in <state "
      "dir>/logs/nftables.log.\n"
      "Exit codes: 0 in sync or repaired, 1 --check found differences (or a failure), 2 bad "
      "usage.");

  std::string bgp_speaker, bgp_cluster, bgp_output = "table";
  CLI::App* bgp_cmd = app.add_subcommand(
      "bgp", "Show the BGP sessions of a network = \"bgp\" lab's speakers (and one's routes)");
  bgp_cmd->add_option("speaker", bgp_speaker,
                      "A node, tor-<rack> or spine: its sessions and the routes of its table "
                      "(default: every speaker's sessions)");
  bgp_cmd->add_option("-c,--cluster", bgp_cluster, kClusterFlag);
  bgp_cmd->add_option("-o,--output", bgp_output, "table or json")->check(OneOf({"table", "json"}));
  bgp_cmd->footer(
      "Each speaker is a BIRD daemon in its namespace, asked over its control socket\n"
      "(/run/minikube-net/<cluster>/bird/<speaker>.ctl): per session the peer, its address and "
      "AS, the BGP\n"
      "state (Established once up), how long it has been in it, and the prefixes received and "
      "exported.\n"
      "Examples:\n  minikube-net bgp\n  minikube-net bgp tor-r1          # its sessions and "
      "routes\n"
      "  minikube-net bgp node1 -o json\n"
      "  minikube-net exec tor-r1 -- birdc -s /run/minikube-net/bgp/bird/tor-r1.ctl show route\n"
      "A speaker that does not answer (stopped, exited) is shown with its error. Exit codes: 0 "
      "ok, 1 the\n"
      "lab runs no speakers, its process is gone, or missing privileges, 2 an unknown (or empty) "
      "speaker or\nbad usage.");

  std::string logs_pod, logs_cluster;
  CLI::App* logs_cmd = app.add_subcommand(
      "logs", "Print the logs of a pod's containers (or `logs ingress`: the edge's access log)");
  logs_cmd->add_option("pod", logs_pod, "Pod name")->required();
  logs_cmd->add_option("-c,--cluster", logs_cluster, kClusterFlag);

  // `cert`: a local CA and a server certificate for labs (vnet/edge/tls). Touches only files in
  // --dir.
  std::string cert_dir = "./minikube-net-tls", cert_name;
  std::vector<std::string> cert_hosts;
  CLI::App* cert_cmd = app.add_subcommand(
      "cert", "Make (or reuse) a local CA in DIR and issue a certificate for HOSTs");
  cert_cmd->add_option("hosts", cert_hosts, "DNS names (*.example.com allowed) or IP addresses")
      ->required();
  cert_cmd->add_option("--dir", cert_dir,
                       "Where ca.pem/ca.key and the certificate go (default: ./minikube-net-tls)");
  cert_cmd->add_option("--name", cert_name,
                       "File base name: NAME.crt, NAME.key (default: the first host)");
  cert_cmd->footer(
      "Example:\n  minikube-net cert --dir certs shop.lab '*.shop.lab'\n"
      "then in the lab file:\n"
      "  [[ingress.tls]]   (or [[listener.tls]])\n  hosts = [\"shop.lab\", \"*.shop.lab\"]\n"
      "  cert = \"certs/shop.lab.crt\"\n  key = \"certs/shop.lab.key\"\n"
      "and trust the CA in the client:\n"
      "  curl --cacert certs/ca.pem https://shop.lab:8443/ --resolve shop.lab:8443:127.0.0.1\n"
      "The CA (DIR/ca.pem, DIR/ca.key) is made once and reused; its key never leaves DIR. "
      "Certificates are\n"
      "valid for 1 year, EC P-256. Exit codes: 0 ok, 1 a file could not be written, 2 bad usage or "
      "host.");
  CaptureFlags capture;
  CLI::App* capture_cmd = AddCaptureCommand(app, capture);
  GraphFlags graph;
  CLI::App* graph_cmd = AddGraphCommand(app, graph);
  TraceFlags trace;
  CLI::App* trace_cmd = AddTraceCommand(app, trace);
  // `exec POD -- CMD...`: what follows "--" is the command, untouched by flag parsing.
  std::vector<std::string> after_dashes;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      after_dashes.assign(argv + i + 1, argv + argc);
      argc = i;
      break;
    }
  }
  // CLI11 answers an unknown first word with "A subcommand is required": name the word instead, and
  // the command it is nearest to.
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> commands;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
      commands.push_back(sub->get_name());
    if (std::find(commands.begin(), commands.end(), argv[1]) == commands.end())
      return Exit(absl::InvalidArgumentError(control::UnknownCommand(argv[1], commands)));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return UsageError(app, e, argc > 1 ? argv[1] : "");
  }
  if (*up_cmd) {
    if (up.keep_going && up.strict) {
      return Exit(absl::InvalidArgumentError(
          "up: --keep-going and --strict contradict each other (--strict is the default)"));
    }
    if (up.lab == "-" && !up.dry_run) {
      return Exit(absl::InvalidArgumentError(
          "up: a lab from standard input can only be planned (up --dry-run -): a running cluster "
          "records its lab file, and resolves the paths in it from that file's directory"));
    }
    if (up.check && up.dry_run) {
      return Exit(absl::InvalidArgumentError(
          "up: --check cannot be combined with --dry-run: a dry run creates nothing to probe"));
    }
    if (up.shell && (up.detach || up.dry_run)) {
      return Exit(absl::InvalidArgumentError(
          StrCat("up: --shell cannot be combined with ", up.detach ? "-d" : "--dry-run", ": ",
                 up.detach ? "the shell runs in the foreground and ends the cluster when it exits"
                           : "a dry run creates nothing to explore",
                 " (see minikube-net up --help)")));
    }
    return RunUp(up);
  }
  if (*plan_cmd) {
    int code = kExitOk;
    std::optional<config::ClusterSpec> spec = Lab(plan_lab, code);
    return spec ? PrintPlan(*spec, plan_output) : code;
  }
  if (*validate_cmd) {
    int code = kExitOk;
    std::optional<config::ClusterSpec> spec = Lab(validate_lab, code);
    if (spec)
      std::cout << validate_lab
                << ": ok: " << control::Count(static_cast<int64_t>(spec->nodes.size()), "node")
                << ", " << control::Count(static_cast<int64_t>(spec->pods.size()), "pod") << "\n";
    return code;
  }
  if (*down_cmd) return RunDown(down_target, down_all);
  if (*cni_cmd) return RunCni(cni);
  if (*verify_cmd) return RunVerifyCommand(verify);
  if (*check_cmd) return RunCheckCommand(check_flags);
  if (*status_cmd) return RunStatus(status_output);
  if (*get_cmd) return RunGet(get_what, get_cluster, get_output);
  if (*conntrack_cmd) {
    return AskAndPrint(ct_cluster, control::ConntrackRequest{ct_node},
                       ct_output == "json" ? control::ConntrackJson : control::ConntrackTable);
  }
  if (*kill_cmd)
    return AskAndPrint(kill_cluster, control::KillRequest{kill_pod}, control::KillText);
  if (*scale_cmd) {
    const control::ScaleRequest request{scale_dep, scale_replicas};
    return AskAndPrint(scale_cluster, request,
                       [&](const control::ScaleAnswer&) { return control::ScaleText(request); });
  }
  if (*exec_cmd_app) {
    exec_cmd = exec_cmd_app->remaining();
    exec_cmd.insert(exec_cmd.end(), after_dashes.begin(), after_dashes.end());
    return RunExec(exec_pod, exec_cluster, exec_cmd);
  }
  if (*resync_cmd) {
    absl::StatusOr<control::ResyncAnswer> a =
        vnet::Ask(resync_cluster, control::ResyncRequest{resync_check});
    if (!a.ok()) return Exit(a.status());
    std::cout << control::ResyncText(*a);
    bool differ = false;
    for (const control::NodeResync& n : a->nodes) differ |= !n.differences.empty();
    return resync_check && differ ? kExitFailure : kExitOk;
  }
  if (*logs_cmd) return RunLogs(logs_pod, logs_cluster);
  if (*bgp_cmd)
    return RunBgp(bgp_speaker, bgp_cmd->get_option("speaker")->count() > 0, bgp_cluster,
                  bgp_output);
  if (*cert_cmd) return RunCert(cert_dir, cert_name, cert_hosts);
  if (*capture_cmd) {
    absl::Status st = RunCaptureCommand(capture);
    return st.ok() ? kExitOk : Exit(st);
  }
  if (*graph_cmd) {
    absl::Status st = RunGraphCommand(graph);
    return st.ok() ? kExitOk : Exit(st);
  }
  if (*trace_cmd) {
    absl::StatusOr<bool> whole = RunTraceCommand(trace);
    if (!whole.ok()) return Exit(whole.status());
    return *whole ? kExitOk : kExitFailure;
  }
  return kExitOk;
}
