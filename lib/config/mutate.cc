#include "lib/config/mutate.h"

#include <algorithm>
#include <set>

#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {
namespace {

bool Matches(const ServiceSpec& s, const PodSpec& p) {
  return !s.selector.empty() && s.ns == p.ns &&
         std::all_of(s.selector.begin(), s.selector.end(), [&](const auto& kv) {
           auto it = p.labels.find(kv.first);
           return it != p.labels.end() && it->second == kv.second;
         });
}

// The next free host address of `node` after the highest in use, wrapping; `avoid` is never given.
absl::StatusOr<net::Ipv4> NextAddress(const ClusterSpec& spec, const NodeSpec& node,
                                      std::optional<net::Ipv4> avoid) {
  std::set<uint32_t> used = {node.vtep_ip.value, node.gateway.value, node.proxy_ip.value};
  if (avoid) used.insert(avoid->value);
  uint32_t highest = node.gateway.value;
  for (int i : node.pods) {
    used.insert(spec.pods[i].ip.value);
    highest = std::max(highest, spec.pods[i].ip.value);
  }
  if (avoid) highest = std::max(highest, avoid->value);
  const uint32_t first = node.pod_cidr.Host(2).value;
  const uint32_t last = node.pod_cidr.Host(node.pod_cidr.Size() - 2).value;  // before broadcast
  const int64_t span = int64_t{last} - first + 1;
  const int64_t start = int64_t{highest} - first;  // -1 when only the gateway is below
  for (int64_t k = 1; k <= span; ++k) {
    uint32_t ip = first + static_cast<uint32_t>(((start + k) % span + span) % span);
    if (!used.count(ip)) return net::Ipv4{ip};
  }
  return absl::ResourceExhaustedError(
      StrCat("node ", node.name, ": pod_cidr ", node.pod_cidr.ToString(), " has no free address"));
}

// Rebuilds NodeSpec::pods (address order) after pods were added, removed or readdressed.
void ReindexNodes(ClusterSpec& spec) {
  for (NodeSpec& n : spec.nodes) n.pods.clear();
  for (size_t i = 0; i < spec.pods.size(); ++i) {
    spec.nodes[spec.pods[i].node].pods.push_back(static_cast<int>(i));
  }
  for (NodeSpec& n : spec.nodes) {
    std::sort(n.pods.begin(), n.pods.end(),
              [&](int a, int b) { return spec.pods[a].ip.value < spec.pods[b].ip.value; });
  }
}

std::string FreeVethName(const ClusterSpec& spec, const NodeSpec& node, const std::string& pod) {
  std::set<std::string> taken;
  for (int i : node.pods) taken.insert(spec.pods[i].host_veth);
  for (uint32_t salt = 0;; ++salt) {
    std::string v = net::PodVethName(spec.name, pod, salt);
    if (!taken.count(v)) return v;
  }
}

}  // namespace

absl::StatusOr<int> RecreatePod(ClusterSpec& spec, std::string_view name) {
  auto it = std::find_if(spec.pods.begin(), spec.pods.end(),
                         [&](const PodSpec& p) { return p.name == name; });
  if (it == spec.pods.end()) return absl::NotFoundError(StrCat("no pod \"", name, "\""));
  const int idx = static_cast<int>(it - spec.pods.begin());
  const NodeSpec& node = spec.nodes[it->node];
  net::Ipv4 old = it->ip;
  // Free the old address first, so it can be avoided rather than found in use.
  it->ip = node.gateway;
  absl::StatusOr<net::Ipv4> ip = NextAddress(spec, node, old);
  if (!ip.ok()) {
    it->ip = old;
    return ip.status();
  }
  it->ip = *ip;
  it->mac = net::Mac::FromIpv4(*ip);
  ReindexNodes(spec);
  RecomputeEndpoints(spec);
  return idx;
}

absl::StatusOr<ScaleResult> ScaleDeployment(ClusterSpec& spec_in, std::string_view deployment,
                                            int replicas, int max_pods) {
  ClusterSpec spec = spec_in;  // all or nothing: spec_in changes only on success
  auto dep = std::find_if(spec.deployments.begin(), spec.deployments.end(),
                          [&](const DeploymentSpec& d) { return d.name == deployment; });
  if (dep == spec.deployments.end())
    return absl::NotFoundError(StrCat("no deployment \"", deployment, "\""));
  if (replicas < 0)
    return absl::InvalidArgumentError(StrCat("replicas ", replicas, " is negative"));
  ScaleResult r;
  std::vector<int> mine;  // pod indices of this deployment
  for (size_t i = 0; i < spec.pods.size(); ++i) {
    if (spec.pods[i].deployment == dep->name) mine.push_back(static_cast<int>(i));
  }
  const int have = static_cast<int>(mine.size());
  if (replicas > have && static_cast<int64_t>(spec.pods.size()) + replicas - have > max_pods) {
    return absl::InvalidArgumentError(StrCat(
        "the lab would have ", spec.pods.size() + replicas - have, " pods, at most ", max_pods));
  }
  if (replicas < have) {
    // Highest replica index first, as a ReplicaSet scales down the newest.
    auto index_of = [&](int i) {
      const std::string& n = spec.pods[i].name;
      return std::stoi(n.substr(dep->name.size() + 1));
    };
    std::sort(mine.begin(), mine.end(), [&](int a, int b) { return index_of(a) > index_of(b); });
    std::set<int> drop(mine.begin(), mine.begin() + (have - replicas));
    for (int i : mine) {
      if (drop.count(i)) r.removed.push_back(spec.pods[i].name);
    }
    std::vector<PodSpec> kept;
    for (size_t i = 0; i < spec.pods.size(); ++i) {
      if (!drop.count(static_cast<int>(i))) kept.push_back(std::move(spec.pods[i]));
    }
    spec.pods = std::move(kept);
  }
  for (int have_now = std::min(have, replicas), next = 0; have_now < replicas; ++have_now) {
    std::string name;
    for (;; ++next) {
      name = StrCat(dep->name, "-", next);
      if (spec.FindPod(name) == nullptr && spec.FindNode(KeyObject(name)) == nullptr &&
          std::none_of(spec.pods.begin(), spec.pods.end(),
                       [&](const PodSpec& o) { return KeyObject(o.name) == KeyObject(name); }))
        break;
    }
    // The least loaded node with room (lowest index on a tie), as the resolver spreads replicas.
    int best = -1;
    for (const NodeSpec& n : spec.nodes) {
      if (n.pods.size() + 4 >= n.pod_cidr.Size()) continue;
      if (best < 0 || n.pods.size() < spec.nodes[best].pods.size()) best = n.index;
    }
    if (best < 0) return absl::ResourceExhaustedError("no node has a free pod address");
    PodSpec p;
    p.name = name;
    p.ns = dep->ns;
    p.deployment = dep->name;
    p.node = best;
    p.labels = dep->labels;
    p.containers = dep->containers;
    p.netns = net::NetnsName(spec.name, KeyObject(name));
    MKN_ASSIGN_OR_RETURN(p.ip, NextAddress(spec, spec.nodes[best], std::nullopt));
    p.mac = net::Mac::FromIpv4(p.ip);
    p.host_veth = FreeVethName(spec, spec.nodes[best], name);
    spec.pods.push_back(std::move(p));
    ReindexNodes(spec);
    r.added.push_back(name);
  }
  dep->replicas = replicas;
  ReindexNodes(spec);
  RecomputeEndpoints(spec);
  spec_in = std::move(spec);
  return r;
}

absl::Status MatchLivePods(ClusterSpec& spec_in, const std::vector<LivePod>& live) {
  ClusterSpec spec = spec_in;  // all or nothing
  std::vector<PodSpec> pods;
  for (const LivePod& l : live) {
    const NodeSpec* node = spec.FindNode(l.node);
    if (node == nullptr)
      return absl::InvalidArgumentError(StrCat("pod ", l.name, ": no node \"", l.node, "\""));
    std::optional<net::Ipv4> ip = net::Ipv4::Parse(l.ip);
    if (!ip) return absl::InvalidArgumentError(StrCat("pod ", l.name, ": address \"", l.ip, "\""));
    const PodSpec* was = spec.FindPod(l.name);
    if (was == nullptr) {
      const DeploymentSpec* dep = spec.FindDeployment(l.deployment);
      if (dep == nullptr) {
        return absl::InvalidArgumentError(
            StrCat("pod ", l.name, ": not in the lab and of no deployment of it"));
      }
      PodSpec p;
      p.name = l.name;
      p.ns = dep->ns;
      p.deployment = dep->name;
      p.labels = dep->labels;
      p.containers = dep->containers;
      pods.push_back(std::move(p));
    } else {
      pods.push_back(*was);
      if (pods.back().node != node->index) pods.back().host_veth.clear();
    }
    PodSpec& p = pods.back();
    p.node = node->index;
    p.ip = *ip;
    p.mac = net::Mac::FromIpv4(*ip);
    if (!l.netns.empty()) p.netns = l.netns;
  }
  spec.pods = std::move(pods);
  ReindexNodes(spec);
  // Veths: the pods that kept theirs stay; each new or moved one, in order, the first free name.
  for (PodSpec& p : spec.pods) {
    if (p.host_veth.empty()) p.host_veth = FreeVethName(spec, spec.nodes[p.node], p.name);
  }
  for (DeploymentSpec& d : spec.deployments) {
    d.replicas =
        static_cast<int>(std::count_if(spec.pods.begin(), spec.pods.end(),
                                       [&](const PodSpec& p) { return p.deployment == d.name; }));
  }
  RecomputeEndpoints(spec);
  spec_in = std::move(spec);
  return absl::OkStatus();
}

ClusterSpec WithoutEndpoints(const ClusterSpec& spec, const std::vector<std::string>& pods) {
  ClusterSpec out = spec;
  for (ServiceSpec& s : out.services) {
    std::erase_if(s.endpoints, [&](int e) {
      return std::find(pods.begin(), pods.end(), out.pods[e].name) != pods.end();
    });
  }
  return out;
}

void RecomputeEndpoints(ClusterSpec& spec) {
  for (ServiceSpec& s : spec.services) {
    s.endpoints.clear();
    for (size_t k = 0; k < spec.pods.size(); ++k) {
      if (Matches(s, spec.pods[k])) s.endpoints.push_back(static_cast<int>(k));
    }
  }
}

std::vector<int> ServicesOfPod(const ClusterSpec& spec, int pod_index) {
  std::vector<int> out;
  if (pod_index < 0 || static_cast<size_t>(pod_index) >= spec.pods.size()) return out;
  for (size_t s = 0; s < spec.services.size(); ++s) {
    if (Matches(spec.services[s], spec.pods[pod_index])) out.push_back(static_cast<int>(s));
  }
  return out;
}

std::vector<NetworkPolicySpec> ComposePolicies(const std::vector<NetworkPolicySpec>& lab,
                                               const PolicyEdits& edits) {
  std::vector<NetworkPolicySpec> out;
  std::set<std::string> in_lab;
  auto applied = [&](const std::string& key) -> const NetworkPolicySpec* {
    for (const AppliedPolicy& a : edits.applied)
      if (a.spec.key() == key) return &a.spec;
    return nullptr;
  };
  for (const NetworkPolicySpec& p : lab) {
    const std::string key = p.key();
    in_lab.insert(key);
    if (std::find(edits.deleted.begin(), edits.deleted.end(), key) != edits.deleted.end()) continue;
    const NetworkPolicySpec* a = applied(key);
    out.push_back(a != nullptr ? *a : p);
  }
  for (const AppliedPolicy& a : edits.applied)
    if (in_lab.count(a.spec.key()) == 0) out.push_back(a.spec);
  return out;
}

std::string ApplyPolicy(PolicyEdits& edits, const std::vector<NetworkPolicySpec>& live,
                        AppliedPolicy p) {
  const std::string key = p.spec.key();
  std::string verdict = "created";
  for (const NetworkPolicySpec& l : live) {
    if (l.key() == key) verdict = l == p.spec ? "unchanged" : "configured";
  }
  edits.deleted.erase(std::remove(edits.deleted.begin(), edits.deleted.end(), key),
                      edits.deleted.end());
  for (AppliedPolicy& a : edits.applied) {
    if (a.spec.key() == key) {
      a = std::move(p);
      return verdict;
    }
  }
  edits.applied.push_back(std::move(p));
  return verdict;
}

absl::Status DeletePolicy(PolicyEdits& edits, const std::vector<NetworkPolicySpec>& lab,
                          const std::string& key) {
  bool live = false;
  for (const NetworkPolicySpec& p : ComposePolicies(lab, edits)) live |= p.key() == key;
  if (!live) return absl::NotFoundError(StrCat("no network_policy ", key));
  edits.applied.erase(std::remove_if(edits.applied.begin(), edits.applied.end(),
                                     [&](const AppliedPolicy& a) { return a.spec.key() == key; }),
                      edits.applied.end());
  for (const NetworkPolicySpec& p : lab) {
    if (p.key() == key) edits.deleted.push_back(key);
  }
  return absl::OkStatus();
}

}  // namespace mkn::config
