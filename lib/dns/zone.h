// lib/dns/zone — what the cluster's resolver knows: the lab's Services, endpoints and pods as DNS
// data (the Kubernetes DNS-Based Service Discovery specification, kubernetes/dns
// docs/specification.md, as CoreDNS's kubernetes plugin serves it).
//
// A Zone is a value: BuildZone() makes one from a resolved (or mutated: kill, scale) ClusterSpec,
// and the server swaps in a new one when the lab changes, so answers follow the live endpoints.
// Answer() (answer.h) reads it; nothing here does I/O. Addresses carry their family: the records
// are A today, and AAAA is a second family in the same slots when dual-stack comes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/spec.h"
#include "lib/net/ip_addr.h"

namespace mkn::dns {

// kubelet's --cluster-domain default, and what resolv.conf's search list is made of.
inline constexpr std::string_view kClusterDomain = "cluster.local";
// Seconds, on every record and as the SOA's negative-caching TTL: CoreDNS's kubernetes plugin
// default (its `ttl` option). Short, so that a student's kill or scale shows in the next answer
// a resolver cache could give; 0 would defeat caches that are meant to be there.
inline constexpr uint32_t kDefaultTtl = 5;
// The version of the specification served, in the TXT record dns-version.<zone>.
inline constexpr std::string_view kSpecVersion = "1.1.0";
// Kubernetes' port numbers for the cluster's DNS Service (kube-dns: dns/UDP and dns-tcp/TCP).
inline constexpr int kDnsPort = 53;

struct ZonePort {
  std::string name;  // empty for an unnamed port: no SRV record
  config::Protocol protocol = config::Protocol::kTcp;
  int port = 0;  // the Service port (ClusterIP) or the endpoint's target port (headless)
};

// One ready endpoint of a headless Service: the address and the name it has under the Service
// (CoreDNS: the pod's hostname when it has one, the dashed address otherwise; pods here have no
// hostname field, so it is always the dashed address, "10-244-1-5").
struct ZoneEndpoint {
  net::IpAddr ip;
  std::string hostname;
  std::vector<ZonePort> ports;  // the Service's ports with this endpoint's target port numbers
};

struct ZoneService {
  std::string name;  // the Service's own name, without its namespace
  std::string ns;
  // The ClusterIP; nullopt for a headless Service (cluster_ip = "None"), whose name answers with
  // every ready endpoint instead.
  std::optional<net::IpAddr> cluster_ip;
  std::vector<ZonePort> ports;
  std::vector<ZoneEndpoint> endpoints;  // headless only: in pod order
};

struct ZonePod {
  std::string ns;
  net::IpAddr ip;
};

// Names outside the cluster domain are REFUSED unless a forwarder serves their suffix: then the
// server relays the query there unchanged (Answer's verdict kForward) and the answer back. This is
// the hook for the lab's "world" (its resolver serves example.test).
struct Forwarder {
  std::string suffix;  // lowercase, without the trailing dot: "example.test"; "" = every name
  net::IpAddr server;
  int port = kDnsPort;
};

struct Zone {
  std::string domain = std::string(kClusterDomain);  // lowercase, no trailing dot
  uint32_t ttl = kDefaultTtl;
  // Changes whenever the zone does (the server counts its swaps), as a primary's SOA serial must.
  uint32_t serial = 1;
  // The resolver's own address: ns.dns.<zone> (the NS of the zone apex) answers with it.
  std::optional<net::IpAddr> dns_ip;
  // The address ranges whose reverse names (in-addr.arpa) are ours: the service and pod CIDRs.
  // A PTR query for an address inside them that nothing has is NXDOMAIN; outside, REFUSED.
  std::vector<net::IpPrefix> reverse_prefixes;
  std::vector<std::string> namespaces;  // sorted: <ns>.svc.<zone> and <ns>.pod.<zone> exist
  std::vector<ZoneService> services;
  std::vector<ZonePod> pods;
  std::vector<Forwarder> forwarders;
};

// The zone of a lab: every Service (ClusterIP or headless, with its ready endpoints: the pods its
// selector picks that are alive in `spec`), every pod with an address, the namespaces, the service
// and pod CIDRs. `dns_ip` is the resolver's Service address when the lab has one. Pure.
Zone BuildZone(const config::ClusterSpec& spec, std::optional<net::IpAddr> dns_ip,
               uint32_t serial = 1);

// /etc/resolv.conf as kubelet writes it for a pod of namespace `ns` (dnsPolicy ClusterFirst):
// the search list <ns>.svc.<domain> svc.<domain> <domain>, the cluster DNS's address, ndots:5 (so
// that "web" and "web.default" are tried inside the cluster first).
std::string ResolvConf(std::string_view ns, const net::IpAddr& dns_ip,
                       std::string_view domain = kClusterDomain);

// "10-244-1-5" for 10.244.1.5: the label a pod address has under <ns>.pod.<zone> and under a
// headless Service (the specification's dashed form).
std::string DashedAddress(const net::IpAddr& ip);

}  // namespace mkn::dns
