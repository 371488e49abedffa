#include "vnet/cluster.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "lib/plan/plan.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/apps.h"
#include "vnet/process.h"
#include "vnet/proxy.h"

namespace mkn::vnet {

struct RunningCluster::Impl {
  Fd lock;
  Applied applied;
  std::unique_ptr<AppServer> apps;
  std::unique_ptr<UserspaceProxy> proxy;  // proxy_mode = "userspace" with services
  bool down = true;  // nothing to take down until the intent is on disk
};

namespace {

// Each pod holds a few fds (its netns, app sockets, connections): raise the soft limit to the hard one.
void RaiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

absl::StatusOr<TeardownReport> RemoveFromState(const ClusterState& s) {
  StopProcesses(s.Processes());
  MKN_ASSIGN_OR_RETURN(TeardownReport r, Teardown(s.Netns(), s.marker));
  MKN_RETURN_IF_ERROR(RemoveStateDir(s.cluster));
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunningCluster>> RunningCluster::Up(const config::ClusterSpec& spec,
                                                                   const UpOptions& options) {
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<RunningCluster> rc(new RunningCluster());
  rc->impl_ = std::make_unique<Impl>();
  Impl& impl = *rc->impl_;
  absl::StatusOr<Fd> lock = LockCluster(spec.name);
  if (!lock.ok()) {
    absl::StatusOr<ClusterState> other = ReadState(spec.name);
    if (other.ok()) {
      return absl::FailedPreconditionError(StrCat("cluster ", spec.name, " is already up (pid ", other->owner.pid,
                                                  "); take it down with: minikube-net down ", spec.name));
    }
    return lock.status();
  }
  impl.lock = std::move(*lock);
  // A state file under a free lock is what a killed run left: remove it first, proven by markers.
  if (absl::StatusOr<ClusterState> stale = ReadState(spec.name); stale.ok()) {
    if (options.notice) options.notice(StrCat("removing what a previous run of ", spec.name, " left behind (pid ", stale->owner.pid, " is gone)"));
    MKN_ASSIGN_OR_RETURN(TeardownReport r, RemoveFromState(*stale));
    if (!r.not_ours.empty()) {
      return absl::FailedPreconditionError(StrCat("namespace ", r.not_ours[0], " exists but is not this cluster's; remove it or rename the cluster"));
    }
    impl.lock.Reset();
    MKN_ASSIGN_OR_RETURN(impl.lock, LockCluster(spec.name));
  }
  RaiseFileLimit();
  rc->state_ = StateFromSpec(spec, options.lab_path);
  ClusterState& st = rc->state_;
  st.owner = {getpid(), ProcessStartTime(getpid())};
  st.started_at = static_cast<int64_t>(std::time(nullptr));
  // Intent first: every namespace the plan will make is on disk before the first one exists.
  MKN_RETURN_IF_ERROR(WriteState(st));
  impl.down = false;
  auto fail = [&](absl::Status s) -> absl::Status {
    (void)rc->Down();
    return s;
  };

  plan::Plan plan = plan::BuildPlan(spec);
  ApplyOptions ao;
  ao.workers = options.workers;
  ao.progress = options.progress;
  ao.fail_at_step = options.fail_at_step;
  absl::StatusOr<Applied> applied = Apply(plan, ao);
  if (!applied.ok()) {
    (void)RemoveStateDir(spec.name);  // Apply has already removed what it made
    impl.down = true;
    return applied.status();
  }
  impl.applied = std::move(*applied);

  if (!impl.applied.tuns.empty()) {
    absl::StatusOr<std::unique_ptr<UserspaceProxy>> proxy =
        UserspaceProxy::Create(spec, std::move(impl.applied.tuns));
    impl.applied.tuns.clear();
    if (!proxy.ok()) return fail(proxy.status());
    impl.proxy = std::move(*proxy);
    if (absl::Status s = impl.proxy->Start(); !s.ok()) return fail(s);
  }

  std::string logs = StateDirOf(spec.name) + "/logs";
  ::mkdir(logs.c_str(), 0755);
  impl.apps = std::make_unique<AppServer>(logs);
  for (AppSocket& a : impl.applied.apps) {
    const config::PodSpec* pod = spec.FindPod(a.app.pod);
    if (absl::Status s = impl.apps->Serve(std::move(a), spec.nodes[pod->node].name); !s.ok()) return fail(s);
  }
  impl.applied.apps.clear();
  impl.apps->Start(1);

  for (const plan::StartCommand& c : impl.applied.commands) {
    const config::PodSpec* pod = spec.FindPod(c.pod);
    std::string dir = StrCat(logs, "/", c.pod);
    ::mkdir(dir.c_str(), 0755);
    std::vector<std::pair<std::string, std::string>> env = {
        {"POD_NAME", c.pod}, {"POD_IP", pod->ip.ToString()}, {"NODE_NAME", spec.nodes[pod->node].name}};
    env.insert(env.end(), c.env.begin(), c.env.end());
    absl::StatusOr<ChildProcess> child =
        Spawn(impl.applied.netns.at(c.ns).get(), c.argv, env, StrCat(dir, "/", c.container, ".log"));
    if (!child.ok()) {
      return fail(absl::Status(child.status().code(), StrCat("pod ", c.pod, ": container ", c.container, ": ", child.status().message())));
    }
    for (PodState& p : st.pods) {
      if (p.name != c.pod) continue;
      for (ContainerState& cs : p.containers) {
        if (cs.name == c.container) cs.process = *child;
      }
    }
  }
  st.phase = "ready";
  st.ready_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  if (absl::Status s = WriteState(st); !s.ok()) return fail(s);
  return rc;
}

RunningCluster::~RunningCluster() { (void)Down(); }

std::vector<std::string> RunningCluster::ReapChildren() {
  std::vector<std::string> out;
  for (PodState& p : state_.pods) {
    for (ContainerState& c : p.containers) {
      if (c.process.pid <= 0) continue;
      int status = 0;
      if (::waitpid(c.process.pid, &status, WNOHANG) == c.process.pid) {
        out.push_back(StrCat("pod ", p.name, ": container ", c.name, " exited with ",
                             WIFEXITED(status) ? StrCat("status ", WEXITSTATUS(status)) : StrCat("signal ", WTERMSIG(status))));
        c.process = {};
      }
    }
  }
  if (!out.empty()) (void)WriteState(state_);
  return out;
}

absl::StatusOr<TeardownReport> RunningCluster::Down() {
  if (impl_ == nullptr || impl_->down) return TeardownReport{};
  impl_->down = true;
  state_.phase = "stopping";
  (void)WriteState(state_);
  if (impl_->proxy) impl_->proxy->Stop();  // closes the TUNs
  if (impl_->apps) impl_->apps->Stop();  // closes every socket held in a pod
  StopProcesses(state_.Processes());
  impl_->applied = Applied{};  // closes our netns fds
  MKN_ASSIGN_OR_RETURN(TeardownReport r, Teardown(state_.Netns(), state_.marker));
  MKN_RETURN_IF_ERROR(RemoveStateDir(state_.cluster));
  impl_->lock.Reset();
  return r;
}

absl::StatusOr<DownResult> DownCluster(const std::string& name, int timeout_ms) {
  DownResult res;
  absl::StatusOr<ClusterState> st = ReadState(name);
  if (absl::IsNotFound(st.status())) return res;
  MKN_RETURN_IF_ERROR(st.status());
  res.was_up = true;
  if (ClusterLocked(name) && IsAlive(st->owner)) {
    // A live owner: ask it to stop, and wait for the process to end (pidfd: no polling).
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, st->owner.pid, 0));
    if (pidfd >= 0 && ::kill(st->owner.pid, SIGTERM) == 0) {
      Fd owned(pidfd);
      pollfd p{pidfd, POLLIN, 0};
      int r = ::poll(&p, 1, timeout_ms);
      if (r <= 0) {
        return absl::DeadlineExceededError(StrCat("cluster ", name, ": pid ", st->owner.pid, " did not stop within ", timeout_ms / 1000, " s"));
      }
      res.owner_stopped = true;
    }
    st = ReadState(name);
    if (absl::IsNotFound(st.status())) return res;  // the owner cleaned up after itself
    MKN_RETURN_IF_ERROR(st.status());
  }
  // No live owner: take the lock so no `up` races us, and remove what state and markers prove ours.
  MKN_ASSIGN_OR_RETURN(Fd lock, LockCluster(name));
  MKN_ASSIGN_OR_RETURN(res.report, RemoveFromState(*st));
  return res;
}

}  // namespace mkn::vnet
