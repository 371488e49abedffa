// lib/netpol/policy — NetworkPolicy's meaning over a lab: which pods a policy selects, which pods
// and addresses a peer is, and the verdict for one connection (the model the kernel's rules are
// compiled from and checked against).
//
// Kubernetes semantics (networking.k8s.io/v1): a pod is isolated for a direction when at least one
// policy of its namespace selects it and has that direction in its policy types; an isolated pod
// accepts what the union of those policies' rules allows, a pod not isolated accepts everything.
// A connection needs the egress of its source and the ingress of its destination. Replies of an
// allowed connection are allowed (conntrack), and a pod's own node always reaches it. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/config/spec.h"
#include "lib/net/ip.h"

namespace mkn::netpol {

// For each pod of spec.pods (same index): the policies (indices into spec.network_policies) that
// isolate it, per direction.
struct Isolation {
  std::vector<int> ingress, egress;
};
std::vector<Isolation> Isolate(const config::ClusterSpec& spec);

// The labels of namespace `ns` (only its name label when the lab says nothing else).
const std::map<std::string, std::string>& NamespaceLabels(const config::ClusterSpec& spec,
                                                          const std::string& ns);

// Whether `peer` of a rule of `policy` selects pod `pod` (ip_block: by the pod's address, as the
// kernel sees it).
bool PeerSelectsPod(const config::ClusterSpec& spec, const config::NetworkPolicySpec& policy,
                    const config::PolicyPeerSpec& peer, const config::PodSpec& pod);

// A port rule's port for a destination pod: [first, last] (0, 0 = every port), or nullopt when a
// named port does not exist on that pod with that protocol (the rule allows nothing there).
std::optional<std::pair<int, int>> PortRange(const config::PolicyPortSpec& port,
                                             const config::PodSpec* dst);

// One end of a connection: a pod of the lab (its index), or an address outside the pods.
struct End {
  int pod = -1;
  net::Ipv4 ip;  // the pod's own when pod >= 0
};

// Whether a new connection src → dst:port/proto is allowed by every policy of the lab.
bool Allowed(const config::ClusterSpec& spec, End src, End dst, config::PolicyProtocol proto,
             int port);

}  // namespace mkn::netpol
