#include "vnet/kernel/owned.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/sock_diag.h"

namespace mkn::vnet {

std::string DescribeProcesses(const std::vector<NetnsProcess>& processes) {
  std::string out;
  for (const NetnsProcess& p : processes)
    StrAppend(&out, out.empty() ? "" : ", ", "pid ", p.pid, " (", p.comm, ")");
  return out;
}

std::string KillCommand(const std::vector<NetnsProcess>& processes) {
  std::string out = "kill";
  for (const NetnsProcess& p : processes) StrAppend(&out, " ", p.pid);
  return out;
}

absl::StatusOr<std::string> ReadMarker(std::string_view netns) {
  MKN_ASSIGN_OR_RETURN(Fd fd, OpenNetns(netns));
  std::string alias;
  MKN_RETURN_IF_ERROR(RunInNetns(fd.get(), [&]() -> absl::Status {
    MKN_ASSIGN_OR_RETURN(NlSocket s, NlSocket::Open());
    absl::StatusOr<LinkInfo> lo = s.GetLink("lo");
    // NotFound is reserved for an absent namespace: one whose lo was renamed is present, and
    // unreadable, not gone.
    if (absl::IsNotFound(lo.status())) {
      return absl::FailedPreconditionError(
          StrCat("netns ", netns, " has no lo to carry the ownership marker"));
    }
    if (!lo.ok()) return lo.status();
    alias = lo->alias;
    return absl::OkStatus();
  }));
  return alias;
}

namespace {

// Aborts the TCP closes nobody is left to finish in a namespace about to go (see
// DestroyOrphanedTcpSockets). A failure is a warning: the wait that follows reports what it holds.
void AbortOrphans(const std::string& name, std::vector<std::string>& warnings) {
  absl::Status st = [&]() -> absl::Status {
    MKN_ASSIGN_OR_RETURN(Fd fd, OpenNetns(name));
    return RunInNetns(fd.get(), [&]() { return DestroyOrphanedTcpSockets().status(); });
  }();
  if (!st.ok()) warnings.push_back(StrCat(name, ": closing orphaned TCP sockets: ", st.message()));
}

// Opens a netlink socket inside a named netns (the socket then pins and watches it).
absl::StatusOr<NlSocket> SocketIn(const std::string& name) {
  MKN_ASSIGN_OR_RETURN(Fd fd, OpenNetns(name));
  std::optional<NlSocket> sock;
  MKN_RETURN_IF_ERROR(RunInNetns(fd.get(), [&]() -> absl::Status {
    MKN_ASSIGN_OR_RETURN(NlSocket s, NlSocket::Open());
    MKN_ASSIGN_OR_RETURN(LinkInfo lo, s.GetLink("lo"));
    (void)lo;
    sock.emplace(std::move(s));
    return absl::OkStatus();
  }));
  return std::move(*sock);
}

// The processes in the namespaces `ids` (by name), grouped by namespace in the order of `ids`. A
// process on its way out (a SIGKILL pending: a node daemon whose owner was SIGKILLed) is waited for
// until `settle`, then counted like the others. A scan that fails says nothing: no namespace is
// then reported held, and the waits run as before.
std::vector<HeldNetns> FindHeld(const std::vector<std::pair<std::string, NetnsId>>& ids,
                                std::chrono::steady_clock::time_point settle) {
  std::vector<NetnsId> just_ids;
  for (const auto& [name, id] : ids) just_ids.push_back(id);
  std::vector<NetnsProcess> procs;
  for (;;) {
    absl::StatusOr<std::vector<NetnsProcess>> found = ProcessesInNetns(just_ids);
    if (!found.ok()) return {};
    procs = std::move(*found);
    bool dying =
        std::any_of(procs.begin(), procs.end(), [](const NetnsProcess& p) { return p.dying; });
    if (!dying || std::chrono::steady_clock::now() >= settle) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polled: an exit has no event
  }
  std::vector<HeldNetns> held;
  for (const auto& [name, id] : ids) {
    HeldNetns h{name, {}};
    for (const NetnsProcess& p : procs) {
      if (p.netns == id) h.processes.push_back(p);
    }
    if (!h.processes.empty()) held.push_back(std::move(h));
  }
  return held;
}

// Waits until the netns behind `sock` has no veth except those named in `keep`.
bool WaitNoVeths(NlSocket& sock, const std::vector<std::string>& keep,
                 std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    absl::StatusOr<std::vector<LinkInfo>> links = sock.ListLinks();
    if (!links.ok()) return false;
    bool any = std::any_of(links->begin(), links->end(), [&](const LinkInfo& l) {
      return l.kind == "veth" && std::find(keep.begin(), keep.end(), l.name) == keep.end();
    });
    if (!any) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(2));  // the kernel frees namespaces in a workqueue
  }
}

}  // namespace

absl::StatusOr<TeardownReport> Teardown(const ClusterNetns& ns, std::string_view marker,
                                        int deadline_ms) {
  TeardownReport report;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  // Keep only what carries our marker. A stale entry (no namespace behind it) is removed at once;
  // one whose marker cannot be read is left alone and reported, not silently taken for another's.
  absl::Status stale_error;
  auto ours = [&](const std::string& name) {
    switch (StatNetnsPath(name)) {
      case NetnsPath::kAbsent:
        report.not_found.push_back(name);
        return false;
      case NetnsPath::kStale: {
        absl::StatusOr<bool> removed = RemoveStaleNetns(name);
        if (!removed.ok()) {
          if (stale_error.ok()) stale_error = removed.status();
        } else {
          (*removed ? report.stale : report.not_found).push_back(name);
        }
        return false;
      }
      case NetnsPath::kOther:
        report.not_ours.push_back(name);
        return false;
      case NetnsPath::kMounted:
        break;
    }
    absl::StatusOr<std::string> m = ReadMarker(name);
    if (absl::IsNotFound(m.status())) {
      report.not_found.push_back(name);
      return false;
    }
    if (!m.ok()) {
      report.unreadable.push_back(StrCat(name, ": ", m.status().message()));
      return false;
    }
    if (*m != marker) {
      report.not_ours.push_back(name);
      return false;
    }
    return true;
  };
  bool underlay_ours = !ns.underlay.empty() && ours(ns.underlay);
  std::vector<std::string> nodes, pods;
  for (const std::string& n : ns.nodes)
    if (ours(n)) nodes.push_back(n);
  // A pod namespace left alone (not ours, or its marker unreadable) keeps its veth, and so its
  // peer in a node: the wait for the nodes' pod ports is cut short as for a held pod.
  bool pods_left_alone = false;
  for (const std::string& p : ns.pods) {
    const size_t before = report.not_ours.size() + report.unreadable.size();
    if (ours(p)) pods.push_back(p);
    pods_left_alone = pods_left_alone || report.not_ours.size() + report.unreadable.size() > before;
  }
  std::vector<std::string> routers;
  for (const std::string& r : ns.routers)
    if (ours(r)) routers.push_back(r);
  const bool world_ours = !ns.world.empty() && ours(ns.world);
  MKN_RETURN_IF_ERROR(stale_error);

  // Who runs inside, before any name is removed: afterwards /proc/<pid>/ns/net is the only trace,
  // and it can be matched only against identities taken now.
  std::vector<std::pair<std::string, NetnsId>> ids;
  auto identify = [&](const std::string& name) {
    if (absl::StatusOr<NetnsId> id = NetnsIdOfName(name); id.ok()) ids.emplace_back(name, *id);
  };
  for (const std::string& p : pods) identify(p);
  for (const std::string& n : nodes) identify(n);
  if (underlay_ours) identify(ns.underlay);
  for (const std::string& r : routers) identify(r);
  if (world_ours) identify(ns.world);
  report.held = FindHeld(ids, std::chrono::steady_clock::now() + std::chrono::seconds(1));
  auto any_held = [&](const std::vector<std::string>& names) {
    return std::any_of(report.held.begin(), report.held.end(), [&](const HeldNetns& h) {
      return std::find(names.begin(), names.end(), h.netns) != names.end();
    });
  };
  // A held pod keeps its veth, and so its peer in the node; a held node keeps its uplink's peer in
  // the underlay. Those waits cannot end before the deadline and would blame the wrong namespace:
  // they get a short grace (for the namespaces that are not held), and a miss is explained by the
  // held namespace already reported.
  const bool pods_held = any_held(pods), nodes_held = any_held(nodes);
  auto grace = [&] {
    return std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
  };

  // Watchers: a socket in each node and in the underlay sees the veths of its children vanish. One
  // that cannot be opened leaves that namespace unwatched, and said so (by its own name).
  std::vector<std::pair<std::string, NlSocket>> node_watch;
  for (const std::string& n : nodes) {
    absl::StatusOr<NlSocket> s = SocketIn(n);
    if (s.ok()) {
      node_watch.emplace_back(n, std::move(*s));
    } else {
      report.unwatched.push_back(StrCat(n, ": ", s.status().message()));
    }
  }
  // A router's veths are its rack's node ports and (a ToR) its link to the spine, or (the spine)
  // its links to the ToRs: each goes when the namespace at its other end does.
  std::vector<std::pair<std::string, NlSocket>> router_watch;
  for (const std::string& r : routers) {
    absl::StatusOr<NlSocket> s = SocketIn(r);
    if (s.ok()) {
      router_watch.emplace_back(r, std::move(*s));
    } else {
      report.unwatched.push_back(StrCat(r, ": ", s.status().message()));
    }
  }
  std::optional<NlSocket> underlay_watch;
  if (underlay_ours) {
    absl::StatusOr<NlSocket> s = SocketIn(ns.underlay);
    if (s.ok()) {
      underlay_watch.emplace(std::move(*s));
    } else {
      report.unwatched.push_back(StrCat(ns.underlay, ": ", s.status().message()));
    }
  }
  auto remove = [&](const std::string& name) {
    absl::Status st = RemoveNetns(name);
    if (st.ok()) {
      ++report.removed;
    } else if (absl::IsNotFound(st)) {
      report.not_found.push_back(name);
    } else {
      return st;
    }
    return absl::OkStatus();
  };
  // Orphaned closes (a SIGKILLed owner's connections through its proxy) would hold devices and so
  // namespaces for minutes: every namespace that goes has them aborted first.
  for (const auto& [name, id] : ids) AbortOrphans(name, report.warnings);
  for (const std::string& p : pods) MKN_RETURN_IF_ERROR(remove(p));
  if (world_ours) MKN_RETURN_IF_ERROR(remove(ns.world));
  const auto nodes_until = pods_held || pods_left_alone ? grace() : deadline;
  for (auto& [name, sock] : node_watch) {
    if (!WaitNoVeths(sock, {std::string(net::kNodeUplinkIf)}, nodes_until) && !pods_held &&
        !pods_left_alone && !any_held({name}))
      report.still_held.push_back(name);
  }
  node_watch.clear();
  for (const std::string& n : nodes) MKN_RETURN_IF_ERROR(remove(n));
  if (underlay_watch && !WaitNoVeths(*underlay_watch, {}, nodes_held ? grace() : deadline) &&
      !nodes_held)
    report.still_held.push_back(ns.underlay);
  underlay_watch.reset();
  if (underlay_ours) MKN_RETURN_IF_ERROR(remove(ns.underlay));
  // A held node keeps its port on its ToR, a held ToR its link on the spine: as above, the waits
  // that only they could end get the short grace, and the held namespace explains the miss.
  bool held_before = nodes_held;
  for (const std::string& r : routers) {
    // Its watcher goes first: an open socket would keep the namespace (and the veths the next
    // router waits for) alive.
    for (auto it = router_watch.begin(); it != router_watch.end(); ++it) {
      if (it->first != r) continue;
      if (!WaitNoVeths(it->second, {std::string(net::kTorSpinePort)},
                       held_before ? grace() : deadline) &&
          !held_before && !any_held({r}))
        report.still_held.push_back(r);
      router_watch.erase(it);
      break;
    }
    held_before = held_before || any_held({r});
    MKN_RETURN_IF_ERROR(remove(r));
  }
  return report;
}

absl::Status RemovePod(int node_netns_fd, std::string_view host_veth, std::string_view pod_netns) {
  // Deleting one end of a veth deletes both, synchronously: the node's port on cbr0 is gone before
  // this returns, so a pod of the same name can be made at once.
  MKN_RETURN_IF_ERROR(RunInNetns(node_netns_fd, [&]() -> absl::Status {
    MKN_ASSIGN_OR_RETURN(NlSocket s, NlSocket::Open());
    absl::StatusOr<LinkInfo> link = s.GetLink(host_veth);
    if (absl::IsNotFound(link.status())) return absl::OkStatus();
    MKN_RETURN_IF_ERROR(link.status());
    return s.DeleteLink(link->index);
  }));
  absl::Status st = RemoveNetns(pod_netns);
  return absl::IsNotFound(st) ? absl::OkStatus() : st;
}

}  // namespace mkn::vnet
