// vnet/cluster/client — what a command does with a cluster another process runs: pick it, ask its
// owner over the control socket, read its logs, enter its namespaces, run one CNI verb of its
// chain.
//
// Status codes follow one rule, which the CLI turns into its exit codes: kInvalidArgument and
// kNotFound mean the user named something wrong (an unknown pod, several clusters and none named:
// exit 2); every other code is a failure of the running system or of privileges (exit 1). A lower
// layer's "not found" that is not the user's fault (a state file, a netns, a node's CNI record) is
// passed on through AsRuntimeFailure.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/bgp/report.h"
#include "lib/control/protocol.h"
#include "lib/status/status.h"
#include "vnet/cluster/control.h"
#include "vnet/cluster/state.h"
#include "vnet/cni/runtime.h"

namespace mkn::vnet {

// `s` as a failure of the running system: kInvalidArgument and kNotFound become
// kFailedPrecondition with the same message; other codes (and OK) are kept.
absl::Status AsRuntimeFailure(const absl::Status& s);

// How the user types the sandbox wrapper, this binary and the example labs' directory where this
// binary runs, for hints and --help: "minikube-net-sandbox", "minikube-net" and
// "/usr/share/minikube-net/examples" when the package installed them (the wrapper beside the
// binary, the labs under ../share), else the repository's "ci/sandbox.sh", "build/minikube-net"
// and "examples".
struct HowToRun {
  std::string sandbox, binary, examples;
};
HowToRun HowToRunHere();

// kPermissionDenied "need CAP_NET_ADMIN and CAP_SYS_ADMIN to <what>: run as root or with sudo",
// unless this process has them; `what` says what the command was about to do (down creates
// nothing: it stops a process and removes namespaces).
absl::Status CheckPrivileges(std::string_view what = "create network namespaces");

// The cluster a command means: `name`, else $MKN_CLUSTER (an `up --shell` shell sets it), else the
// only one up (a dead owner's cluster counts until `down`). kNotFound when the one named is not up
// (with the nearest name, or the ones up); kFailedPrecondition when none is up (saying so when a
// sandbox runs: this terminal is not in it) or the state does not read; kInvalidArgument when
// several are up and none is named.
absl::StatusOr<ClusterState> PickCluster(const std::string& name);

// `request` to the owner of the cluster PickCluster(name) picks: its answer, or PickCluster's
// Status, or Call's (vnet/cluster/control.h: the owner's refusal with its code as sent).
template <typename Request>
absl::StatusOr<typename Request::Answer> Ask(const std::string& name, const Request& request) {
  MKN_ASSIGN_OR_RETURN(ClusterState s, PickCluster(name));
  return Call(s.cluster, request);
}

// `logs POD`: every line its containers logged, each prefixed "[container] "; `logs ingress` (when
// no pod has that name): the edge's access log. kInvalidArgument for an unknown pod, suggesting the
// nearest name ("did you mean \"ingress\"?").
absl::StatusOr<std::string> ReadLogs(const ClusterState& s, const std::string& pod);

// The running cluster's NetworkPolicies: `lab` (the lab file the cluster came up from, as it reads
// now) with what `apply` and `delete netpol` changed, as the state records it (each applied file's
// text resolved again against the lab; lib/config/mutate's ComposePolicies). DataLoss when a
// recorded file no longer resolves (its diagnostics in the message).
absl::Status WithLivePolicies(const ClusterState& s, config::ClusterSpec& lab);

// The running cluster's pods: `lab` (its lab file) with the pods as the state records them, after
// every `kill` and `scale` (lib/config/mutate's MatchLivePods): what trace predicts from. A CNI
// lab, or a state that records no pod yet, leaves `lab` as it is. kInvalidArgument from
// MatchLivePods when the state names what the lab file no longer has.
absl::Status WithLivePods(const ClusterState& s, config::ClusterSpec& lab);

// `get netpol`: the cluster's policies (`spec`: WithLivePolicies of its lab), the live pods
// each selects and the new flows dropped at them, read from each node's `table inet mkn-netpol`
// counters (lib/netpol/nft.h). A node without the table counts nothing. Needs CAP_SYS_ADMIN (to
// enter each node's namespace) and CAP_NET_ADMIN; codes of NftOutput.
absl::StatusOr<std::string> NetpolTable(const ClusterState& s, const config::ClusterSpec& spec);
// Every node's `table inet mkn-netpol` counters, summed by name (lib/netpol's ParseCounters), plus
// the userspace proxy's NetworkPolicy drops of the same names (asked of the owner; none when it
// does not answer); a node without the table counts nothing. NetpolTable's privileges and codes.
absl::StatusOr<std::map<std::string, uint64_t>> NetpolCounters(const ClusterState& s);

// `exec NAME`: moves this process into the network namespace of pod, node, router (`tor-<rack>`,
// `spine`) or `underlay` NAME, with
// POD_NAME, POD_IP and NODE_NAME set for a pod, for the caller to exec a command there. Only for a
// single-threaded process (setns on the calling thread). kInvalidArgument for an unknown name (with
// the nearest one); needs CAP_SYS_ADMIN.
absl::Status EnterNetnsOf(const ClusterState& s, const std::string& name);

// `cni VERB`: one verb of a node's chain on a running network = "cni" lab, as cnitool runs it.
// `request.pod` names the pod of add/check/del (kInvalidArgument if empty, kNotFound if no pod has
// that name); for status/gc/version it is a pod whose node to use when it names one, else ignored,
// and `request.node` names the node (empty: the first; kNotFound if the cluster has no such node).
// A live owner runs the verb with the node views it holds (a second mount of a node's view from
// here would share its overlay upper dirs); after a crash or SIGKILL, before `down`, this process
// reopens the node's chain from the state directory. The answer is the chain's outcome either way:
// a failed chain is an answer with chain_ok false, not an error. Needs CAP_NET_ADMIN and
// CAP_SYS_ADMIN.
absl::StatusOr<control::CniAnswer> RunCniVerb(const ClusterState& s,
                                              const control::CniRequest& request);

// `bgp [SPEAKER]` (bgp_client.cc): every BGP speaker of a network = "bgp" cluster asked over its
// control socket (vnet/bgp), in the state's order (spine, ToRs, nodes); only `speaker` when one is
// named, with the routes of its table. A speaker that does not answer (stopped, exited) has its
// error set in the answer, which is no failure. kInvalidArgument for a name that is no speaker
// (with the nearest); kFailedPrecondition when the cluster runs no speakers (network is not
// "bgp"). Root only: the sockets are in the 0700 state directory.
absl::StatusOr<std::vector<bgp::SpeakerStatus>> BgpStatus(const ClusterState& s,
                                                          const std::string& speaker);

// A chain's outcome as the `cni` verb answers it (the owner and RunCniVerb alike): VERSION calls'
// answers by plugin (a plugin's output that is not JSON as a string of its text), every call
// formatted as --show-exec prints it.
control::CniAnswer CniAnswerOf(const ChainOutcome& out, const std::string& node,
                               const std::string& version);

}  // namespace mkn::vnet
