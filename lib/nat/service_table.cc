#include "lib/nat/service_table.h"

#include <utility>

#include "lib/strings/str_cat.h"

namespace mkn::nat {

std::string ServicePort::Label() const {
  if (!name.empty()) return StrCat(service, ":", name);
  return StrCat(service, ":", int{port}, "/", config::ToString(protocol));
}

std::vector<Endpoint> ResolveEndpoints(const ServicePort& port,
                                       const std::vector<config::PodSpec>& pods) {
  std::vector<Endpoint> out;
  out.reserve(pods.size());
  for (const config::PodSpec& pod : pods) {
    int target = port.target_port;
    if (!port.target_port_name.empty()) {
      target = 0;
      for (const config::ContainerSpec& c : pod.containers) {
        for (const config::ContainerPort& cp : c.ports) {
          if (cp.name == port.target_port_name && cp.protocol == port.protocol) target = cp.port;
        }
      }
      if (target == 0) continue;  // this pod does not serve the named port
    }
    if (target == 0) target = port.port;  // Kubernetes: target_port defaults to port
    out.push_back(Endpoint{pod.ip, static_cast<uint16_t>(target), pod.name});
  }
  return out;
}

absl::StatusOr<ServiceTable> ServiceTable::Build(const config::ClusterSpec& spec) {
  ServiceTable t;
  for (const config::ServiceSpec& svc : spec.services) {
    if (svc.headless) continue;  // no ClusterIP to translate (cluster_ip = "None")
    std::vector<config::PodSpec> pods;
    for (int i : svc.endpoints) {
      if (i < 0 || static_cast<size_t>(i) >= spec.pods.size()) {
        return absl::InvalidArgumentError(
            StrCat("service ", svc.name, ": endpoint pod index ", i, " out of range"));
      }
      pods.push_back(spec.pods[i]);
    }
    for (const config::ServicePortSpec& ps : svc.ports) {
      ServicePort p;
      p.id = static_cast<int>(t.ports_.size());
      p.service = svc.name;
      p.name = ps.name;
      p.cluster_ip = svc.cluster_ip;
      p.port = static_cast<uint16_t>(ps.port);
      p.protocol = ps.protocol;
      p.node_port =
          svc.type == config::ServiceType::kNodePort ? static_cast<uint16_t>(ps.node_port) : 0;
      p.target_port = ps.target_port;
      p.target_port_name = ps.target_port_name;
      p.algorithm = svc.algorithm;
      p.affinity_client_ip = svc.affinity_client_ip;
      p.affinity_timeout_ms = int64_t{svc.affinity_timeout} * 1000;
      p.endpoints = ResolveEndpoints(p, pods);
      if (!t.by_vip_.try_emplace(VipKey{p.cluster_ip.value, p.port, p.protocol}, p.id).second) {
        return absl::InvalidArgumentError(StrCat("service ", svc.name, ": ",
                                                 p.cluster_ip.ToString(), ":", int{p.port},
                                                 " is already taken"));
      }
      if (p.node_port != 0 &&
          !t.by_node_port_.try_emplace(NodePortKey{p.node_port, p.protocol}, p.id).second) {
        return absl::InvalidArgumentError(
            StrCat("service ", svc.name, ": node port ", int{p.node_port}, " is already taken"));
      }
      t.by_service_[svc.name].push_back(p.id);
      t.ports_.push_back(std::move(p));
    }
  }
  return t;
}

const ServicePort* ServiceTable::Lookup(net::Ipv4 ip, uint16_t port,
                                        config::Protocol protocol) const {
  auto it = by_vip_.find(VipKey{ip.value, port, protocol});
  return it == by_vip_.end() ? nullptr : &ports_[it->second];
}

const ServicePort* ServiceTable::LookupNodePort(uint16_t node_port,
                                                config::Protocol protocol) const {
  auto it = by_node_port_.find(NodePortKey{node_port, protocol});
  return it == by_node_port_.end() ? nullptr : &ports_[it->second];
}

const ServicePort* ServiceTable::Get(int id) const {
  if (id < 0 || static_cast<size_t>(id) >= ports_.size()) return nullptr;
  return &ports_[id];
}

std::vector<int> ServiceTable::PortsOf(std::string_view service) const {
  auto it = by_service_.find(std::string(service));
  return it == by_service_.end() ? std::vector<int>{} : it->second;
}

absl::Status ServiceTable::ReplaceEndpoints(std::string_view service,
                                            const std::vector<config::PodSpec>& pods) {
  auto it = by_service_.find(std::string(service));
  if (it == by_service_.end()) return absl::NotFoundError(StrCat("no service ", service));
  for (int id : it->second) {
    ServicePort& p = ports_[id];
    p.endpoints = ResolveEndpoints(p, pods);
    ++p.generation;
  }
  return absl::OkStatus();
}

absl::Status ServiceTable::SetEndpoints(int id, std::vector<Endpoint> endpoints) {
  if (id < 0 || static_cast<size_t>(id) >= ports_.size()) {
    return absl::NotFoundError(StrCat("no service port ", id));
  }
  ports_[id].endpoints = std::move(endpoints);
  ++ports_[id].generation;
  return absl::OkStatus();
}

}  // namespace mkn::nat
