#include "vnet/cluster/session.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "lib/control/format.h"
#include "lib/control/usage.h"
#include "lib/net/naming.h"
#include "lib/plan/plan.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/state.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {
namespace {

// A lab with pods outside "default" (keys "<ns>/<pod>"): the pod table gets a NAMESPACE column.
bool HasNamespaces(const ClusterState& st) {
  return std::any_of(st.pods.begin(), st.pods.end(), [](const PodState& p) {
    return p.name.find('/') != std::string::npos &&
           !config::IsSystemNamespace(config::NamespaceOfKey(p.name));
  });
}

// The pods `up` lists: the lab's (kube-system's, the cluster DNS, show with `get pods -A`).
std::vector<control::PodRow> LabPodRows(const ClusterState& st) {
  std::vector<control::PodRow> rows = PodRows(st);
  std::erase_if(rows, [](const control::PodRow& r) {
    return config::IsSystemNamespace(config::NamespaceOfKey(r.name));
  });
  return rows;
}

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

// Where the user of a foreground `up` stands. In ci/sandbox.sh (MKN_IN_SANDBOX=1) every terminal
// but this one is outside, so `down` goes through --join; that shell has this binary on PATH when
// the package installed it or when it is the sandbox's first process (--join puts that one's
// directory first), else it is named by its path.
control::StopHintFacts StopHintHere(const std::string& cluster) {
  control::StopHintFacts f;
  f.cluster = cluster;
  const char* in = getenv("MKN_IN_SANDBOX");
  f.in_sandbox = in != nullptr && std::string_view(in) == "1";
  if (!f.in_sandbox) return f;
  const HowToRun how = HowToRunHere();
  f.sandbox = how.sandbox;
  f.binary = "minikube-net";
  if (how.binary == "minikube-net") return f;
  std::error_code ec, ec1;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path first = std::filesystem::read_symlink("/proc/1/exe", ec1);
  if (!ec && (ec1 || first != self)) f.binary = self.string();
  return f;
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
  if (pipe2(pipefd, O_CLOEXEC) < 0) return KernelError(errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return KernelError(e, "fork");
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
    return KernelError(err, StrCat("run ", shell, " (set SHELL to another shell)"));
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

// A detached owner's teardown report, left for the `down` that stopped it (the owner's own output
// goes to up.log, which goes with the state directory). Under the tool's runtime directory.
std::string DownReportPath(const std::string& cluster) {
  return StrCat(net::kRunDir, "/.", cluster, ".down-report");
}

int64_t MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

// -d, in the parent: relays the child's stdout and stderr, each to its own stream, until it is
// ready; then returns 0. When the child failed before (EOF on `ready` without its byte), its exit
// status. A stop signal (read from `sigfd`, a signalfd) is passed on to the child, which is in a
// session of its own where the terminal's Ctrl-C does not reach it: it stops where it is and rolls
// back, and its status (130 for SIGINT) is ours, as it would be in the foreground.
int RelayUntilReady(pid_t child, int out, int err, int ready, int sigfd, std::ostream& out_to,
                    std::ostream& err_to) {
  pollfd p[3] = {{out, POLLIN, 0}, {err, POLLIN, 0}, {sigfd, POLLIN, 0}};
  std::ostream* to[2] = {&out_to, &err_to};
  char buf[4096];
  int forwarded = 0;
  for (int open = 2; open > 0;) {
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[2].revents != 0) {
      signalfd_siginfo si;
      if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
        forwarded = static_cast<int>(si.ssi_signo);
        kill(child, forwarded);
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || p[i].revents == 0) continue;
      ssize_t n = read(p[i].fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        p[i].fd = -1;  // poll skips it from now on
        --open;
        continue;
      }
      to[i]->write(buf, n);
      to[i]->flush();
    }
  }
  char byte = 0;
  const bool up = read(ready, &byte, 1) == 1;
  // Up and running in the background; 'F': `up -d --check` found a mismatch (the cluster stays).
  if (up && forwarded == 0) return byte == 'F' ? 1 : 0;
  int status = 0;
  waitpid(child, &status, 0);
  if (up) return 128 + forwarded;  // it was ready, and went down on the signal passed on
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// How a plugin leak is reported, also in a detached owner's hand-off that TakeDown counts.
constexpr std::string_view kLeakLine = "cni: plugin leak: ";
// The hand-off's first line: "owner <pid> removed <namespaces>".
constexpr std::string_view kHandOffHead = "owner ";

// The line `up` prints when the cluster is ready; a CNI lab brought up with --keep-going names
// the pods whose ADD failed in it.
std::string ReadyLine(const ClusterState& st) {
  std::vector<std::string> failed;
  for (const PodState& p : st.pods)
    if (!p.error.empty()) failed.push_back(p.name);
  std::string line =
      StrCat("cluster ", st.cluster, " (", st.network, ") ready in ", st.ready_ms,
             " ms: ", control::Count(static_cast<int64_t>(st.nodes.size()), "node"), ", ",
             control::Count(static_cast<int64_t>(LabPodRows(st).size()), "pod"));
  if (!failed.empty()) {
    StrAppend(&line, "; CNI ADD failed for ", failed.size(),
              " of them: ", absl::StrJoin(failed, ", "), " (see minikube-net get pods)");
  }
  return line + "\n";
}

// Writes `text` whole to a new file `path`, 0600. vnet/kernel/errors.h's codes.
absl::Status WritePrivateFile(const std::string& path, const std::string& text) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return KernelError(errno, StrCat("create ", path));
  for (std::string_view rest = text; !rest.empty();) {
    ssize_t n = write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return KernelError(errno, StrCat("write ", path));
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TeardownReportText(const TeardownReport& r) {
  std::string out;
  if (r.cni_deleted > 0)
    out += StrCat("cni: DEL removed ", control::Count(r.cni_deleted, "attachment"), "\n");
  for (const std::string& e : r.cni_errors) out += StrCat("cni: DEL failed: ", e, "\n");
  for (const std::string& l : r.cni_leaks) out += StrCat(kLeakLine, l, "\n");
  for (const std::string& s : r.stale) {
    out += StrCat("minikube-net: removed a stale ", net::kNetnsDir, "/", s,
                  " (an empty file a killed run left, no namespace behind it)\n");
  }
  for (const std::string& u : r.unreadable) {  // "NAME: why"
    const std::string name = u.substr(0, u.find(": "));
    const std::string why = u.size() > name.size() ? u.substr(name.size() + 2) : "";
    out += StrCat("minikube-net: left ", name, " alone, its ownership marker unreadable (", why,
                  "): it may not be this cluster's; if it is: ip netns del ", name, "\n");
  }
  for (const std::string& s : r.still_held) {
    out += StrCat("minikube-net: ", s,
                  " was removed but the kernel had not freed it by the deadline: a process ",
                  "or a socket still inside holds it\n");
  }
  for (const HeldNetns& h : r.held) {
    out +=
        StrCat("minikube-net: ", h.netns, " was removed, but ", DescribeProcesses(h.processes),
               " still run", h.processes.size() == 1 ? "s" : "", " inside and keep",
               h.processes.size() == 1 ? "s" : "", " it alive; left running (",
               KillCommand(h.processes), " stops ", h.processes.size() == 1 ? "it" : "them", ")\n");
  }
  for (const std::string& u : r.unwatched) {
    out += StrCat("minikube-net: ", u,
                  " (removed, but whether the kernel freed what was inside was not watched)\n");
  }
  for (const std::string& w : r.warnings) out += StrCat("minikube-net: warning: ", w, "\n");
  return out;
}

absl::StatusOr<int> RunSession(const config::ClusterSpec& spec, const SessionOptions& f,
                               std::ostream& out_stream, std::ostream& err_stream) {
  // -d: the child runs the cluster; the parent relays its stdout and stderr (each to its own) until
  // it is ready, then exits. Readiness comes on a pipe of its own: one byte when ready; EOF without
  // it means the child failed (its exit code).
  int out[2] = {-1, -1}, err[2] = {-1, -1}, ready[2] = {-1, -1};
  if (f.detach) {
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
      return KernelError(errno, "pipe");
    // The parent takes the stop signals from a signalfd to pass them on; blocked before the fork,
    // the child starts with them blocked too, as it would block them itself.
    const sigset_t stop = BlockStopSignals();
    Fd sigfd(signalfd(-1, &stop, SFD_CLOEXEC));
    if (!sigfd.valid()) return KernelError(errno, "signalfd");
    pid_t pid = fork();
    if (pid < 0) return KernelError(errno, "fork");
    if (pid > 0) {
      close(out[1]);
      close(err[1]);
      close(ready[1]);
      return RelayUntilReady(pid, out[0], err[0], ready[0], sigfd.get(), out_stream, err_stream);
    }
    sigfd.Reset();
    close(out[0]);
    close(err[0]);
    close(ready[0]);
    setsid();
    dup2(out[1], 1);
    dup2(err[1], 2);
  }

  // Signals are taken synchronously by this thread; every thread created after this inherits the
  // mask.
  const sigset_t sigs = BlockStopSignals({SIGCHLD});

  // -d: what is said before the cluster is ready goes to the terminal, and again into up.log.
  std::mutex early_mu;
  std::vector<std::string> early;
  auto notice = [&](const std::string& line) {
    if (f.detach) {
      std::lock_guard<std::mutex> l(early_mu);
      early.push_back(line);
    }
    if (f.notice) f.notice(line);
  };

  std::atomic<size_t> progress{0};
  const size_t total = plan::BuildPlan(spec).steps.size();
  const bool tty = f.meter && !f.detach;
  std::atomic<bool> done{false};
  std::thread meter;
  if (tty) {
    meter = std::thread([&] {
      while (!done) {
        // One write a line: a notice from another thread comes between two, never inside one.
        err_stream << StrCat("\rcreating ", spec.name, ": ", progress.load(), "/", total, " steps")
                   << std::flush;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      err_stream << "\r\033[K" << std::flush;
    });
  }
  UpOptions uo;
  uo.lab_path = std::filesystem::absolute(f.lab_path).string();
  uo.workers = f.workers;
  uo.strict = !f.keep_going;
  uo.progress = &progress;
  uo.notice = notice;
  uo.fail_at_step = f.fail_at_step;
  // The stop signals stay blocked (and pending) while Up runs: it asks between its steps, and stops
  // there through its own rollback instead of finishing a cluster nobody wants any more.
  const sigset_t stop_sigs = StopSignals();
  uo.stop_requested = [] { return StopSignalPending(); };
  absl::StatusOr<std::unique_ptr<RunningCluster>> rc = RunningCluster::Up(spec, uo);
  done = true;
  if (meter.joinable()) meter.join();
  if (absl::IsCancelled(rc.status())) {
    // Interrupted: the message says what the rollback did; the exit status is a shell's for a
    // command the signal ended (128 + its number), the signal taken so that it is not seen again.
    const timespec now{0, 0};
    const int sig = sigtimedwait(&stop_sigs, nullptr, &now);
    if (f.notice) f.notice(StrCat("up ", spec.name, ": ", rc.status().message()));
    return 128 + (sig > 0 ? sig : SIGINT);
  }
  if (!rc.ok()) {
    // Up's message says what its cleanup left, if anything ("nothing was left behind").
    return AsRuntimeFailure(
        absl::Status(rc.status().code(), StrCat("up ", spec.name, ": ", rc.status().message())));
  }
  const ClusterState st = (*rc)->state();
  std::string ready_text =
      StrCat(control::NodesTable(NodeRows(st)), "\n",
             control::PodsTable(LabPodRows(st), HasNamespaces(st)), "\n", ReadyLine(st));
  if (f.detach) {
    StrAppend(&ready_text, "running in the background as pid ", getpid(),
              "; stop it with: minikube-net down ", st.cluster, "\n");
  }
  // `up --ui`: its server's threads start here, after the fork of -d (a forked child has only the
  // thread that forked) and with the stop signals blocked, as every thread of the owner has them.
  // Before the ready text is shown: a dashboard that cannot start (its port taken) fails the run
  // before anything says the cluster runs; its URL is then part of that text (and of up.log).
  std::shared_ptr<void> served;
  if (f.serve) {
    std::ostringstream said;
    absl::StatusOr<SessionOptions::Served> h = f.serve(st, said);
    if (!h.ok()) {
      absl::StatusOr<TeardownReport> r = (*rc)->Down();
      return AsRuntimeFailure(
          absl::Status(h.status().code(),
                       StrCat("up ", st.cluster, ": ", h.status().message(),
                              r.ok() ? " (the cluster was taken down)"
                                     : StrCat(" (and down failed: ", r.status().message(), ")"))));
    }
    served = std::move(h->handle);
    StrAppend(&ready_text, said.str());
    // Not fatal: the dashboard serves either way, only status -o json cannot name it.
    if (absl::Status s = (*rc)->RecordUi(h->url); !s.ok() && f.notice)
      f.notice(StrCat("up ", st.cluster, ": could not record the dashboard's URL: ", s.message()));
  }
  out_stream << ready_text;
  // `up --check`: before -d hands its output over to up.log, so that the terminal sees the matrix.
  int check_code = 0;
  if (f.check) {
    out_stream.flush();
    check_code = f.check(st, out_stream);
    out_stream.flush();
  }
  if (f.detach) {
    out_stream.flush();
    // From here on the output goes to up.log: first what the terminal saw, then every line after.
    const std::string log_path = StateDirOf(st.cluster) + "/up.log";
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log < 0) {
      // The cluster runs either way; the user must know that its later lines are lost.
      err_stream << "minikube-net: warning: "
                 << KernelError(errno, StrCat("open ", log_path)).message()
                 << ": the background process's output is discarded\n";
      log = open("/dev/null", O_WRONLY | O_CLOEXEC);
    }
    err_stream.flush();
    dup2(log, 1);
    dup2(log, 2);
    close(log);
    close(out[1]);
    close(err[1]);
    {
      std::lock_guard<std::mutex> l(early_mu);
      for (const std::string& line : early)
        if (f.notice) f.notice(line);
      early.clear();
    }
    out_stream << ready_text;
    out_stream.flush();
    // The parent reads it, or is gone (then nobody waits): 'K' ready, 'F' ready but --check failed.
    (void)!write(ready[1], check_code == 0 ? "K" : "F", 1);
    close(ready[1]);
  } else if (f.shell) {
    out_stream << "starting " << ShellPath() << " with MKN_CLUSTER=" << st.cluster
               << "; the cluster is torn down when it exits\n";
    out_stream.flush();
  } else {
    out_stream << control::ForegroundStopHint(StopHintHere(st.cluster));
    out_stream.flush();
  }
  ShellChild shell;
  int exit_code = 0;
  if (f.shell) {
    absl::StatusOr<ShellChild> sc = StartShell(st.cluster);
    if (!sc.ok()) {
      if (f.notice) f.notice(std::string(sc.status().message()));
      exit_code = 1;
    } else {
      shell = *sc;
    }
  }
  // What stopped us: `down` (DownCluster's SIGTERM, queued with its value) waits for us to end and
  // then reads the report we leave it.
  bool told_by_down = false;
  while (!f.shell || shell.pid > 0) {
    siginfo_t info;
    int sig = sigwaitinfo(&sigs, &info);
    told_by_down =
        sig == SIGTERM && info.si_code == SI_QUEUE && info.si_value.sival_int == kDownSignalValue;
    if (sig == SIGCHLD) {
      for (const std::string& line : (*rc)->ReapChildren()) {
        if (f.notice) f.notice(line);
      }
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
  served.reset();  // the dashboard stops before what it shows goes away
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<TeardownReport> r = (*rc)->Down();
  if (!r.ok())
    return AsRuntimeFailure(
        absl::Status(r.status().code(), StrCat("down ", st.cluster, ": ", r.status().message())));
  err_stream << "cluster " << st.cluster << " down in " << MsSince(t0)
             << " ms: " << control::Count(r->removed, "namespace") << " removed\n";
  const std::string text = TeardownReportText(*r);
  err_stream << text;
  if (told_by_down || (f.detach && !text.empty())) {
    // The `down` that stopped us says what we removed, as it does when it removes a cluster itself:
    // our pid (so that it takes no report of another run's), the count, then the report (up.log
    // went with the state directory). If it cannot be written, the exit status says so (nobody
    // else may read stderr).
    const std::string handed = StrCat(kHandOffHead, getpid(), " removed ", r->removed, "\n", text);
    if (absl::Status s = WritePrivateFile(DownReportPath(st.cluster), handed); !s.ok()) {
      err_stream << "minikube-net: " << s.message() << "\n";
      return 1;
    }
  }
  // `up --check` that failed: the run ends as it would have, and says so in its status.
  return exit_code == 0 && check_code != 0 ? 1 : exit_code;
}

bool NamesALabFile(const std::string& target) {
  if (target.find('/') != std::string::npos) return true;
  if (absl::EndsWith(target, ".toml")) return true;
  struct stat sb;
  return ::stat(target.c_str(), &sb) == 0;
}

absl::StatusOr<DownTargets> ChooseDownTargets(const std::string& target, bool all,
                                              const DownScene& scene) {
  DownTargets t;
  if (all) {
    // Removing every cluster when one was named would be the worst reading of a slip.
    if (!target.empty()) {
      return absl::InvalidArgumentError(
          StrCat("down: --all takes every cluster; name ", target, " or use --all, not both"));
    }
    t.clusters = scene.state_dirs;
  } else if (!target.empty() && scene.target_is_lab) {
    t.lab = target;
  } else if (!target.empty() || !scene.env_cluster.empty()) {
    t.clusters = {target.empty() ? scene.env_cluster : target};
  } else if (scene.up.empty()) {
    t.none_up = true;
  } else if (scene.up.size() > 1) {
    // Named, as get and exec name them: the user picks one from the message.
    return absl::InvalidArgumentError(StrCat(
        "down: several clusters are up (", scene.up.size(), ": ", control::ListSome(scene.up),
        "); say which with down CLUSTER or MKN_CLUSTER=CLUSTER, or take all with --all"));
  } else {
    t.clusters = scene.up;
  }
  return t;
}

absl::StatusOr<DownTargets> ChooseDownTargets(const std::string& target, bool all) {
  DownScene scene;
  if (all) {
    scene.state_dirs = ListStateDirs();
  } else {
    scene.up = ListClusters();
    if (const char* env = std::getenv("MKN_CLUSTER"); env != nullptr) scene.env_cluster = env;
    scene.target_is_lab = !target.empty() && NamesALabFile(target);
  }
  return ChooseDownTargets(target, all, scene);
}

absl::StatusOr<DownSummary> TakeDown(const std::string& cluster) {
  if (!net::IsDnsLabel(cluster, net::kMaxClusterName)) {
    return absl::InvalidArgumentError(StrCat("\"", cluster,
                                             "\" is not a cluster name (a DNS label of at most ",
                                             net::kMaxClusterName, " characters) nor a lab file"));
  }
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<DownResult> r = DownCluster(cluster);
  if (!r.ok()) {
    return AsRuntimeFailure(
        absl::Status(r.status().code(), StrCat("down ", cluster, ": ", r.status().message())));
  }
  DownSummary out;
  out.was_up = r->was_up;
  if (!r->was_up) {
    out.summary = StrCat("cluster ", cluster, " is not up\n");
    for (const std::string& n : r->notes) StrAppend(&out.details, "minikube-net: ", n, "\n");
    return out;
  }
  if (r->owner_is_our_init) {
    out.summary = StrCat("cluster ", cluster,
                         ": asked its process to stop; it is this sandbox's first process (pid 1), "
                         "so the sandbox ends with it (its terminal says what it removed)\n");
    return out;
  }
  const int64_t ms = MsSince(t0);
  out.details = TeardownReportText(r->report);
  out.cni_leaks = static_cast<int>(r->report.cni_leaks.size());
  // The owner we stopped left its report (the count, DEL results, plugin leaks, namespaces not
  // freed) for us; one from another run (another pid) is stale and goes unread.
  std::optional<int64_t> owner_removed;
  if (std::ifstream rep(DownReportPath(cluster)); rep) {
    std::string head;
    std::getline(rep, head);
    std::stringstream ss;
    ss << rep.rdbuf();
    const std::string handed = ss.str();
    int64_t pid = 0, removed = 0;
    if (r->owner_stopped &&
        std::sscanf(head.c_str(), "owner %" SCNd64 " removed %" SCNd64, &pid, &removed) == 2 &&
        pid == r->owner_pid) {
      owner_removed = removed;
      out.details += handed;
      for (size_t at = handed.find(kLeakLine); at != std::string::npos;
           at = handed.find(kLeakLine, at + 1))
        ++out.cni_leaks;
    }
    rep.close();
    ::unlink(DownReportPath(cluster).c_str());
  }
  // Worded the same whoever removed the namespaces: the owner (its count from the report) or we.
  if (!r->owner_stopped) {
    out.summary = StrCat("cluster ", cluster, " down in ", ms,
                         " ms: ", control::Count(r->report.removed, "namespace"), " removed\n");
  } else if (owner_removed) {
    out.summary =
        StrCat("cluster ", cluster, " down in ", ms,
               " ms: ", control::Count(*owner_removed, "namespace"), " removed by its process\n");
  } else {
    out.summary = StrCat("cluster ", cluster, " down in ", ms,
                         " ms (its process stopped; it left no count)\n");
  }
  for (const std::string& s : r->report.not_ours)
    StrAppend(&out.details, "minikube-net: left ", s,
              " alone: it does not carry this cluster's marker\n");
  for (const std::string& n : r->notes) StrAppend(&out.details, "minikube-net: ", n, "\n");
  return out;
}

}  // namespace mkn::vnet
