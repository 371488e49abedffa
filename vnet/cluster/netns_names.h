// vnet/cluster/netns_names — a lab's namespace names against those that already exist.
//
// Namespaces are named mkn-<cluster>-<object> (lib/net/naming), a documented interface (`ip netns
// exec mkn-<lab>-<pod>`), so two labs can map to one name: cluster `x` with pod `y-underlay` and
// cluster `x-y`'s underlay both are mkn-x-y-underlay. No rule on one lab alone excludes that short
// of forbidding '-' in cluster names or object names (`y-node1`, `y-web-0`, ... collide with
// cluster `x-y`'s nodes and pods just as well), so `validate` cannot; `up` checks instead, before
// it creates anything, every name of its lab that exists, and says whose it is: the other cluster
// and its object, from that cluster's marker and state. Needs CAP_SYS_ADMIN (to read markers).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/config/spec.h"
#include "vnet/cluster/state.h"

namespace mkn::vnet {

// A namespace a cluster makes and what it is to that cluster: "underlay", "node node1",
// "pod web-0".
struct NetnsRole {
  std::string netns;
  std::string role;
};
std::vector<NetnsRole> NetnsRolesOf(const config::ClusterSpec& spec);
std::vector<NetnsRole> NetnsRolesOf(const ClusterState& s);

// What a name that exists is, as one line: "cluster x's pod y-underlay", "a namespace without
// minikube-net's marker (another program made it)", ... Pure: `marker` is what its lo carries,
// `other` the state of the cluster that marker names (null if it has none).
std::string DescribeExistingNetns(const std::string& netns, const std::string& marker,
                                  const std::string& own_cluster, const ClusterState* other);

// OK if no namespace `spec` will make exists. A stale entry (an empty file a SIGKILL left, see
// vnet/kernel/netns.h) that no other cluster's state lists is removed (`notice` says so); it is
// this lab's to make. Otherwise kFailedPrecondition for the first that exists, e.g.
//   namespace mkn-x-y-underlay (this lab's underlay) is cluster x's pod y-underlay: two labs
//   map to one name (mkn-<cluster>-<object>); rename this cluster or that object, or take x down
// PermissionDenied without CAP_SYS_ADMIN.
absl::Status CheckNetnsNamesFree(const config::ClusterSpec& spec,
                                 const std::function<void(const std::string&)>& notice);

}  // namespace mkn::vnet
