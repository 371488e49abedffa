// vnet/cluster/state — what a running cluster records under /run/minikube-net/<cluster>/.
//
//   state.json   written before the first kernel object is created (phase "starting", every
//                namespace the plan will make) and rewritten when ready; `down` works from it
//                after a crash or SIGKILL. It names the owner (pid and start time): that, not the
//                lock, is how `down` and `status` tell a live owner from a dead one.
//   lock         flock()ed by the process that runs the cluster (and by an `up` or `down` while it
//                removes what a dead owner left), which writes its pid and start time into it.
//   logs/<pod>/<container>.log, logs/ingress/access.log, up.log (-d), control/control.sock
//   bird/<object>.conf, .ctl, logs/bird-<object>.log: a network = "bgp" lab's speakers
//
// Only root may look inside: the directory is 0700 and every file in it 0600, so no other user
// can read the state, the logs (query strings in the access log) or open the lock at all. A lock
// held by anything but a live minikube-net process (another program's flock, an owner SIGKILLed a
// moment ago) does not block `up` or `down`: LockCluster replaces such a lock file with a fresh
// one. Files only; nothing here touches the network.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/control/format.h"
#include "lib/control/state.h"
#include "vnet/cluster/applier.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {

// The record and its JSON are lib/control/state's (pure, round-trip tested there); this file
// keeps them on disk.
using control::ClusterState;
using control::ContainerState;
using control::NodeState;
using control::PodState;
using control::ProcessId;
using control::RouterState;
using control::SpeakerState;

// The state's processes as this room's handles take them, and back.
inline ChildProcess ChildOf(const ProcessId& p) { return {p.pid, p.start_time}; }
inline ProcessId IdOf(const ChildProcess& c) { return {c.pid, c.start_time}; }
inline bool IsAlive(const ProcessId& p) { return IsAlive(ChildOf(p)); }

// Every namespace the state names (routers, nodes, pods; the underlay, "" with a routed one) and
// the `verify` test pods recorded in its directory (RecordVerifyPod), for Teardown.
ClusterNetns NetnsOf(const ClusterState& s);
// Every process to stop that runs (pid > 0): command containers and BGP speakers.
std::vector<ChildProcess> ProcessesOf(const ClusterState& s);

ClusterState StateFromSpec(const config::ClusterSpec& spec, const std::string& lab_path);

std::string StateDirOf(const std::string& cluster);
// Makes /run/minikube-net (0755: which clusters exist is no secret, as /run/netns's list is not)
// and the cluster's directory, 0700 (a directory an older version made 0755 is set back to 0700).
// vnet/kernel/errors.h's codes: PermissionDenied without root or on a read-only /run, Unavailable
// when /run is full; FailedPrecondition if the path is something else than a directory.
absl::Status MakeStateDir(const std::string& cluster);
// Makes (or reuses) <state dir>/<sub>, 0700; MakeStateDir's codes.
absl::StatusOr<std::string> MakeStateSubdir(const std::string& cluster, const std::string& sub);
// Creates `path` (a log in the state directory) 0600, or sets an existing one to 0600, so that
// whoever appends to it later gets a private file. vnet/kernel/errors.h's codes.
absl::Status CreatePrivateFile(const std::string& path);
// `verify`'s test pods are made and removed by the suite, never in the state: each name is appended
// to <state dir>/verify-pods before its namespace exists, so that `down` after a killed run finds
// exactly the suite's own (a name scan of /run/netns would also match another cluster's objects:
// cluster `a` and `a-vfy`'s node1 share the prefix mkn-a-vfy-). vnet/kernel/errors.h's codes.
absl::Status RecordVerifyPod(const std::string& cluster, const std::string& netns);
inline constexpr char kVerifyPodsFile[] = "verify-pods";
// Atomic (a temp file, then rename), 0600. MakeStateDir's codes, and Unavailable "write
// .../state.json.tmp: No space left on device" when /run is full.
absl::Status WriteState(const ClusterState& s);
// NotFound if absent; PermissionDenied (with the hint to run as root) for another user; DataLoss
// if it does not parse.
absl::StatusOr<ClusterState> ReadState(const std::string& cluster);
// Names of clusters with a state directory (one this user may not look into counts: reading its
// state then says why). Never fails: an absent /run/minikube-net is no cluster.
std::vector<std::string> ListClusters();
// ListClusters and the state directories without a state (an `up` killed before its first state
// write), for `down --all`.
std::vector<std::string> ListStateDirs();

// What the CLI shows of a state (tables: lib/control/format.h). `get pods`, `get nodes`, and the
// tables `up` prints when ready:
std::vector<control::PodRow> PodRows(const ClusterState& s);
std::vector<control::NodeRow> NodeRows(const ClusterState& s);
// `status`: a row per cluster of `names` whose state reads (alive: the owner it names runs, pid and
// start time); one whose state this user may not read, as "? (root only)".
std::vector<control::ClusterRow> ClusterRows(const std::vector<std::string>& names);
// `status -o json`: the state of each cluster of `names` that reads, as one JSON array.
std::string StatesJson(const std::vector<std::string>& names);

// How long a lock held by something that is not a live minikube-net process is waited for before
// its file is replaced: an owner SIGKILLed a moment ago holds it until its threads have exited.
inline constexpr int kForeignLockGraceMs = 1000;

// Takes the cluster's lock (making the state directory) and records this process in it. Never
// waits for a live minikube-net holder: FailedPrecondition "cluster C is busy: minikube-net pid N
// holds its lock". A holder that is not one (the pid and start time in the file do not run: another
// program's flock on the file, or an owner killed a moment ago) is given kForeignLockGraceMs, then
// the file is replaced by a fresh one, which that holder does not hold, and `notice` (if set) says
// so. MakeStateDir's codes for the directory and vnet/kernel/errors.h's for the file.
absl::StatusOr<Fd> LockCluster(const std::string& cluster,
                               const std::function<void(const std::string&)>& notice = nullptr);
// Who the lock file says holds (or last held) the lock; {} if it says nothing.
ChildProcess LockHolder(const std::string& cluster);
// Removes the state directory and everything in it. InvalidArgument for a name that is not a
// cluster's; otherwise the codes of vnet/kernel/errors.h with the path that could not be removed
// (Unavailable "... Device or resource busy" for a mount point inside).
absl::Status RemoveStateDir(const std::string& cluster);

}  // namespace mkn::vnet
