#include "vnet/kernel/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

extern char** environ;

namespace mkn::vnet {

sigset_t StopSignals(std::initializer_list<int> also) {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&s, sig);
  for (int sig : also) sigaddset(&s, sig);
  return s;
}

sigset_t BlockStopSignals(std::initializer_list<int> also) {
  sigset_t s = StopSignals(also);
  ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
  return s;
}

bool StopSignalPending() {
  sigset_t pending;
  if (::sigpending(&pending) != 0) return false;
  return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1 ||
         sigismember(&pending, SIGHUP) == 1;
}

uint64_t ProcessStartTime(pid_t pid) {
  std::ifstream in(StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(text.substr(paren + 2));
  std::string field;
  // Fields after "(comm)" start at 3 (state); the start time is field 22.
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

bool IsAlive(const ChildProcess& p) {
  if (p.pid <= 0) return false;
  uint64_t st = ProcessStartTime(p.pid);
  if (st == 0 || st != p.start_time) return false;
  // A zombie is not alive.
  std::ifstream in(StrCat("/proc/", p.pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

namespace {

// Where /etc/resolv.conf really is (a symlink's target: a bind mount over a symlink would bind
// over what it points to anyway, and mount(2) follows it; resolving first makes the error name
// the real file). Empty if it does not exist.
std::string ResolvConfTarget() {
  char buf[PATH_MAX];
  if (::realpath("/etc/resolv.conf", buf) == nullptr) return "";
  return buf;
}

// Async-signal-safe: the child's half of a pod's mount view. errno-style result.
int BindResolvConf(const char* file, const char* target) {
  if (::unshare(CLONE_NEWNS) < 0) return errno;
  // Slave, not private: namespaces mounted under /run/netns later still show (vnet/cni/nodefs).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0) return errno;
  if (::mount(file, target, nullptr, MS_BIND, nullptr) < 0) return errno;
  return 0;
}

}  // namespace

absl::Status UseResolvConf(const std::string& resolv_conf) {
  const std::string target = ResolvConfTarget();
  // Nothing to bind over (a chroot, a container, a symlink into a stopped systemd-resolved): the
  // process runs with the host's view (no file), as it would without the cluster DNS; making the
  // file would write to the host's /etc.
  if (target.empty()) return absl::OkStatus();
  if (int err = BindResolvConf(resolv_conf.c_str(), target.c_str()); err != 0) {
    return KernelError(
        err, StrCat("bind ", resolv_conf, " over ", target, " in a mount namespace of its own"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ChildProcess> Spawn(int netns_fd, const std::vector<std::string>& argv,
                                   const std::vector<std::pair<std::string, std::string>>& env,
                                   const std::string& log_path, int cgroup_procs_fd,
                                   const std::string& resolv_conf) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  // Empty when the host has no /etc/resolv.conf (or a dangling symlink): nothing to bind over,
  // the process starts without one (see UseResolvConf).
  const std::string resolv_target = resolv_conf.empty() ? "" : ResolvConfTarget();
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(StrCat(k, "=", v));
  std::vector<char*> envp, args;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  // 0600: what a container prints is its own business (the state directory is root's alone too).
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return KernelError(errno, StrCat("open ", log_path));
  // The exec result comes back on a close-on-exec pipe: EOF means exec succeeded.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) {
    ::close(log);
    return KernelError(errno, "pipe");
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(log);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return KernelError(e, "fork");
  }
  if (pid == 0) {
    ::close(pipefd[0]);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // An ignored signal stays ignored across exec: a container starts with default dispositions,
    // whatever minikube-net ignores (SIGPIPE).
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    ::setsid();
    int err = 0;
    if (::setns(netns_fd, CLONE_NEWNET) < 0) err = errno;
    // "0" is the writer itself: the child, before exec.
    if (err == 0 && cgroup_procs_fd >= 0 && ::write(cgroup_procs_fd, "0", 1) != 1) err = errno;
    if (err == 0 && !resolv_target.empty())
      err = BindResolvConf(resolv_conf.c_str(), resolv_target.c_str());
    int devnull = ::open("/dev/null", O_RDONLY);
    if (err == 0) {
      ::dup2(devnull, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execvpe(args[0], args.data(), envp.data());
      err = errno;
    }
    (void)!::write(pipefd[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  ::close(log);
  int err = 0;
  ssize_t n;
  do {
    n = ::read(pipefd[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  ::close(pipefd[0]);
  if (n == sizeof(err)) {
    ::waitpid(pid, nullptr, 0);
    return KernelError(err, StrCat("run ", argv[0]));
  }
  return ChildProcess{pid, ProcessStartTime(pid)};
}

namespace {

// A command container is the leader of its own session and process group (setsid in Spawn), and a
// process group id is never recycled while the group has members: signalling the group reaches
// every process the container started (sh -c '...; sleep ...'), even after the leader itself is
// gone.
bool GroupExists(const ChildProcess& p) { return p.pid > 0 && ::kill(-p.pid, 0) == 0; }

void Signal(const ChildProcess& p, int sig) {
  if (GroupExists(p)) {
    ::kill(-p.pid, sig);
  } else if (IsAlive(p)) {
    ::kill(p.pid, sig);
  }
}

}  // namespace

void StopProcesses(const std::vector<ChildProcess>& procs, int grace_ms) {
  for (const ChildProcess& p : procs) Signal(p, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  for (;;) {
    bool any = false;
    for (const ChildProcess& p : procs) {
      ::waitpid(p.pid, nullptr, WNOHANG);  // reap our own; harmless for others'
      any = any || IsAlive(p) || GroupExists(p);
    }
    if (!any) return;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (const ChildProcess& p : procs) Signal(p, SIGKILL);
  // SIGKILL cannot be ignored: our own children are reaped at once (others' return ECHILD).
  for (const ChildProcess& p : procs) ::waitpid(p.pid, nullptr, 0);
}

}  // namespace mkn::vnet
