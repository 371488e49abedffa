// vnet/cluster/down: `down` of a cluster by name (DownCluster, cluster.h), and removing what a
// dead owner left by what its state and markers prove ours (RemoveFromState, which an `up` that
// finds such a state uses too). Split from cluster.cc, which brings a cluster up and runs it.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/cluster_impl.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/runtime.h"
#include "vnet/ebpf/cgroup.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/owned.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {

void AddCniReport(const CniTeardownReport& c, TeardownReport& r) {
  r.cni_deleted = c.deleted;
  r.cni_errors = c.errors;
  r.cni_leaks = c.leaks;
}

absl::StatusOr<TeardownReport> RemoveFromState(const ClusterState& s) {
  StopProcesses(ProcessesOf(s));
  // A CNI lab: DEL of every attachment from the cached results, while the namespaces still exist.
  CniTeardownReport cni = CniTeardown(s.cluster);
  MKN_ASSIGN_OR_RETURN(TeardownReport r, Teardown(NetnsOf(s), s.marker));
  // proxy_mode = "ebpf": the programs went with the killed process (no pins); its cgroup is left.
  if (!s.cgroup.empty()) MKN_RETURN_IF_ERROR(RemoveLabCgroup(s.cgroup, s.marker));
  AddCniReport(cni, r);
  if (s.network.rfind("cni", 0) == 0) HeldAsPluginLeaks(r);  // "cni/host-gw", ... (StateFromSpec)
  MKN_RETURN_IF_ERROR(RemoveStateDir(s.cluster));
  return r;
}

namespace {

// A state directory without a state: an `up` SIGKILLed before its first state write (the lock and
// a state.json.tmp are all it made; namespaces come after the state). Under the lock, so that an
// `up` starting now is not robbed of its directory: a live minikube-net holding it is one, and the
// directory is its. Otherwise it goes, and a note says so.
absl::Status RemoveStatelessDir(const std::string& name, DownResult& res) {
  struct stat sb;
  if (::lstat(StateDirOf(name).c_str(), &sb) < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return KernelError(errno, StrCat("stat ", StateDirOf(name)));
  }
  absl::StatusOr<Fd> lock =
      LockCluster(name, [&](const std::string& line) { res.notes.push_back(line); });
  if (absl::IsFailedPrecondition(lock.status())) return absl::OkStatus();  // an up is starting
  MKN_RETURN_IF_ERROR(lock.status());
  absl::StatusOr<ClusterState> st = ReadState(name);
  if (!absl::IsNotFound(st.status())) return absl::OkStatus();  // it has one now: not ours
  lock->Reset();
  MKN_RETURN_IF_ERROR(RemoveStateDir(name));
  res.notes.push_back(StrCat("removed ", StateDirOf(name),
                             ": the state directory of an up killed before it made anything"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DownResult> DownCluster(const std::string& name, int timeout_ms) {
  DownResult res;
  absl::StatusOr<ClusterState> st = ReadState(name);
  if (absl::IsNotFound(st.status())) {
    MKN_RETURN_IF_ERROR(RemoveStatelessDir(name, res));
    return res;
  }
  MKN_RETURN_IF_ERROR(st.status());
  res.was_up = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    // Liveness is the owner the state names (pid and start time), not the lock: anyone who can
    // open the lock file can hold it.
    if (IsAlive(st->owner)) {
      // A live owner: ask it to stop, and wait for the process to end (pidfd: no polling).
      int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, st->owner.pid, 0));
      Fd owned(pidfd);
      if (pidfd < 0 && errno != ESRCH)
        return KernelError(errno, StrCat("pidfd_open ", st->owner.pid));
      if (pidfd >= 0) {  // else it died just now
        // SIGTERM as `kill` sends it, but queued with kDownSignalValue: the owner then knows it
        // was `down`, which reads the report it leaves (RunSession), not a user's kill.
        if (::sigqueue(st->owner.pid, SIGTERM, sigval{.sival_int = kDownSignalValue}) < 0 &&
            errno != ESRCH)
          return KernelError(errno, StrCat("signal pid ", st->owner.pid));
        // Pid 1 alive with the owner's start time is the owner as this PID namespace sees it:
        // when it ends, the kernel kills us too, so we say what happens now, while we can.
        if (st->owner.pid == 1) {
          res.owner_is_our_init = true;
          res.owner_pid = 1;
          return res;
        }
        pollfd p{pidfd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) {
          return absl::DeadlineExceededError(StrCat("cluster ", name, ": pid ", st->owner.pid,
                                                    " did not stop within ", timeout_ms / 1000,
                                                    " s"));
        }
        res.owner_stopped = true;
        res.owner_pid = st->owner.pid;
      }
      st = ReadState(name);
      if (absl::IsNotFound(st.status())) return res;  // the owner cleaned up after itself
      MKN_RETURN_IF_ERROR(st.status());
      if (IsAlive(st->owner)) continue;  // a new owner came up meanwhile: it goes too
    }
    // No live owner: take the lock so no `up` races us, and remove what state and markers prove
    // ours. A holder that is not a live minikube-net process does not stop us (LockCluster).
    absl::StatusOr<Fd> lock =
        LockCluster(name, [&](const std::string& line) { res.notes.push_back(line); });
    if (lock.ok()) {
      // Under the lock, the state as it is now: another process may have cleaned up meanwhile
      // (LockCluster then made an empty directory, which goes), or become its owner.
      st = ReadState(name);
      if (absl::IsNotFound(st.status())) {
        lock->Reset();
        MKN_RETURN_IF_ERROR(RemoveStateDir(name));
        return res;
      }
      MKN_RETURN_IF_ERROR(st.status());
      if (IsAlive(st->owner)) continue;
      MKN_ASSIGN_OR_RETURN(res.report, RemoveFromState(*st));
      return res;
    }
    if (!absl::IsFailedPrecondition(lock.status())) return lock.status();
    // A live minikube-net holds it: an `up` removing what the dead owner left (it then becomes the
    // owner) or another `down`. Wait for either, bounded.
    if (std::chrono::steady_clock::now() >= deadline) return lock.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    st = ReadState(name);
    if (absl::IsNotFound(st.status())) return res;
    MKN_RETURN_IF_ERROR(st.status());
  }
}

}  // namespace mkn::vnet
