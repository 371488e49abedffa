// lib/nat/testing — a small cluster for the NAT tests, built by hand (no lab file, no resolver).
//
// Pods (node 0 unless said):      web-0 10.244.1.10  http:8080/TCP
//                                 web-1 10.244.1.11  http:8080/TCP
//                                 web-2 10.244.2.12  http:8081/TCP (node 1; its "http" is 8081)
//                                 dns-0 10.244.1.20  dns:5353/UDP
// Services:  web   10.96.0.10  80/TCP -> target "http"    NodePort 30080   algorithm as given
//            dns   10.96.0.53  53/UDP -> 5353                                random
//            empty 10.96.0.99  80/TCP + 81/UDP, no endpoints
// Header-only; include from *_test.cc files only.
#pragma once

#include "lib/config/spec.h"
#include "lib/net/ip.h"

namespace mkn::nat::testing {

inline net::Ipv4 Ip(const char* s) { return *net::Ipv4::Parse(s); }

inline config::PodSpec Pod(const char* name, const char* ip, const char* port_name, int port,
                           config::Protocol protocol, int node = 0) {
  config::PodSpec p;
  p.name = name;
  p.ip = Ip(ip);
  p.node = node;
  config::ContainerSpec c;
  c.name = "app";
  c.ports.push_back(config::ContainerPort{port_name, port, protocol});
  p.containers.push_back(c);
  return p;
}

inline config::ClusterSpec TestCluster(
    config::Algorithm web_algorithm = config::Algorithm::kRoundRobin, bool affinity = false) {
  using config::Protocol;
  config::ClusterSpec spec;
  spec.name = "t";
  spec.pods = {Pod("web-0", "10.244.1.10", "http", 8080, Protocol::kTcp),
               Pod("web-1", "10.244.1.11", "http", 8080, Protocol::kTcp),
               Pod("web-2", "10.244.2.12", "http", 8081, Protocol::kTcp, 1),
               Pod("dns-0", "10.244.1.20", "dns", 5353, Protocol::kUdp)};
  config::ServiceSpec web;
  web.name = "web";
  web.type = config::ServiceType::kNodePort;
  web.cluster_ip = Ip("10.96.0.10");
  web.algorithm = web_algorithm;
  web.affinity_client_ip = affinity;
  web.affinity_timeout = 10;
  web.ports.push_back(config::ServicePortSpec{"http", 80, 0, "http", Protocol::kTcp, 30080});
  web.endpoints = {0, 1, 2};
  config::ServiceSpec dns;
  dns.name = "dns";
  dns.cluster_ip = Ip("10.96.0.53");
  dns.ports.push_back(config::ServicePortSpec{"dns", 53, 5353, "", Protocol::kUdp, 0});
  dns.endpoints = {3};
  config::ServiceSpec empty;
  empty.name = "empty";
  empty.cluster_ip = Ip("10.96.0.99");
  empty.ports.push_back(config::ServicePortSpec{"tcp", 80, 80, "", Protocol::kTcp, 0});
  empty.ports.push_back(config::ServicePortSpec{"udp", 81, 81, "", Protocol::kUdp, 0});
  spec.services = {web, dns, empty};
  return spec;
}

}  // namespace mkn::nat::testing
