// The small functions of spec.h: enum names as the lab file and the plan print them, and lookups
// by name in a ClusterSpec.

#include "lib/config/spec.h"

#include <algorithm>

#include "lib/strings/str_cat.h"

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
    case AppKind::kDns:
      return "cluster-dns";
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

const NamespaceSpec* ClusterSpec::FindNamespace(std::string_view n) const {
  for (const NamespaceSpec& ns : namespaces) {
    if (ns.name == n) return &ns;
  }
  return nullptr;
}

const ServiceSpec* ClusterSpec::FindService(std::string_view key) const {
  for (const ServiceSpec& s : services) {
    if (s.name == key) return &s;
  }
  return nullptr;
}

std::optional<net::Ipv4> ClusterSpec::DnsIp() const {
  if (!dns) return std::nullopt;
  const ServiceSpec* s = FindService(QualifiedName(kSystemNamespace, kDnsServiceName));
  if (s == nullptr) return std::nullopt;
  return s->cluster_ip;
}

std::string QualifiedName(std::string_view ns, std::string_view name) {
  if (ns.empty() || ns == kDefaultNamespace) return std::string(name);
  return StrCat(ns, "/", name);
}

std::string_view NamespaceOfKey(std::string_view key) {
  size_t slash = key.find('/');
  return slash == std::string_view::npos ? kDefaultNamespace : key.substr(0, slash);
}

std::string_view NameOfKey(std::string_view key) {
  size_t slash = key.find('/');
  return slash == std::string_view::npos ? key : key.substr(slash + 1);
}

std::string KeyObject(std::string_view key) {
  std::string out(key);
  std::replace(out.begin(), out.end(), '/', '-');
  return out;
}

std::string_view ToString(SelectorOp op) {
  switch (op) {
    case SelectorOp::kIn:
      return "In";
    case SelectorOp::kNotIn:
      return "NotIn";
    case SelectorOp::kExists:
      return "Exists";
    case SelectorOp::kDoesNotExist:
      return "DoesNotExist";
  }
  return "In";
}

std::string_view ToString(PolicyProtocol p) { return p == PolicyProtocol::kUdp ? "UDP" : "TCP"; }

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& [k, v] : match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const SelectorRequirement& r : match_expressions) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool in =
        has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.op) {
      case SelectorOp::kIn:
        if (!in) return false;
        break;
      case SelectorOp::kNotIn:  // as Kubernetes: a pod without the key is "not in"
        if (in) return false;
        break;
      case SelectorOp::kExists:
        if (!has) return false;
        break;
      case SelectorOp::kDoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

std::string LabelSelector::ToString() const {
  std::vector<std::string> parts;
  for (const auto& [k, v] : match_labels) parts.push_back(StrCat(k, "=", v));
  for (const SelectorRequirement& r : match_expressions) {
    switch (r.op) {
      case SelectorOp::kIn:
      case SelectorOp::kNotIn: {
        std::string vals;
        for (const std::string& v : r.values) vals += (vals.empty() ? "" : ",") + v;
        parts.push_back(StrCat(r.key, r.op == SelectorOp::kIn ? " in (" : " notin (", vals, ")"));
        break;
      }
      case SelectorOp::kExists:
        parts.push_back(r.key);
        break;
      case SelectorOp::kDoesNotExist:
        parts.push_back(StrCat("!", r.key));
        break;
    }
  }
  if (parts.empty()) return "<all>";
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

}  // namespace mkn::config
