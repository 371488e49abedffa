// lib/cni/invoke — what a runtime computes before it execs a CNI plugin: the request
// configuration on stdin (libcni buildOneConfig/injectRuntimeConfig, SPEC.md §3 "Deriving request
// configuration"), the environment (pkg/invoke Args.AsEnv), and the VERSION negotiation
// (pkg/version). The process runner in vnet/ execs with exactly these.
//
// Pure and deterministic: nlohmann::json objects are key-sorted, as Go's json.Marshal writes the
// map libcni builds; GoMarshal() (json_text.h) gives libcni's exact stdin bytes.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/cni/conflist.h"

namespace mkn::cni {

struct RuntimeConf {
  std::string container_id, netns, ifname;
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS, in order
  nlohmann::json capability_args = nlohmann::json::object();
};

enum class Command { kAdd, kDel, kCheck, kVersion, kStatus, kGc };
// "ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC".
std::string_view CommandName(Command command);
// The commands by the words the CLI (`minikube-net cni VERB`) and the control protocol use:
// CommandName's, lowercase, in the order `--help` lists them.
inline constexpr std::string_view kVerbs[] = {"add", "check", "del", "status", "gc", "version"};
// The command `verb` names (one of kVerbs); nullopt for any other word.
std::optional<Command> CommandOfVerb(std::string_view verb);
// ADD, CHECK and DEL act on one pod's attachment, so they need a pod; STATUS, GC and VERSION act
// on a node's chain.
bool IsPodVerb(std::string_view verb);

// What a runtime gives a pod's chain before the lab adds its own (containerd's, which kubelet's CRI
// calls get): container id = the pod's netns name, its netns /run/netns/<netns>, `ifname`, and
// CNI_ARGS IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=<pod>;
// K8S_POD_INFRA_CONTAINER_ID=<netns>. No capability args.
RuntimeConf PodRuntimeConf(std::string_view pod, std::string_view netns, std::string_view ifname);

// PATH for a plugin: plugins exec iptables, ip, modprobe... by name. The runtime's own PATH is
// not passed on (libcni passes os.Environ(); a CI run must not depend on the caller's shell).
inline constexpr std::string_view kPluginPath = "/usr/sbin:/usr/bin:/sbin:/bin";

// The checks libcni makes before ADD (utils.ValidateContainerID, ValidateInterfaceName):
// container id [a-zA-Z0-9][a-zA-Z0-9_.-]*; ifname 1-15 bytes, not "." or "..", no '/', ':' or
// whitespace; CNI_ARGS keys non-empty without '=' or ';' and values without ';' (they are
// joined as K=V;K=V). InvalidArgument naming the field otherwise.
absl::Status ValidateRuntimeConf(const RuntimeConf& rt);

// The request configuration for plugins[plugin_index] and ADD/DEL/CHECK: the plugin object as
// given, with "name" and "cniVersion" set from the list (list.cni_version: a runner that
// negotiated another version sets it on its copy), "runtimeConfig" holding the capability args
// whose key the plugin declares true in "capabilities" (omitted when none match, as libcni;
// a "runtimeConfig" written in the file is then passed through), and "prevResult" when
// prev_result is non-null and not JSON null (passed through unconverted).
// "capabilities" is kept: libcni passes it through although SPEC.md §3 says "must not be set";
// plugins in the wild see it, so they are tested with it. Caller keeps plugin_index in range.
nlohmann::json PluginStdin(const ConfList& list, size_t plugin_index, const RuntimeConf& rt,
                           const nlohmann::json* prev_result);

// The environment, without the caller's. ADD/DEL/CHECK: PATH, then CNI_COMMAND, CNI_CONTAINERID,
// CNI_NETNS, CNI_ARGS, CNI_IFNAME, CNI_PATH in libcni's order, each present even when empty
// (CNI_ARGS="" when there are none, as libcni). The spec's minimum for the others (SPEC.md §2):
// VERSION: PATH, CNI_COMMAND; STATUS and GC: PATH, CNI_COMMAND, CNI_PATH. (libcni adds dummy
// values for plugins built on an old skel; the Debian 1.1.1 plugins do not need them.)
std::vector<std::string> PluginEnv(Command command, const RuntimeConf& rt,
                                   std::string_view cni_path);

// "K1=V1;K2=V2" (pkg/invoke stringify).
std::string CniArgsString(const std::vector<std::pair<std::string, std::string>>& args);

struct Attachment {
  std::string container_id, ifname;
};

// GC request for plugins[plugin_index] (spec 1.1, libcni GCNetworkList): the plugin object with
// name and cniVersion, "cni.dev/valid-attachments": [{"containerID", "ifname"}...] and the same
// list under "cni.dev/attachments" (libcni sends both: the spec once used that name, cni#1101).
nlohmann::json GcStdin(const ConfList& list, size_t plugin_index,
                       const std::vector<Attachment>& valid);
// STATUS request (libcni GetStatusNetworkList): the plugin object with name and cniVersion.
nlohmann::json StatusStdin(const ConfList& list, size_t plugin_index);
// VERSION request (pkg/invoke GetVersionInfo): {"cniVersion": kCurrentVersion}.
nlohmann::json VersionStdin();

// The "supportedVersions" of a VERSION reply (pkg/version PluginDecoder): InvalidArgument for bad
// JSON, a missing "cniVersion", or a missing/empty/non-string "supportedVersions" (except that a
// 0.2.0 reply without it means ["0.1.0", "0.2.0"]).
absl::StatusOr<std::vector<std::string>> ParseVersionResult(std::string_view stdout_text);

// FailedPrecondition `plugin "bridge" does not support config version "1.1.0" (it supports
// 0.1.0 ... 1.0.0)` unless conf_version is in `supported` (libcni validatePlugin).
absl::Status CheckVersionSupported(std::string_view conf_version,
                                   const std::vector<std::string>& supported,
                                   std::string_view plugin);

// The version to run the list at (SPEC.md §1 "Version considerations"): the newest of
// cni_versions and cni_version that this runtime implements and every plugin lists in
// per_plugin_supported (one list per plugin, in order); when none qualifies, list.cni_version
// (and CheckVersionSupported then names the plugin that lacks it).
std::string NegotiateVersion(const ConfList& list,
                             const std::vector<std::vector<std::string>>& per_plugin_supported);

}  // namespace mkn::cni
