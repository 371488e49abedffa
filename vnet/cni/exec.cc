#include "vnet/cni/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace mkn::vnet {
namespace {

using Clock = std::chrono::steady_clock;

// What the child failed at; written by the child into memory it shares with the parent (CLONE_VM).
enum ChildStep : int { kNone = 0, kParentDied, kEnterMntns, kEnterNetns, kChdir, kDup, kExec };

struct SpawnSpec {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;
  int netns_fd = -1, mntns_fd = -1;
  int fd0 = -1, fd1 = -1, fd2 = -1;  // become the child's 0, 1, 2; all >= 3 in the parent
  bool pdeathsig = false;
  pid_t parent_pid = 0;
  // Out, written by the child before _exit.
  volatile int step = kNone;
  volatile int err = 0;
};

[[noreturn]] void ChildFail(SpawnSpec* s, int step) {
  s->err = errno;
  s->step = step;
  ::_exit(127);
}

// Runs in the child on a borrowed stack and the parent's memory: async-signal-safe system calls
// only, no allocation, no locks. The parent thread is suspended (CLONE_VFORK) until execve or
// _exit.
int ChildMain(void* arg) {
  auto* s = static_cast<SpawnSpec*>(arg);
  // The child has its own signal table (no CLONE_SIGHAND) but inherited the parent's handlers,
  // which must never run on shared memory, and its ignored signals (SIGPIPE), which would stay
  // ignored across exec. A plugin starts with every signal at its default.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP)
      ::sigaction(sig, &dfl, nullptr);  // EINVAL for glibc's own: fine
  }
  if (s->pdeathsig) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != s->parent_pid) {
      errno = ESRCH;
      ChildFail(s, kParentDied);
    }
  }
  // Own session and process group: a timeout kills the group; Ctrl-C on a terminal does not reach
  // it.
  ::setsid();
  // Mount namespace first: the binary and cwd are then resolved in the node's filesystem view.
  if (s->mntns_fd >= 0 && ::setns(s->mntns_fd, CLONE_NEWNS) < 0) ChildFail(s, kEnterMntns);
  if (s->netns_fd >= 0 && ::setns(s->netns_fd, CLONE_NEWNET) < 0) ChildFail(s, kEnterNetns);
  if (::chdir(s->cwd) < 0) ChildFail(s, kChdir);
  if (::dup2(s->fd0, 0) < 0 || ::dup2(s->fd1, 1) < 0 || ::dup2(s->fd2, 2) < 0) ChildFail(s, kDup);
  // Whatever another library opened without O_CLOEXEC stays out of the plugin.
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(s->path, s->argv, s->envp);
  ChildFail(s, kExec);
}

std::string StepText(int step, const std::string& binary) {
  switch (step) {
    case kParentDied:
      return StrCat("start ", binary, ": the parent died before the child was set up");
    case kEnterMntns:
      return StrCat("enter mount namespace for ", binary,
                    " (need CAP_SYS_ADMIN: run as root or with sudo)");
    case kEnterNetns:
      return StrCat("enter network namespace for ", binary,
                    " (need CAP_SYS_ADMIN: run as root or with sudo)");
    case kChdir:
      return StrCat("change directory for ", binary);
    case kDup:
      return StrCat("set up stdio for ", binary);
    default:
      return StrCat("exec ", binary);
  }
}

// The argv/envp arrays point into `strings`; everything is built before the clone.
struct ChildArgs {
  std::vector<std::string> strings;
  std::vector<char*> argv, envp;
};

absl::Status CheckString(const std::string& s, const char* what) {
  if (s.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(StrCat("run plugin: ", what, " contains a NUL byte"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ChildArgs> BuildArgs(const ExecRequest& req) {
  if (req.binary.empty() || req.binary[0] != '/') {
    return absl::InvalidArgumentError(
        StrCat("run plugin \"", req.binary, "\": binary must be an absolute path"));
  }
  ChildArgs a;
  a.strings.reserve(req.argv.size() + req.env.size() + 1);
  if (req.argv.empty()) a.strings.push_back(req.binary);
  for (const std::string& s : req.argv) a.strings.push_back(s);
  size_t nargv = a.strings.size();
  for (const std::string& s : req.env) a.strings.push_back(s);
  for (const std::string& s : a.strings) MKN_RETURN_IF_ERROR(CheckString(s, "argv or env"));
  MKN_RETURN_IF_ERROR(CheckString(req.binary, "binary"));
  MKN_RETURN_IF_ERROR(CheckString(req.cwd, "cwd"));
  for (size_t i = 0; i < a.strings.size(); ++i)
    (i < nargv ? a.argv : a.envp).push_back(a.strings[i].data());
  a.argv.push_back(nullptr);
  a.envp.push_back(nullptr);
  return a;
}

// An fd of ours that will be dup2()ed onto 0..2 in the child must not itself be 0..2 (a process
// that closed its stdio gets them back from pipe2).
absl::Status LiftAbove2(int& fd) {
  if (fd > 2) return absl::OkStatus();
  int n = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (n < 0) return KernelError(errno, "duplicate pipe fd");
  ::close(fd);
  fd = n;
  return absl::OkStatus();
}

struct Pipe {
  Fd r, w;
};

absl::StatusOr<Pipe> MakePipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return KernelError(errno, "create pipe");
  absl::Status st = LiftAbove2(p[0]);
  if (st.ok()) st = LiftAbove2(p[1]);
  Pipe out{Fd(p[0]), Fd(p[1])};
  if (!st.ok()) return st;
  return out;
}

absl::Status SetNonBlocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return KernelError(errno, "set O_NONBLOCK");
  return absl::OkStatus();
}

struct Spawned {
  pid_t pid = -1;
  Fd pidfd;
};

// Spawns the child. On a failure inside the child (setns, chdir, exec) the child is reaped and the
// failure returned with `child_errno` set to its errno.
absl::StatusOr<Spawned> Spawn(const ExecRequest& req, ChildArgs& args, int fd0, int fd1, int fd2,
                              bool pdeathsig, int* child_errno) {
  SpawnSpec spec;
  spec.path = req.binary.c_str();
  spec.argv = args.argv.data();
  spec.envp = args.envp.data();
  spec.cwd = req.cwd.c_str();
  spec.netns_fd = req.netns_fd;
  spec.mntns_fd = req.mntns_fd;
  spec.fd0 = fd0;
  spec.fd1 = fd1;
  spec.fd2 = fd2;
  spec.pdeathsig = pdeathsig;
  spec.parent_pid = ::getpid();

  // The child borrows this stack frame while this thread is suspended (CLONE_VFORK). No signal
  // handler may run in the child on our memory before it resets them: block everything across the
  // clone.
  alignas(64) char stack[32 * 1024];
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  pid_t pid = ::clone(ChildMain, stack + sizeof(stack),
                      CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &spec, &pidfd);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return KernelError(clone_errno, StrCat("spawn ", req.binary));
  Spawned s{pid, Fd(pidfd)};
  if (spec.step != kNone) {
    siginfo_t info{};
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
    *child_errno = spec.err;
    return KernelError(spec.err, StepText(spec.step, req.binary));
  }
  return s;
}

// Spawn, retrying an exec that found the binary open for writing (ETXTBSY: being installed, or a
// write fd briefly inherited by another thread's child) as libcni's RawExec does, within
// `deadline`.
absl::StatusOr<Spawned> SpawnRetrying(const ExecRequest& req, ChildArgs& args, int fd0, int fd1,
                                      int fd2, bool pdeathsig, Clock::time_point deadline) {
  auto backoff = std::chrono::milliseconds(5);
  for (int attempt = 0;; ++attempt) {
    int child_errno = 0;
    absl::StatusOr<Spawned> s = Spawn(req, args, fd0, fd1, fd2, pdeathsig, &child_errno);
    if (s.ok() || child_errno != ETXTBSY || attempt >= 5 || Clock::now() + backoff >= deadline)
      return s;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

void FillStatus(const siginfo_t& info, ExecResult& r) {
  if (info.si_code == CLD_EXITED) {
    r.exit_code = info.si_status;
  } else {
    r.term_signal = info.si_status;
  }
}

// Blocks SIGPIPE on this thread while we write a child's stdin, so a child that exits without
// reading it gives EPIPE rather than killing minikube-net; a SIGPIPE raised by our writes is
// consumed afterwards.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_);
    sigset_t pending;
    ::sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    if (raised_ && !was_pending_) {
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      timespec zero{0, 0};
      while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  void Raised() { raised_ = true; }

 private:
  sigset_t old_;
  bool was_pending_ = false;
  bool raised_ = false;
};

// Where a pipe's bytes go. Stdout keeps its first `max` bytes; one byte more is an overflow (the
// caller kills the plugin). Stderr keeps its last `keep` bytes in a buffer of at most twice that:
// the front is cut in one move when it fills, so each byte is moved at most once.
class HeadSink {
 public:
  HeadSink(std::string& out, size_t max) : out_(out), max_(max) {}
  void Add(const char* p, size_t n) {
    const size_t room = max_ - out_.size();
    if (n > room) {
      out_.append(p, room);
      overflow_ = true;
      return;
    }
    out_.append(p, n);
  }
  bool done() const { return overflow_; }
  bool overflow() const { return overflow_; }

 private:
  std::string& out_;
  size_t max_;
  bool overflow_ = false;
};

class TailSink {
 public:
  TailSink(std::string& out, size_t keep, uint64_t& dropped)
      : out_(out), keep_(keep), dropped_(dropped) {}
  void Add(const char* p, size_t n) {
    if (n >= keep_) {
      dropped_ += out_.size() + (n - keep_);
      out_.assign(p + (n - keep_), keep_);
      return;
    }
    out_.append(p, n);
    if (out_.size() > 2 * keep_) Trim();
  }
  // Down to the last `keep` bytes (at the end of the call).
  void Trim() {
    if (out_.size() <= keep_) return;
    const size_t cut = out_.size() - keep_;
    dropped_ += cut;
    out_.erase(0, cut);
  }
  bool done() const { return false; }

 private:
  std::string& out_;
  size_t keep_;
  uint64_t& dropped_;
};

// Reads what is there into `sink`; false at EOF, on an error, or once the sink wants no more (the
// fd is then done).
template <typename Sink>
bool Drain(int fd, Sink& sink) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      sink.Add(buf, static_cast<size_t>(n));
      if (sink.done()) return false;
      if (static_cast<size_t>(n) < sizeof(buf)) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

// SIGKILL to the child's process group and to the child itself (in case it left its group). The
// group id is the child's pid, still ours while the child is unreaped: it cannot name another
// group.
void KillGroup(const Spawned& child) {
  ::kill(-child.pid, SIGKILL);
  ::syscall(SYS_pidfd_send_signal, child.pidfd.get(), SIGKILL, nullptr, 0);
}

}  // namespace

absl::StatusOr<ExecResult> RunPlugin(const ExecRequest& req) {
  Clock::time_point start = Clock::now();
  Clock::time_point deadline = start + req.timeout;
  MKN_ASSIGN_OR_RETURN(ChildArgs args, BuildArgs(req));
  MKN_ASSIGN_OR_RETURN(Pipe in, MakePipe());
  MKN_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  MKN_ASSIGN_OR_RETURN(Pipe err, MakePipe());
  MKN_RETURN_IF_ERROR(SetNonBlocking(in.w.get()));
  MKN_RETURN_IF_ERROR(SetNonBlocking(out.r.get()));
  MKN_RETURN_IF_ERROR(SetNonBlocking(err.r.get()));

  MKN_ASSIGN_OR_RETURN(Spawned child, SpawnRetrying(req, args, in.r.get(), out.w.get(), err.w.get(),
                                                    false, deadline));
  // Only the child holds its ends now: EOF on stdout/stderr means every holder closed them.
  in.r.Reset();
  out.w.Reset();
  err.w.Reset();

  ExecResult result;
  HeadSink out_sink(result.stdout_data, req.max_stdout);
  TailSink err_sink(result.stderr_data, req.stderr_tail, result.stderr_dropped);
  std::optional<SigpipeGuard> sigpipe;
  size_t written = 0;
  if (req.stdin_data.empty()) {
    in.w.Reset();
  } else {
    sigpipe.emplace();
  }
  bool exited = false;
  Clock::time_point exited_at;
  for (;;) {
    pollfd fds[4];
    int n = 0;
    int i_in = -1, i_out = -1, i_err = -1, i_pid = -1;
    if (in.w.valid()) fds[i_in = n++] = {in.w.get(), POLLOUT, 0};
    if (out.r.valid()) fds[i_out = n++] = {out.r.get(), POLLIN, 0};
    if (err.r.valid()) fds[i_err = n++] = {err.r.get(), POLLIN, 0};
    if (!exited) fds[i_pid = n++] = {child.pidfd.get(), POLLIN, 0};
    // Done when the child exited and nobody holds stdout/stderr (stdin may still be unread: drop
    // it).
    if (exited && !out.r.valid() && !err.r.valid()) break;
    // Once the child has exited, only its leftovers can hold the pipes: they get exit_grace (and
    // never more than the deadline) to close them.
    const Clock::time_point until =
        exited ? std::min(deadline, exited_at + req.exit_grace) : deadline;
    auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) {
      if (exited) {
        // What is already in the pipes is the plugin's (or its leftovers') output: keep it.
        if (out.r.valid()) Drain(out.r.get(), out_sink);
        if (err.r.valid()) Drain(err.r.get(), err_sink);
        result.output_held = true;
      } else {
        result.timed_out = true;
      }
      break;
    }
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    int rc = ::ppoll(fds, n, &ts, nullptr);
    if (rc < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      KillGroup(child);
      siginfo_t info{};
      ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(child.pidfd.get()), &info,
               WEXITED);
      return KernelError(e, StrCat("wait for ", req.binary));
    }
    if (i_in >= 0 && fds[i_in].revents != 0) {
      while (written < req.stdin_data.size()) {
        size_t chunk = std::min<size_t>(req.stdin_data.size() - written, 1 << 20);
        ssize_t w = ::write(in.w.get(), req.stdin_data.data() + written, chunk);
        if (w > 0) {
          written += static_cast<size_t>(w);
          continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) break;
        if (w < 0 && errno == EPIPE) sigpipe->Raised();
        written = req.stdin_data.size();  // the child closed its stdin: it gets no more
      }
      if (written == req.stdin_data.size()) in.w.Reset();
    }
    if (i_out >= 0 && fds[i_out].revents != 0 && !Drain(out.r.get(), out_sink)) {
      if (out_sink.overflow()) {
        result.stdout_overflow = true;
        // No CNI result is that long: the plugin is printing without end. Stop it now rather than
        // read (or wait out its timeout) for nothing. Killed before its pipe is closed: closed
        // first, the writer could die of SIGPIPE and the plugin exit on its own before the
        // SIGKILL, which then would not be what ended it.
        if (!exited) KillGroup(child);
      }
      out.r.Reset();
    }
    if (i_err >= 0 && fds[i_err].revents != 0 && !Drain(err.r.get(), err_sink)) err.r.Reset();
    if (i_pid >= 0 && fds[i_pid].revents != 0) {
      exited = true;
      exited_at = Clock::now();
    }
  }
  err_sink.Trim();
  if (result.timed_out) KillGroup(child);
  siginfo_t info{};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(child.pidfd.get()), &info,
                  WEXITED) < 0) {
    if (errno != EINTR) return KernelError(errno, StrCat("reap ", req.binary));
  }
  FillStatus(info, result);
  sigpipe.reset();
  result.elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
  return result;
}

absl::StatusOr<pid_t> StartDaemon(const ExecRequest& req, const std::string& log_path) {
  MKN_ASSIGN_OR_RETURN(ChildArgs args, BuildArgs(req));
  Fd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log.valid()) return KernelError(errno, StrCat("open ", log_path));
  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull.valid()) return KernelError(errno, "open /dev/null");
  int lfd = log.Release(), nfd = devnull.Release();
  absl::Status lifted = LiftAbove2(lfd);
  if (lifted.ok()) lifted = LiftAbove2(nfd);
  log.Reset(lfd);
  devnull.Reset(nfd);
  MKN_RETURN_IF_ERROR(lifted);
  MKN_ASSIGN_OR_RETURN(Spawned child, SpawnRetrying(req, args, devnull.get(), log.get(), log.get(),
                                                    true, Clock::now() + std::chrono::seconds(1)));
  return child.pid;
}

absl::Status StopDaemon(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return absl::InvalidArgumentError(StrCat("stop daemon ", pid, ": not a pid"));
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    if (errno == ESRCH)
      return absl::NotFoundError(StrCat("stop daemon ", pid, ": no such process"));
    return KernelError(errno, StrCat("stop daemon ", pid));
  }
  auto waitid_pidfd = [&](int options) {
    siginfo_t info{};
    info.si_pid = 0;
    int rc;
    do {
      rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &info, options);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : info.si_pid;
  };
  // Only our own, unreaped child: its pid and process group cannot have been recycled.
  if (int rc = waitid_pidfd(WEXITED | WNOHANG | WNOWAIT); rc == -ECHILD) {
    return absl::NotFoundError(StrCat("stop daemon ", pid, ": not a child of this process"));
  }
  if (::kill(-pid, SIGTERM) < 0) ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGTERM, nullptr, 0);
  Clock::time_point deadline = Clock::now() + grace;
  bool reaped = false;
  for (;;) {
    if (!reaped) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{pidfd.get(), POLLIN, 0};
      if (left > 0) ::poll(&p, 1, static_cast<int>(left));
      if (waitid_pidfd(WEXITED | WNOHANG) > 0) reaped = true;
    }
    // Once the leader is reaped its pid stays pinned while it names a group with members, so the
    // group test below cannot hit someone else's group. Members that outlive the leader get the
    // rest of the grace.
    if (reaped && ::kill(-pid, 0) < 0) return absl::OkStatus();
    if (Clock::now() >= deadline) break;
    if (reaped) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(-pid, SIGKILL);
  if (!reaped) {
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    if (int rc = waitid_pidfd(WEXITED); rc < 0)
      return KernelError(-rc, StrCat("reap daemon ", pid));
  }
  return absl::OkStatus();
}

}  // namespace mkn::vnet
