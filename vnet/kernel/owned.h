// vnet/kernel/owned — namespaces proven a cluster's by the marker on their lo, and their removal.
//
// Ownership is recorded in the kernel, never guessed from names (STYLE.md §3): every namespace a
// cluster makes carries the ifalias minikube-net:<cluster> on its lo. Teardown removes only
// namespaces that carry the marker it is given, pods first, and waits until the kernel has freed
// them. A namespace a process still runs in cannot be freed: Teardown names it and the processes
// (vnet/kernel/holders) instead of waiting for it, and leaves them running. Needs CAP_NET_ADMIN and
// CAP_SYS_ADMIN.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vnet/kernel/holders.h"

namespace mkn::vnet {

// The namespaces of one cluster, by role, for an orderly teardown.
struct ClusterNetns {
  std::string underlay;  // "" with a routed underlay
  std::vector<std::string> nodes;
  std::vector<std::string> pods;
  // A routed underlay's ToRs, then its spine: removed after the nodes, in this order, each once
  // the kernel has freed the veths of what went before it.
  std::vector<std::string> routers;
  // [cluster] world: a leaf hanging off the underlay, the spine or a ToR, removed with the pods so
  // that those waiting for their veths to go see its port go too. "" when the lab has none.
  std::string world;
};

// A namespace of the cluster that processes still run in: its name is removed, but the kernel keeps
// it (and what is inside) while they live. They are left running: a plugin may have started them,
// or they may be a shell someone opened with `ip netns exec`; only whoever knows can kill them.
struct HeldNetns {
  std::string netns;
  std::vector<NetnsProcess> processes;  // in pid order
};

// "pid 4242 (sleep), pid 4250 (bash)".
std::string DescribeProcesses(const std::vector<NetnsProcess>& processes);
// "kill 4242 4250": what stops them.
std::string KillCommand(const std::vector<NetnsProcess>& processes);

struct TeardownReport {
  int removed = 0;
  std::vector<std::string> not_found;  // already gone (fine: down is idempotent)
  std::vector<std::string> not_ours;   // present but without this cluster's marker: left alone
  // present, but its marker could not be read ("NAME: why"): left alone, and said so
  std::vector<std::string> unreadable;
  // empty files with no namespace behind them (a SIGKILL halfway through making or removing
  // one): removed, as `ip netns del` would
  std::vector<std::string> stale;
  // removed, but the kernel had not freed them by the deadline, and no process runs inside (a
  // socket or an fd held elsewhere)
  std::vector<std::string> still_held;
  // removed, but processes still run inside them (found before removal, by /proc/<pid>/ns/net):
  // not waited for, since the kernel cannot free them while those live
  std::vector<HeldNetns> held;
  // removed, but whether the kernel freed what was inside is unknown: no socket could be opened in
  // it to watch ("NAME: why")
  std::vector<std::string> unwatched;
  // what went wrong without stopping the teardown ("record phase stopping: ...", a node daemon
  // that would not stop): the caller reports them
  std::vector<std::string> warnings;
  // CNI labs (vnet/cni CniTeardown): attachments DEL removed, DELs that failed, what plugins left.
  int cni_deleted = 0;
  std::vector<std::string> cni_errors;
  std::vector<std::string> cni_leaks;
};

// Removes the namespaces that carry `marker` on their lo, pods first, then nodes, the underlay and
// the routers (each first rid of its orphaned TCP closes, DestroyOrphanedTcpSockets: a killed
// owner's leave them retransmitting for minutes, holding devices), and waits until the kernel has
// destroyed them (their veths vanish from the node, underlay and router namespaces) or
// `deadline_ms` passes. Processes still inside a namespace (their SIGKILL pending excepted: those
// are waited for, up to a second) are reported in `held`, with the namespace they keep alive,
// before anything is removed; the waits that only they could end are cut short. A stale entry (an
// empty file a SIGKILL left at /run/netns/<name>, see StatNetnsPath) of a name given here is
// removed and reported as such. What is absent, unmarked, unreadable or still held by the deadline
// goes in the report, not in an error; an error means a namespace of ours could not be removed:
// PermissionDenied without CAP_SYS_ADMIN, or another code of vnet/kernel/errors.h from the unmount.
absl::StatusOr<TeardownReport> Teardown(const ClusterNetns& ns, std::string_view marker,
                                        int deadline_ms = 15000);

// Removes one pod of a running cluster: its veth (from the node side, in the netns `node_netns_fd`)
// and its named netns. Whoever holds sockets or fds in the pod must have closed them. Not an error
// if either is already gone. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (PermissionDenied without);
// otherwise the codes of NlSocket::DeleteLink and RemoveNetns.
absl::Status RemovePod(int node_netns_fd, std::string_view host_veth, std::string_view pod_netns);

// Reads the ownership marker (ifalias of lo) of /run/netns/<name>, "" if it has none. NotFound if
// the netns is absent; FailedPrecondition if it has no lo (renamed); PermissionDenied without
// CAP_SYS_ADMIN (to enter it); Unavailable or Internal from netlink (NlSocket::GetLink).
absl::StatusOr<std::string> ReadMarker(std::string_view netns);

}  // namespace mkn::vnet
