// proxy_mode = "ebpf": the socket load balancer kept in step with the spec.
//
// At up (StartSockLb, before any container starts): the cluster's cgroup is made beneath the
// cgroup2 mount and its path written to the state before the programs are attached, so a `down`
// after SIGKILL finds it; the programs attach to it (bpf_links owned by this process); each pod's
// netns is allowed by cookie; the maps get the full load lib/proxy/sock_lb computes. Containers
// and `exec` join the cgroup (Spawn's cgroup.procs fd; client.cc), so their sockets are
// translated. What no pod process of the lab opens (NodePort from the underlay, the edge's
// upstreams, this process's own sockets in pods) goes through the node's nftables table, which
// this mode keeps as the nftables mode does (config::HasNftTables).
//
// A kill or scale (SyncSockLb): the maps get the delta to the next spec (ids kept, so affinity to
// a pod that stays holds), new pods' namespaces are allowed and those of pods gone forgotten (by
// the cookie recorded when they were allowed: the namespace itself is gone by then; kept, they
// would fill mkn_netns after a few thousand kills and make every later one fail); then the
// sockets in pods that are connected to a pod that goes are destroyed (DestroySocketsToPods), so
// that their owners see an error and connect() again to a live backend. At down (StopSockLb): the
// links
// are destroyed with the programs, then the cgroup is removed (its processes were stopped before).
#include <fcntl.h>
#include <sys/stat.h>

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "lib/proxy/sock_lb.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/cluster_impl.h"
#include "vnet/cluster/state.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/sock_diag.h"

namespace mkn::vnet {

absl::Status RunningCluster::StartSockLb() {
  Impl& impl = *impl_;
  const config::ClusterSpec& spec = impl.spec;
  if (spec.proxy_mode != config::ProxyMode::kEbpf) return absl::OkStatus();
  MKN_ASSIGN_OR_RETURN(LabCgroup cg, LabCgroup::Create(spec.name, spec.marker));
  state_.cgroup = cg.path();
  MKN_RETURN_IF_ERROR(WriteState(state_));
  impl.cgroup_procs = Fd(::open(CgroupProcsFile(cg.path()).c_str(), O_WRONLY | O_CLOEXEC));
  if (!impl.cgroup_procs.valid())
    return KernelError(errno, StrCat("open ", CgroupProcsFile(cg.path())));
  MKN_ASSIGN_OR_RETURN(impl.sock_lb, SockLb::Load(cg.fd()));
  impl.cgroup = std::move(cg);
  return SyncSockLb();
}

absl::Status RunningCluster::SyncSockLb(const std::vector<int>* changed) {
  Impl& impl = *impl_;
  if (!impl.sock_lb) return absl::OkStatus();
  const config::ClusterSpec& spec = impl.spec;
  // The change, checked against the programs' map sizes before anything is allowed or written: a
  // full map would refuse a write halfway through. A kill or scale names its services: their
  // writes only (SockLbMaps::Plan), as the nftables mode applies only their delta.
  std::optional<proxy::SockLbChange> change;
  std::optional<proxy::SockLbMaps> next;
  if (changed != nullptr) {
    change = impl.sock_lb_maps.Plan(spec, *changed);
    MKN_RETURN_IF_ERROR(proxy::CheckFits(impl.sock_lb_maps, *change, spec.pods.size()));
  } else {
    next = proxy::SockLbMaps::Build(spec, &impl.sock_lb_maps);
    MKN_RETURN_IF_ERROR(proxy::CheckFits(*next, spec.pods.size()));
  }
  // Each pod's netns by inode: a pod made again under the same name has a new netns to allow.
  std::map<std::string, Impl::SockLbPod> now;
  for (const config::PodSpec& p : spec.pods) {
    auto ns = impl.applied.netns.find(p.netns);
    if (ns == impl.applied.netns.end()) continue;
    struct stat sb {};
    if (::fstat(ns->second.get(), &sb) < 0) return KernelError(errno, StrCat("stat ", p.netns));
    auto it = impl.sock_lb_pods.find(p.name);
    if (it != impl.sock_lb_pods.end() && it->second.netns_inode == sb.st_ino) {
      now[p.name] = it->second;
      continue;
    }
    MKN_ASSIGN_OR_RETURN(const uint64_t cookie, impl.sock_lb->Allow(ns->second.get()));
    now[p.name] = {static_cast<uint64_t>(sb.st_ino), cookie};
  }
  if (change) {
    MKN_RETURN_IF_ERROR(impl.sock_lb->Apply(change->ops));
    impl.sock_lb_maps.Commit(std::move(*change));
  } else {
    MKN_RETURN_IF_ERROR(impl.sock_lb->Apply(proxy::Diff(impl.sock_lb_maps, *next)));
    impl.sock_lb_maps = std::move(*next);
  }
  // The namespaces of pods gone (killed, recreated, scaled away): no socket of theirs is left to
  // translate, and the kernel never hands their cookies out again.
  for (const auto& [name, pod] : impl.sock_lb_pods) {
    auto it = now.find(name);
    if (it != now.end() && it->second.netns_cookie == pod.netns_cookie) continue;
    MKN_RETURN_IF_ERROR(impl.sock_lb->Forget(pod.netns_cookie));
  }
  impl.sock_lb_pods = std::move(now);
  return absl::OkStatus();
}

absl::Status RunningCluster::DestroySocketsToPods(const std::vector<net::Ipv4>& ips) {
  Impl& impl = *impl_;
  if (ips.empty()) return absl::OkStatus();
  // connect() put the backend's address in the socket: nothing between it and the pod to flush, so
  // the sockets go (as Cilium's socket LB terminates them). In every pod's namespace, as the
  // programs translate only there; the pods that go lose theirs with their namespace anyway.
  for (const config::PodSpec& p : impl.spec.pods) {
    auto ns = impl.applied.netns.find(p.netns);
    if (ns == impl.applied.netns.end()) continue;
    MKN_RETURN_IF_ERROR(RunInNetns(ns->second.get(), [&]() -> absl::Status {
      absl::StatusOr<int> n = DestroySocketsTo(ips);
      if (!n.ok())
        return absl::Status(n.status().code(), StrCat("pod ", p.name, ": ", n.status().message()));
      return absl::OkStatus();
    }));
  }
  return absl::OkStatus();
}

absl::Status RunningCluster::StopSockLb() {
  Impl& impl = *impl_;
  impl.sock_lb.reset();  // the links go: the kernel detaches the programs
  impl.cgroup_procs.Reset();
  impl.cgroup.reset();
  if (state_.cgroup.empty()) return absl::OkStatus();
  return RemoveLabCgroup(state_.cgroup, state_.marker);
}

}  // namespace mkn::vnet
