// vnet/applier — executes a Plan against the kernel, or leaves nothing behind.
//
// Apply() runs the plan phase by phase; inside a phase, groups run in parallel on short-lived worker
// threads that each enter the namespaces they work in (STYLE.md §4) and talk netlink from sockets opened
// there. Every namespace it creates is pushed on an undo stack; on the first failed step the stack is
// unwound in reverse and the Status of that step is returned. Removing a namespace removes every link,
// address, route and neighbour inside it, so namespaces are the only undo entries needed.
//
// Built-in apps get a listening socket opened inside their pod's netns (handed back to the caller to
// serve); commands are handed back unstarted, so the caller starts them from a long-lived thread.
// Needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/plan/plan.h"
#include "vnet/fd.h"

namespace mkn::vnet {

struct ApplyOptions {
  int workers = 0;                           // 0 = one per CPU
  std::atomic<size_t>* progress = nullptr;   // steps done, for a progress display
  int fail_at_step = -1;                     // tests: fail with Internal before this step index
  // Namespaces that exist already (a running cluster's nodes, for a pod plan): steps may use them;
  // they are not the plan's to create or unwind.
  const std::map<std::string, Fd>* existing_netns = nullptr;
};

struct AppSocket {
  plan::StartApp app;
  Fd fd;  // bound and listening (TCP) or bound (UDP), non-blocking
};

struct Applied {
  std::map<std::string, Fd> netns;  // every namespace created, by name
  std::vector<AppSocket> apps;
  std::vector<plan::StartCommand> commands;
  std::vector<plan::CniAdd> cni_adds;  // CNI labs: the pods to hand to the chain, in plan order
  std::map<std::string, Fd> tuns;  // userspace proxy: the TUN of each node, by node netns
};

absl::StatusOr<Applied> Apply(const plan::Plan& plan, const ApplyOptions& options = {});

// The namespaces of one cluster, by role, for an orderly teardown.
struct ClusterNetns {
  std::string underlay;
  std::vector<std::string> nodes;
  std::vector<std::string> pods;
};

struct TeardownReport {
  int removed = 0;
  std::vector<std::string> not_found;  // already gone (fine: down is idempotent)
  std::vector<std::string> not_ours;   // present but without this cluster's marker: left alone
  std::vector<std::string> still_held; // removed, but the kernel had not freed them by the deadline
  // CNI labs (vnet/cni CniTeardown): attachments DEL removed, DELs that failed, what plugins left.
  int cni_deleted = 0;
  std::vector<std::string> cni_errors;
  std::vector<std::string> cni_leaks;
};

// Removes the namespaces that carry `marker` on their lo, pods first, and waits until the kernel has
// destroyed them (their veths vanish from the node and underlay namespaces) or `deadline_ms` passes.
absl::StatusOr<TeardownReport> Teardown(const ClusterNetns& ns, std::string_view marker, int deadline_ms = 15000);

// Removes one pod of a running cluster: its veth (from the node side, in the netns `node_netns_fd`)
// and its named netns. Whoever holds sockets or fds in the pod must have closed them. Not an error
// if either is already gone. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
absl::Status RemovePod(int node_netns_fd, std::string_view host_veth, std::string_view pod_netns);

// Reads the ownership marker (ifalias of lo) of /run/netns/<name>. NotFound if the netns is absent.
absl::StatusOr<std::string> ReadMarker(std::string_view netns);

}  // namespace mkn::vnet
