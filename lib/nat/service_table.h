// lib/nat/service_table — the Services of a cluster as hash maps: which endpoints serve a packet.
//
// Built from a resolved config::ClusterSpec. Lookup by (ClusterIP, port, protocol) and by (node
// port, protocol) is one absl::flat_hash_map probe: O(1) in the number of services, unlike an
// iptables chain that is walked rule by rule. Each service port carries its endpoints with the
// target port resolved per pod: a named target_port is looked up in that pod's container ports
// (with the same protocol), and a pod that does not declare the name is not an endpoint of that
// port, as Kubernetes' EndpointSlice controller does. Endpoints are replaced in O(endpoints) when a
// pod dies or is recreated; ServicePort ids and pointers stay valid for the table's lifetime.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/net/ip.h"

namespace mkn::nat {

struct Endpoint {
  net::Ipv4 ip;
  uint16_t port = 0;
  std::string pod;
  bool operator==(const Endpoint& o) const { return ip == o.ip && port == o.port; }
};

struct ServicePort {
  int id = 0;           // index in ServiceTable::ports(); stable
  std::string service;  // service name
  std::string name;     // port name, may be empty
  net::Ipv4 cluster_ip;
  uint16_t port = 0;
  config::Protocol protocol = config::Protocol::kTcp;
  uint16_t node_port = 0;  // 0 unless a NodePort service
  int target_port = 0;     // 0 when named
  std::string target_port_name;
  config::Algorithm algorithm = config::Algorithm::kRandom;
  bool affinity_client_ip = false;
  int64_t affinity_timeout_ms = 0;
  std::vector<Endpoint> endpoints;  // in pod order; empty = answer with RST / ICMP unreachable
  uint64_t generation = 0;          // bumped on every endpoint replacement

  // "svc:port" or "svc:80/TCP", for counters and listings.
  std::string Label() const;
};

class ServiceTable {
 public:
  ServiceTable() = default;

  // Builds the table. kInvalidArgument if two service ports claim the same (ClusterIP, port,
  // protocol) or (node port, protocol), or an endpoint index is out of range (Resolve() prevents
  // both).
  static absl::StatusOr<ServiceTable> Build(const config::ClusterSpec& spec);

  // nullptr if no service port matches.
  const ServicePort* Lookup(net::Ipv4 ip, uint16_t port, config::Protocol protocol) const;
  const ServicePort* LookupNodePort(uint16_t node_port, config::Protocol protocol) const;
  const ServicePort* Get(int id) const;

  // Replaces the endpoints of every port of `service` with the given pods (the ready pods matching
  // the selector), resolving target ports again. kNotFound if no such service.
  absl::Status ReplaceEndpoints(std::string_view service, const std::vector<config::PodSpec>& pods);
  // Replaces the endpoints of one port directly. kNotFound if no such id.
  absl::Status SetEndpoints(int id, std::vector<Endpoint> endpoints);

  const std::vector<ServicePort>& ports() const { return ports_; }
  // The ids of the ports of one service, in file order; empty if none.
  std::vector<int> PortsOf(std::string_view service) const;

 private:
  struct VipKey {
    uint32_t ip;
    uint16_t port;
    config::Protocol protocol;
    bool operator==(const VipKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const VipKey& k) {
      return H::combine(std::move(h), k.ip, k.port, k.protocol);
    }
  };
  struct NodePortKey {
    uint16_t port;
    config::Protocol protocol;
    bool operator==(const NodePortKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const NodePortKey& k) {
      return H::combine(std::move(h), k.port, k.protocol);
    }
  };

  std::vector<ServicePort> ports_;
  absl::flat_hash_map<VipKey, int> by_vip_;
  absl::flat_hash_map<NodePortKey, int> by_node_port_;
  absl::flat_hash_map<std::string, std::vector<int>> by_service_;
};

// The endpoints of `port` among `pods`, target port resolved per pod (see the banner).
std::vector<Endpoint> ResolveEndpoints(const ServicePort& port,
                                       const std::vector<config::PodSpec>& pods);

}  // namespace mkn::nat
