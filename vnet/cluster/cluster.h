// vnet/cluster/cluster — a cluster's whole life: up (state, apply, apps, commands) and down (from
// any process).
//
// RunningCluster::Up() is all-or-nothing: on any failure (or when told to stop midway:
// UpOptions::stop_requested) everything made so far is removed before the Status is returned, its
// message ending "(nothing was left behind)", or, when removing something failed too, with a
// "left behind: ..." line for each leftover. DownCluster() takes down
// a cluster by name from another process: it asks a live owner to stop (SIGTERM, then waits for
// it), or, if the owner died (SIGKILL, crash), removes what its state file and the kernel's
// ownership markers prove to be the cluster's. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/control/protocol.h"
#include "lib/plan/plan.h"
#include "vnet/cluster/applier.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/runtime.h"

namespace mkn::vnet {

struct UpOptions {
  std::string lab_path;  // absolute, recorded in the state
  int workers = 0;
  std::atomic<size_t>* progress = nullptr;
  int fail_at_step = -1;  // tests
  // Called with a line of news ("cleaned up leftovers of ..."). May be null.
  std::function<void(const std::string&)> notice;
  // CNI labs: a pod whose ADD fails fails the whole `up` (everything rolled back), instead of being
  // reported while the rest of the lab comes up. The CLI's default (`up --keep-going` clears it);
  // `verify` clears it, as a failed ADD is what its spec.add check reports.
  bool strict = false;
  // Asked between the plan's groups (from worker threads: must be thread-safe), between CNI ADDs
  // and between Up's later stages: true stops the bring-up there, everything made so far is removed
  // as after a failure, and Up returns Cancelled "interrupted: rolled back (nothing was left
  // behind)". `up` asks whether a SIGINT, SIGTERM or SIGHUP is pending (vnet/cluster/session). May
  // be empty.
  std::function<bool()> stop_requested;
};

class RunningCluster {
 public:
  static absl::StatusOr<std::unique_ptr<RunningCluster>> Up(const config::ClusterSpec& spec,
                                                            const UpOptions& options);
  ~RunningCluster();

  // A copy: kill and scale change the pods under the cluster's mutex from the control thread.
  ClusterState state() const;
  // Reaps exited command containers; returns a line for each ("pod/container exited with status
  // N").
  std::vector<std::string> ReapChildren();
  // Stops apps and commands and removes every namespace. Idempotent.
  absl::StatusOr<TeardownReport> Down();

  // Runtime changes, as a Deployment controller would make them (thread-safe; the control socket
  // calls them). KillPod: the pod's containers stop, its namespace goes, and it is made again on
  // its node with a new address; Services follow (userspace: new endpoints, flows to the old
  // address flushed; nftables: the node rulesets reloaded). kNotFound if no such pod; a failure
  // while the change is made is never kNotFound or kInvalidArgument (those are the request's), but
  // kFailedPrecondition or the kernel's other codes (vnet/kernel/errors.h).
  absl::Status KillPod(const std::string& pod);
  // New replicas are made, surplus ones removed (newest first); Services follow. kNotFound if no
  // such deployment, kInvalidArgument for a count out of range, kResourceExhausted if no node has
  // room; a failure midway as KillPod's.
  absl::Status Scale(const std::string& deployment, int replicas);
  // `up --ui`: the dashboard's URL into the state and state.json (ClusterState::ui), where status
  // -o json shows it (the port `--ui 0` was given is printed only once). WriteState's codes; the
  // cluster runs either way.
  absl::Status RecordUi(const std::string& url);
  // The answer to one control request: a line of lib/control/protocol.h's JSON in, one out
  // (vnet/cluster/control_handler.cc). A request that does not parse gets an error answer.
  std::string HandleControl(const std::string& request);

 private:
  friend class ControlHandler;  // the control verbs, in control_handler.cc
  RunningCluster() = default;
  // Up's body. A failure before the state is on disk removes the state directory; after it, Down()
  // removes what was made. What either could not remove is appended to `left`, for Up's message.
  static absl::StatusOr<std::unique_ptr<RunningCluster>> UpOrUndo(const config::ClusterSpec& spec,
                                                                  const UpOptions& options,
                                                                  std::vector<std::string>& left);
  // Each takes the spec as it is now; callers hold impl_->mu (except during Up).
  absl::Status StartCommands(const std::vector<plan::StartCommand>& commands);
  // A CNI lab: opens every node's chain, starts the node daemons, runs ADD for every pod (nodes in
  // parallel) and writes the addresses the results gave into `live`.
  absl::Status CniUp(std::vector<CniNodeConfig> configs, config::ClusterSpec& live,
                     const UpOptions& options);
  // network = "bgp" (cluster_bgp.cc): starts every StartBgpSpeaker of `plan` (from this thread:
  // PDEATHSIG follows it), records their processes in the state, and waits until each answers on
  // its control socket.
  absl::Status StartSpeakers(const plan::Plan& plan);
  // StartSpeakers(speakers), then applies `rest` (the pods and what follows them) while the
  // speakers converge, into impl_->applied; `steps_before` is how many steps of the plan came
  // before `rest` (UpOptions::fail_at_step counts the whole plan). Callers hold no lock (during
  // Up).
  absl::Status StartSpeakersThenApply(const plan::Plan& speakers, const plan::Plan& rest,
                                      const UpOptions& options, int steps_before);
  // ReapChildren's part for the speakers: a line for each that exited (callers hold impl_->mu).
  void ReapSpeakers(std::vector<std::string>& out);
  // Ready means every node's kernel has a route to every other node's pod CIDR (a speaker that
  // exits meanwhile ends the wait with its log's last lines; so does a stop request, Cancelled).
  absl::Status WaitBgpConverged(const std::function<bool()>& stop_requested);
  // Builds the given pods (indices into the current spec) in the running cluster.
  absl::Status MakePods(const std::vector<int>& pods);
  // Stops the containers of `pod` (a PodSpec of the spec before the change) and removes it.
  absl::Status RemovePodNow(const config::PodSpec& pod);
  // Services follow the current spec's endpoints (the edge too). `changed`, when given: the only
  // services (indices) whose endpoints can have changed; the nftables delta compares just those.
  absl::Status RefreshServices(const std::vector<int>* changed = nullptr);
  // The edge's listeners, when the lab has any (auto_tls: issues their certificates first).
  absl::Status StartIngress();
  // Moves the cluster from the current spec to `next`: the `removed` pods (named in the current
  // spec) leave the Services, stop and go; the spec and state become `next`; the `added` pods
  // (named in `next`) are made and join the Services. A failure midway still leaves the Services
  // matching the pods that exist.
  absl::Status Transition(const config::ClusterSpec& next, const std::vector<std::string>& removed,
                          const std::vector<std::string>& added);
  // Whatever still leads to these (dead) pods goes: nftables mode, the kernel's flows whose
  // replies came from them; ebpf mode, the pods' sockets connected to them (DestroySocketsToPods).
  absl::Status FlushFlowsTo(const std::vector<net::Ipv4>& ips);
  // proxy_mode = "ebpf" (cluster_ebpf.cc): make the cluster's cgroup (recorded in the state
  // first), load and attach the programs, write the maps (at up, before any container, which
  // starts in that cgroup); bring the maps and the allowed pod
  // namespaces in step with the spec; detach and remove the cgroup (down).
  absl::Status StartSockLb();
  absl::Status SyncSockLb(const std::vector<int>* changed = nullptr);
  absl::Status StopSockLb();
  // Destroys, in every pod's netns, the TCP and UDP sockets connected to one of `ips` (their owners
  // see ECONNABORTED and connect() again). DestroySocketsTo's codes, with the pod named.
  absl::Status DestroySocketsToPods(const std::vector<net::Ipv4>& ips);
  // nftables mode (cluster_nft.cc). At up: remember the table the plan wrote in each node, and
  // open logs/nftables.log (in every mode when the lab has policies: their tables are nftables).
  void StartNftTables();
  // Each node's table brought to the current spec: the delta from what this process last wrote
  // there (nothing when nothing changed), or, when the node refuses it (its table was edited), the
  // table written whole. Codes of RunNft, with the node named.
  absl::Status SyncNftTables(const std::vector<int>* changed = nullptr);
  // `resync`: each node's table against what a full sync of the spec writes (loaded in a scratch
  // namespace and listed); unless `check_only`, the nodes that differ get the full sync.
  // FailedPrecondition when the cluster has no nftables tables (userspace mode, no services).
  absl::StatusOr<control::ResyncAnswer> ResyncNftTables(bool check_only);
  // NetworkPolicy (cluster_netpol.cc): each node's `table inet mkn-netpol` brought to the current
  // spec (its pods' addresses in the peer sets, the pods it isolates), one transaction per node
  // whose table changes (WriteNetpolTables). Codes of RunNft, with the node named.
  absl::Status SyncNetpol();
  // Each node's table brought from what this process last wrote to `next`'s: the delta
  // (lib/netpol/nft's RenderChange), one transaction per node that changes, each reported in
  // `report` (may be null). All or nothing: when a node refuses, the nodes already changed get the
  // reverse delta and the Status (RunNft's codes, the node named) is returned.
  absl::Status WriteNetpolTables(const config::ClusterSpec& next,
                                 std::vector<control::NodeTransaction>* report);
  // `apply` / `delete netpol` (the control verb netpol): the policies resolved against the live
  // spec, the tables changed, the spec and state updated. InvalidArgument with the file's
  // diagnostics (file:line:col) for a file that does not resolve, NotFound for a policy to delete
  // that is not live, FailedPrecondition in a CNI lab or while stopping; WriteNetpolTables' codes.
  // On any error nothing changed. Takes the cluster's mutex.
  absl::StatusOr<control::NetpolAnswer> ChangePolicies(const control::NetpolRequest& r);
  // A line (and a transaction's text, indented) appended to logs/nftables.log.
  void LogNft(const std::string& line, const std::string& text = "");
  // One nft transaction in node `node` (whose namespace fd is `fd`), through the context made for
  // it at up. Codes of RunNft.
  absl::Status RunNftIn(const config::NodeSpec& node, int fd, const std::string& text);
  // state_.pods from the current spec, keeping the processes of pods that still run.
  void SyncStatePods();
  // The cluster DNS's zone from the spec as it is now (up, and after every kill and scale).
  void RefreshDnsZone();
  // <state dir>/resolv/<ns>.conf for every namespace (dns only), before any command starts.
  absl::Status WriteResolvConfs();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ClusterState state_;
  std::chrono::steady_clock::time_point speakers_started_;  // network = "bgp": MKN_TRACE's origin
};

struct DownResult {
  bool was_up = false;         // a state directory existed
  bool owner_stopped = false;  // a live owner was asked to stop and did
  int64_t owner_pid = 0;       // that owner's pid (its report for `down` names it)
  // The owner is pid 1 of this process's own PID namespace (a sandbox's first process, `down`
  // run in a shell of `ci/sandbox.sh --join` or `up --shell`): it was asked to stop and not waited
  // for, since its end kills every process of the namespace, `down` too.
  bool owner_is_our_init = false;
  TeardownReport report;
  std::vector<std::string> notes;  // e.g. a lock held by a process that is not minikube-net
};

// The value DownCluster queues with the SIGTERM it sends a live owner (sigqueue): the owner can
// tell `down` from any other SIGTERM.
inline constexpr int kDownSignalValue = 0x6d6b6e;  // "mkn"

// Takes down the cluster `name` whoever runs it. Not an error if it is not up (was_up = false).
// A live owner (the pid and start time its state names) is asked to stop (SIGTERM, queued with
// kDownSignalValue) and waited for, unless it is pid 1 here (DownResult::owner_is_our_init);
// without one, the lock is taken (one held by a process that is not a live minikube-net does not
// block it: vnet/cluster/state.h's LockCluster) and what the state and markers prove ours is
// removed. Errors: DeadlineExceeded when the owner, or a minikube-net process holding the lock,
// is still at it after timeout_ms; PermissionDenied without root; ReadState's and Teardown's
// codes otherwise (the state then stays, for another try).
absl::StatusOr<DownResult> DownCluster(const std::string& name, int timeout_ms = 30000);

}  // namespace mkn::vnet
