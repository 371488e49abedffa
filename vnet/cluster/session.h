// vnet/cluster/session — `up` and `down` as processes live them, around RunningCluster and
// DownCluster (vnet/cluster/cluster.h).
//
// RunSession() is `up` after the lab has loaded: bring the cluster up, print its tables, then run
// it until told to stop, in one of three ways:
//   foreground  until SIGINT, SIGTERM or SIGHUP (or `down` from another process, which sends
//               SIGTERM); command containers that exit are reported as they are reaped (SIGCHLD);
//   --shell     an interactive shell ($SHELL, else /bin/bash) in a process group of its own that
//               gets the terminal: a Ctrl-C typed in it belongs to its job, never to the cluster;
//               the cluster goes down when the shell ends (its exit status becomes ours) or when
//               we are signalled (the shell then gets SIGHUP);
//   -d          the process forks: the parent relays the child's stdout and stderr (each to its
//               own) until the child is ready (a byte on a pipe of its own) and exits 0, or with
//               the child's exit status when it failed; the child goes on in a new session, its
//               output in <state dir>/up.log (0600): first what the terminal was shown (notices,
//               the tables, the ready line), then every line after.
// An owner stopped by `down` (its SIGTERM queued with kDownSignalValue), in any of the three ways,
// leaves its teardown report for it in /run/minikube-net/.<cluster>.down-report (0600; up.log
// goes with the state): a line "owner <pid> removed <namespaces>", then CNI DEL results, plugin
// leaks, namespaces the kernel had not freed. A -d owner stopped otherwise leaves the report when
// it has something to say.
// A network = "cni" lab where a pod's ADD fails is rolled back and fails (exit 1), naming the pods,
// unless keep_going (`--keep-going`): then the rest comes up and the ready line names them.
// A stop signal (SIGINT, SIGTERM, SIGHUP) that arrives while the cluster is being built stays
// pending: Up asks for it between its steps (UpOptions::stop_requested), stops and rolls back, the
// notice says "up <cluster>: interrupted: rolled back (nothing was left behind)" (or names what was
// left) and the exit status is 128 + the signal, as a shell reports a command a signal ended. The
// parent of -d takes the stop signals until the child is ready and passes them on (the child runs
// in a session of its own, out of the terminal's reach), its status then the child's.
// Signals are taken synchronously on the calling thread (blocked before any thread starts), so
// call it from the main thread of a process that has started none. Needs CAP_NET_ADMIN and
// CAP_SYS_ADMIN.
//
// TakeDown() is `down` of one cluster from any process: DownCluster, the teardown report, and the
// report of the owner it stopped (one from another pid is stale: removed unread).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "vnet/cluster/applier.h"
#include "vnet/cluster/state.h"

namespace mkn::vnet {

struct SessionOptions {
  std::string lab_path;  // as given; recorded absolute
  bool detach = false;
  bool shell = false;
  bool keep_going = false;  // CNI labs: a failed ADD is reported, the rest comes up
  int workers = 0;
  int fail_at_step = -1;  // tests: an injected failure at this plan step
  bool meter = false;     // "creating C: n/N steps" on `err` while it comes up (err is a terminal)
  // A line of news for the user ("removing what a previous run left behind", "pod a: container b
  // exited with status 1", a shell that would not start); the caller prints it with its prefix.
  std::function<void(const std::string&)> notice;
  // `up --check`: run once the cluster is ready, its report written to the stream it is given
  // (the terminal's stdout, also with -d); it returns 0 when the lab's [[expect]] rows hold, else
  // 1. The verdict becomes the exit status and never changes the cluster's life: -d exits with it
  // once checked and leaves the cluster running (a failing lab stays up to be looked at; `down`
  // when done); the foreground and --shell run as usual and exit 1 at the end when it failed.
  std::function<int(const ClusterState&, std::ostream&)> check;
  // `up --ui`: started once the cluster is ready (before `check`), in the process that owns it
  // (with -d, the background one); what it writes to the stream it is given (its URL) follows
  // the ready line, on the terminal and in up.log. What it returns is held while the cluster runs
  // and released before the cluster goes down (an opaque handle: vnet/ui sits above this room).
  // An error takes the cluster down and fails the run with it. Its URL goes into the cluster's
  // state (ClusterState::ui: status -o json).
  struct Served {
    std::shared_ptr<void> handle;
    std::string url;
  };
  std::function<absl::StatusOr<Served>(const ClusterState&, std::ostream&)> serve;
};

// The exit status for the process: 0, or the shell's status (128 + signal when it was killed), or 1
// when options.check failed (a shell's own failure wins);
// 128 + the signal when a stop signal interrupted the bring-up; in the parent of -d, the child's.
// Errors (an exit of 1, never kInvalidArgument or kNotFound): "up <cluster>: <why> (nothing was
// left behind)" or, when cleaning up failed too, "up <cluster>: <why>" and a "left behind: ..."
// line per leftover (RunningCluster::Up); "down <cluster>: <why>"; a failed fork or pipe.
// Output: the node and pod tables, the ready line and what to do next on `out`; the progress meter
// and the teardown report on `err`. The caller (cmd/) passes its stdout and stderr: -d rebinds
// file descriptors 1 and 2 (to the pipes the parent relays, then to up.log), so the streams must
// write to those.
absl::StatusOr<int> RunSession(const config::ClusterSpec& spec, const SessionOptions& options,
                               std::ostream& out, std::ostream& err);

// What a teardown has to say beyond the count, one line each: CNI DEL results and plugin leaks,
// stale /run/netns entries removed, namespaces left alone because their marker could not be read,
// namespaces the kernel had not freed by the deadline (or that could not be watched), and
// warnings (a state write that failed). "" when there is nothing to say.
std::string TeardownReportText(const TeardownReport& r);

struct DownSummary {
  bool was_up = false;
  // stdout: "cluster c down in 52 ms: 7 namespaces removed" (with " by its process" when a live
  // owner removed them and left its count), "cluster c is not up"
  std::string summary;
  // stderr: the teardown report, a detached owner's hand-off, namespaces left alone, a foreign
  // lock that was replaced
  std::string details;
  // CNI labs: the plugins left state behind after every DEL (TeardownReport::cni_leaks, its own
  // or a detached owner's), listed in `details` as "cni: plugin leak: ..."; `down` fails then.
  int cni_leaks = 0;
};

// Whether `down TARGET` means a lab file rather than a cluster name: a path (a '/' in it), a name
// ending in .toml, or a file that exists (lab.conf in this directory). A cluster name is a DNS
// label of at most 32 characters: never a path.
bool NamesALabFile(const std::string& target);

// What `down [TARGET] [--all]` takes down: clusters by name, or the cluster of a lab file.
struct DownTargets {
  std::vector<std::string> clusters;  // in order
  std::string lab;       // instead: a lab file, whose cluster the caller reads (showing its report)
  bool none_up = false;  // nothing named and nothing up: "no cluster is up", exit 0
  bool operator==(const DownTargets&) const = default;
};

// What ChooseDownTargets looks at, gathered by its one-argument form.
struct DownScene {
  std::vector<std::string> up;          // ListClusters()
  std::vector<std::string> state_dirs;  // ListStateDirs(): --all's
  std::string env_cluster;              // $MKN_CLUSTER, "" when unset
  bool target_is_lab = false;           // NamesALabFile(TARGET)
};

// The choice: --all: every state directory; TARGET: a lab file (NamesALabFile) or a cluster's
// name, taken as named (one not up is "not up", exit 0: `down` is idempotent; one that is no
// cluster name is TakeDown's kInvalidArgument); neither: $MKN_CLUSTER as if named (PickCluster's
// order, as get, exec and logs: `down` in an `up --shell` shell means that shell's cluster), else
// the only one up. kInvalidArgument for a TARGET with --all, or when several are up and none is
// named (the message lists them, as control::SeveralClustersUp does for -c).
absl::StatusOr<DownTargets> ChooseDownTargets(const std::string& target, bool all,
                                              const DownScene& scene);
// The same, with this process's view: ListClusters(), ListStateDirs(), $MKN_CLUSTER, the files.
absl::StatusOr<DownTargets> ChooseDownTargets(const std::string& target, bool all);

// Takes down `cluster` (vnet/cluster/cluster.h's DownCluster) and says what happened. Errors:
// "down <cluster>: <why>" with DownCluster's code, never kNotFound; kInvalidArgument only for a
// `cluster` that is no cluster name (a path such as ../../etc never reaches the state directory).
absl::StatusOr<DownSummary> TakeDown(const std::string& cluster);

}  // namespace mkn::vnet
