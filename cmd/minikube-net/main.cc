// minikube-net: a Kubernetes-style cluster network on one Linux machine, in one process.
//
// Flags, subcommands and exit codes only (STYLE.md §1): each subcommand is one call into vnet/ (a
// lab read by vnet/cluster/lab, `up` and `down` by vnet/cluster/session, a running cluster asked
// through vnet/cluster/client and lib/control's protocol) whose result is printed with
// lib/control/format's tables. This file has the lifecycle verbs (up, down, status, plan,
// validate) and cert; the others live beside it, each group in its own file: cluster.cc (get,
// exec, logs, kill, scale, conntrack, resync, bgp, check), cni.cc (cni, verify), see.cc (capture,
// graph), trace.cc, policy.cc (apply, delete netpol). common.h: the exit codes (0 success, 1
// runtime failure including missing privileges, 2 bad lab file or usage) and Exit(), which maps a
// Status to them.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cmd/minikube-net/cluster.h"
#include "cmd/minikube-net/cni.h"
#include "cmd/minikube-net/common.h"
#include "cmd/minikube-net/policy.h"
#include "cmd/minikube-net/see.h"
#include "cmd/minikube-net/trace.h"
#include "cmd/minikube-net/ui.h"
#include "lib/config/spec.h"
#include "lib/control/format.h"
#include "lib/control/protocol.h"
#include "lib/control/usage.h"
#include "lib/plan/plan.h"
#include "lib/strings/str_cat.h"
#include "vnet/check/check.h"
#include "vnet/cluster/lab.h"
#include "vnet/cluster/session.h"
#include "vnet/cluster/state.h"
#include "vnet/edge/tls.h"

namespace mkn {
namespace {

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

int PrintPlan(const config::ClusterSpec& spec, const std::string& output) {
  plan::Plan p = plan::BuildPlan(spec);
  std::cout << (output == "json" ? plan::RenderJson(p) : plan::RenderShell(p));
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
  UpUiFlags ui;  // --ui [PORT] (ui.h)
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
  o.serve = UpServe(f.ui);
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
  AddUpUiOption(up_cmd, up.ui);
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
      "proxy_mode = \"ebpf\" (Linux 5.14+, a cgroup2 mount): up also makes the cluster's cgroup "
      "v2, mkn-<cluster>-<netns\n"
      "inode> beneath the cgroup2 mount (status -o json: .cgroup), and attaches its programs "
      "there; "
      "the lab's\n"
      "containers and exec in a pod run in it. The programs go with this process (never pinned); "
      "down removes\n"
      "the cgroup, moving a process still in it (an open exec in a pod) to the mount's "
      "root.\n"
      "Exit codes: 0 ok, 1 runtime failure (a failed CNI ADD without --keep-going, a busy or "
      "taken name,\n"
      "missing privileges), 2 bad lab file (unreadable, not a regular file, over 16 MiB, "
      "invalid) or usage;\n"
      "with --shell, the shell's exit status when it ends by itself (0 when minikube-net is "
      "signalled).");

  up_cmd->add_flag("--check", up.check,
                   "Once ready, probe the lab's [[expect]] rows as `check` does; exit 1 if any "
                   "cell disagrees (the cluster's life is unchanged: see check --help)");
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
  CLI::App* status_cmd = app.add_subcommand("status", "List the clusters that are up");
  status_cmd->add_option("-o,--output", status_output, "table or json")
      ->check(OneOf({"table", "json"}));
  ClusterVerbsPtr cluster_verbs = AddClusterVerbs(app);
  CniVerbsPtr cni_verbs = AddCniVerbs(app);
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
  UiFlags ui;
  CLI::App* ui_cmd = AddUiCommand(app, ui);
  PolicyFlags policy;
  AddPolicyCommands(app, policy);
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
    if (up.dry_run && up.ui.option->count() > 0)
      return Exit(absl::InvalidArgumentError("up: --ui cannot be combined with --dry-run"));
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
                << ", "
                << control::Count(std::count_if(spec->pods.begin(), spec->pods.end(),
                                                [](const config::PodSpec& p) {
                                                  return !config::IsSystemNamespace(p.ns);
                                                }),
                                  "pod")
                << "\n";
    return code;
  }
  if (*down_cmd) return RunDown(down_target, down_all);
  if (*status_cmd) return RunStatus(status_output);
  if (std::optional<int> code = RunClusterVerbs(*cluster_verbs, after_dashes)) return *code;
  if (std::optional<int> code = RunCniVerbs(*cni_verbs)) return *code;
  if (*cert_cmd) return RunCert(cert_dir, cert_name, cert_hosts);
  if (*capture_cmd) {
    absl::Status st = RunCaptureCommand(capture);
    return st.ok() ? kExitOk : Exit(st);
  }
  if (*graph_cmd) {
    absl::Status st = RunGraphCommand(graph);
    return st.ok() ? kExitOk : Exit(st);
  }
  if (*ui_cmd) {
    absl::Status st = RunUiCommand(ui);
    return st.ok() ? kExitOk : Exit(st);
  }
  if (*trace_cmd) {
    return RunTraceCommand(trace);
  }
  if (std::optional<int> code = RunPolicyCommands(policy)) return *code;
  return kExitOk;
}
