// lib/cni/conflist — a CNI network configuration list (SPEC.md §1) as a runtime loads it, and the
// per-node template rendering a lab adds (`${node.pod_cidr}` and friends).
//
// Pure: text in, values or InvalidArgument out. Every problem of one file is reported, one per
// line of the Status message, each as "ORIGIN:LINE:COL: FIELD.PATH: what is wrong", the position
// being the offending value's (or, for a missing key, its object's). Same input, same output.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace mkn::cni {

struct PluginConf {
  std::string type;
  nlohmann::json conf;                    // the plugin object as given
  std::vector<std::string> capabilities;  // keys whose value is true in "capabilities", sorted
};

struct ConfList {
  // The version libcni selects and injects: "cniVersion", or, when "cniVersions" is given, the
  // newest version of both that SupportedVersions() lists. NegotiateVersion may lower it.
  std::string cni_version;
  std::vector<std::string> cni_versions;  // 1.1 "cniVersions", as given
  std::string name;
  bool disable_check = false;
  bool disable_gc = false;
  std::vector<PluginConf> plugins;
  nlohmann::json raw;  // the whole list object; for a single .conf, the list libcni builds from it
};

// Parses a .conflist, or a single-plugin .conf (an object with "type" and no "plugins"), which
// becomes a one-plugin list as libcni's ConfListFromConf does. Checked, all at once:
//   JSON syntax ("ORIGIN:L:C: JSON parse error: ...");
//   "cniVersion": a string naming a version SupportedVersions() lists. It may be left out only
//     when "cniVersions" names a supported version; it then becomes the newest of those;
//   "cniVersions": an array of version strings (versions newer than 1.1.0 are allowed: libcni
//     skips them);
//   "name": a string matching [a-zA-Z0-9][a-zA-Z0-9_.-]* (libcni ValidateNetworkName);
//   "disableCheck", "disableGC": booleans, or the strings "true"/"false" as libcni accepts;
//   "plugins": a non-empty array of objects, each with a non-empty string "type" holding no '/'
//     or '\\', and "capabilities", when present, an object of booleans.
// InvalidArgument otherwise, the message starting with `origin`.
absl::StatusOr<ConfList> ParseConfList(std::string_view json_text, std::string_view origin);

// The IPv6 subnets and addresses the plugins' "ipam" objects name, as (field path, value), e.g.
// ("plugins[0].ipam.ranges[1][0].subnet", "fd00:10:244::/64"). minikube-net's nodes and pods are
// IPv4-only until dual-stack lands (their namespaces have disable_ipv6=1), so a lab asking for IPv6
// addresses is refused at validation rather than failing inside the plugin ("permission denied").
std::vector<std::pair<std::string, std::string>> Ipv6InIpam(const ConfList& list);

// Fills `${KEY}` inside every JSON string value (keys are left alone) from `vars`, e.g.
// node.name, node.ip, node.pod_cidr, cluster.pod_cidr, cluster.service_cidr; `$${` writes a
// literal `${`. Returns the document re-serialized with a 2-space indent, keys in their original
// order. InvalidArgument for bad JSON, for a `${KEY}` not in `vars` ("ORIGIN:L:C: plugins[0].ipam
// .subnet: unknown variable ${node.cidr} (known: ...)") and for a `${` without its `}`; every
// such string is reported.
absl::StatusOr<std::string> RenderConfList(
    std::string_view json_text, const absl::flat_hash_map<std::string, std::string>& vars,
    std::string_view origin);

}  // namespace mkn::cni
