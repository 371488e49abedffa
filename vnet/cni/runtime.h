// vnet/cni/runtime — a container runtime's CNI part, as libcni does it, for the fake nodes of a lab
// whose pods a user's plugin chain wires ([cluster] network = "cni").
//
// LoadCniConfigs() reads and checks every node's conflist before anything exists: the file is read,
// ${node.*}/${cluster.*} filled per node, the list parsed (lib/cni/conflist) and every plugin's
// binary found in the node's bin_dir. CniNode::Open() then runs on a node whose netns exists: it
// makes the node's private filesystem view (vnet/cni/nodefs: /etc, /var/lib, /run of its own), asks
// every plugin VERSION and negotiates the list's version, and records what a later `down` needs
// in <node state>/cni.json. Add/Del/Check/Status/Gc run the chain as libcni's AddNetworkList &c.:
// each plugin a child process inside the node's netns and mount namespace (vnet/cni/exec: never a
// setns on a thread of ours), the request config on stdin (lib/cni/invoke), the previous plugin's
// result as prevResult, ADD's final result cached in <node
// state>/results/<net>-<container>-<ifname> in libcni's format, DEL in reverse order with the
// cached result, CHECK in order with it.
//
// Every call is recorded (binary, env, stdin, stdout, stderr, exit, time) so `cni ... --show-exec`
// and the conformance suite can show exactly what the plugin was given and what it answered.
// A plugin error is reported as the plugin said it (code, msg, details, its stderr); garbage on
// stdout names the plugin; a plugin past the timeout is killed with its process group.
//
// MKN_CNI_TRACE=FILE (opt-in, for bench/cni): every plugin call and every chain (Add, Del, Check)
// appends one line to FILE (created 0644, O_APPEND, one write(2) a line, so the lines of concurrent
// nodes and of `up` and `down` never interleave); times in µs, starts on CLOCK_MONOTONIC:
//   call  <node> <container|-> <COMMAND> <plugin> <start> <call µs> <exec µs> <exit code>
//   chain <node> <container> <COMMAND> <start> <wall µs> <plugin calls> ok|error
// <call µs> is all of Call() (stdin JSON, RunPlugin, parsing the result); <exec µs> is the child's
// ExecResult.elapsed (spawn to reap: the plugin's own run time plus the spawn). A chain's wall
// minus the sum of its calls' exec µs is what the runtime adds (JSON, pipes, the result cache). A
// line costs one write(2); unset, the cost is one branch per call.
//
// CniTeardown() (teardown.cc) is what `down` runs for a CNI lab, from the state directory alone (so
// it works after minikube-net was SIGKILLed): DEL for every cached attachment of every node, then a
// look at what the plugins left behind (veths in the node, IP allocations under
// /var/lib/cni/networks), reported as the plugin's leaks. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cni/conflist.h"
#include "lib/cni/invoke.h"
#include "lib/config/spec.h"
#include "vnet/cni/exec.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/owned.h"

namespace mkn::vnet {

// What runs one node's chain: its conflist rendered for it, and where things are.
struct CniNodeConfig {
  std::string node;        // node name
  std::string node_netns;  // its netns name (/run/netns/...)
  std::string state_dir;   // <cluster state>/nodes/<node>: the fs view, results, cni.json
  std::string origin;     // the conflist's file (or "lab.toml:L:C" for an inline one), for messages
  std::string conf_text;  // rendered: what plugins get, and what the cache records
  cni::ConfList list;
  std::vector<std::string> binaries;  // one per plugin, absolute
  std::vector<std::string> bin_dirs;  // CNI_PATH
  int timeout_ms = 10000;
};

// Every node's chain, checked without running anything. InvalidArgument listing every problem,
// each with its place: "lab.toml:5:12: [cni] conflist: cannot read k.conflist: No such file or
// directory", the conflist's own "k.conflist:6:5: plugins[1]: missing \"type\"", "k.conflist:
// plugins[0]: plugin \"brigde\" not found in /usr/lib/cni".
absl::StatusOr<std::vector<CniNodeConfig>> LoadCniConfigs(const config::ClusterSpec& spec,
                                                          const std::string& lab_path);

// The ${...} values of one node ("node.name", "node.ip", ...), for RenderConfList and `cni render`.
std::vector<std::pair<std::string, std::string>> CniVars(const config::ClusterSpec& spec, int node);

// One plugin execution, as it happened.
struct PluginCall {
  std::string plugin;   // its "type"
  std::string command;  // "ADD", ...
  std::string binary;
  std::vector<std::string> env;
  std::string stdin_data;
  ExecResult exec;
  absl::Status status;  // what the runtime made of it (OK, the plugin's error, garbage, timeout)
};

struct ChainOutcome {
  absl::Status status;
  nlohmann::json result;  // ADD: the last plugin's result; CHECK/DEL: null
  std::vector<PluginCall> calls;
};

// "== ADD bridge (/usr/lib/cni/bridge) exit 0 in 3.1 ms\nenv: ...\nstdin: ...\nstdout: ...".
std::string FormatCalls(const std::vector<PluginCall>& calls);

class CniNode {
 public:
  // Makes the node's filesystem view and negotiates the version (VERSION of every plugin, run in
  // the node). `netns_fd` must stay open as long as this object. Writes <state_dir>/cni.json.
  static absl::StatusOr<std::unique_ptr<CniNode>> Open(CniNodeConfig config, int netns_fd);
  // From <state_dir>/cni.json: the node as a previous process opened it (its netns by name).
  static absl::StatusOr<std::unique_ptr<CniNode>> Reopen(const std::string& state_dir);

  // ADD of the whole chain; the result cached on success. On failure the chain's DEL runs (as a
  // runtime tears down a sandbox whose setup failed) and the failure is returned.
  ChainOutcome Add(const cni::RuntimeConf& rt);
  // DEL in reverse, prevResult the cached result (when the version has it); the cache entry goes
  // once every plugin succeeded. Without a cache entry DEL still runs (spec: DEL must tolerate it).
  ChainOutcome Del(const cni::RuntimeConf& rt);
  // CHECK in order with the cached result; FailedPrecondition if nothing is cached, OK without
  // running anything if the list says disableCheck or the version has no CHECK.
  ChainOutcome Check(const cni::RuntimeConf& rt);
  // STATUS / GC (spec 1.1); Unimplemented when the negotiated version predates them.
  ChainOutcome Status();
  ChainOutcome Gc(const std::vector<cni::Attachment>& valid);
  // VERSION of every plugin (what Open negotiated from).
  ChainOutcome Version();

  // One verb by its CLI name: "add", "check", "del" (for `rt`), "status", "gc" (every cached
  // attachment valid), "version". InvalidArgument for another name.
  ChainOutcome RunVerb(std::string_view verb, const cni::RuntimeConf& rt);
  // The cached attachments of this node (unreadable entries are skipped).
  std::vector<cni::RuntimeConf> Attachments() const;
  // `rt` as ADD made it when it is cached (same container id and ifname), else `rt`.
  cni::RuntimeConf AsCached(const cni::RuntimeConf& rt) const;
  std::string CachePath(const cni::RuntimeConf& rt) const;
  absl::StatusOr<nlohmann::json> CachedResult(const cni::RuntimeConf& rt) const;

  // Plugin calls started from now on are killed by `deadline` when it comes before their [cni]
  // timeout, and report it as a timeout "at the caller's deadline": the conformance suite's
  // --timeout bounds its whole run, a hanging plugin included. Safe to call while other threads
  // run calls.
  void SetDeadline(std::chrono::steady_clock::time_point deadline) {
    deadline_ns_.store(deadline.time_since_epoch().count(), std::memory_order_relaxed);
  }

  const CniNodeConfig& config() const { return config_; }
  const std::string& version() const { return version_; }
  int netns_fd() const { return netns_fd_; }
  int mntns_fd() const { return mntns_.get(); }

  // One call of one plugin, as the chain runs it (exposed for the conformance suite).
  PluginCall Call(size_t plugin, cni::Command command, const cni::RuntimeConf& rt,
                  const nlohmann::json* prev, const std::vector<cni::Attachment>* valid = nullptr);

 private:
  CniNode() = default;
  // The chains and the call without the MKN_CNI_TRACE line their public wrappers write.
  ChainOutcome RunAdd(const cni::RuntimeConf& rt);
  ChainOutcome RunDel(const cni::RuntimeConf& rt);
  ChainOutcome RunCheck(const cni::RuntimeConf& rt);
  PluginCall CallUntraced(size_t plugin, cni::Command command, const cni::RuntimeConf& rt,
                          const nlohmann::json* prev, const std::vector<cni::Attachment>* valid);
  absl::Status WriteRecord() const;
  ChainOutcome RunEach(cni::Command command, const cni::RuntimeConf& rt, const nlohmann::json* prev,
                       const std::vector<cni::Attachment>* valid, bool stop_at_error);
  cni::ConfList ListAtVersion() const;

  CniNodeConfig config_;
  std::string version_;
  int netns_fd_ = -1;
  Fd own_netns_;  // Reopen: the netns opened by name
  Fd mntns_;
  // SetDeadline's, in steady_clock ticks since its epoch; max: none.
  std::atomic<std::chrono::steady_clock::rep> deadline_ns_{
      std::chrono::steady_clock::time_point::max().time_since_epoch().count()};
};

// The runtime's own CNI_ARGS for a pod (containerd's, which kubelet's CRI calls get):
// IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=<pod>;K8S_POD_INFRA_CONTAINER_ID=<id>,
// then the lab's cni_args; and its capability args (portMappings, bandwidth, ips, mac) as JSON.
cni::RuntimeConf PodRuntimeConf(const config::ClusterSpec& spec, const config::PodSpec& pod);

// The pod's first IPv4 address on CNI_IFNAME (the interface in the pod's sandbox) and its MAC,
// from an ADD result; NotFound if it gave none.
struct PodAddress {
  std::string ip;  // "10.244.1.5"
  int prefix_len = 32;
  std::string mac;  // may be empty
};
absl::StatusOr<PodAddress> PodAddressFromResult(const nlohmann::json& result,
                                                const std::string& ifname);

struct CniTeardownReport {
  int deleted = 0;                  // attachments DEL removed
  std::vector<std::string> errors;  // "node1: pod web-0: DEL: plugin \"bridge\" failed: ..."
  std::vector<std::string> leaks;   // "node1: link veth1a2b3c (veth) left after every DEL"
};

// DEL of every attachment cached under <cluster state>/nodes/*, nodes in parallel, then what the
// plugins left. Plugins run only where the node's (and pod's) netns carries the cluster's marker.
// `open`: the owner's nodes (their views already mounted), used instead of reopening them. Not an
// error when the cluster has no CNI state. Run before the namespaces go.
CniTeardownReport CniTeardown(const std::string& cluster,
                              std::vector<std::unique_ptr<CniNode>>* open = nullptr);

// For a CNI lab, after Teardown: the processes it found still running in the cluster's namespaces
// (TeardownReport::held) were started by the lab's plugins (a daemon an ADD left behind) or by
// someone who entered a namespace; either way the namespaces did not go as every DEL and `down`
// should have left them. They become plugin leaks (`down` exits 1), one per namespace, naming the
// namespace, each process's pid and name, and the `kill` that stops them; `held` is emptied.
// They are not killed: a shell a user opened with `ip netns exec` looks the same from here.
void HeldAsPluginLeaks(TeardownReport& report);

}  // namespace mkn::vnet
