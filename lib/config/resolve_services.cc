// The Services of Resolve() (resolver.h): type, session affinity, algorithm, the pods a selector
// picks as endpoints, ports and target ports, then ClusterIPs and NodePorts, fixed ones first and
// the rest allocated in order.

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "lib/config/resolver.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::config::internal {

void Resolver::ResolveServices() {
  std::set<std::string> names;
  std::set<uint32_t> used_ips;
  std::set<int> used_node_ports;
  std::vector<std::pair<size_t, const RawService*>> auto_ip;
  for (size_t i = 0; i < raw_.services.size(); ++i) {
    const RawService& rs = raw_.services[i];
    std::string what =
        rs.name.set ? StrCat("service \"", rs.name.value, "\"") : StrCat("service #", i + 1);
    ServiceSpec s;
    s.ns = NamespaceOf(rs.ns, what);
    if (s.ns.empty()) s.ns = std::string(kDefaultNamespace);  // reported; checked as "default"
    s.name = QualifiedName(s.ns, rs.name.value);
    if (CheckName(rs.name, what, net::kMaxPodName, "a Kubernetes service name") &&
        !names.insert(s.name).second) {
      d_.Error(rs.name.pos, StrCat(what, ": duplicate service name"));
    }
    if (rs.type.set && rs.type.value != "ClusterIP" && rs.type.value != "NodePort") {
      d_.Error(rs.type.pos,
               StrCat(what, ": type \"", rs.type.value, "\" is not \"ClusterIP\" or \"NodePort\""));
    }
    s.type = rs.type.value == "NodePort" ? ServiceType::kNodePort : ServiceType::kClusterIp;
    s.selector = rs.selector.value;
    if (rs.session_affinity.set && rs.session_affinity.value != "None" &&
        rs.session_affinity.value != "ClientIP") {
      d_.Error(rs.session_affinity.pos,
               StrCat(what, ": session_affinity \"", rs.session_affinity.value,
                      "\" is not \"None\" or \"ClientIP\""));
    }
    s.affinity_client_ip = rs.session_affinity.value == "ClientIP";
    if (rs.affinity_timeout.set) {
      if (!s.affinity_client_ip) {
        d_.Error(rs.affinity_timeout.pos,
                 StrCat(what, ": affinity_timeout needs session_affinity = \"ClientIP\""));
      } else if (rs.affinity_timeout.value < 1 || rs.affinity_timeout.value > 86400) {
        d_.Error(rs.affinity_timeout.pos,
                 StrCat(what, ": affinity_timeout ", rs.affinity_timeout.value,
                        " is out of range 1-86400 seconds"));
      } else {
        s.affinity_timeout = static_cast<int>(rs.affinity_timeout.value);
      }
    }
    static const std::map<std::string, Algorithm> kAlgorithms = {
        {"random", Algorithm::kRandom},
        {"round-robin", Algorithm::kRoundRobin},
        {"least-conn", Algorithm::kLeastConn},
        {"source-hash", Algorithm::kSourceHash}};
    if (rs.algorithm.set) {
      auto it = kAlgorithms.find(rs.algorithm.value);
      if (it == kAlgorithms.end()) {
        d_.Error(rs.algorithm.pos,
                 StrCat(what, ": algorithm \"", rs.algorithm.value,
                        "\" is not random, round-robin, least-conn or source-hash"));
      } else {
        s.algorithm = it->second;
        // The socket load balancer picks at connect() with bpf_get_prandom_u32(): it keeps no
        // position, connection count or hash to serve the others by (get svc marks them random*).
        if (spec_.proxy_mode == ProxyMode::kEbpf && s.algorithm != Algorithm::kRandom) {
          d_.Warning(rs.algorithm.pos,
                     StrCat(what, ": algorithm \"", rs.algorithm.value,
                            "\" is served as \"random\" in proxy_mode = \"ebpf\" (its programs "
                            "pick a backend at connect())"));
        }
        // No nftables expression reads a backend's connection count (kube-proxy's nftables mode
        // has no least-conn either): the ruleset picks with numgen random (get svc marks it).
        if (spec_.proxy_mode == ProxyMode::kNftables && s.algorithm == Algorithm::kLeastConn) {
          d_.Warning(rs.algorithm.pos,
                     StrCat(what,
                            ": algorithm \"least-conn\" is served as \"random\" in proxy_mode = "
                            "\"nftables\" (no rule can read a backend's connection count)"));
        }
      }
    }
    // Endpoints: pods whose labels contain every selector pair.
    for (size_t k = 0; k < spec_.pods.size(); ++k) {
      const PodSpec& p = spec_.pods[k];
      bool match = !s.selector.empty() && p.ns == s.ns &&
                   std::all_of(s.selector.begin(), s.selector.end(), [&](const auto& kv) {
                     auto it = p.labels.find(kv.first);
                     return it != p.labels.end() && it->second == kv.second;
                   });
      if (match) s.endpoints.push_back(static_cast<int>(k));
    }
    if (s.selector.empty()) {
      d_.Warning(rs.selector.set ? rs.selector.pos : rs.pos,
                 StrCat(what, ": no selector, so no endpoints"));
    } else if (s.endpoints.empty()) {
      d_.Warning(rs.selector.pos, StrCat(what, ": selector matches no pod"));
    }
    ResolveServicePorts(rs, what, s, used_node_ports);
    if (rs.cluster_ip.set && rs.cluster_ip.value == "None") {
      // Headless: no address and no NAT; the cluster DNS answers the name with the endpoints.
      s.headless = true;
      if (s.type == ServiceType::kNodePort) {
        d_.Error(rs.cluster_ip.pos,
                 StrCat(what,
                        ": cluster_ip = \"None\" (headless) cannot be type = \"NodePort\" "
                        "(a NodePort forwards to a ClusterIP)"));
      }
    } else if (rs.cluster_ip.set) {
      std::optional<net::Ipv4> ip = net::Ipv4::Parse(rs.cluster_ip.value);
      if (!ip) {
        d_.Error(rs.cluster_ip.pos, StrCat(what, ": cluster_ip \"", rs.cluster_ip.value,
                                           "\" is not an IPv4 address or \"None\""));
      } else if (service_cidr_ &&
                 (!service_cidr_->Contains(*ip) || *ip == service_cidr_->Host(0) ||
                  ip->value == service_cidr_->Host(service_cidr_->Size() - 1).value)) {
        d_.Error(rs.cluster_ip.pos,
                 StrCat(what, ": cluster_ip ", ip->ToString(),
                        " is not a usable address of service_cidr ", service_cidr_->ToString()));
      } else if (!used_ips.insert(ip->value).second) {
        d_.Error(rs.cluster_ip.pos,
                 StrCat(what, ": cluster_ip ", ip->ToString(), " is already taken"));
      } else {
        s.cluster_ip = *ip;
      }
    } else {
      auto_ip.emplace_back(spec_.services.size(), &rs);
    }
    spec_.services.push_back(std::move(s));
  }
  if (!service_cidr_) return;
  if (spec_.dns && spec_.FindService(QualifiedName(kSystemNamespace, kDnsServiceName)) != nullptr) {
    d_.Error(raw_.cluster.dns.set ? raw_.cluster.dns.pos : raw_.cluster.pos,
             StrCat("service \"", QualifiedName(kSystemNamespace, kDnsServiceName),
                    "\" is the cluster DNS's: rename yours, or set [cluster] dns = false"));
    return;
  }
  uint64_t next = 1;
  for (auto [idx, rs] : auto_ip) {
    while (next < service_cidr_->Size() - 1 && used_ips.count(service_cidr_->Host(next).value))
      ++next;
    if (next >= service_cidr_->Size() - 1) {
      d_.Error(rs->pos, StrCat("[cluster] service_cidr ", service_cidr_->ToString(),
                               " has no address left for service \"", rs->name.value, "\""));
      return;
    }
    spec_.services[idx].cluster_ip = service_cidr_->Host(next);
    used_ips.insert(service_cidr_->Host(next).value);
  }
  if (spec_.dns) AddDnsService(used_ips);
  // NodePorts without a number are allocated after every fixed one is known.
  int next_port = 30000;
  for (ServiceSpec& s : spec_.services) {
    for (ServicePortSpec& p : s.ports) {
      if (s.type != ServiceType::kNodePort || p.node_port != 0) continue;
      while (used_node_ports.count(next_port)) ++next_port;
      p.node_port = next_port;
      used_node_ports.insert(next_port);
    }
  }
}

// kube-system/kube-dns: after every Service of the lab has its address, so none of them moves.
void Resolver::AddDnsService(std::set<uint32_t>& used_ips) {
  ServiceSpec s;
  s.ns = std::string(kSystemNamespace);
  s.name = QualifiedName(s.ns, kDnsServiceName);
  s.selector = {{std::string(kDnsAppLabel), std::string(kDnsServiceName)}};
  s.ports = {{"dns", 53, 53, "", Protocol::kUdp, 0}, {"dns-tcp", 53, 53, "", Protocol::kTcp, 0}};
  for (size_t k = 0; k < spec_.pods.size(); ++k) {
    if (spec_.pods[k].ns == s.ns && spec_.pods[k].labels == s.selector) {
      s.endpoints.push_back(static_cast<int>(k));
    }
  }
  const uint64_t last = service_cidr_->Size() - 2;  // the broadcast address is not usable
  uint64_t host = kDnsServiceHost;
  if (host > last || used_ips.count(service_cidr_->Host(host).value)) {
    host = last;
    while (host >= 1 && used_ips.count(service_cidr_->Host(host).value)) --host;
  }
  if (host < 1) {
    d_.Error(raw_.cluster.service_cidr.set ? raw_.cluster.service_cidr.pos : raw_.cluster.pos,
             StrCat("[cluster] service_cidr ", service_cidr_->ToString(),
                    " has no address left for the cluster DNS (kube-system/kube-dns): widen it, "
                    "or set dns = false"));
    return;
  }
  s.cluster_ip = service_cidr_->Host(host);
  used_ips.insert(s.cluster_ip.value);
  spec_.services.push_back(std::move(s));
}

void Resolver::ResolveServicePorts(const RawService& rs, const std::string& what, ServiceSpec& s,
                                   std::set<int>& used_node_ports) {
  if (rs.ports.empty()) {
    d_.Error(rs.pos, StrCat(what, ": no ports (add [[service.port]] port = 80)"));
    return;
  }
  std::set<std::string> names;
  std::set<std::pair<int, Protocol>> seen;
  for (size_t j = 0; j < rs.ports.size(); ++j) {
    const RawServicePort& rp = rs.ports[j];
    std::string pw = StrCat(what, ": port ",
                            rp.name.set ? StrCat("\"", rp.name.value, "\"") : StrCat("#", j + 1));
    ServicePortSpec p;
    p.name = rp.name.value;
    if (!rp.port.set) {
      d_.Error(rp.pos, StrCat(pw, ": missing \"port\""));
      continue;
    }
    if (!CheckPort(rp.port, pw)) continue;
    p.port = static_cast<int>(rp.port.value);
    if (rs.ports.size() > 1 && !rp.name.set) {
      d_.Error(rp.pos, StrCat(pw, ": a service with several ports must name each one"));
    } else if (rp.name.set && !names.insert(rp.name.value).second) {
      d_.Error(rp.name.pos, StrCat(pw, ": duplicate port name"));
    }
    std::optional<Protocol> proto = ParseProtocol(rp.protocol, pw);
    if (!proto) continue;
    p.protocol = *proto;
    if (!seen.insert({p.port, p.protocol}).second) {
      d_.Error(rp.port.pos,
               StrCat(pw, ": ", ToString(p.protocol), " port ", p.port, " is listed twice"));
    }
    if (rp.target_port.number.set) {
      if (!CheckPort(rp.target_port.number, pw)) continue;
      p.target_port = static_cast<int>(rp.target_port.number.value);
    } else if (rp.target_port.name.set) {
      p.target_port_name = rp.target_port.name.value;
      // As kube-proxy resolves a named port per endpoint: a pod without the name is left out of
      // the Service. None with it can never be served (a typo: an error); some without it serve
      // nothing (a warning naming them). A Service selecting no pod has nothing to check against.
      const auto has_port = [&](const std::vector<ContainerSpec>& containers) {
        for (const ContainerSpec& c : containers) {
          for (const ContainerPort& cp : c.ports) {
            if (cp.name == p.target_port_name && cp.protocol == p.protocol) return true;
          }
        }
        return false;
      };
      std::vector<std::string> without;
      for (int e : s.endpoints) {
        if (!has_port(spec_.pods[e].containers)) without.push_back(spec_.pods[e].name);
      }
      if (!s.endpoints.empty() && without.size() == s.endpoints.size()) {
        d_.Error(rp.target_port.name.pos,
                 StrCat(pw, ": target_port \"", p.target_port_name, "\" names no ",
                        ToString(p.protocol), " container port of the selected pods"));
      } else if (!without.empty()) {
        std::string names;
        for (size_t i = 0; i < without.size() && i < 3; ++i)
          StrAppend(&names, i == 0 ? "" : ", ", without[i]);
        if (without.size() > 3) StrAppend(&names, " and ", without.size() - 3, " more");
        d_.Warning(
            rp.target_port.name.pos,
            StrCat(pw, ": target_port \"", p.target_port_name, "\" names no ", ToString(p.protocol),
                   " container port of ", names, ": those pods are not endpoints of this port"));
      }
    } else {
      p.target_port = p.port;
    }
    if (rp.node_port.set) {
      if (s.type != ServiceType::kNodePort) {
        d_.Error(rp.node_port.pos, StrCat(pw, ": node_port needs type = \"NodePort\""));
      } else if (rp.node_port.value < 30000 || rp.node_port.value > 32767) {
        d_.Error(rp.node_port.pos,
                 StrCat(pw, ": node_port ", rp.node_port.value, " is out of range 30000-32767"));
      } else if (!used_node_ports.insert(static_cast<int>(rp.node_port.value)).second) {
        d_.Error(rp.node_port.pos,
                 StrCat(pw, ": node_port ", rp.node_port.value, " is already taken"));
      } else {
        p.node_port = static_cast<int>(rp.node_port.value);
      }
    }
    s.ports.push_back(p);
  }
}

}  // namespace mkn::config::internal
