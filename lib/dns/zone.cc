// lib/dns/zone: a lab's Services and pods as the resolver's data.

#include "lib/dns/zone.h"

#include <algorithm>
#include <set>

#include "lib/strings/str_cat.h"

namespace mkn::dns {

std::string DashedAddress(const net::IpAddr& ip) {
  std::string text = ip.ToString();
  // IPv6 has ':' where IPv4 has '.': the specification dashes both (and a leading/trailing
  // "::" becomes "--", which the label allows).
  std::replace(text.begin(), text.end(), '.', '-');
  std::replace(text.begin(), text.end(), ':', '-');
  return text;
}

std::string ResolvConf(std::string_view ns, const net::IpAddr& dns_ip, std::string_view domain) {
  return StrCat("# written by minikube-net for pods of namespace ", ns, " (as kubelet does)\n",
                "search ", ns, ".svc.", domain, " svc.", domain, " ", domain, "\n", "nameserver ",
                dns_ip.ToString(), "\n", "options ndots:5\n");
}

Zone BuildZone(const config::ClusterSpec& spec, std::optional<net::IpAddr> dns_ip,
               uint32_t serial) {
  Zone z;
  z.serial = serial;
  z.dns_ip = dns_ip;
  z.reverse_prefixes = {net::IpPrefix::FromV4(spec.service_cidr),
                        net::IpPrefix::FromV4(spec.pod_cidr)};
  std::set<std::string> namespaces;
  for (const config::NamespaceSpec& ns : spec.namespaces) namespaces.insert(ns.name);
  for (const config::PodSpec& p : spec.pods) {
    namespaces.insert(p.ns);
    if (p.ip.value == 0) continue;  // a CNI lab's pod before its chain gave it an address
    z.pods.push_back({p.ns, net::IpAddr::FromV4(p.ip)});
  }
  for (const config::ServiceSpec& s : spec.services) {
    namespaces.insert(s.ns);
    ZoneService zs;
    zs.name = std::string(config::NameOfKey(s.name));
    zs.ns = s.ns;
    if (!s.headless) zs.cluster_ip = net::IpAddr::FromV4(s.cluster_ip);
    for (const config::ServicePortSpec& p : s.ports)
      zs.ports.push_back({p.name, p.protocol, p.port});
    if (s.headless) {
      for (int e : s.endpoints) {
        const config::PodSpec& pod = spec.pods[e];
        if (pod.ip.value == 0) continue;
        ZoneEndpoint ep;
        ep.ip = net::IpAddr::FromV4(pod.ip);
        ep.hostname = DashedAddress(ep.ip);
        for (const config::ServicePortSpec& p : s.ports) {
          int port = p.target_port;
          if (port == 0) {  // a named target port: this pod's container port of that name
            for (const config::ContainerSpec& c : pod.containers) {
              for (const config::ContainerPort& cp : c.ports) {
                if (cp.name == p.target_port_name && cp.protocol == p.protocol) port = cp.port;
              }
            }
          }
          if (port != 0) ep.ports.push_back({p.name, p.protocol, port});
        }
        zs.endpoints.push_back(std::move(ep));
      }
    }
    z.services.push_back(std::move(zs));
  }
  z.namespaces.assign(namespaces.begin(), namespaces.end());
  // The world outside ([cluster] world): names under its zone are relayed to its DNS, which
  // answers them (lib/world/dns); everything else outside the cluster domain stays REFUSED.
  if (spec.world.enabled && !spec.world.hosts.empty()) {
    z.forwarders.push_back(
        {std::string(config::kWorldZone), spec.world.hosts.front().addr, kDnsPort});
  }
  return z;
}

}  // namespace mkn::dns
