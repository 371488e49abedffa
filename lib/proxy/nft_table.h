// lib/proxy/nft_table — the nftables proxy mode's table in a node, as data: built from a spec,
// written whole (the full sync) or as the difference to the next spec (a delta).
//
// kube-proxy's nftables proxier keeps what it last wrote and, on a change, writes only the chains
// and map elements of the services that changed, in one transaction (pkg/proxy/nftables/proxier.go:
// partial syncs). NftTable does the same, as a pure value: Build() makes the table a spec wants,
// RenderFull() is the one transaction that (re)creates it, Plan() compares it with the next spec
// and returns the transaction that turns one into the other (empty when nothing changed), and
// Commit() makes the table that one once the kernel took the transaction. Same input, same text.
//
// The shape (docs/services-nftables.md; kube-proxy's names where kube-proxy has the object):
//
//   nat-prerouting / nat-output:  jump services, then jump endpoints
//   services:   ip daddr @cluster-ips ip saddr != <pod CIDR> jump mark-for-masquerade
//               ip daddr . meta l4proto . th dport vmap @service-ips       (every service port)
//               fib daddr type local ... vmap @service-nodeports           (every NodePort)
//   service-ips element -> a pick: the shared pick-random / pick-source-hash chain, which finds the
//       port in a set per endpoint count (@pick-random-3) and sets `ct mark` to a slot 1..N with
//       numgen / jhash ... offset 1; or the port's own service-<H>-... chain when the pick keeps
//       state or has two ways in: round-robin (its numgen counter), ClientIP affinity (its sets),
//       NodePort (external-<H>-... marks for masquerade and joins it).
//   endpoints:  dnat ip to ip daddr . meta l4proto . th dport . ct mark map @service-endpoints
//               (and the NodePort twin, keyed by protocol . node port . slot)
//   nat-postrouting -> masquerading: an endpoint reaching itself (@hairpin) and marked flows.
//
// Why not kube-proxy's chain per endpoint and anonymous `numgen ... vmap { ... }` per service: on
// this kernel every anonymous set makes the transaction walk its whole log (10 000 services took
// 27-37 s), every rule costs ~15 us to load, and libnftables reads every chain of the ruleset
// before any `add element` (40-60 ms per change at 10 000 chains). Here a service costs map
// elements, not rules: 10 000 services with 4 endpoints each are ~70 000 elements and a handful of
// chains, and an endpoint change is a few element commands. A change never rewrites a rule that
// holds state of another service: a round-robin counter lives in its own chain's rule, affinity
// sets are never flushed; both survive every update that does not change their own service's
// endpoint count (docs/BENCHMARKS.md, Services).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/config/spec.h"
#include "lib/net/ip.h"

namespace mkn::proxy {

// nft's word for a Service port's protocol (its `meta l4proto`, `th dport` match): tcp or udp.
inline std::string_view NftProto(config::Protocol p) {
  return p == config::Protocol::kTcp ? "tcp" : "udp";
}

// An element of a set or map: its value ("" in a set) and its comment ("" for none).
struct NftElement {
  std::string value;
  std::string comment;
  bool operator==(const NftElement&) const = default;
};

// A set or map: the lines of its declaration ("type ...", "flags ...", "counter", "comment ...").
// A dynamic set's elements are the data path's (affinity): never written, never compared.
struct NftSetDecl {
  bool map = false;
  bool dynamic = false;
  std::vector<std::string> decl;
  bool operator==(const NftSetDecl&) const = default;
};

// A chain: its declaration lines (a base chain's "type ... hook ...", a comment) and its rules.
struct NftChain {
  std::vector<std::string> decl;
  std::vector<std::string> rules;
  bool operator==(const NftChain&) const = default;
};

// An endpoint of a service port as the table uses it: address and target port.
struct NftEndpoint {
  net::Ipv4 ip;
  int port = 0;
  bool operator==(const NftEndpoint&) const = default;
};

// The endpoints of a service port, target ports resolved per pod as the userspace proxy does
// (lib/nat ResolveEndpoints: a pod without the named target port is no endpoint of that port), in
// the order of ServiceSpec::endpoints. Endpoint indices out of range are skipped.
std::vector<NftEndpoint> ResolveNftEndpoints(const config::ClusterSpec& spec,
                                             const config::ServiceSpec& svc,
                                             const config::ServicePortSpec& port);

// Everything of a service port but its endpoints: when it changes, the table needs a full sync.
struct NftPortDefinition {
  std::string service, name, target_port_name;
  config::ServiceType type = config::ServiceType::kClusterIp;
  config::Algorithm algorithm = config::Algorithm::kRandom;
  config::Protocol protocol = config::Protocol::kTcp;
  net::Ipv4 cluster_ip;
  bool affinity = false;
  int affinity_timeout = 0, port = 0, target_port = 0, node_port = 0;
  bool operator==(const NftPortDefinition&) const = default;
};

// What one service port puts in the table.
struct NftPortPart {
  NftPortDefinition definition;
  std::vector<NftEndpoint> endpoints;
  // ((set, key), element), sorted by (set, key): its entries in the shared sets and maps
  // (service-ips, pick-random-3, service-endpoints, hairpin, ...). Entries two ports share (a
  // ClusterIP, an endpoint address in @hairpin) are counted, not duplicated.
  std::vector<std::pair<std::pair<std::string, std::string>, NftElement>> elements;
  std::map<std::string, NftChain> chains;  // its own: service-..., external-...
  std::map<std::string, NftSetDecl> sets;  // its own: affinity-...
  bool operator==(const NftPortPart&) const = default;
};

class NftTable;

// The transaction Plan() found, and what Commit() needs to make the table match it.
struct NftUpdate {
  std::string text;        // "" when nothing changes; else one transaction (nft -f)
  int commands = 0;        // lines of `text` that change something
  bool full_sync = false;  // the change cannot be a delta (the services themselves changed):
                           // `text` is RenderFull() of the next spec
  std::vector<std::pair<size_t, NftPortPart>> parts;  // port index -> its new part
  std::shared_ptr<const NftTable> replacement;        // full_sync: the whole next table
};

class NftTable {
 public:
  // The table `spec` wants (the same in every node: nothing in it depends on where a backend runs).
  static NftTable Build(const config::ClusterSpec& spec);

  // One transaction that creates the table if missing, deletes it, and writes it whole: what `up`
  // and a resync load. `banner` lines are written first as "# " comments.
  std::string RenderFull(const std::vector<std::string>& banner = {}) const;

  // The transaction from this table to the one `next` wants: only the elements, chains and sets of
  // the service ports whose endpoints changed (and the pick sets and chains their endpoint counts
  // bring or leave), deletions of what references a thing before the thing. Empty text when nothing
  // changed. If the services themselves differ (a port, an address, an algorithm: never by kill
  // or scale), a full sync (full_sync, text = the next table's RenderFull()). Pure; O(number of
  // service ports) to find what changed, then O(what changed).
  //
  // `changed`, when given, names the services (indices into next.services) whose endpoints may
  // have changed, as a caller that made the change knows (kube-proxy's change tracker): only their
  // ports are compared, O(what changed) in all. The other services must be as they were.
  NftUpdate Plan(const config::ClusterSpec& next, const std::vector<int>* changed = nullptr) const;

  // Makes this table the one `update` was planned to (call once the kernel took update.text).
  void Commit(NftUpdate update);

  // The table as nft would list it, for tests: sets (with their elements) and chains by name.
  std::map<std::string, std::pair<NftSetDecl, std::map<std::string, NftElement>>> Sets() const;
  std::map<std::string, NftChain> Chains() const;

  size_t port_count() const { return ports_.size(); }

 private:
  struct Counted {
    NftElement element;
    int count = 0;
  };
  using ElementKey = std::pair<std::string, std::string>;

  void Add(const NftPortPart& part);
  void Remove(const NftPortPart& part);
  // The pick sets in use (pick-random-3, ...) from the element counts, by algorithm.
  std::map<std::string, std::map<int, std::string>> PickSets() const;
  std::map<std::string, NftChain> PickChains() const;
  // Every set's declaration: the static ones, the pick sets in use, the ports' own (affinity).
  std::map<std::string, NftSetDecl> SetDecls() const;

  std::string pod_cidr_, service_cidr_;
  std::vector<NftPortPart> ports_;  // service ports in spec order (service, then port)
  std::vector<size_t> first_port_;  // service i's ports are ports_[first_port_[i] .. [i + 1])
  std::map<ElementKey, Counted> elements_;
  std::map<std::string, int> set_sizes_;  // elements per set, for the pick sets
};

}  // namespace mkn::proxy
