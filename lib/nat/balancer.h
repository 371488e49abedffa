// lib/nat/balancer — which endpoint a new flow goes to, per service algorithm.
//
//   random       uniform, as kube-proxy's iptables chain does it: endpoint i of n is taken with
//                probability 1/(n-i) if none before it was (`-m statistic --mode random
//                --probability 1/n`, then 1/(n-1), ..., the last unconditionally).
//   round-robin  IPVS `rr`: a cursor per service port walking the endpoint list.
//   least-conn   IPVS `lc`: the endpoint with the least overhead = active*256 + inactive, first
//                one on a tie. Counts come from conntrack through OnFlowClassChange().
//   source-hash  IPVS `sh`: the client address hashed (Knuth's multiplicative hash, as ip_vs_sh)
//                into 256 buckets dealt round-robin over the endpoints: a client keeps its endpoint
//                while the endpoint list is unchanged.
// ClientIP session affinity (any algorithm) overrides the choice: a client that chose an endpoint
// of a service port within the last affinity timeout gets it again, as kube-proxy's `recent` module
// does; the entry is refreshed by every new flow and dropped when the endpoint disappears.
//
// Deterministic: randomness comes from a generator seeded by the caller; time is `now` in ms.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "lib/nat/conntrack.h"
#include "lib/nat/service_table.h"
#include "lib/net/ip.h"

namespace mkn::nat {

class Balancer {
 public:
  explicit Balancer(uint64_t seed) : rng_(seed) {}

  // Index into port.endpoints of the endpoint for a new flow from `client`; nullopt if there is
  // none.
  std::optional<size_t> Pick(const ServicePort& port, net::Ipv4 client, int64_t now);

  // Conntrack observer: keeps least-conn counts. Wire with Conntrack::set_observer.
  void OnFlowClassChange(const Flow& flow, FlowClass before, FlowClass after);

  // Forgets affinity entries of `port` whose endpoint is gone (call after its endpoints changed).
  void EndpointsChanged(const ServicePort& port);
  // Drops affinity entries idle longer than their timeout. O(entries); for a periodic sweep.
  size_t ExpireAffinity(int64_t now);

  struct Load {
    uint32_t active = 0;
    uint32_t inactive = 0;
  };
  Load LoadOf(int port_id, net::Ipv4 ip, uint16_t port) const;
  size_t affinity_entries() const { return affinity_.size(); }

 private:
  struct EndpointKey {
    int port_id;
    uint32_t ip;
    uint16_t port;
    bool operator==(const EndpointKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const EndpointKey& k) {
      return H::combine(std::move(h), k.port_id, k.ip, k.port);
    }
  };
  struct ClientKey {
    int port_id;
    uint32_t client;
    bool operator==(const ClientKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const ClientKey& k) {
      return H::combine(std::move(h), k.port_id, k.client);
    }
  };
  struct Affinity {
    net::Ipv4 ip;
    uint16_t port;
    int64_t last_used_ms;
    int64_t timeout_ms;
  };

  size_t PickRandom(size_t n);
  size_t PickLeastConn(const ServicePort& port) const;

  std::mt19937_64 rng_;
  absl::flat_hash_map<int, size_t> rr_cursor_;
  absl::flat_hash_map<EndpointKey, Load> load_;
  absl::flat_hash_map<ClientKey, Affinity> affinity_;
};

// IPVS sh's bucket of a client address (0..255).
uint32_t SourceHashBucket(net::Ipv4 client);

}  // namespace mkn::nat
