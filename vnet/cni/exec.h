// vnet/cni/exec — runs a CNI plugin (or a node daemon) as a child process inside a node's
// namespaces, as a container runtime's libcni/pkg/invoke does: exactly the given argv and
// environment, the config on stdin, the result read from stdout, stderr kept for the error message,
// a deadline.
//
// STYLE.md §4: the caller's threads never setns(). Every call spawns a child with
// clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) (posix_spawn's technique: no page-table copy, the
// calling thread is suspended until the child has exec'd or failed); the child does only
// async-signal-safe system calls: signal dispositions to default, setsid, setns(mount) then
// setns(net), chdir, dup2 onto 0/1/2, close_range(3.., CLOEXEC), execve. Everything it needs (argv,
// envp, paths) is built before. A failure in the child (setns, chdir, execve) is written to memory
// shared with the parent before _exit, so "exec /usr/lib/cni/nope: No such file or directory" is a
// Status, never exit code 127.
//
// What a plugin prints is untrusted and bounded: stdout up to ExecRequest::max_stdout (1 MiB by
// default: a CNI result is a few KiB), past which the plugin's process group is killed and the
// result says so (stdout_overflow); of stderr only the last ExecRequest::stderr_tail bytes are kept
// (messages show its tail), the rest counted. 256 MiB of either costs no more memory than 1 MiB.
// The plugin's exit ends the call: what it wrote is read, and a process it left behind that keeps
// stdout or stderr open gets ExecRequest::exit_grace to close them, then reading stops
// (output_held), without waiting for the timeout.
//
// RunPlugin is safe to call concurrently from many threads: every pipe is O_CLOEXEC until the child
// dup2()s its own ends onto 0/1/2, so a child never holds another call's pipe; the parent polls the
// three pipes and a pidfd, so a large stdin and a large stdout cannot deadlock.
//
// Cost (vnet/cni/exec_netns_test RunPlugin.OverheadPerCallOfTrue: /bin/true 1000 times, each round
// timing posix_spawn + waitpid and RunPlugin back to back, on the 2-core CI VM, kernel 6.18, load
// ~2.6 from other builds): posix_spawn + waitpid 570-760 µs (median), RunPlugin adds a median
// 50-110 µs a call (three pipes, poll, pidfd, the stdin write), the same with setns into a node's
// netns and mount namespace. A quiet run gave 530 µs vs 576 µs (+46), 616 µs in a node. The
// plugin's exec and dynamic loading dominate; the harness's budget is 1 ms a call.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mkn::vnet {

// A CNI result is a few KiB (an interface, an address, a route or two): 1 MiB is plenty for any
// plugin, and little enough that a plugin printing without end costs nothing.
inline constexpr size_t kMaxPluginStdout = size_t{1} << 20;
// For the tools the runtime and the suite run themselves (`ip -j -d link show`, `nft -j list
// ruleset` of a node with hundreds of pods), whose output is trusted but can be large.
inline constexpr size_t kToolMaxStdout = size_t{64} << 20;
// Only the end of a plugin's stderr is ever shown (the last lines of a failure).
inline constexpr size_t kPluginStderrTail = size_t{64} << 10;
// How long a plugin's leftover processes may keep its stdout/stderr open after it exited.
inline constexpr std::chrono::milliseconds kPluginExitGrace{200};

struct ExecRequest {
  std::string binary;             // absolute path, resolved in the mount namespace `mntns_fd`
  std::vector<std::string> argv;  // argv[0] included; empty = {binary}
  std::vector<std::string> env;   // "K=V", exactly this environment (nothing inherited)
  std::string stdin_data;         // RunPlugin only; daemons get /dev/null
  int netns_fd = -1;              // setns(CLONE_NEWNET) target, -1 = stay in the caller's
  int mntns_fd = -1;              // setns(CLONE_NEWNS) target (MakeNodeMountNs), -1 = stay
  std::chrono::milliseconds timeout{10000};  // RunPlugin only
  std::string cwd = "/";                     // resolved after entering mntns_fd
  // RunPlugin only. More than max_stdout bytes on stdout kill the process group (stdout_overflow);
  // the suite's own tools (`ip -j`, `nft -j` of a large node) get more.
  size_t max_stdout = kMaxPluginStdout;
  size_t stderr_tail = kPluginStderrTail;  // RunPlugin only: the last bytes of stderr kept
  std::chrono::milliseconds exit_grace = kPluginExitGrace;  // RunPlugin only: see output_held
};

struct ExecResult {
  int exit_code = -1;   // the child's exit status; -1 if it was killed by a signal
  int term_signal = 0;  // the signal that ended it (SIGKILL after a timeout), 0 if it exited
  // The deadline passed before the child had exited (or, when the deadline came first, within
  // its exit_grace): its process group got SIGKILL, reading stopped. exit_code/term_signal are then
  // the child's own status, which may be a clean exit if only a grandchild was left holding the
  // pipes.
  bool timed_out = false;
  // More than max_stdout bytes came on stdout: the process group got SIGKILL there and reading
  // stopped; stdout_data holds the first max_stdout bytes.
  bool stdout_overflow = false;
  // The child exited, but a process it left behind still held stdout or stderr open exit_grace
  // later: what had come until then is kept, and the call ended there (the process is not killed:
  // it left the plugin's group, or is a daemon the caller's teardown will name).
  bool output_held = false;
  std::string stdout_data;
  std::string stderr_data;             // its last stderr_tail bytes
  uint64_t stderr_dropped = 0;         // bytes of stderr before those, not kept
  std::chrono::nanoseconds elapsed{};  // from spawn to reap
};

// Runs one plugin call and returns what it did, whatever its exit code (a plugin's error is in the
// result, not the Status). The child is the leader of its own session and process group; at the
// timeout the whole group gets SIGKILL (a descendant that setsid()s or changes its group escapes
// it); so does it when stdout passes max_stdout. The child's exit ends the call (after exit_grace
// at most, for output its leftovers still hold open). The child is always reaped before returning.
// An "ETXTBSY" exec (the binary is being written) is retried a few times within the timeout, as
// libcni's RawExec does. Status: InvalidArgument (relative binary, NUL in a string);
// NotFound/PermissionDenied/... from the child's execve ("exec <binary>: <strerror>"), setns
// ("enter mount namespace for <binary>: ..."; needs CAP_SYS_ADMIN) or chdir; for pipe/clone/poll
// failures, vnet/kernel/errors.h's code for the errno.
absl::StatusOr<ExecResult> RunPlugin(const ExecRequest& req);

// Starts a long-running process (a plugin's node agent) in the request's namespaces: stdin
// /dev/null, stdout and stderr appended to log_path (opened in the *caller's* mount namespace,
// created 0600), its own session and process group, PR_SET_PDEATHSIG(SIGKILL) so it dies if
// minikube-net is killed (checked against a parent that died before prctl). PDEATHSIG follows the
// *thread* that spawned it: call this from a long-lived thread (the main thread), as
// vnet/kernel/process's Spawn. `timeout` and `stdin_data` are ignored. Returns the pid, our child
// until StopDaemon reaps it. Status: as RunPlugin's spawn errors, plus the log file's open error.
absl::StatusOr<pid_t> StartDaemon(const ExecRequest& req, const std::string& log_path);

// SIGTERM to the daemon's process group, waits up to `grace` for the group to be empty, then
// SIGKILL to the group; reaps the daemon. `pid` must be a StartDaemon pid not yet stopped (it is
// our unreaped child, so its pid and group cannot have been recycled). NotFound if it is not our
// child.
absl::Status StopDaemon(pid_t pid, std::chrono::milliseconds grace);

}  // namespace mkn::vnet
