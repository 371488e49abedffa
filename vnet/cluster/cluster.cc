// RunningCluster (cluster.h): up, down, kill and scale. UpOrUndo is the one sequence every
// network's bring-up follows (vxlan, host-gw, geneve, bgp, cni), with its undo; each network's own
// part lives in its file (cluster_bgp.cc, cluster_cni.cc, cluster_nft.cc), and only the calls into
// them stay here, in order. `down` of a cluster another process ran: down.cc.
#include "vnet/cluster/cluster.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/str_join.h"
#include "lib/config/mutate.h"
#include "lib/dns/zone.h"
#include "lib/net/naming.h"
#include "lib/netpol/nft.h"
#include "lib/plan/plan.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "lib/world/dns.h"
#include "vnet/apps/apps.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/cluster_impl.h"
#include "vnet/cluster/control.h"
#include "vnet/cluster/netns_names.h"
#include "vnet/cni/exec.h"
#include "vnet/cni/runtime.h"
#include "vnet/edge/ingress.h"
#include "vnet/edge/tls.h"
#include "vnet/kernel/conntrack.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/process.h"
#include "vnet/kernel/sock_diag.h"
#include "vnet/proxy/proxy.h"

namespace mkn::vnet {

namespace {

// Each pod holds a few fds (its netns, app sockets, connections): raise the soft limit to the hard
// one.
void RaiseFileLimit(const std::function<void(const std::string&)>& notice) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    const rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    // Not fatal (a small lab fits in any limit), but a large one may then run out of fds: say so.
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && notice) {
      notice(StrCat("could not raise the open-file limit from ", was, " to ", rl.rlim_max, ": ",
                    std::strerror(errno)));
    }
  }
}

// What a teardown could not clean that a user must hear of: a failed `up` promises "nothing was
// left behind" only when this is empty. (Namespaces without this cluster's marker are not ours to
// have left.)
std::vector<std::string> LeftBehind(const TeardownReport& r) {
  std::vector<std::string> out;
  for (const std::string& u : r.unreadable)
    out.push_back(StrCat("namespace ", u, " (its marker could not be read, so it was kept)"));
  for (const std::string& h : r.still_held)
    out.push_back(StrCat("namespace ", h, ": removed, but the kernel had not freed it yet"));
  for (const HeldNetns& h : r.held) {
    out.push_back(StrCat("namespace ", h.netns, ": removed, but ", DescribeProcesses(h.processes),
                         " still run inside (", KillCommand(h.processes), ")"));
  }
  for (const std::string& e : r.cni_errors) out.push_back(StrCat("CNI DEL failed: ", e));
  for (const std::string& l : r.cni_leaks) out.push_back(StrCat("CNI plugin leak: ", l));
  for (const std::string& w : r.warnings) out.push_back(w);
  return out;
}

// A failed up's Status, with what its own cleanup achieved: "(nothing was left behind)" only when
// that is true, else every leftover on a line of its own.
absl::Status AfterCleanup(const absl::Status& cause, const std::vector<std::string>& left) {
  if (left.empty())
    return absl::Status(cause.code(), StrCat(cause.message(), " (nothing was left behind)"));
  return absl::Status(
      cause.code(),
      StrCat(cause.message(), "\n  left behind: ", absl::StrJoin(left, "\n  left behind: ")));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunningCluster>> RunningCluster::Up(const config::ClusterSpec& spec,
                                                                   const UpOptions& options) {
  std::vector<std::string> left;
  absl::StatusOr<std::unique_ptr<RunningCluster>> rc = UpOrUndo(spec, options, left);
  if (rc.ok()) return rc;
  // Stopped midway (the applier's Cancelled, or a stage boundary's): the rollback is the answer.
  if (absl::IsCancelled(rc.status()))
    return AfterCleanup(absl::CancelledError("interrupted: rolled back"), left);
  return AfterCleanup(rc.status(), left);
}

absl::StatusOr<std::unique_ptr<RunningCluster>> RunningCluster::UpOrUndo(
    const config::ClusterSpec& spec, const UpOptions& options, std::vector<std::string>& left) {
  auto start = std::chrono::steady_clock::now();
  // Before anything exists: every certificate of the edge must be readable and match its key.
  for (const config::ListenerSpec& l : spec.listeners) {
    for (const config::TlsCertSpec& c : l.tls) {
      if (absl::Status s = CheckCertKey(c.cert, c.key); !s.ok()) {
        return absl::InvalidArgumentError(StrCat(options.lab_path, ":", c.pos.line, ":", c.pos.col,
                                                 ": listener \"", l.name, "\": ", s.message()));
      }
    }
  }
  // And every node's CNI chain must parse and have its plugins.
  std::vector<CniNodeConfig> cni_configs;
  if (spec.cni_mode) {
    MKN_ASSIGN_OR_RETURN(cni_configs, LoadCniConfigs(spec, options.lab_path));
  }
  std::unique_ptr<RunningCluster> rc(new RunningCluster());
  rc->impl_ = std::make_unique<Impl>();
  Impl& impl = *rc->impl_;
  absl::StatusOr<Fd> lock = LockCluster(spec.name, options.notice);
  if (!lock.ok()) {
    // Up is refused only for a live owner; a lock held by anything else has been replaced.
    absl::StatusOr<ClusterState> other = ReadState(spec.name);
    if (other.ok() && IsAlive(other->owner)) {
      return absl::FailedPreconditionError(
          StrCat("cluster ", spec.name, " is already up (pid ", other->owner.pid,
                 "); take it down with: minikube-net down ", spec.name));
    }
    // A lock that could not be taken at all (a full or read-only /run) may leave the directory it
    // made; without a state in it, it holds nothing of anyone's.
    if (!absl::IsFailedPrecondition(lock.status()) && absl::IsNotFound(other.status())) {
      if (absl::Status r = RemoveStateDir(spec.name); !r.ok())
        left.push_back(StrCat("state directory ", StateDirOf(spec.name), ": ", r.message()));
    }
    return lock.status();
  }
  impl.lock = std::move(*lock);
  // From here until the intent is on disk, a failure removes the state directory (we hold its
  // lock); what could not be removed is said.
  auto undo_dir = [&](absl::Status s) -> absl::Status {
    impl.lock.Reset();
    if (absl::Status r = RemoveStateDir(spec.name); !r.ok())
      left.push_back(StrCat("state directory ", StateDirOf(spec.name), ": ", r.message()));
    return s;
  };
  // A state file under a lock no live process held is what a killed run left: remove it first,
  // proven by markers. (Its owner cannot be alive: a live owner holds the lock. Checked anyway: a
  // live cluster is never torn down from here.)
  if (absl::StatusOr<ClusterState> stale = ReadState(spec.name); stale.ok()) {
    if (IsAlive(stale->owner)) {
      return absl::FailedPreconditionError(
          StrCat("cluster ", spec.name, " is already up (pid ", stale->owner.pid,
                 "); take it down with: minikube-net down ", spec.name));
    }
    if (options.notice)
      options.notice(StrCat("removing what a previous run of ", spec.name, " left behind (pid ",
                            stale->owner.pid, " is gone)"));
    absl::StatusOr<TeardownReport> r = RemoveFromState(*stale);
    if (!r.ok()) {
      return absl::Status(
          r.status().code(),
          StrCat("remove what a previous run left: ", r.status().message(),
                 " (its state is kept: minikube-net down ", spec.name, " tries again)"));
    }
    impl.lock.Reset();
    MKN_ASSIGN_OR_RETURN(impl.lock, LockCluster(spec.name, options.notice));
  } else if (!absl::IsNotFound(stale.status()) && !absl::IsDataLoss(stale.status())) {
    return stale.status();  // the state directory cannot be read: nothing is ours to touch
  }
  // Every name this lab will make must be free, or be said whose it is (two labs can map to one
  // name).
  if (absl::Status s = CheckNetnsNamesFree(spec, options.notice); !s.ok()) return undo_dir(s);
  RaiseFileLimit(options.notice);
  rc->state_ = StateFromSpec(spec, options.lab_path);
  ClusterState& st = rc->state_;
  st.owner = {getpid(), ProcessStartTime(getpid())};
  st.started_at = static_cast<int64_t>(std::time(nullptr));
  // Intent first: every namespace the plan will make is on disk before the first one exists.
  if (absl::Status s = WriteState(st); !s.ok()) return undo_dir(s);
  impl.down = false;
  // From here on a failure takes down what was made; what that could not remove is said.
  auto fail = [&](absl::Status s) -> absl::Status {
    absl::StatusOr<TeardownReport> r = rc->Down();
    if (!r.ok()) {
      // Down() keeps the state when its teardown fails: `minikube-net down` can try again.
      left.push_back(StrCat("down ", spec.name, ": ", r.status().message()));
    } else {
      for (std::string& l : LeftBehind(*r)) left.push_back(std::move(l));
    }
    return s;
  };

  plan::Plan plan = plan::BuildPlan(spec);
  // A CNI lab comes up in two parts: the paths and the pods' namespaces, then (once the chain's ADD
  // gave the pods their addresses) Services and containers.
  if (spec.cni_mode) plan = plan::PhaseRange(plan, 0, plan::kPhaseServices);
  // A BGP lab too: the links, then the speakers start, and converge while the pods are made.
  plan::Plan speakers, after_speakers;
  if (plan.bgp) SplitAtSpeakers(plan, speakers, after_speakers);
  ApplyOptions ao;
  ao.workers = options.workers;
  ao.progress = options.progress;
  ao.fail_at_step = options.fail_at_step;
  ao.stop_requested = options.stop_requested;
  std::vector<std::string> unwound_left;
  ao.left_behind = &unwound_left;
  absl::StatusOr<Applied> applied = Apply(plan, ao);
  if (!applied.ok()) {
    impl.down = true;
    if (!unwound_left.empty()) {
      // The state stays: it lists them, so `down` can try again.
      for (const std::string& l : unwound_left)
        left.push_back(StrCat("namespace ", l, " (minikube-net down ", spec.name, " retries)"));
      return applied.status();
    }
    return undo_dir(applied.status());  // Apply has removed everything it made
  }
  impl.applied = std::move(*applied);
  // Between the stages after the plan: each is short, but together they are worth not finishing
  // for a user who asked to stop.
  auto stopped = [&] { return options.stop_requested && options.stop_requested(); };
  const absl::Status interrupted = absl::CancelledError("interrupted");
  if (stopped()) return fail(interrupted);
  if (absl::StatusOr<std::string> logs = MakeStateSubdir(spec.name, "logs"); logs.ok()) {
    impl.logs = *logs;
  } else {
    return fail(logs.status());
  }
  if (plan.bgp) {
    if (absl::Status s = rc->StartSpeakersThenApply(speakers, after_speakers, options,
                                                    static_cast<int>(plan.steps.size()));
        !s.ok())
      return fail(s);
  }

  config::ClusterSpec live = spec;  // a CNI lab: with the addresses the chain gave
  if (spec.cni_mode) {
    if (absl::Status s = rc->CniUp(std::move(cni_configs), live, options); !s.ok()) return fail(s);
    plan::Plan rest =
        plan::PhaseRange(plan::BuildPlan(live), plan::kPhaseServices, plan::kPhaseCount);
    ApplyOptions ao2;
    ao2.workers = options.workers;
    ao2.existing_netns = &impl.applied.netns;
    ao2.stop_requested = options.stop_requested;
    absl::StatusOr<Applied> more = Apply(rest, ao2);
    if (!more.ok()) return fail(more.status());
    for (AppSocket& a : more->apps) impl.applied.apps.push_back(std::move(a));
    for (plan::StartCommand& c : more->commands) impl.applied.commands.push_back(std::move(c));
    for (auto& [name, fd] : more->tuns) impl.applied.tuns[name] = std::move(fd);
    if (more->world_dns_tcp.valid()) {
      impl.applied.world_dns_udp = std::move(more->world_dns_udp);
      impl.applied.world_dns_tcp = std::move(more->world_dns_tcp);
    }
  }

  if (stopped()) return fail(interrupted);

  if (!impl.applied.taps.empty()) {
    absl::StatusOr<std::unique_ptr<GenevePump>> pump = GenevePump::Create(
        live, std::move(impl.applied.taps), std::move(impl.applied.geneve_sockets));
    impl.applied.taps.clear();
    impl.applied.geneve_sockets.clear();
    if (!pump.ok()) return fail(pump.status());
    impl.geneve = std::move(*pump);
    if (absl::Status s = impl.geneve->Start(); !s.ok()) return fail(s);
  }

  if (!impl.applied.tuns.empty()) {
    absl::StatusOr<std::unique_ptr<UserspaceProxy>> proxy =
        UserspaceProxy::Create(live, std::move(impl.applied.tuns));
    impl.applied.tuns.clear();
    if (!proxy.ok()) return fail(proxy.status());
    impl.proxy = std::move(*proxy);
    if (absl::Status s = impl.proxy->Start(); !s.ok()) return fail(s);
  }

  impl.spec = live;
  impl.lab_policies = live.network_policies;
  if (spec.cni_mode) rc->SyncStatePods();
  rc->StartNftTables();
  // What the plan's NetworkPolicy steps wrote: the same function of the same spec.
  impl.netpol = netpol::BuildNodeTables(live);
  for (const config::NodeSpec& n : live.nodes) {
    const std::string& full = impl.netpol[n.index].full;
    if (full.empty()) continue;
    rc->LogNft(StrCat(n.name, " NetworkPolicy table loaded at up: ",
                      std::count(full.begin(), full.end(), '\n'), " lines"));
  }
  if (absl::Status s = rc->StartSockLb(); !s.ok()) return fail(s);
  impl.apps = std::make_unique<AppServer>(impl.logs);
  for (AppSocket& a : impl.applied.apps) {
    // The world's apps say "world" where a pod's say its node.
    const config::PodSpec* pod = a.app.world ? nullptr : live.FindPod(a.app.pod);
    const std::string node = pod ? live.nodes[pod->node].name : std::string(net::kWorldObject);
    if (absl::Status s = impl.apps->Serve(std::move(a), node); !s.ok()) return fail(s);
  }
  impl.applied.apps.clear();
  // The world's DNS (lib/world/dns): answered on the app server's io thread, from the world as the
  // lab was resolved (it does not change with kill or scale).
  if (impl.applied.world_dns_tcp.valid()) {
    auto answer = [w = live.world](std::string_view q, bool tcp) -> std::optional<std::string> {
      std::optional<std::vector<uint8_t>> a = world::RespondDns(
          w, std::span(reinterpret_cast<const uint8_t*>(q.data()), q.size()), tcp);
      if (!a) return std::nullopt;
      return std::string(a->begin(), a->end());
    };
    if (absl::Status s = impl.apps->ServeDns(std::string(net::kWorldObject),
                                             std::move(impl.applied.world_dns_udp),
                                             std::move(impl.applied.world_dns_tcp), answer);
        !s.ok())
      return fail(s);
  }
  rc->RefreshDnsZone();
  impl.apps->Start(1);

  if (stopped()) return fail(interrupted);
  if (absl::Status s = rc->WriteResolvConfs(); !s.ok()) return fail(s);
  if (absl::Status s = rc->StartCommands(impl.applied.commands); !s.ok()) return fail(s);
  if (absl::Status s = rc->StartIngress(); !s.ok()) return fail(s);
  if (absl::StatusOr<std::unique_ptr<ControlServer>> control = ControlServer::Start(
          ControlSocketPath(spec.name),
          [raw = rc.get()](const std::string& req) { return raw->HandleControl(req); });
      control.ok()) {
    impl.control = std::move(*control);
  } else {
    return fail(control.status());
  }
  // A BGP lab is ready once its speakers have converged (everything else ran meanwhile).
  if (plan.bgp) {
    if (absl::Status s = rc->WaitBgpConverged(options.stop_requested); !s.ok()) return fail(s);
  }
  if (stopped()) return fail(interrupted);
  st.phase = "ready";
  st.ready_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
  if (absl::Status s = WriteState(st); !s.ok()) return fail(s);
  return rc;
}

RunningCluster::~RunningCluster() { (void)Down(); }

ClusterState RunningCluster::state() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return state_;
}

std::vector<std::string> RunningCluster::ReapChildren() {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::vector<std::string> out;
  for (PodState& p : state_.pods) {
    for (ContainerState& c : p.containers) {
      if (c.process.pid <= 0) continue;
      int status = 0;
      if (::waitpid(c.process.pid, &status, WNOHANG) == c.process.pid) {
        out.push_back(StrCat("pod ", p.name, ": container ", c.name, " exited with ",
                             WIFEXITED(status) ? StrCat("status ", WEXITSTATUS(status))
                                               : StrCat("signal ", WTERMSIG(status))));
        c.process = {};
      }
    }
  }
  ReapSpeakers(out);
  if (!out.empty()) {
    // The exits stand whether or not they reach the disk; a state that could not record them
    // still names pids that are gone (IsAlive checks their start time), so this is a notice.
    if (absl::Status s = WriteState(state_); !s.ok())
      out.push_back(StrCat("could not record these exits in the state: ", s.message()));
  }
  return out;
}

absl::StatusOr<TeardownReport> RunningCluster::Down() {
  if (impl_ == nullptr || impl_->down.exchange(true)) return TeardownReport{};
  std::vector<std::string> warnings;  // what went wrong without stopping the teardown
  // The edge first: no new request, and those in flight finish through Services that still exist.
  if (impl_->ingress) impl_->ingress->Stop();
  {
    // Under the mutex: a kill or scale in progress finishes first; later ones see `down` and
    // refuse. Containers stop before the control thread ends: those it started (kill, scale) would
    // otherwise get SIGKILL from PR_SET_PDEATHSIG when it exits instead of SIGTERM and their grace
    // period.
    std::lock_guard<std::mutex> l(impl_->mu);
    state_.phase = "stopping";
    // Not fatal: the state on disk still lists everything, only its phase is behind.
    if (absl::Status s = WriteState(state_); !s.ok())
      warnings.push_back(StrCat("record phase \"stopping\": ", s.message()));
    if (impl_->proxy) impl_->proxy->Stop();  // closes the TUNs
    if (impl_->apps) impl_->apps->Stop();    // closes every socket held in a pod
    StopProcesses(ProcessesOf(state_));
    if (impl_->geneve) impl_->geneve->Stop();  // closes the gnv0 TAPs and the Geneve sockets
  }
  if (impl_->control) impl_->control->Stop();
  // A CNI lab: DEL of every attachment (from the cached results, as a later `down` would), then
  // the node daemons stop, as kubelet tears pods down before the node agent goes.
  CniTeardownReport cni;
  if (!impl_->cni_nodes.empty() || impl_->spec.cni_mode) {
    cni = CniTeardown(state_.cluster, &impl_->cni_nodes);
    impl_->cni_nodes.clear();
  }
  for (pid_t pid : impl_->daemons) {
    if (absl::Status s = StopDaemon(pid, std::chrono::milliseconds(3000)); !s.ok())
      warnings.push_back(StrCat("stop node daemon pid ", pid, ": ", s.message()));
  }
  impl_->daemons.clear();
  // Each node's nft context holds a netlink socket inside it, which would keep the namespace alive
  // after its removal.
  impl_->nft_ctx.clear();
  impl_->applied = Applied{};  // closes our netns fds
  auto with_warnings = [&](const absl::Status& s) {
    if (warnings.empty()) return s;
    return absl::Status(s.code(),
                        StrCat(s.message(), "; before that: ", absl::StrJoin(warnings, "; ")));
  };
  absl::StatusOr<TeardownReport> r = Teardown(NetnsOf(state_), state_.marker);
  if (!r.ok()) return with_warnings(r.status());  // the state stays: `down` can try again
  if (absl::Status s = StopSockLb(); !s.ok()) return with_warnings(s);
  AddCniReport(cni, *r);
  if (impl_->spec.cni_mode) HeldAsPluginLeaks(*r);
  r->warnings.insert(r->warnings.end(), warnings.begin(), warnings.end());
  if (absl::Status s = RemoveStateDir(state_.cluster); !s.ok()) return with_warnings(s);
  impl_->lock.Reset();
  return r;
}

absl::Status RunningCluster::StartCommands(const std::vector<plan::StartCommand>& commands) {
  Impl& impl = *impl_;
  const config::ClusterSpec& spec = impl.spec;
  for (const plan::StartCommand& c : commands) {
    const config::PodSpec* pod = spec.FindPod(c.pod);
    MKN_ASSIGN_OR_RETURN(std::string dir, MakeStateSubdir(spec.name, StrCat("logs/", c.pod)));
    std::vector<std::pair<std::string, std::string>> env = {
        {"POD_NAME", c.pod},
        {"POD_IP", pod->ip.ToString()},
        {"NODE_NAME", spec.nodes[pod->node].name}};
    env.insert(env.end(), c.env.begin(), c.env.end());
    absl::StatusOr<ChildProcess> child =
        Spawn(impl.applied.netns.at(c.ns).get(), c.argv, env, StrCat(dir, "/", c.container, ".log"),
              impl.cgroup_procs.get(), spec.dns ? net::ResolvConfPath(spec.name, pod->ns) : "");
    if (!child.ok()) {
      return absl::Status(child.status().code(), StrCat("pod ", c.pod, ": container ", c.container,
                                                        ": ", child.status().message()));
    }
    for (PodState& p : state_.pods) {
      if (p.name != c.pod) continue;
      for (ContainerState& cs : p.containers) {
        if (cs.name == c.container) cs.process = IdOf(*child);
      }
    }
  }
  return absl::OkStatus();
}

void RunningCluster::SyncStatePods() {
  ClusterState fresh = StateFromSpec(impl_->spec, state_.lab);
  for (PodState& p : fresh.pods) {
    const PodState* old = state_.FindPod(p.name);
    if (old == nullptr) continue;
    for (ContainerState& c : p.containers) {
      for (const ContainerState& oc : old->containers) {
        if (oc.name == c.name) c.process = oc.process;
      }
    }
  }
  for (PodState& p : fresh.pods) {
    if (auto it = impl_->pod_errors.find(p.name); it != impl_->pod_errors.end())
      p.error = it->second;
  }
  state_.pods = std::move(fresh.pods);
}

absl::Status RunningCluster::MakePods(const std::vector<int>& pods) {
  Impl& impl = *impl_;
  config::ClusterSpec& spec = impl.spec;
  plan::Plan plan = plan::BuildPodPlan(spec, pods);
  ApplyOptions ao;
  ao.workers = 1;
  ao.existing_netns = &impl.applied.netns;
  if (spec.cni_mode) {
    // The namespaces, then the chain's ADD (the pods' addresses come from its results), then the
    // containers.
    MKN_ASSIGN_OR_RETURN(Applied ns, Apply(plan::PhaseRange(plan, 0, plan::kPhaseServices), ao));
    for (auto& [name, fd] : ns.netns) impl.applied.netns[name] = std::move(fd);
    for (int i : pods) {
      config::PodSpec& pod = spec.pods[i];
      if (pod.node >= static_cast<int>(impl.cni_nodes.size()) || !impl.cni_nodes[pod.node])
        continue;
      ChainOutcome add = impl.cni_nodes[pod.node]->Add(PodRuntimeConf(spec, pod));
      absl::StatusOr<PodAddress> a =
          add.status.ok() ? PodAddressFromResult(add.result, spec.nodes[pod.node].cni.ifname)
                          : absl::StatusOr<PodAddress>(add.status);
      pod.ip = net::Ipv4{};
      pod.mac = net::Mac{};
      if (a.ok()) {
        if (std::optional<net::Ipv4> ip = net::Ipv4::Parse(a->ip)) pod.ip = *ip;
        if (std::optional<net::Mac> mac = net::Mac::Parse(a->mac)) pod.mac = *mac;
        impl.pod_errors.erase(pod.name);
      } else {
        impl.pod_errors[pod.name] = std::string(a.status().message());
      }
    }
    SyncStatePods();
    plan =
        plan::PhaseRange(plan::BuildPodPlan(spec, pods), plan::kPhaseServices, plan::kPhaseCount);
  }
  MKN_ASSIGN_OR_RETURN(Applied made, Apply(plan, ao));
  for (auto& [name, fd] : made.netns) impl.applied.netns[name] = std::move(fd);
  for (AppSocket& a : made.apps) {
    const config::PodSpec* pod = spec.FindPod(a.app.pod);
    MKN_RETURN_IF_ERROR(impl.apps->Serve(std::move(a), spec.nodes[pod->node].name));
  }
  return StartCommands(made.commands);
}

absl::Status RunningCluster::RemovePodNow(const config::PodSpec& pod) {
  Impl& impl = *impl_;
  MKN_RETURN_IF_ERROR(impl.apps->StopPod(pod.name));
  std::vector<ChildProcess> procs;
  if (PodState* ps = const_cast<PodState*>(state_.FindPod(pod.name))) {
    for (ContainerState& c : ps->containers) {
      if (c.process.pid > 0) procs.push_back(ChildOf(c.process));
      c.process = {};
    }
  }
  StopProcesses(procs);
  // A CNI lab: the chain's DEL while the pod's namespace still exists (as kubelet tears a sandbox
  // down); a failure is the plugin's and does not keep the pod.
  if (impl.spec.cni_mode && pod.node < static_cast<int>(impl.cni_nodes.size()) &&
      impl.cni_nodes[pod.node]) {
    ChainOutcome del = impl.cni_nodes[pod.node]->Del(PodRuntimeConf(impl.spec, pod));
    impl.pod_errors.erase(pod.name);
    if (!del.status.ok()) {
      absl::Status removed =
          RemovePod(impl.applied.netns.count(impl.spec.nodes[pod.node].netns)
                        ? impl.applied.netns.at(impl.spec.nodes[pod.node].netns).get()
                        : -1,
                    "", pod.netns);
      impl.applied.netns.erase(pod.netns);
      return absl::Status(del.status.code(),
                          StrCat("pod ", pod.name, ": CNI DEL: ", del.status.message(),
                                 removed.ok() ? ""
                                              : StrCat("; and its namespace was not removed: ",
                                                       removed.message())));
    }
  }
  impl.applied.netns.erase(pod.netns);
  const std::string& node_ns = impl.spec.nodes[pod.node].netns;
  auto node = impl.applied.netns.find(node_ns);
  if (node == impl.applied.netns.end())
    return absl::InternalError(StrCat("no fd of node netns ", node_ns));
  return RemovePod(node->second.get(), pod.host_veth, pod.netns);
}

absl::Status RunningCluster::StartIngress() {
  Impl& impl = *impl_;
  if (impl.spec.listeners.empty()) return absl::OkStatus();
  config::ClusterSpec edge = impl.spec;
  if (edge.auto_tls) {
    // A local CA in the cluster's state directory and one certificate for every host a route
    // names (and localhost): `curl --cacert /run/minikube-net/<cluster>/tls/ca.pem`.
    const std::string dir = StateDirOf(edge.name) + "/tls";
    MKN_ASSIGN_OR_RETURN(LocalCa ca, CreateOrLoadCa(dir));
    std::vector<std::string> hosts = {"localhost", "127.0.0.1"};
    auto add = [&](const std::string& h) {
      if (!h.empty() && std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
    };
    for (const config::IngressSpec& ing : edge.ingresses) {
      for (const config::IngressRuleSpec& r : ing.rules) add(r.host);
      for (const config::IngressTlsSpec& t : ing.tls)
        for (const std::string& h : t.hosts) add(h);
    }
    for (const config::HttpRouteSpec& r : edge.http_routes)
      for (const std::string& h : r.hostnames) add(h);
    MKN_ASSIGN_OR_RETURN(auto files, IssueCert(ca, hosts, dir, "auto"));
    for (config::ListenerSpec& l : edge.listeners) {
      if (l.protocol == config::ListenerProtocol::kHttps && l.tls.empty()) {
        l.tls.push_back(config::TlsCertSpec{{}, files.first, files.second, {}});
      }
    }
  }
  std::map<std::string, int> fds;
  for (const config::NodeSpec& n : edge.nodes) fds[n.netns] = impl.applied.netns.at(n.netns).get();
  IngressOptions o;
  MKN_ASSIGN_OR_RETURN(const std::string dir, MakeStateSubdir(edge.name, "logs/ingress"));
  o.access_log = dir + "/access.log";
  // Made here, 0600, before the edge appends to it: it holds every request's query string.
  MKN_RETURN_IF_ERROR(CreatePrivateFile(o.access_log));
  // One io thread per CPU this process may run on (taskset, cgroups), not per CPU of the machine:
  // more threads than CPUs only take turns.
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  o.threads = ::sched_getaffinity(0, sizeof(cpus), &cpus) == 0
                  ? std::max(1, CPU_COUNT(&cpus))
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  MKN_ASSIGN_OR_RETURN(impl.ingress, IngressServer::Start(edge, fds, o));
  return absl::OkStatus();
}

absl::Status RunningCluster::RefreshServices(const std::vector<int>* changed) {
  Impl& impl = *impl_;
  const config::ClusterSpec& spec = impl.spec;
  // Policies first: a pod that comes up is isolated before a Service sends it anything.
  MKN_RETURN_IF_ERROR(SyncNetpol());
  RefreshDnsZone();  // a headless Service's answers follow its endpoints
  if (spec.services.empty()) return absl::OkStatus();
  if (impl.ingress) MKN_RETURN_IF_ERROR(impl.ingress->Update(spec));
  if (impl.proxy) {
    for (const config::ServiceSpec& svc : spec.services) {
      if (svc.headless) continue;  // not in the proxy's table: nothing to translate
      std::vector<config::PodSpec> pods;
      for (int e : svc.endpoints) pods.push_back(spec.pods[e]);
      MKN_RETURN_IF_ERROR(impl.proxy->ReplaceEndpoints(svc.name, pods));
    }
  }
  // Only what changed, one transaction per node: no packet sees half a change.
  if (config::HasNftTables(spec.proxy_mode)) MKN_RETURN_IF_ERROR(SyncNftTables(changed));
  if (spec.proxy_mode == config::ProxyMode::kEbpf) MKN_RETURN_IF_ERROR(SyncSockLb(changed));
  return absl::OkStatus();
}

absl::Status RunningCluster::WriteResolvConfs() {
  const config::ClusterSpec& spec = impl_->spec;
  std::optional<net::Ipv4> ip = spec.DnsIp();
  if (!ip) return absl::OkStatus();
  MKN_RETURN_IF_ERROR(MakeStateSubdir(spec.name, "resolv").status());
  for (const config::NamespaceSpec& ns : spec.namespaces) {
    // 0644: a pod's processes read it through the bind mount (the 0700 directory is not on
    // that path); written whole before any process can bind it.
    const std::string path = net::ResolvConfPath(spec.name, ns.name);
    const std::string text = dns::ResolvConf(ns.name, net::IpAddr::FromV4(*ip));
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return KernelError(errno, StrCat("create ", path));
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      return KernelError(errno, StrCat("write ", path));
  }
  return absl::OkStatus();
}

void RunningCluster::RefreshDnsZone() {
  Impl& impl = *impl_;
  if (!impl.apps || !impl.spec.dns) return;
  std::optional<net::Ipv4> ip = impl.spec.DnsIp();
  impl.apps->SetDnsZone(std::make_shared<const dns::Zone>(dns::BuildZone(
      impl.spec, ip ? std::optional<net::IpAddr>(net::IpAddr::FromV4(*ip)) : std::nullopt,
      ++impl.dns_serial)));
}

absl::Status RunningCluster::FlushFlowsTo(const std::vector<net::Ipv4>& ips) {
  // Userspace: Nat::ReplaceEndpoints has flushed them. nftables: the kernel's table, node by node.
  // ebpf: the sockets themselves, pod by pod (DestroySocketsToPods).
  Impl& impl = *impl_;
  if (impl.spec.proxy_mode == config::ProxyMode::kEbpf)
    MKN_RETURN_IF_ERROR(DestroySocketsToPods(ips));
  if (!config::HasNftTables(impl.spec.proxy_mode) || impl.spec.services.empty() || ips.empty()) {
    return absl::OkStatus();
  }
  for (const config::NodeSpec& n : impl.spec.nodes) {
    MKN_RETURN_IF_ERROR(RunInNetns(impl.applied.netns.at(n.netns).get(), [&]() -> absl::Status {
      for (net::Ipv4 ip : ips) MKN_RETURN_IF_ERROR(DeleteKernelFlowsTo(ip).status());
      return absl::OkStatus();
    }));
  }
  return absl::OkStatus();
}

absl::Status RunningCluster::Transition(const config::ClusterSpec& next,
                                        const std::vector<std::string>& removed,
                                        const std::vector<std::string>& added) {
  Impl& impl = *impl_;
  const config::ClusterSpec before = impl.spec;
  // The services whose endpoints the pods that go and come can touch (by their labels; kill and
  // scale never change the services themselves): the nftables deltas compare only these.
  std::vector<int> touched;
  for (const std::string& name : removed) {
    if (const config::PodSpec* p = before.FindPod(name)) {
      for (int s : config::ServicesOfPod(before, static_cast<int>(p - before.pods.data())))
        touched.push_back(s);
    }
  }
  for (const std::string& name : added) {
    if (const config::PodSpec* p = next.FindPod(name)) {
      for (int s : config::ServicesOfPod(next, static_cast<int>(p - next.pods.data())))
        touched.push_back(s);
    }
  }
  // 1. No new flow goes to the pods that go (as endpoints are removed before a pod terminates), and
  //    the flows they had are forgotten.
  impl.spec = config::WithoutEndpoints(before, removed);
  absl::Status st = RefreshServices(&touched);
  std::vector<net::Ipv4> gone;
  for (const std::string& name : removed) gone.push_back(before.FindPod(name)->ip);
  if (st.ok()) st = FlushFlowsTo(gone);
  // 2. They stop and their namespaces go; from here on they are gone whatever else fails.
  for (const std::string& name : removed) {
    absl::Status s = RemovePodNow(*before.FindPod(name));
    if (st.ok()) st = s;
  }
  // 3. The new spec, on disk before its namespaces exist; new pods become endpoints only once they
  //    do.
  impl.spec = config::WithoutEndpoints(next, added);
  SyncStatePods();
  if (absl::Status s = WriteState(state_); st.ok() && !s.ok()) {
    st = absl::Status(
        s.code(), StrCat("the state could not be recorded, so no new pod was made: ", s.message()));
  }
  if (st.ok() && !added.empty()) {
    std::vector<int> idx;
    for (const std::string& name : added)
      idx.push_back(static_cast<int>(next.FindPod(name) - next.pods.data()));
    st = MakePods(idx);
  }
  if (st.ok()) {
    config::ClusterSpec done = next;
    if (done.cni_mode) {
      // The addresses the chain gave the new pods; one without is no endpoint.
      for (const std::string& name : added) {
        const config::PodSpec* made = impl.spec.FindPod(name);
        config::PodSpec* p = const_cast<config::PodSpec*>(done.FindPod(name));
        if (made && p) {
          p->ip = made->ip;
          p->mac = made->mac;
        }
      }
      for (config::ServiceSpec& svc : done.services) {
        std::erase_if(svc.endpoints, [&](int i) { return done.pods[i].ip == net::Ipv4{}; });
      }
    }
    impl.spec = std::move(done);
    SyncStatePods();
  }
  // Whatever happened, the Services match what exists.
  absl::Status refreshed = RefreshServices(&touched);
  if (st.ok()) st = refreshed;
  // A state that does not match the pods would make a later `down` after a crash miss the new
  // ones: the caller (kill, scale) must hear of it.
  if (absl::Status written = WriteState(state_); st.ok() && !written.ok()) {
    st = absl::Status(written.code(), StrCat("the change was made, but the state could not be ",
                                             "recorded: ", written.message()));
  }
  return st;
}

absl::Status RunningCluster::KillPod(const std::string& name) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Impl& impl = *impl_;
  if (impl.down) return absl::FailedPreconditionError("the cluster is stopping");
  config::ClusterSpec next = impl.spec;
  MKN_RETURN_IF_ERROR(
      config::RecreatePod(next, name).status());  // pure: fails before anything changes
  // From here a failure is the kernel's or a plugin's, never the request's: an ENODEV (NotFound)
  // midway must not read as "no such pod" (exit 2).
  return AsRuntimeFailure(Transition(next, {name}, {name}));
}

absl::Status RunningCluster::RecordUi(const std::string& url) {
  std::lock_guard<std::mutex> l(impl_->mu);
  state_.ui = url;
  return WriteState(state_);
}

absl::Status RunningCluster::Scale(const std::string& deployment, int replicas) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Impl& impl = *impl_;
  if (impl.down) return absl::FailedPreconditionError("the cluster is stopping");
  config::ClusterSpec next = impl.spec;
  MKN_ASSIGN_OR_RETURN(config::ScaleResult r, config::ScaleDeployment(next, deployment, replicas));
  return AsRuntimeFailure(Transition(next, r.removed, r.added));  // as KillPod's
}

}  // namespace mkn::vnet
