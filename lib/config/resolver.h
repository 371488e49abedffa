// lib/config/resolver — internal to lib/config: the one object Resolve() walks a lab with.
//
// Not part of the folder's contract (that is Resolve() in spec.h); nothing outside lib/config
// includes this header. A Resolver resolves one RawConfig once. Its steps live in one file per
// concern, because each is long and they share only this state:
//
//   resolve.cc            Run() (the order of the steps), Resolve(), the checks every step uses
//   resolve_cluster.cc    [cluster], [cni], the nodes: CIDRs, MTU, VNI, proxy mode, node ranges
//   resolve_racks.cc      racks, the routed underlay's addresses, a BGP lab's mode and ASNs
//   resolve_workloads.cc  [[pod]] and [[deployment]]: containers, CNI args, placement, addresses
//   resolve_services.cc   [[service]]: ports, selectors and endpoints, ClusterIPs, NodePorts
//   resolve_edge.cc       [[ingress]], [[listener]] and their TLS, backend references
//   resolve_routes.cc     [[http_route]]: matches, header modifiers, redirects
//   resolve_netpol.cc     [[namespace]], [[network_policy]]: selectors, peers, ports, types
//   resolve_expect.cc     [[expect]]: each row's ends, port, protocol and result
//
// The order of Run() is part of the output: later steps read what earlier ones filled (pods are
// placed on resolved nodes, services select placed pods, ingresses and routes name services,
// routes name listeners), and diagnostics are reported in the order the steps find them.
// Everything is pure: no I/O (paths are resolved lexically), no privileges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/diagnostics.h"
#include "lib/config/raw_config.h"
#include "lib/config/spec.h"
#include "lib/net/ip.h"
#include "lib/net/ip_addr.h"

namespace mkn::config::internal {

// A pod is collected from [[pod]] or a [[deployment]] before it is placed on a node.
struct PendingPod {
  PodSpec spec;
  SourcePos pos;
  Field<std::string> node;
  std::string object;  // of its netns name, mkn-<cluster>-<object>
  // The cluster DNS pod: placed on the first node after every pod of the lab, outside the
  // scheduler's count, so the lab's own pods keep their nodes and addresses.
  bool system = false;
};

// A lowercase DNS name, or one with a leading "*." (an Ingress or Gateway API wildcard host).
bool IsHostName(std::string_view h);

class Resolver {
 public:
  Resolver(const RawConfig& raw, Diagnostics& d) : raw_(raw), d_(d) {}

  // Every step in order; the spec, or nullopt when any step reported an error to `d`.
  std::optional<ClusterSpec> Run();
  // `apply`'s policies against a running lab's spec (ResolvePolicies in spec.h).
  std::optional<std::vector<NetworkPolicySpec>> RunPolicies(const ClusterSpec& live);

 private:
  // --- checks every step uses (resolve.cc) -------------------------------------------------------

  // A name: set, at most `max` bytes (`why` says what it must fit), a DNS label. Reports and
  // returns false otherwise (nothing is reported for a value of the wrong type: Parse() did).
  bool CheckName(const Field<std::string>& f, std::string_view what, size_t max,
                 std::string_view why);
  bool CheckPort(const Field<int64_t>& f, std::string_view what);
  // "TCP" (also when unset) or "UDP".
  std::optional<Protocol> ParseProtocol(const Field<std::string>& f, std::string_view what);
  std::string LabPath(const std::string& p) const;

  // --- the cluster and its nodes (resolve_cluster.cc) --------------------------------------------

  // `f`, or `def` when unset, as a network prefix (no host bits).
  std::optional<net::Prefix> Cidr(const Field<std::string>& f, std::string_view what,
                                  std::string_view def);
  void ResolveCluster();
  void ApplyCni(const RawCni& raw, std::string_view what, CniSpec& out);
  void ResolveCni();
  void ResolveNodes();

  // --- racks and BGP (resolve_racks.cc) ----------------------------------------------------------

  // How many racks, and whether the underlay is routed (run at the end of ResolveCluster).
  void CountRacks();
  std::optional<net::IpPrefix> RackCidr(const Field<std::string>& f, const std::string& what);
  void ResolveRacks();
  void AssignRacks();
  void AddressRacks();
  void ResolveBgp();

  // --- the world outside (resolve_world.cc) ------------------------------------------------------

  void ResolveWorld();

  // --- namespaces (resolve_netpol.cc) -----------------------------------------------------------

  // [[namespace]] tables, then every namespace a workload or policy names (with no labels but its
  // name's), so that later steps can check names against spec_.namespaces.
  void ResolveNamespaces();
  // A workload's `namespace` (default "default"): checked; "" (reported) when bad.
  std::string NamespaceOf(const Field<std::string>& f, std::string_view what);

  // --- pods and deployments (resolve_workloads.cc) -----------------------------------------------

  void ResolvePodCni(const RawPodCni& rc, SourcePos pod_pos, const std::string& what,
                     PodCniSpec& out);
  std::optional<ContainerSpec> ResolveContainer(const RawContainer& rc, size_t i,
                                                const std::string& owner);
  void ResolveContainers(const std::vector<RawContainer>& raw, SourcePos pos,
                         const std::string& owner, std::vector<ContainerSpec>& out);
  void AddPending(PendingPod p);
  void CollectPods();
  void AddDnsPod();
  void PlacePods();

  // --- services (resolve_services.cc) ------------------------------------------------------------

  void AddDnsService(std::set<uint32_t>& used_ips);
  void ResolveServices();
  void ResolveServicePorts(const RawService& rs, const std::string& what, ServiceSpec& s,
                           std::set<int>& used_node_ports);

  // --- ingresses and listeners (resolve_edge.cc) -------------------------------------------------

  // A service of namespace `ns` and one of its ports (number or name); used by ingresses and HTTP
  // routes alike. The BackendRef names the service by its key.
  std::optional<BackendRef> ResolveBackend(const RawBackend& rb, std::string_view ns,
                                           const std::string& what);
  void ResolveIngresses();
  std::string NodeNames() const;
  std::optional<TlsCertSpec> ResolveTls(const RawListenerTls& rt, const std::string& what);
  void ResolveListeners();

  // --- HTTP routes (resolve_routes.cc) -----------------------------------------------------------

  std::string ListenerNames() const;
  std::optional<HttpRouteMatchSpec> ResolveMatch(const RawHttpRouteMatch& rm,
                                                 const std::string& what);
  void ResolveModifier(const RawHeaderModifier& rm, const std::string& what,
                       HeaderModifierSpec& out);
  std::optional<RedirectSpec> ResolveRedirect(const RawRedirect& rr, const std::string& what);
  void ResolveHttpRoutes();

  // --- NetworkPolicy (resolve_netpol.cc) ---------------------------------------------------------

  std::optional<LabelSelector> ResolveSelector(const RawLabelSelector& raw,
                                               const std::string& what);
  std::optional<PolicyRuleSpec> ResolvePolicyRule(const RawPolicyRule& raw, bool ingress,
                                                  const std::string& what);
  void ResolveNetworkPolicies();

  // --- expectations (resolve_expect.cc) ----------------------------------------------------------

  std::optional<ExpectEnd> ResolveExpectEnd(const RawExpectEnd& raw, bool from,
                                            const std::string& what);
  void ResolveExpect(const RawExpect& re, const std::string& what);
  void ResolveExpects();

  const RawConfig& raw_;
  Diagnostics& d_;
  ClusterSpec spec_;
  // The cluster's ranges, reset when invalid so later steps skip what depends on them.
  std::optional<net::Prefix> pod_cidr_, service_cidr_, underlay_cidr_;
  std::vector<Field<std::string>> node_cidr_fields_;  // each node's pod_cidr as written
  std::vector<SourcePos> node_pos_;
  bool nodes_ok_ = false;  // every node got a pod range (addresses can be handed out)
  int rack_count_ = 1;
  std::set<std::string> fabric_names_;  // a routed underlay's router objects: tor-<rack>, spine
  std::set<std::string> pod_names_;     // keys
  std::set<std::string> pod_objects_;   // the <object> of their mkn-<cluster>-<object> netns
  std::vector<PendingPod> pending_;
  bool live_ = false;  // RunPolicies: namespaces are the running lab's, none is made
};

}  // namespace mkn::config::internal
