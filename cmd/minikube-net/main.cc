// minikube-net: a Kubernetes-style cluster network on one Linux machine, in one process.
//
// Flags, subcommands, signals and exit codes only (STYLE.md §1): everything a test needs is in
// vnet/ and lib/. Exit codes: 0 success, 1 runtime failure (including missing privileges), 2 bad
// lab file or usage.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "lib/net/naming.h"
#include "lib/plan/plan.h"
#include "lib/strings/edit_distance.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/control.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/runtime.h"
#include "vnet/cni/verify/verify.h"
#include "vnet/edge/tls.h"
#include "vnet/kernel/netns.h"

namespace mkn {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

int Fail(const std::string& msg, int code = kExitFailure) {
  std::cerr << "minikube-net: " << msg << "\n";
  return code;
}

int Fail(const absl::Status& st) { return Fail(std::string(st.message())); }

// Reads and resolves a lab file; prints diagnostics (warnings too) to stderr.
std::optional<config::ClusterSpec> LoadLab(const std::string& path, int& exit_code) {
  std::ifstream in(path);
  if (!in) {
    exit_code = Fail(StrCat("cannot read lab file ", path), kExitBadInput);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  config::LoadResult r = config::Load(ss.str(), path);
  std::cerr << r.diags.FormatAll();
  if (!r.spec) {
    exit_code = kExitBadInput;
    return std::nullopt;
  }
  // A CNI lab: every node's conflist must read, render, parse and find its plugins (nothing runs).
  if (r.spec->cni_mode) {
    if (absl::StatusOr<std::vector<vnet::CniNodeConfig>> c = vnet::LoadCniConfigs(*r.spec, path);
        !c.ok()) {
      std::cerr << c.status().message() << "\n";
      exit_code = kExitBadInput;
      return std::nullopt;
    }
  }
  return std::move(r.spec);
}

bool NeedPrivileges(int& exit_code) {
  if (vnet::HaveNetAdmin()) return true;
  exit_code = Fail(
      "need CAP_NET_ADMIN and CAP_SYS_ADMIN to create network namespaces: run as root or with "
      "sudo");
  return false;
}

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows) {
    if (w.size() < r.size()) w.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string PodsTable(const vnet::ClusterState& s) {
  std::vector<std::vector<std::string>> rows = {{"POD", "NODE", "IP", "CONTAINERS", "ENTER WITH"}};
  for (const vnet::PodState& p : s.pods) {
    std::string cs;
    for (const auto& c : p.containers) {
      if (!cs.empty()) cs += ",";
      cs += c.name + "(" + (c.app == "command" ? "cmd" : c.app) +
            (c.ports.empty() ? "" : " " + c.ports[0]) + ")";
    }
    // A CNI lab's pod whose ADD failed has no address: say why instead.
    rows.push_back({p.name, p.node, p.error.empty() ? p.ip : "<none>", cs,
                    "ip netns exec " + p.netns + " sh"});
  }
  std::string out = Table(rows);
  for (const vnet::PodState& p : s.pods) {
    if (!p.error.empty()) out += "pod " + p.name + ": CNI ADD failed: " + p.error + "\n";
  }
  return out;
}

std::string NodesTable(const vnet::ClusterState& s) {
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "UNDERLAY IP", "POD CIDR", "PODS", "NETNS"}};
  for (const vnet::NodeState& n : s.nodes) {
    int pods = 0;
    for (const auto& p : s.pods) pods += p.node == n.name;
    rows.push_back({n.name, n.underlay_ip, n.pod_cidr, std::to_string(pods), n.netns});
  }
  return Table(rows);
}

// The cluster a command means: --cluster, else $MKN_CLUSTER (set in an `up --shell` shell), else
// the only one that is up.
std::optional<vnet::ClusterState> PickCluster(const std::string& name, int& exit_code) {
  std::string c = name;
  if (const char* env = getenv("MKN_CLUSTER"); c.empty() && env != nullptr) c = env;
  if (c.empty()) {
    std::vector<std::string> all = vnet::ListClusters();
    if (all.empty()) {
      exit_code = Fail("no cluster is up (start one with: minikube-net up LAB.toml)");
      return std::nullopt;
    }
    if (all.size() > 1) {
      exit_code = Fail(StrCat("several clusters are up; say which with --cluster (", all.size(),
                              " up: ", all[0], ", ", all[1], ", ...)"),
                       kExitBadInput);
      return std::nullopt;
    }
    c = all[0];
  }
  absl::StatusOr<vnet::ClusterState> st = vnet::ReadState(c);
  if (!st.ok()) {
    exit_code = Fail(st.status());
    return std::nullopt;
  }
  return *st;
}

// --- up ------------------------------------------------------------------------------------------

struct UpFlags {
  std::string lab;
  bool dry_run = false;
  bool detach = false;
  bool strict = false;  // CNI labs: a failed ADD fails the whole up
  bool shell = false;
  std::string output = "sh";
  int workers = 0;
};

// --- up --shell ----------------------------------------------------------------------------------

// The interactive shell of `up --shell`, run as a shell runs a foreground job: in a process group
// of its own that, when stdin is our terminal, becomes the terminal's foreground group. A Ctrl-C
// typed in the shell then goes to the shell (or the job it runs), never to minikube-net, which
// tears the cluster down only when the shell ends or when it is itself signalled.
struct ShellChild {
  pid_t pid = -1;
  bool took_tty = false;
  pid_t tty_owner =
      0;  // the terminal's foreground group before; 0 when not visible from this pid namespace
};

std::string ShellPath() {
  const char* sh = getenv("SHELL");
  return sh != nullptr && *sh != '\0' ? sh : "/bin/bash";
}

absl::StatusOr<ShellChild> StartShell(const std::string& cluster) {
  std::string shell = ShellPath();
  std::string prefix = StrCat("(mkn:", cluster, ") ");
  // Everything the child needs is built before fork: the process has threads, so after fork only
  // async-signal-safe calls.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  env["MKN_CLUSTER"] = cluster;
  // `minikube-net get pods` in the shell runs this very binary.
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) env["PATH"] = self.parent_path().string() + (env.count("PATH") ? ":" + env["PATH"] : "");
  // PS1 for shells that take it from the environment (dash, or bash without an rc file that sets
  // it); bash's rc files usually overwrite PS1, so bash also gets a PROMPT_COMMAND that puts the
  // prefix back.
  env["PS1"] = prefix + (env.count("PS1") ? env["PS1"] : (geteuid() == 0 ? "# " : "$ "));
  std::string pc = StrCat("[[ $PS1 == \"", prefix, "\"* ]] || PS1=\"", prefix, "$PS1\"");
  env["PROMPT_COMMAND"] = env.count("PROMPT_COMMAND") ? pc + "; " + env["PROMPT_COMMAND"] : pc;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv = {shell.data(), nullptr};

  ShellChild c;
  c.took_tty = isatty(0) && tcgetpgrp(0) == getpgrp();
  c.tty_owner = c.took_tty ? tcgetpgrp(0) : 0;
  int pipefd[2];  // exec's result: EOF means the shell runs
  if (pipe2(pipefd, O_CLOEXEC) < 0) return absl::ErrnoToStatus(errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return absl::ErrnoToStatus(e, "fork");
  }
  if (pid == 0) {
    close(pipefd[0]);
    // Take the terminal from a background group: SIGTTOU must be blocked for tcsetpgrp to succeed.
    sigset_t ttou;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, nullptr);
    setpgid(0, 0);
    if (c.took_tty) tcsetpgrp(0, getpid());
    // A shell keeps the signals it starts with ignored, and so do its jobs: a minikube-net started
    // with SIGINT ignored (a background job of a script, nohup) would give the user a shell where
    // Ctrl-C does nothing. The shell starts as from a terminal, with every job-control signal at
    // its default.
    for (int s : {SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU})
      signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (shell.find('/') != std::string::npos) {
      execve(argv[0], argv.data(), envp.data());
    } else {
      execvpe(argv[0], argv.data(), envp.data());
    }
    int err = errno;
    (void)!write(pipefd[1], &err, sizeof(err));
    _exit(127);
  }
  setpgid(pid, pid);  // also in the parent, so the group exists whichever runs first
  close(pipefd[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(pipefd[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  c.pid = pid;
  if (n == sizeof(err)) {
    waitpid(pid, nullptr, 0);
    return absl::ErrnoToStatus(err, StrCat("run ", shell, " (set SHELL to another shell)"));
  }
  return c;
}

// Gives the terminal back to minikube-net's group after the shell ended (no-op if it was never
// taken).
void RestoreTty(const ShellChild& c) {
  if (!c.took_tty || c.tty_owner <= 0)
    return;  // in a new pid namespace the old group has no number here
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &ttou, &old);
  tcsetpgrp(0, c.tty_owner);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// Ends a shell that is still running because minikube-net was told to stop: SIGHUP, as a terminal
// hangup does (an interactive bash passes it on to its jobs), then SIGKILL to its group after a
// grace period.
void StopShell(const ShellChild& c) {
  kill(-c.pid, SIGHUP);
  kill(-c.pid, SIGCONT);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(c.pid, nullptr, WNOHANG) == c.pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-c.pid, SIGKILL);
  waitpid(c.pid, nullptr, 0);
}

// What a teardown has to say beyond the count: CNI DEL results and plugin leaks, and namespaces the
// kernel had not freed by the deadline (down then waited for them the whole time).
std::string TeardownReportText(const vnet::TeardownReport& r) {
  std::string out;
  if (r.cni_deleted > 0) out += StrCat("cni: DEL removed ", r.cni_deleted, " attachments\n");
  for (const std::string& e : r.cni_errors) out += StrCat("cni: DEL failed: ", e, "\n");
  for (const std::string& l : r.cni_leaks) out += StrCat("cni: plugin leak: ", l, "\n");
  for (const std::string& s : r.still_held) {
    out += StrCat("minikube-net: ", s,
                  " was removed but the kernel had not freed it by the deadline: a process ",
                  "or a socket still inside holds it\n");
  }
  return out;
}
void PrintTeardownReport(const vnet::TeardownReport& r) { std::cerr << TeardownReportText(r); }

// A detached owner's teardown report, left for the `down` that stopped it (the owner's own output
// goes to up.log, which goes with the state directory). Under the tool's runtime directory.
std::string DownReportPath(const std::string& cluster) {
  return StrCat(std::string(net::kRunDir), "/.", cluster, ".down-report");
}

int RunUp(const UpFlags& f) {
  int code = kExitOk;
  std::optional<config::ClusterSpec> spec = LoadLab(f.lab, code);
  if (!spec) return code;
  if (f.dry_run) {
    plan::Plan p = plan::BuildPlan(*spec);
    std::cout << (f.output == "json" ? plan::RenderJson(p) : plan::RenderShell(p));
    return kExitOk;
  }
  if (!NeedPrivileges(code)) return code;

  // -d: the child runs the cluster; the parent relays its output until it is ready, then exits.
  // Readiness comes on a pipe of its own: one byte when ready; EOF without it means the child
  // failed (its exit code).
  int relay[2] = {-1, -1}, ready[2] = {-1, -1};
  if (f.detach) {
    if (pipe2(relay, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) return Fail("pipe failed");
    pid_t pid = fork();
    if (pid < 0) return Fail("fork failed");
    if (pid > 0) {
      close(relay[1]);
      close(ready[1]);
      char buf[4096];
      ssize_t n;
      while ((n = read(relay[0], buf, sizeof(buf))) > 0) fwrite(buf, 1, n, stdout);
      char byte = 0;
      if (read(ready[0], &byte, 1) == 1) return kExitOk;  // up and running in the background
      int status = 0;
      waitpid(pid, &status, 0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : kExitFailure;
    }
    close(relay[0]);
    close(ready[0]);
    setsid();
    dup2(relay[1], 1);
    dup2(relay[1], 2);
  }

  // Signals are taken synchronously by the main thread; every thread created after this inherits
  // the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::atomic<size_t> progress{0};
  size_t total = plan::BuildPlan(*spec).steps.size();
  bool tty = isatty(2) && !f.detach;
  std::atomic<bool> done{false};
  std::thread meter;
  if (tty) {
    meter = std::thread([&] {
      while (!done) {
        fprintf(stderr, "\rcreating %s: %zu/%zu steps", spec->name.c_str(), progress.load(), total);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      fprintf(stderr, "\r\033[K");
    });
  }
  vnet::UpOptions uo;
  uo.lab_path = std::filesystem::absolute(f.lab).string();
  uo.workers = f.workers;
  uo.strict = f.strict;
  uo.progress = &progress;
  uo.notice = [](const std::string& s) { std::cerr << "minikube-net: " << s << "\n"; };
  if (const char* at = getenv("MKN_FAIL_AT_STEP"))
    uo.fail_at_step = atoi(at);  // e2e: rollback tests
  absl::StatusOr<std::unique_ptr<vnet::RunningCluster>> rc = vnet::RunningCluster::Up(*spec, uo);
  done = true;
  if (meter.joinable()) meter.join();
  if (!rc.ok())
    return Fail(
        StrCat("up ", spec->name, ": ", rc.status().message(), " (nothing was left behind)"));
  const vnet::ClusterState& st = (*rc)->state();
  std::cout << NodesTable(st) << "\n" << PodsTable(st) << "\n";
  std::cout << "cluster " << st.cluster << " (" << st.network << ") ready in " << st.ready_ms
            << " ms: " << st.nodes.size() << " nodes, " << st.pods.size() << " pods\n";
  if (f.detach) {
    std::cout << "running in the background as pid " << getpid()
              << "; stop it with: minikube-net down " << st.cluster << "\n";
    std::cout.flush();
    int log = open((vnet::StateDirOf(st.cluster) + "/up.log").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    dup2(log, 1);
    dup2(log, 2);
    close(log);
    close(relay[1]);
    (void)!write(ready[1], "K", 1);
    close(ready[1]);
  } else if (f.shell) {
    std::cout << "starting " << ShellPath() << " with MKN_CLUSTER=" << st.cluster
              << "; the cluster is torn down when it exits\n";
    std::cout.flush();
  } else {
    std::cout << "press Ctrl-C to tear it down (or run: minikube-net down " << st.cluster << ")\n";
    std::cout.flush();
  }
  ShellChild shell;
  int exit_code = kExitOk;
  if (f.shell) {
    absl::StatusOr<ShellChild> sc = StartShell(st.cluster);
    if (!sc.ok()) {
      Fail(sc.status());
      exit_code = kExitFailure;
    } else {
      shell = *sc;
    }
  }
  while (!f.shell || shell.pid > 0) {
    siginfo_t info;
    int sig = sigwaitinfo(&sigs, &info);
    if (sig == SIGCHLD) {
      for (const std::string& line : (*rc)->ReapChildren())
        std::cerr << "minikube-net: " << line << "\n";
      int status = 0;
      if (shell.pid > 0 && waitpid(shell.pid, &status, WNOHANG) == shell.pid) {
        // The shell's status becomes ours (as with ci/sandbox.sh or ssh), so a script piped into
        // `up --shell` reports its failure.
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        RestoreTty(shell);
        shell.pid = -1;
        break;
      }
      continue;
    }
    if (sig < 0) continue;
    // A Ctrl-C from the terminal (SI_KERNEL) while the shell runs belongs to the shell's foreground
    // job.
    if (sig == SIGINT && shell.pid > 0 && info.si_code == SI_KERNEL) continue;
    break;
  }
  if (shell.pid > 0) {  // told to stop while the shell runs: end it first, then tear down as usual
    StopShell(shell);
    RestoreTty(shell);
  }
  auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<vnet::TeardownReport> r = (*rc)->Down();
  if (!r.ok()) return Fail(StrCat("down ", st.cluster, ": ", r.status().message()));
  std::cerr << "cluster " << st.cluster << " down in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms: " << r->removed << " namespaces removed\n";
  PrintTeardownReport(*r);
  if (f.detach) {
    if (std::string text = TeardownReportText(*r); !text.empty())
      std::ofstream(DownReportPath(st.cluster)) << text;
  }
  return exit_code;
}

// --- down ----------------------------------------------------------------------------------------

int RunDown(const std::string& target, bool all) {
  int code = kExitOk;
  if (!NeedPrivileges(code)) return code;
  std::vector<std::string> names;
  if (all) {
    names = vnet::ListClusters();
  } else if (target.empty()) {
    std::vector<std::string> up = vnet::ListClusters();
    if (up.size() != 1) {
      return up.empty() ? (std::cout << "no cluster is up\n", kExitOk)
                        : Fail("several clusters are up: name one, or use --all", kExitBadInput);
    }
    names = up;
  } else if (target.size() > 5 && target.substr(target.size() - 5) == ".toml") {
    std::optional<config::ClusterSpec> spec = LoadLab(target, code);
    if (!spec) return code;
    names = {spec->name};
  } else {
    names = {target};
  }
  for (const std::string& n : names) {
    auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<vnet::DownResult> r = vnet::DownCluster(n);
    if (!r.ok()) {
      code = Fail(StrCat("down ", n, ": ", r.status().message()));
      continue;
    }
    if (!r->was_up) {
      std::cout << "cluster " << n << " is not up\n";
      continue;
    }
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    std::cout << "cluster " << n << " down in " << ms << " ms"
              << (r->owner_stopped ? " (its process stopped)"
                                   : StrCat(": ", r->report.removed, " namespaces removed"))
              << "\n";
    PrintTeardownReport(r->report);
    // A detached owner that stopped itself left its report (DEL results, plugin leaks, namespaces
    // not freed) for us.
    if (std::ifstream rep(DownReportPath(n)); rep) {
      std::cerr << rep.rdbuf();
      rep.close();
      ::unlink(DownReportPath(n).c_str());
    }
    for (const std::string& s : r->report.not_ours)
      std::cerr << "minikube-net: left " << s
                << " alone: it does not carry this cluster's marker\n";
  }
  return code;
}

// --- status, get, exec, logs
// -------------------------------------------------------------------------

int RunStatus(const std::string& output) {
  std::vector<std::string> names = vnet::ListClusters();
  if (output == "json") {
    nlohmann::json arr = nlohmann::json::array();
    for (const std::string& n : names) {
      absl::StatusOr<vnet::ClusterState> s = vnet::ReadState(n);
      if (s.ok()) arr.push_back(nlohmann::json::parse(vnet::StateToJson(*s)));
    }
    std::cout << arr.dump(2) << "\n";
    return kExitOk;
  }
  if (names.empty()) {
    std::cout << "no cluster is up\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"CLUSTER", "STATE", "NETWORK", "NODES", "PODS", "PID", "LAB"}};
  for (const std::string& n : names) {
    absl::StatusOr<vnet::ClusterState> s = vnet::ReadState(n);
    if (!s.ok()) continue;
    bool alive = vnet::ClusterLocked(n) && vnet::IsAlive(s->owner);
    rows.push_back({n, alive ? s->phase : "dead (run: minikube-net down " + n + ")", s->network,
                    std::to_string(s->nodes.size()), std::to_string(s->pods.size()),
                    std::to_string(s->owner.pid), s->lab});
  }
  std::cout << Table(rows);
  return kExitOk;
}

// --- runtime verbs: answered by the cluster's own process over its control socket ----------------

// Sends {"verb": ..., fields} to the cluster and returns the parsed answer, or an exit code.
std::optional<nlohmann::json> Ask(const std::string& cluster, nlohmann::json req, int& exit_code) {
  std::optional<vnet::ClusterState> s = PickCluster(cluster, exit_code);
  if (!s) return std::nullopt;
  // Bytes that are not UTF-8 (a pod name typed wrong) become U+FFFD instead of an exception.
  absl::StatusOr<std::string> resp = vnet::ControlCall(
      s->cluster, req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!resp.ok()) {
    exit_code = Fail(resp.status());
    return std::nullopt;
  }
  nlohmann::json j = nlohmann::json::parse(*resp, nullptr, false);
  if (!j.is_object()) {
    exit_code = Fail(StrCat("cluster ", s->cluster, " gave a malformed answer"));
    return std::nullopt;
  }
  if (!j.value("ok", false)) {
    std::string code = j.value("code", "");
    exit_code =
        Fail(j.value("error", "request failed"),
             code == "NOT_FOUND" || code == "INVALID_ARGUMENT" ? kExitBadInput : kExitFailure);
    return std::nullopt;
  }
  return j;
}

std::string PortsText(const nlohmann::json& svc) {
  std::string out;
  for (const auto& p : svc["ports"]) {
    if (!out.empty()) out += ",";
    out += std::to_string(p["port"].get<int>());
    if (p.contains("node_port")) out += ":" + std::to_string(p["node_port"].get<int>());
    out += "/" + p["protocol"].get<std::string>();
  }
  return out;
}

int RunGetServices(const std::string& what, const std::string& cluster, const std::string& output) {
  int code = kExitOk;
  std::optional<nlohmann::json> j = Ask(cluster, {{"verb", what}}, code);
  if (!j) return code;
  if (output == "json") return std::cout << (*j)["services"].dump(2) << "\n", kExitOk;
  std::vector<std::vector<std::string>> rows;
  if (what == "endpoints") {
    rows.push_back({"NAME", "ENDPOINTS"});
    for (const auto& s : (*j)["services"]) {
      std::string eps;
      for (const auto& e : s["endpoints"]) {
        if (!eps.empty()) eps += ",";
        eps += e["ip"].get<std::string>() + "(" + e["pod"].get<std::string>() + ")";
      }
      rows.push_back({s["name"], eps.empty() ? "<none>" : eps});
    }
    std::cout << Table(rows);
    return kExitOk;
  }
  // Userspace: the proxy's own counters. nftables: new flows from a counter rule in each service
  // chain, packets and bytes of the flows still in the kernel's conntrack table.
  bool counters = !(*j)["services"].empty() && !(*j)["services"][0]["ports"].empty() &&
                  (*j)["services"][0]["ports"][0].contains("counters");
  rows.push_back({"NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "ENDPOINTS", "ALGORITHM", "AFFINITY"});
  if (counters) rows[0].insert(rows[0].end(), {"PACKETS", "BYTES", "FLOWS", "NEW", "DROPS"});
  for (const auto& s : (*j)["services"]) {
    std::vector<std::string> r = {s["name"],
                                  s["type"],
                                  s["cluster_ip"],
                                  PortsText(s),
                                  std::to_string(s["endpoints"].size()),
                                  s["algorithm"],
                                  s["session_affinity"]};
    if (counters) {
      uint64_t packets = 0, bytes = 0, flows = 0, fresh = 0, drops = 0;
      for (const auto& p : s["ports"]) {
        if (!p.contains("counters")) continue;
        const auto& c = p["counters"];
        packets += c["packets"].get<uint64_t>();
        bytes += c["bytes"].get<uint64_t>();
        flows += c["flows"].get<uint64_t>();
        fresh += c["new_flows"].get<uint64_t>();
        for (const auto& [reason, n] : c["drops"].items()) drops += n.get<uint64_t>();
      }
      r.insert(r.end(), {std::to_string(packets), std::to_string(bytes), std::to_string(flows),
                         std::to_string(fresh), std::to_string(drops)});
    }
    rows.push_back(std::move(r));
  }
  std::cout << Table(rows);
  return kExitOk;
}

int RunGetRoutes(const std::string& cluster, const std::string& output) {
  int code = kExitOk;
  std::optional<nlohmann::json> j = Ask(cluster, {{"verb", "routes"}}, code);
  if (!j) return code;
  if (output == "json") return std::cout << j->dump(2) << "\n", kExitOk;
  for (const auto& l : (*j)["listeners"])
    std::cout << "listening: " << l.get<std::string>() << "\n";
  std::vector<std::vector<std::string>> rows = {
      {"ROUTE", "REQUESTS", "2XX", "3XX", "4XX", "5XX", "BYTES IN", "BYTES OUT"}};
  for (const auto& r : (*j)["routes"]) {
    rows.push_back(
        {r["route"], std::to_string(r["requests"].get<uint64_t>()),
         std::to_string(r["2xx"].get<uint64_t>()), std::to_string(r["3xx"].get<uint64_t>()),
         std::to_string(r["4xx"].get<uint64_t>()), std::to_string(r["5xx"].get<uint64_t>()),
         std::to_string(r["bytes_in"].get<uint64_t>()),
         std::to_string(r["bytes_out"].get<uint64_t>())});
  }
  std::cout << Table(rows);
  return kExitOk;
}

int RunConntrack(const std::string& node, const std::string& cluster, const std::string& output) {
  int code = kExitOk;
  std::optional<nlohmann::json> j = Ask(cluster, {{"verb", "conntrack"}, {"node", node}}, code);
  if (!j) return code;
  if (output == "json") return std::cout << (*j)["flows"].dump(2) << "\n", kExitOk;
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "PROTO", "STATE", "SERVICE", "ORIGINAL (as the client sent it)",
       "REPLY (as the endpoint answers)", "POD", "EXPIRES", "PACKETS"}};
  for (const auto& f : (*j)["flows"]) {
    rows.push_back({f["node"], f["protocol"], f["state"], f["service"], f["original"], f["reply"],
                    f["endpoint"], std::to_string(f["expires_in_ms"].get<int64_t>() / 1000) + "s",
                    std::to_string(f["packets"].get<uint64_t>())});
  }
  std::cout << Table(rows);
  return kExitOk;
}

// --- cni: the plugin developer's loop
// -------------------------------------------------------------

struct CniFlags {
  std::string verb, target, node, cluster, output = "json";
  bool show_exec = false;
};

// `cni render LAB [--node N]`: each node's conflist with its ${...} filled, as its plugins get it.
int RunCniRender(const CniFlags& f) {
  int code = kExitOk;
  std::optional<config::ClusterSpec> spec = LoadLab(f.target, code);
  if (!spec) return code;
  if (!spec->cni_mode)
    return Fail(StrCat(f.target, ": not a network = \"cni\" lab"), kExitBadInput);
  absl::StatusOr<std::vector<vnet::CniNodeConfig>> cfgs = vnet::LoadCniConfigs(*spec, f.target);
  if (!cfgs.ok()) return Fail(std::string(cfgs.status().message()), kExitBadInput);
  bool any = false;
  for (const vnet::CniNodeConfig& c : *cfgs) {
    if (!f.node.empty() && c.node != f.node) continue;
    if (f.node.empty()) std::cout << "# node " << c.node << " (" << c.origin << ")\n";
    std::cout << c.conf_text << "\n";
    any = true;
  }
  if (!any) return Fail(StrCat("no node \"", f.node, "\" in ", f.target), kExitBadInput);
  return kExitOk;
}

// `cni add|check|del|status|gc|version POD|--node N`: one verb of the chain on a running lab, as
// cnitool runs it, from this process (each node's chain and view reopened from its state).
int RunCniVerb(const CniFlags& f) {
  int code = kExitOk;
  if (!NeedPrivileges(code)) return code;
  std::optional<vnet::ClusterState> st = PickCluster(f.cluster, code);
  if (!st) return code;
  const bool per_pod = f.verb == "add" || f.verb == "check" || f.verb == "del";
  if (per_pod && f.target.empty())
    return Fail(StrCat("cni ", f.verb, ": name a pod"), kExitBadInput);
  // A running owner runs the verb itself, with the node views it holds (a second mount of a node's
  // view from here would share its overlay upper dirs); this process reopens them only when the
  // owner is gone (after a crash or SIGKILL, before `down`).
  if (vnet::IsAlive(st->owner)) {
    nlohmann::json req = {{"verb", "cni"}, {"cni_verb", f.verb}};
    if (per_pod) {
      req["pod"] = f.target;
    } else if (!f.node.empty()) {
      req["node"] = f.node;
    } else if (!f.target.empty() && st->FindPod(f.target) != nullptr) {
      req["pod"] = f.target;  // status/gc/version POD: that pod's node
    }
    std::optional<nlohmann::json> j = Ask(st->cluster, req, code);
    if (!j) return code;
    if (f.show_exec) std::cout << j->value("calls", "");
    if (!j->value("chain_ok", false))
      return Fail(StrCat("cni ", f.verb, ": ", j->value("chain_error", "")));
    if (f.verb == "add") {
      std::cout << (*j)["result"].dump(2) << "\n";
    } else if (f.verb == "version") {
      std::cout << nlohmann::json{{"negotiated", (*j)["negotiated"]}, {"plugins", (*j)["plugins"]}}
                       .dump(2)
                << "\n";
    } else if (!f.show_exec) {
      std::cout << "cni " << f.verb
                << (per_pod ? StrCat(" ", f.target) : StrCat(" node ", j->value("node", "")))
                << ": ok (" << j->value("ncalls", 0) << " plugin calls)\n";
    }
    return kExitOk;
  }
  std::string node = f.node;
  const vnet::PodState* pod = nullptr;
  if (per_pod) {
    if (f.target.empty()) return Fail(StrCat("cni ", f.verb, ": name a pod"), kExitBadInput);
    pod = st->FindPod(f.target);
    if (pod == nullptr)
      return Fail(StrCat("cluster ", st->cluster, " has no pod \"", f.target, "\""), kExitBadInput);
    node = pod->node;
  } else if (node.empty() && !f.target.empty()) {
    if (const vnet::PodState* p = st->FindPod(f.target)) node = p->node;
  }
  if (node.empty() && !st->nodes.empty()) node = st->nodes[0].name;
  absl::StatusOr<std::unique_ptr<vnet::CniNode>> cn =
      vnet::CniNode::Reopen(StrCat(vnet::StateDirOf(st->cluster), "/nodes/", node));
  if (!cn.ok()) {
    return Fail(StrCat("node ", node, ": ", cn.status().message(),
                       absl::IsNotFound(cn.status()) ? " (is this a network = \"cni\" lab?)" : ""));
  }
  cni::RuntimeConf rt;
  if (pod != nullptr) {
    // What `up` gives this pod's chain (the node's ifname, the lab's cni_args and capability args),
    // from the lab file the cluster came up with; else the runtime's defaults.
    rt.container_id = pod->netns;
    rt.netns = StrCat("/run/netns/", pod->netns);
    rt.ifname = "eth0";
    rt.args = {{"IgnoreUnknown", "1"},
               {"K8S_POD_NAMESPACE", "default"},
               {"K8S_POD_NAME", pod->name},
               {"K8S_POD_INFRA_CONTAINER_ID", pod->netns}};
    if (std::ifstream in(st->lab); in) {
      std::stringstream ss;
      ss << in.rdbuf();
      config::LoadResult lab = config::Load(ss.str(), st->lab);
      if (lab.spec && lab.spec->FindPod(pod->name) != nullptr)
        rt = vnet::PodRuntimeConf(*lab.spec, *lab.spec->FindPod(pod->name));
    }
    rt = (*cn)->AsCached(rt);  // exactly as ADD made it, when it is cached
  }
  vnet::ChainOutcome out = (*cn)->RunVerb(f.verb, rt);
  if (f.show_exec) std::cout << vnet::FormatCalls(out.calls);
  if (!out.status.ok()) return Fail(StrCat("cni ", f.verb, ": ", out.status.message()));
  if (f.verb == "add") {
    std::cout << out.result.dump(2) << "\n";
  } else if (f.verb == "version") {
    nlohmann::json v = nlohmann::json::object();
    for (const vnet::PluginCall& c : out.calls)
      v[c.plugin] = nlohmann::json::parse(c.exec.stdout_data, nullptr, false);
    std::cout << nlohmann::json{{"negotiated", (*cn)->version()}, {"plugins", v}}.dump(2) << "\n";
  } else if (!f.show_exec) {
    std::cout << "cni " << f.verb << (pod ? StrCat(" ", pod->name) : StrCat(" node ", node))
              << ": ok (" << out.calls.size() << " plugin calls)\n";
  }
  return kExitOk;
}

// --- verify: the CNI conformance suite
// ---------------------------------------------------------------

struct VerifyFlags {
  std::string lab, junit, output = "table";
  std::vector<std::string> only, skip;
  bool keep = false;
  int churn = 200;
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
      ->check(CLI::IsMember({"table", "json"}));
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
  cmd->add_option("--churn", f.churn, "Pods per round of the churn check (default 200; 5 rounds)")
      ->check(CLI::PositiveNumber);
  std::string footer = "Checks (id: what it asserts [where the rule comes from]):\n";
  for (const vnet::CheckInfo& c : vnet::VerifyChecks())
    footer += StrCat("  ", c.id, ": ", c.title, " [", c.source, "]\n");
  footer +=
      "A check that does not apply (CHECK before 0.4.0, STATUS/GC before 1.1.0, no portmap or "
      "bandwidth in the\n"
      "chain) is SKIP with the reason. Test pods are throw-away namespaces mkn-<cluster>-vfy-*, "
      "removed after.\n"
      "Examples:\n  minikube-net verify examples/cni/bridge.toml --junit cni-junit.xml\n"
      "  minikube-net verify LAB --only 'spec.*' --skip spec.gc\n  minikube-net verify LAB --churn "
      "20 -o json\n"
      "Exit codes: 0 every check passed or was skipped, 1 a check failed (or the lab could not "
      "come up),\n"
      "2 bad lab file or usage (an --only/--skip glob that matches no check).";
  cmd->footer(footer);
  return cmd;
}

int RunVerifyCommand(const VerifyFlags& f) {
  int code = kExitOk;
  // Absolute: the conflist's relative bin_dir ("." next to the lab) must not depend on our cwd,
  // which the plugins do not share (they run with cwd /).
  const std::string lab = std::filesystem::absolute(f.lab).lexically_normal().string();
  std::optional<config::ClusterSpec> spec = LoadLab(lab, code);
  if (!spec) return code;
  if (!spec->cni_mode)
    return Fail(StrCat("verify ", f.lab, ": not a network = \"cni\" lab"), kExitBadInput);
  for (const std::vector<std::string>* globs : {&f.only, &f.skip}) {
    for (const std::string& g : *globs) {
      bool any = false;
      for (const vnet::CheckInfo& c : vnet::VerifyChecks()) any = any || cni::GlobMatch(g, c.id);
      if (!any) {
        return Fail(StrCat("verify: ", globs == &f.only ? "--only " : "--skip ", g,
                           " matches no check (minikube-net verify --help lists them)"),
                    kExitBadInput);
      }
    }
  }
  if (!NeedPrivileges(code)) return code;
  // As `up`: signals are taken by this thread (a pending one ends the suite, the lab goes down).
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  const bool color = isatty(1) == 1;
  const std::string suite = StrCat("verify.", spec->name);
  vnet::VerifyOptions o;
  o.lab_path = lab;
  o.only = f.only;
  o.skip = f.skip;
  o.keep = f.keep;
  o.churn_pods = f.churn;
  o.progress = [](const cni::CheckReport& r) {
    // A passing check's evidence is its measurement (churn's per-round times, bandwidth's rates).
    std::string note =
        r.outcome == cni::Outcome::kPass ? r.evidence.substr(0, r.evidence.find('\n')) : "";
    std::cerr << "verify: " << r.id << ": " << cni::OutcomeName(r.outcome) << " ("
              << cni::FormatDuration(r.duration) << ")" << (note.empty() ? "" : ": " + note)
              << "\n";
  };
  auto print = [&](const std::vector<cni::CheckReport>& reports) {
    if (f.output == "json") {
      std::cout << cni::ReportJson(suite, reports).dump(2) << "\n";
    } else {
      std::cout << cni::FormatTable(reports, color);
    }
    std::cout.flush();
    if (!f.junit.empty()) {
      std::ofstream out(f.junit);
      out << cni::JUnitXml(suite, reports);
      if (!out) std::cerr << "minikube-net: verify: cannot write " << f.junit << "\n";
    }
  };
  bool printed = false;
  o.kept = [&](const std::vector<cni::CheckReport>& reports) {
    print(reports);
    printed = true;
    std::cerr << "verify: lab " << spec->name
              << " left up (--keep): minikube-net get pods, cni check POD --show-exec, ...;\n"
              << "        Ctrl-C here or `minikube-net down " << spec->name << "` tears it down\n";
  };
  absl::StatusOr<std::vector<cni::CheckReport>> reports = vnet::RunVerify(*spec, o);
  if (!reports.ok()) return Fail(StrCat("verify: ", reports.status().message()));
  if (!printed) print(*reports);
  for (const cni::CheckReport& r : *reports) {
    if (r.outcome == cni::Outcome::kFail) return kExitFailure;
  }
  return kExitOk;
}

int RunKill(const std::string& pod, const std::string& cluster) {
  int code = kExitOk;
  std::optional<nlohmann::json> j = Ask(cluster, {{"verb", "kill"}, {"pod", pod}}, code);
  if (!j) return code;
  std::cout << "pod " << pod << " killed and recreated on " << (*j)["node"].get<std::string>()
            << " with IP " << (*j)["ip"].get<std::string>() << " in " << (*j)["ms"].get<int64_t>()
            << " ms\n";
  return kExitOk;
}

int RunScale(const std::string& deployment, int replicas, const std::string& cluster) {
  int code = kExitOk;
  std::optional<nlohmann::json> j =
      Ask(cluster, {{"verb", "scale"}, {"deployment", deployment}, {"replicas", replicas}}, code);
  if (!j) return code;
  std::cout << "deployment " << deployment << " scaled to " << replicas << "\n";
  return kExitOk;
}

int RunGet(const std::string& what, const std::string& cluster, const std::string& output) {
  int code = kExitOk;
  std::optional<vnet::ClusterState> s = PickCluster(cluster, code);
  if (!s) return code;
  nlohmann::json state = nlohmann::json::parse(vnet::StateToJson(*s));
  if (what == "pods") {
    if (output == "json") return std::cout << state["pods"].dump(2) << "\n", kExitOk;
    std::cout << PodsTable(*s);
  } else {
    if (output == "json") return std::cout << state["nodes"].dump(2) << "\n", kExitOk;
    std::cout << NodesTable(*s);
  }
  return kExitOk;
}

int RunExec(const std::string& pod, const std::string& cluster, std::vector<std::string> cmd) {
  int code = kExitOk;
  if (!NeedPrivileges(code)) return code;
  std::optional<vnet::ClusterState> s = PickCluster(cluster, code);
  if (!s) return code;
  std::string ns;
  if (const vnet::PodState* p = s->FindPod(pod)) {
    ns = p->netns;
    setenv("POD_NAME", p->name.c_str(), 1);
    setenv("POD_IP", p->ip.c_str(), 1);
    setenv("NODE_NAME", p->node.c_str(), 1);
  } else {
    for (const vnet::NodeState& n : s->nodes) {
      if (n.name == pod) ns = n.netns;
    }
    if (pod == "underlay") ns = s->underlay;
  }
  if (ns.empty())
    return Fail(StrCat("no pod or node named ", pod, " in cluster ", s->cluster), kExitBadInput);
  if (cmd.empty()) cmd = {"sh"};
  absl::StatusOr<vnet::Fd> fd = vnet::OpenNetns(ns);
  if (!fd.ok()) return Fail(fd.status());
  // Single-threaded here: entering the netns for the exec is safe.
  if (setns(fd->get(), CLONE_NEWNET) < 0) return Fail(StrCat("enter ", ns, ": ", strerror(errno)));
  signal(SIGPIPE, SIG_DFL);  // main() ignores it; the command must not inherit that
  std::vector<char*> argv;
  for (std::string& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  return Fail(StrCat("run ", cmd[0], ": ", strerror(errno)), 127);
}

int RunLogs(const std::string& pod, const std::string& cluster) {
  int code = kExitOk;
  std::optional<vnet::ClusterState> s = PickCluster(cluster, code);
  if (!s) return code;
  const vnet::PodState* p = s->FindPod(pod);
  if (p == nullptr && pod == "ingress") {  // the edge's access log: one line per request
    std::ifstream in(StrCat(vnet::StateDirOf(s->cluster), "/logs/ingress/access.log"));
    for (std::string line; std::getline(in, line);) std::cout << line << "\n";
    return kExitOk;
  }
  if (p == nullptr) {
    std::vector<std::string> names = {"ingress"};
    for (const vnet::PodState& ps : s->pods) names.push_back(ps.name);
    const std::string near = Closest(pod, names, 2);
    return Fail(StrCat("no pod named ", pod, " in cluster ", s->cluster,
                       near.empty() ? "" : StrCat(" (did you mean \"", near, "\"?)")),
                kExitBadInput);
  }
  for (const auto& c : p->containers) {
    std::ifstream in(StrCat(vnet::StateDirOf(s->cluster), "/logs/", pod, "/", c.name, ".log"));
    for (std::string line; std::getline(in, line);)
      std::cout << "[" << c.name << "] " << line << "\n";
  }
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
  app.set_version_flag("--version", "minikube-net 0.1.0");

  UpFlags up;
  CLI::App* up_cmd = app.add_subcommand(
      "up", "Build the cluster network of a lab file and run it until Ctrl-C, SIGTERM or `down`");
  up_cmd->add_option("lab", up.lab, "Lab file (TOML)")->required()->check(CLI::ExistingFile);
  up_cmd->add_flag("--dry-run", up.dry_run,
                   "Print the plan as ip/bridge/sysctl commands; create nothing");
  up_cmd->add_option("-o,--output", up.output, "With --dry-run: sh or json")
      ->check(CLI::IsMember({"sh", "json"}));
  up_cmd->add_flag("-d,--detach", up.detach, "Run in the background once ready");
  up_cmd->add_flag(
      "--strict", up.strict,
      "network = \"cni\" labs: if any pod's CNI ADD fails, roll everything back and fail "
      "(default: report those pods and bring up the rest)");
  up_cmd->add_flag(
      "--shell", up.shell,
      "Once ready, run $SHELL (else /bin/bash) here with MKN_CLUSTER set; tear down when it exits");
  up_cmd->add_option("--workers", up.workers, "Threads creating namespaces (default: one per CPU)");
  up_cmd->footer(
      "Examples:\n  minikube-net up examples/quickstart/lab.toml      # foreground; Ctrl-C tears "
      "it down\n"
      "  minikube-net up -d examples/quickstart/lab.toml   # background; minikube-net down "
      "quickstart\n"
      "  ci/sandbox.sh build/minikube-net up --shell examples/quickstart/lab.toml\n"
      "                                                    # explore in a shell inside the "
      "sandbox; exit to tear down\n"
      "  MKN_TRACE=1 minikube-net up -d LAB.toml           # per-phase timings on stderr\n"
      "--shell: the shell gets this terminal; Ctrl-C in it stops the shell's job, not the cluster. "
      "The cluster\n"
      "is torn down when the shell exits, or on SIGINT/SIGTERM/SIGHUP to minikube-net (the shell "
      "then gets SIGHUP).\n"
      "In the shell, PATH starts with this binary's directory and get/exec/logs default to "
      "$MKN_CLUSTER.\n"
      "Exit codes: 0 ok, 1 runtime failure or missing privileges, 2 bad lab file or usage;\n"
      "with --shell, the shell's exit status when it ends by itself (0 when minikube-net is "
      "signalled).");

  std::string plan_lab, plan_output = "sh";
  CLI::App* plan_cmd = app.add_subcommand(
      "plan", "Print the ordered plan as the equivalent ip/bridge/sysctl commands (or JSON)");
  plan_cmd->add_option("lab", plan_lab, "Lab file (TOML)")->required()->check(CLI::ExistingFile);
  plan_cmd->add_option("-o,--output", plan_output, "sh or json")
      ->check(CLI::IsMember({"sh", "json"}));

  std::string validate_lab;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "Check a lab file and print every problem as file:line:col");
  validate_cmd->add_option("lab", validate_lab, "Lab file (TOML)")->required();

  std::string down_target;
  bool down_all = false;
  CLI::App* down_cmd =
      app.add_subcommand("down", "Remove a cluster, even one whose process was killed; idempotent");
  down_cmd->add_option("cluster", down_target,
                       "Cluster name or lab file (default: the only cluster up)");
  down_cmd->add_flag(
      "--all", down_all,
      "Every cluster with state under /run/minikube-net (each proven by its markers)");
  down_cmd->footer(
      "A live owner is asked to stop (SIGTERM); after a crash or SIGKILL, what the state file "
      "lists and the\n"
      "kernel's ownership markers (ifalias minikube-net:<cluster>) prove to be the cluster's is "
      "removed.");

  std::string status_output = "table";
  CniFlags cni;
  CLI::App* cni_cmd = app.add_subcommand("cni",
                                         "Run one CNI verb of a network = \"cni\" lab's chain, as "
                                         "a runtime (libcni) does, or render its conflist");
  cni_cmd
      ->add_option("verb", cni.verb,
                   "add|check|del POD: that pod's attachment; status|gc|version: a node's chain; "
                   "render LAB: each node's conflist with ${...} filled")
      ->required()
      ->check(CLI::IsMember({"add", "check", "del", "status", "gc", "version", "render"}));
  cni_cmd->add_option("target", cni.target, "The pod (add, check, del), or the lab file (render)");
  cni_cmd->add_option("-n,--node", cni.node,
                      "status, gc, version, render: this node (default: the first; render: all)");
  cni_cmd->add_option("-c,--cluster", cni.cluster, "Cluster name (default: the only cluster up)");
  cni_cmd->add_flag("--show-exec", cni.show_exec,
                    "Print each plugin call: its binary, environment, stdin, stdout, stderr, exit "
                    "status and time");
  cni_cmd->footer(
      "Examples:\n  minikube-net cni render examples/cni/bridge.toml --node node2\n"
      "  minikube-net cni del web-0 --show-exec\n  minikube-net cni add web-0\n  minikube-net cni "
      "check web-0\n"
      "  minikube-net cni version --node node1\n"
      "add/del act on the pod's network only: Services and `get pods` keep the address the lab "
      "came up with.");

  VerifyFlags verify;
  CLI::App* verify_cmd = AddVerifyCommand(app, verify);

  CLI::App* status_cmd = app.add_subcommand("status", "List the clusters that are up");
  status_cmd->add_option("-o,--output", status_output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));

  std::string get_what, get_cluster, get_output = "table";
  CLI::App* get_cmd = app.add_subcommand(
      "get", "Show pods, nodes, services, endpoints or routes (the edge's counters) of a cluster");
  get_cmd
      ->add_option("what", get_what,
                   "pods, nodes, svc (services, with their counters), endpoints or routes (the "
                   "edge's listeners and per-route counters)")
      ->required()
      ->check(CLI::IsMember({"pods", "nodes", "pod", "node", "svc", "services", "service",
                             "endpoints", "ep", "routes", "route"}));
  get_cmd->footer(
      "Pods and nodes come from the cluster's state file; services and endpoints from its running "
      "process\n"
      "(they change with kill and scale). Examples:\n"
      "  minikube-net get pods\n  minikube-net get svc -o json\n  minikube-net get endpoints");
  get_cmd->add_option("-c,--cluster", get_cluster, "Cluster name (default: the only cluster up)");
  get_cmd->add_option("-o,--output", get_output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));

  std::string exec_pod, exec_cluster;
  std::vector<std::string> exec_cmd;
  CLI::App* exec_cmd_app = app.add_subcommand(
      "exec", "Run a command in a pod's (or node's, or the underlay's) network namespace");
  exec_cmd_app->add_option("pod", exec_pod, "Pod, node, or `underlay`")->required();
  exec_cmd_app->add_option("-c,--cluster", exec_cluster,
                           "Cluster name (default: the only cluster up)");
  exec_cmd_app->allow_extras();
  exec_cmd_app
      ->prefix_command();  // everything after POD (and an optional --) is the command; default sh
  exec_cmd_app->footer("Example: minikube-net exec client -- ping -c1 10.244.1.3");

  std::string ct_node, ct_cluster, ct_output = "table";
  CLI::App* conntrack_cmd = app.add_subcommand(
      "conntrack", "List the Services' flows of each node with their translation");
  conntrack_cmd->add_option("-n,--node", ct_node,
                            "Only this node's flows (each node has its own table)");
  conntrack_cmd->add_option("-c,--cluster", ct_cluster,
                            "Cluster name (default: the only cluster up)");
  conntrack_cmd->add_option("-o,--output", ct_output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  conntrack_cmd->footer(
      "Each flow shows what the client sent (client -> ClusterIP or NodePort) and what the "
      "endpoint sees and\n"
      "answers (userspace: pod -> the node's proxy address). proxy_mode = \"nftables\": the "
      "kernel's own\n"
      "table, translated flows only (all of it: minikube-net exec node1 -- cat "
      "/proc/net/nf_conntrack).");

  std::string kill_pod, kill_cluster;
  CLI::App* kill_cmd = app.add_subcommand(
      "kill", "Kill a pod: it is recreated on its node with a new IP, Services follow");
  kill_cmd->add_option("pod", kill_pod, "Pod name")->required();
  kill_cmd->add_option("-c,--cluster", kill_cluster, "Cluster name (default: the only cluster up)");
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
      ->check(CLI::NonNegativeNumber);
  scale_cmd->add_option("-c,--cluster", scale_cluster,
                        "Cluster name (default: the only cluster up)");
  scale_cmd->footer(
      "New pods are <deployment>-<i> on the least loaded node; scaling down removes the newest "
      "first.");

  std::string logs_pod, logs_cluster;
  CLI::App* logs_cmd = app.add_subcommand(
      "logs", "Print the logs of a pod's containers (or `logs ingress`: the edge's access log)");
  logs_cmd->add_option("pod", logs_pod, "Pod name")->required();
  logs_cmd->add_option("-c,--cluster", logs_cluster, "Cluster name (default: the only cluster up)");

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
  auto run_cert = [&]() -> int {
    while (cert_dir.size() > 1 && cert_dir.back() == '/') cert_dir.pop_back();
    std::string name = cert_name;
    if (name.empty()) {  // "*.shop.lab" -> "_wildcard.shop.lab", "::1" -> "__1"
      name =
          cert_hosts[0].rfind("*.", 0) == 0 ? "_wildcard" + cert_hosts[0].substr(1) : cert_hosts[0];
      for (char& c : name) c = (c == '/' || c == ':' || c == '*') ? '_' : c;
    }
    if (absl::Status st = vnet::CheckCertHosts(cert_hosts); !st.ok())
      return Fail(std::string(st.message()), kExitBadInput);
    bool had_ca = access((cert_dir + "/ca.pem").c_str(), F_OK) == 0;
    absl::StatusOr<vnet::LocalCa> ca = vnet::CreateOrLoadCa(cert_dir);
    if (!ca.ok()) return Fail(ca.status());
    absl::StatusOr<std::pair<std::string, std::string>> files =
        vnet::IssueCert(*ca, cert_hosts, cert_dir, name);
    if (!files.ok()) {
      bool usage = files.status().code() == absl::StatusCode::kInvalidArgument;
      return Fail(std::string(files.status().message()), usage ? kExitBadInput : kExitFailure);
    }
    std::cout << "CA:          " << ca->cert_path
              << (had_ca ? " (reused)" : " (new, its key in " + ca->key_path + ")")
              << "\ncertificate: " << files->first << "\nkey:         " << files->second
              << "\nhosts:       ";
    for (size_t i = 0; i < cert_hosts.size(); ++i) std::cout << (i ? ", " : "") << cert_hosts[i];
    std::cout << "\n\nTry it (with a listener on 127.0.0.1:8443):\n";
    for (const std::string& h : cert_hosts) {
      if (h.find(':') != std::string::npos) continue;  // IPv6: listeners are on 127.0.0.0/8
      std::string host = h.rfind("*.", 0) == 0 ? "www" + h.substr(1) : h;
      if (h.find_first_not_of("0123456789.") == std::string::npos) {
        if (h.rfind("127.", 0) != 0) continue;  // only a loopback address reaches a listener
        std::cout << "  curl --cacert " << ca->cert_path << " https://" << h << ":8443/\n";
      } else {
        std::cout << "  curl --cacert " << ca->cert_path << " https://" << host
                  << ":8443/ --resolve " << host << ":8443:127.0.0.1\n";
      }
    }
    return kExitOk;
  };

  // `exec POD -- CMD...`: what follows "--" is the command, untouched by flag parsing.
  std::vector<std::string> after_dashes;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      after_dashes.assign(argv + i + 1, argv + argc);
      argc = i;
      break;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitBadInput;
  }
  if (*up_cmd) {
    if (up.shell && (up.detach || up.dry_run)) {
      return Fail(
          StrCat("up: --shell cannot be combined with ", up.detach ? "-d" : "--dry-run", ": ",
                 up.detach ? "the shell runs in the foreground and ends the cluster when it exits"
                           : "a dry run creates nothing to explore",
                 " (see minikube-net up --help)"),
          kExitBadInput);
    }
    return RunUp(up);
  }
  if (*plan_cmd) {
    int code = kExitOk;
    std::optional<config::ClusterSpec> spec = LoadLab(plan_lab, code);
    if (!spec) return code;
    plan::Plan p = plan::BuildPlan(*spec);
    std::cout << (plan_output == "json" ? plan::RenderJson(p) : plan::RenderShell(p));
    return kExitOk;
  }
  if (*validate_cmd) {
    int code = kExitOk;
    std::optional<config::ClusterSpec> spec = LoadLab(validate_lab, code);
    if (spec)
      std::cout << validate_lab << ": ok: " << spec->nodes.size() << " nodes, " << spec->pods.size()
                << " pods\n";
    return code;
  }
  if (*down_cmd) return RunDown(down_target, down_all);
  if (*cni_cmd) {
    if (cni.verb == "render") {
      if (cni.target.empty()) return Fail("cni render: name the lab file", kExitBadInput);
      return RunCniRender(cni);
    }
    return RunCniVerb(cni);
  }
  if (*verify_cmd) return RunVerifyCommand(verify);
  if (*status_cmd) return RunStatus(status_output);
  if (*get_cmd) {
    if (get_what == "svc" || get_what == "service" || get_what == "services")
      return RunGetServices("services", get_cluster, get_output);
    if (get_what == "endpoints" || get_what == "ep")
      return RunGetServices("endpoints", get_cluster, get_output);
    if (get_what == "routes" || get_what == "route") return RunGetRoutes(get_cluster, get_output);
    return RunGet(get_what.back() == 's' ? get_what : get_what + "s", get_cluster, get_output);
  }
  if (*conntrack_cmd) return RunConntrack(ct_node, ct_cluster, ct_output);
  if (*kill_cmd) return RunKill(kill_pod, kill_cluster);
  if (*scale_cmd) return RunScale(scale_dep, scale_replicas, scale_cluster);
  if (*exec_cmd_app) {
    exec_cmd = exec_cmd_app->remaining();
    exec_cmd.insert(exec_cmd.end(), after_dashes.begin(), after_dashes.end());
    return RunExec(exec_pod, exec_cluster, exec_cmd);
  }
  if (*logs_cmd) return RunLogs(logs_pod, logs_cluster);
  if (*cert_cmd) return run_cert();
  return kExitOk;
}
