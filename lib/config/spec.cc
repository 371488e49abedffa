// The small functions of spec.h: enum names as the lab file and the plan print them, and lookups
// by name in a ClusterSpec.

#include "lib/config/spec.h"

namespace mkn::config {

std::string_view ToString(NetworkMode m) {
  switch (m) {
    case NetworkMode::kVxlan:
      return "vxlan";
    case NetworkMode::kHostGw:
      return "host-gw";
    case NetworkMode::kGeneve:
      return "geneve";
    case NetworkMode::kBgp:
      return "bgp";
  }
  return "?";
}
std::string_view ToString(BgpMode m) {
  switch (m) {
    case BgpMode::kEbgp:
      return "ebgp";
    case BgpMode::kFullMesh:
      return "full-mesh";
    case BgpMode::kRouteReflector:
      return "route-reflector";
  }
  return "?";
}
bool IsPrivateAsn(int64_t asn) {
  return (asn >= 64512 && asn <= 65534) || (asn >= 4200000000 && asn <= 4294967294);
}
std::string_view ToString(NodeRoutes r) {
  switch (r) {
    case NodeRoutes::kHostGw:
      return "host-gw";
    case NodeRoutes::kVxlan:
      return "vxlan";
    case NodeRoutes::kPlugin:
      return "plugin";
    case NodeRoutes::kGeneve:
      return "geneve";
    case NodeRoutes::kBgp:
      return "bgp";
  }
  return "?";
}
std::string_view ToString(ProxyMode m) {
  switch (m) {
    case ProxyMode::kUserspace:
      return "userspace";
    case ProxyMode::kNftables:
      return "nftables";
    case ProxyMode::kEbpf:
      return "ebpf";
  }
  return "?";
}
std::string_view ToString(AppKind a) {
  switch (a) {
    case AppKind::kHttpEcho:
      return "http-echo";
    case AppKind::kTcpEcho:
      return "tcp-echo";
    case AppKind::kUdpEcho:
      return "udp-echo";
    default:
      return "command";
  }
}
std::string_view ToString(Protocol p) { return p == Protocol::kTcp ? "TCP" : "UDP"; }
std::string_view ToString(ServiceType t) {
  return t == ServiceType::kClusterIp ? "ClusterIP" : "NodePort";
}
std::string_view ToString(Algorithm a) {
  switch (a) {
    case Algorithm::kRoundRobin:
      return "round-robin";
    case Algorithm::kLeastConn:
      return "least-conn";
    case Algorithm::kSourceHash:
      return "source-hash";
    default:
      return "random";
  }
}
std::string_view ToString(PathType t) { return t == PathType::kExact ? "Exact" : "Prefix"; }

const PodSpec* ClusterSpec::FindPod(std::string_view n) const {
  for (const PodSpec& p : pods) {
    if (p.name == n) return &p;
  }
  return nullptr;
}

const NodeSpec* ClusterSpec::FindNode(std::string_view n) const {
  for (const NodeSpec& node : nodes) {
    if (node.name == n) return &node;
  }
  return nullptr;
}

const DeploymentSpec* ClusterSpec::FindDeployment(std::string_view n) const {
  for (const DeploymentSpec& d : deployments) {
    if (d.name == n) return &d;
  }
  return nullptr;
}

}  // namespace mkn::config
