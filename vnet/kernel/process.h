// vnet/kernel/process — command containers: child processes inside a pod's netns.
//
// Spawn() must be called from a long-lived thread (the main thread): the child gets
// PR_SET_PDEATHSIG so it dies with the thread that forked it, and runs in its own session (Ctrl-C
// on the terminal reaches minikube-net, which then stops the children in order). A child is
// identified by pid *and* start time, so a recycled pid is never signalled.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mkn::vnet {

struct ChildProcess {
  pid_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat
};

// Forks, enters the netns `netns_fd`, sends stdout/stderr to `log_path` (appending; made 0600) and
// execs argv with the environment plus `env`. The child's setns and exec errors come back through a
// pipe, so the codes (vnet/kernel/errors.h) cover them too: InvalidArgument if argv is empty or
// `netns_fd` is no netns; NotFound if the program or the log's directory is not there;
// PermissionDenied if the program may not be run or the log not written; Unavailable if fork or
// pipe run out (EAGAIN, EMFILE). Needs CAP_SYS_ADMIN to enter another netns.
// With `resolv_conf` (a file's path) the child enters a mount namespace of its own (mounts
// propagate into it from the parent's, never back) and sees that file as /etc/resolv.conf, bound
// over the path /etc/resolv.conf resolves to (it may be a symlink); the host's file is untouched
// (a host without one: nothing is bound, the process starts all the same).
// With `cgroup_procs_fd` (an fd open for writing on a cgroup v2's cgroup.procs, proxy_mode =
// "ebpf") the child moves itself into that cgroup before exec, so every socket it and its children
// open is seen by the programs attached there; that write's errors come back the same way.
absl::StatusOr<ChildProcess> Spawn(int netns_fd, const std::vector<std::string>& argv,
                                   const std::vector<std::pair<std::string, std::string>>& env,
                                   const std::string& log_path, int cgroup_procs_fd = -1,
                                   const std::string& resolv_conf = "");

// The calling process (single-threaded: `exec`) in a mount namespace of its own, slave to the one
// it was in, with `resolv_conf` bound over /etc/resolv.conf (its target, if a symlink). Needs
// CAP_SYS_ADMIN; codes of vnet/kernel/errors.h. When /etc/resolv.conf does not exist (or is a
// dangling symlink) nothing is bound and it returns OK: there is nothing to bind over without
// writing to the host's /etc (Spawn does the same).
absl::Status UseResolvConf(const std::string& resolv_conf);

// 0 if the process does not exist (or /proc says something unexpected): never an error, since a
// process may vanish between any two calls.
uint64_t ProcessStartTime(pid_t pid);
bool IsAlive(const ChildProcess& p);

// The signals that ask minikube-net to stop: SIGINT (Ctrl-C), SIGTERM (`down`, kill(1)), SIGHUP
// (the terminal went away); and `also`.
sigset_t StopSignals(std::initializer_list<int> also = {});
// Blocks StopSignals(also) on the calling thread and returns that set, so that they stay pending
// until this thread takes them (sigwaitinfo) or looks (StopSignalPending); a thread created
// afterwards inherits the mask, so call it before starting any. It cannot fail (the set is valid).
sigset_t BlockStopSignals(std::initializer_list<int> also = {});
// A stop signal is pending (they are blocked: BlockStopSignals).
bool StopSignalPending();

// SIGTERM to each container's process group, then SIGKILL to what is still alive after grace_ms.
// Reaps our own children.
void StopProcesses(const std::vector<ChildProcess>& procs, int grace_ms = 2000);

}  // namespace mkn::vnet
