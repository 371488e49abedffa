#include "vnet/cluster/netns_names.h"

#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/owned.h"

namespace mkn::vnet {

std::vector<NetnsRole> NetnsRolesOf(const config::ClusterSpec& spec) {
  std::vector<NetnsRole> out;
  if (spec.routed_underlay) {
    for (const config::RackSpec& r : spec.racks) out.push_back({r.netns, StrCat("router ", r.tor)});
    if (!spec.spine_netns.empty()) out.push_back({spec.spine_netns, "router spine"});
  } else {
    out.push_back({net::NetnsName(spec.name, net::kUnderlayObject), "underlay"});
  }
  if (spec.world.enabled) out.push_back({spec.world.netns, "the world"});
  for (const config::NodeSpec& n : spec.nodes) out.push_back({n.netns, StrCat("node ", n.name)});
  for (const config::PodSpec& p : spec.pods) out.push_back({p.netns, StrCat("pod ", p.name)});
  return out;
}

std::vector<NetnsRole> NetnsRolesOf(const ClusterState& s) {
  std::vector<NetnsRole> out;
  if (!s.underlay.empty()) out.push_back({s.underlay, "underlay"});
  for (const RouterState& r : s.routers) out.push_back({r.netns, StrCat("router ", r.name)});
  if (s.world) out.push_back({s.world->netns, "the world"});
  for (const NodeState& n : s.nodes) out.push_back({n.netns, StrCat("node ", n.name)});
  for (const PodState& p : s.pods) out.push_back({p.netns, StrCat("pod ", p.name)});
  return out;
}

std::string DescribeExistingNetns(const std::string& netns, const std::string& marker,
                                  const std::string& own_cluster, const ClusterState* other) {
  const std::string by_hand = StrCat("remove it with: ip netns del ", netns);
  const std::string prefix = net::OwnerMarker("");
  if (marker.empty()) {
    return StrCat("a namespace without minikube-net's ownership marker (another program made it): ",
                  by_hand, ", or rename this cluster");
  }
  if (marker.rfind(prefix, 0) != 0) {
    return StrCat("a namespace marked \"", marker, "\", not by minikube-net: ", by_hand,
                  ", or rename this cluster");
  }
  const std::string cluster = marker.substr(prefix.size());
  if (cluster == own_cluster) {
    return StrCat("marked as this cluster's, but no state of it lists it (left by a run killed ",
                  "before it recorded it): ", by_hand);
  }
  if (other == nullptr) {
    return StrCat("cluster ", cluster, "'s (by its marker), which has no state (a run killed ",
                  "before it recorded it): ", by_hand);
  }
  for (const NetnsRole& r : NetnsRolesOf(*other)) {
    if (r.netns != netns) continue;
    return StrCat("cluster ", cluster, "'s ", r.role,
                  ": two labs map to one name (mkn-<cluster>-<object>); rename this cluster or ",
                  "that object, or take ", cluster, " down (minikube-net down ", cluster, ")");
  }
  return StrCat("cluster ", cluster, "'s (by its marker; not in its state, as `verify`'s test ",
                "pods are not): take ", cluster, " down (minikube-net down ", cluster,
                "), or rename this cluster");
}

absl::Status CheckNetnsNamesFree(const config::ClusterSpec& spec,
                                 const std::function<void(const std::string&)>& notice) {
  // Who else lists a name: the states of the other clusters, read once and only if needed.
  std::vector<ClusterState> others;
  bool read_others = false;
  auto other_states = [&]() -> const std::vector<ClusterState>& {
    if (!read_others) {
      read_others = true;
      for (const std::string& c : ListClusters()) {
        if (c == spec.name) continue;
        if (absl::StatusOr<ClusterState> s = ReadState(c); s.ok()) others.push_back(*s);
      }
    }
    return others;
  };
  auto listed_by = [&](const std::string& netns) -> const ClusterState* {
    for (const ClusterState& s : other_states()) {
      for (const NetnsRole& r : NetnsRolesOf(s))
        if (r.netns == netns) return &s;
    }
    return nullptr;
  };
  for (const NetnsRole& mine : NetnsRolesOf(spec)) {
    const std::string what = StrCat("namespace ", mine.netns, " (this lab's ", mine.role, ") is ");
    switch (StatNetnsPath(mine.netns)) {
      case NetnsPath::kAbsent:
        continue;
      case NetnsPath::kOther:
        return absl::FailedPreconditionError(StrCat(what, "something else than a namespace at ",
                                                    net::kNetnsDir, "/", mine.netns,
                                                    ": move it away, or rename this cluster"));
      case NetnsPath::kStale: {
        if (const ClusterState* other = listed_by(mine.netns)) {
          for (const NetnsRole& r : NetnsRolesOf(*other)) {
            if (r.netns != mine.netns) continue;
            return absl::FailedPreconditionError(
                StrCat(what, "cluster ", other->cluster, "'s ", r.role,
                       " (a stale entry: its run was killed while making or removing it): take ",
                       other->cluster, " down first (minikube-net down ", other->cluster, ")"));
          }
        }
        // Nobody's: an empty file a killed run left, with no namespace behind it. Ours to make.
        absl::StatusOr<bool> removed = RemoveStaleNetns(mine.netns);
        if (!removed.ok()) return removed.status();
        if (*removed && notice) {
          notice(StrCat("removed a stale ", net::kNetnsDir, "/", mine.netns,
                        " (an empty file a killed run left, no namespace behind it)"));
        }
        continue;
      }
      case NetnsPath::kMounted:
        break;
    }
    absl::StatusOr<std::string> marker = ReadMarker(mine.netns);
    if (absl::IsNotFound(marker.status())) continue;  // removed meanwhile
    if (!marker.ok()) {
      return absl::Status(
          marker.status().code(),
          StrCat(what, "taken, and its marker cannot be read: ", marker.status().message()));
    }
    const std::string prefix = net::OwnerMarker("");
    const ClusterState* other = nullptr;
    if (marker->rfind(prefix, 0) == 0) {
      const std::string cluster = marker->substr(prefix.size());
      for (const ClusterState& s : other_states())
        if (s.cluster == cluster) other = &s;
    }
    return absl::FailedPreconditionError(
        StrCat(what, DescribeExistingNetns(mine.netns, *marker, spec.name, other)));
  }
  return absl::OkStatus();
}

}  // namespace mkn::vnet
