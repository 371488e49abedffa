// vnet/cluster/applier — executes a Plan against the kernel, or leaves nothing behind.
//
// Apply() runs the plan phase by phase; inside a phase, groups run in parallel on short-lived
// worker threads that each enter the namespaces they work in (STYLE.md §4) and talk netlink from
// sockets opened there. Every namespace it creates is a NamedNetns (vnet/kernel/netns.h) pushed on
// an undo stack; on the first failed step the stack is unwound in reverse (each handle removes its
// namespace) and the Status of that step is returned; on success the handles are released and
// Applied::netns holds their fds, the namespaces staying until `down`. Removing a namespace
// removes every link, address, route and neighbour inside it, so namespaces are the only undo
// entries needed.
//
// Built-in apps get a listening socket opened inside their pod's netns (handed back to the caller
// to serve); commands are handed back unstarted, so the caller starts them from a long-lived
// thread. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/plan/plan.h"
#include "vnet/apps/apps.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/owned.h"

namespace mkn::vnet {

struct ApplyOptions {
  int workers = 0;                          // 0 = one per CPU
  std::atomic<size_t>* progress = nullptr;  // steps done, for a progress display
  int fail_at_step = -1;                    // tests: fail with Internal before this step index
  // Namespaces that exist already (a running cluster's nodes, for a pod plan): steps may use them;
  // they are not the plan's to create or unwind.
  const std::map<std::string, Fd>* existing_netns = nullptr;
  // Where a failed Apply lists what its rollback could not remove ("mkn-x-web-0: why"); may be
  // null (the message says it then). Untouched on success and after a clean rollback.
  std::vector<std::string>* left_behind = nullptr;
  // Asked before each group starts, from the worker threads (so it must be thread-safe): true stops
  // the Apply there, as a failed step would (groups already running finish, then everything made is
  // unwound), and Apply returns Cancelled. A Ctrl-C during `up` (vnet/cluster/session) is one. May
  // be empty.
  std::function<bool()> stop_requested;
};

struct Applied {
  std::map<std::string, Fd> netns;  // every namespace created, by name
  std::vector<AppSocket> apps;
  std::vector<plan::StartCommand> commands;
  std::vector<plan::CniAdd> cni_adds;  // CNI labs: the pods to hand to the chain, in plan order
  std::map<std::string, Fd> tuns;      // userspace proxy: the TUN of each node, by node netns
  // network = "geneve": each node's gnv0 TAP and its Geneve UDP socket, by node netns, for the
  // pump (vnet/geneve).
  std::map<std::string, Fd> taps, geneve_sockets;
  // [cluster] world: the world's DNS sockets (UDP bound, one per address; TCP listening), opened in
  // its namespace.
  std::vector<Fd> world_dns_udp;
  Fd world_dns_tcp;
};

// The Status of the first failed step, its namespace in the message, with the codes of the
// vnet/kernel call that failed (vnet/kernel/errors.h): AlreadyExists when a namespace's name is
// taken (this cluster is up already, or a crashed one was not taken down), PermissionDenied without
// CAP_NET_ADMIN/CAP_SYS_ADMIN, InvalidArgument when the kernel refuses an attribute or nft a
// ruleset, FailedPrecondition when a step names a namespace not made yet (a planner bug); Internal
// for an injected failure (fail_at_step); Cancelled "interrupted" when options.stop_requested said
// so. Nothing the plan made is left behind after an error,
// unless removing it failed too: then each such namespace is in options.left_behind (and in the
// message, after "; the rollback could not remove: ").
absl::StatusOr<Applied> Apply(const plan::Plan& plan, const ApplyOptions& options = {});

// A sysctl ("net.bridge.bridge-nf-call-iptables") written in the calling thread's netns (the
// plan's SetSysctl; a running cluster's later changes run it through RunInNetns). The codes of
// vnet/kernel/errors.h, with the /proc/sys path named.
absl::Status WriteSysctl(const std::string& key, const std::string& value);

}  // namespace mkn::vnet
