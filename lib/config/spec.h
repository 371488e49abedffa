// lib/config/spec — the resolved cluster: every default, name, address and MAC filled in.
//
// Resolve() turns a RawConfig into a ClusterSpec; Load() (lib/config/toml/load.h) is Parse() +
// Resolve() from a lab file's text. A ClusterSpec is complete and valid: the planner never checks
// input again. Resolve() reports every problem it finds (file:line:col) and returns no spec if any
// is an error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/diagnostics.h"
#include "lib/config/expect.h"
#include "lib/config/netpol.h"
#include "lib/config/raw_config.h"
#include "lib/net/ip.h"
#include "lib/net/ip_addr.h"

namespace mkn::config {

enum class NetworkMode { kVxlan, kHostGw, kGeneve, kBgp };
// Who serves the Services: the tool's own NAT on a TUN in every node, nftables rules the kernel
// runs, or BPF programs on the lab's sockets (socket-level load balancing, as Cilium's; the node's
// nftables table serves what no pod socket of the lab opens: NodePort from the underlay, the
// edge's upstreams, the built-in apps' own connections).
enum class ProxyMode { kUserspace, kNftables, kEbpf };
// Whether each node gets the kube-proxy-shaped nftables table (lib/proxy/nft_table): nftables mode,
// and ebpf mode for the traffic its programs do not see.
inline bool HasNftTables(ProxyMode m) { return m != ProxyMode::kUserspace; }
// kDns: the cluster DNS (lib/dns), only on the pod the resolver adds (ClusterSpec::dns).
enum class AppKind { kCommand, kHttpEcho, kTcpEcho, kUdpEcho, kDns };
enum class Protocol { kTcp, kUdp };
enum class ServiceType { kClusterIp, kNodePort };
enum class Algorithm { kRandom, kRoundRobin, kLeastConn, kSourceHash };
enum class PathType { kPrefix, kExact };

std::string_view ToString(NetworkMode m);
std::string_view ToString(ProxyMode m);
std::string_view ToString(AppKind a);
std::string_view ToString(Protocol p);
std::string_view ToString(ServiceType t);
std::string_view ToString(Algorithm a);
std::string_view ToString(PathType t);

// The most pods a lab has in all, deployments' replicas included: the resolver refuses more, and
// so do ScaleDeployment, `scale` and the control protocol's replica count (a bound on what one
// process sets up; bench/bringup measures 1000).
inline constexpr int kMaxPods = 20000;

// The cluster DNS ([cluster] dns, on by default): a pod and a Service the resolver adds after the
// lab's own, named as kubeadm names them, so that existing labs keep every address they had.
inline constexpr std::string_view kSystemNamespace = "kube-system";
inline constexpr std::string_view kDnsPodName = "coredns";
inline constexpr std::string_view kDnsServiceName = "kube-dns";
inline constexpr std::string_view kDnsAppLabel = "k8s-app";
// The DNS Service's ClusterIP: this address of the service CIDR (kubeadm's 10th), or, when the
// lab's own Services hold it, the highest free one.
inline constexpr int kDnsServiceHost = 10;
// Pods and Services of kube-system are the cluster's own: plain `get pods` and `[[expect]]`
// selectors leave them out (`get pods -A` shows them), as kubectl's default namespace does.
inline bool IsSystemNamespace(std::string_view ns) { return ns == kSystemNamespace; }

// network = "vxlan": outer IPv4 20 + UDP 8 + VXLAN 8 + the inner Ethernet header 14, as Geneve's
// below. (An outer Ethernet header does not count against the MTU.)
inline constexpr int kVxlanOverhead = 50;
inline constexpr int kVxlanPort = 4789;  // IANA
// network = "geneve": outer IPv4 20 + UDP 8 + Geneve 8 + minikube-net's option 8
// (lib/geneve/header.h)
// + the inner Ethernet header 14. (An outer Ethernet header does not count against the MTU.)
inline constexpr int kGeneveOverhead = 58;

// --- Bring your own CNI: network = "cni" ---------------------------------------------------------

// Who makes the cross-node routes of a CNI lab: the tool (as kindnet does with host-gw, flannel
// with VXLAN, Calico with BGP speakers announcing each node's range), or the plugin chain / a node
// daemon.
enum class NodeRoutes { kHostGw, kVxlan, kPlugin, kGeneve, kBgp };
std::string_view ToString(NodeRoutes r);

// How a node's pods are wired by CNI: [cni] with a node's `cni = {...}` laid over it.
struct CniSpec {
  std::string conflist_path;          // absolute; empty when the conflist is inline
  std::string conflist_inline;        // the JSON as written in the lab file
  SourcePos conflist_pos;             // for errors found when the conflist is read and checked
  std::vector<std::string> bin_dirs;  // CNI_PATH, searched in order
  int timeout_ms = 10000;             // per plugin call
  std::string ifname = "eth0";
  NodeRoutes node_routes = NodeRoutes::kHostGw;
};

// A hostPort, the portMappings capability arg as kubelet passes it.
struct PortMappingSpec {
  int host_port = 0;
  int container_port = 0;
  std::string protocol = "tcp";
  std::string host_ip;
};

// The bandwidth capability arg (bits per second, bits), 0 = not set.
struct BandwidthSpec {
  int64_t ingress_rate = 0, ingress_burst = 0, egress_rate = 0, egress_burst = 0;
};

// What a pod hands its CNI chain besides the standard environment.
struct PodCniSpec {
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS, after the runtime's own
  std::vector<PortMappingSpec> port_mappings;
  std::optional<BandwidthSpec> bandwidth;
  std::vector<std::string> ips;  // the `ips` capability arg (CIDRs)
  std::string mac;               // the `mac` capability arg
};

struct ContainerPort {
  std::string name;
  int port = 0;
  Protocol protocol = Protocol::kTcp;
};

struct ContainerSpec {
  std::string name;
  AppKind app = AppKind::kCommand;
  std::vector<std::string> command;                      // kCommand only
  std::vector<std::pair<std::string, std::string>> env;  // kCommand only
  std::vector<ContainerPort> ports;                      // for apps: the one port they serve
};

struct PodSpec {
  std::string name;  // the key: "<ns>/<pod>" outside the default namespace (netpol.h)
  std::string ns = std::string(kDefaultNamespace);
  std::string deployment;  // empty for a bare [[pod]]; the deployment's key otherwise
  int node = 0;            // index into ClusterSpec::nodes
  std::map<std::string, std::string> labels;
  std::vector<ContainerSpec> containers;
  net::Ipv4 ip;
  net::Mac mac;
  std::string netns;      // mkn-<cluster>-<pod>, mkn-<cluster>-<ns>-<pod> outside "default"
  std::string host_veth;  // veth<hash>, in the node's netns
  // CNI labs: what the runtime passes the chain. `ip` and `mac` above are then unknown until the
  // chain's ADD result gives them (zero before).
  PodCniSpec cni;
};

// A Deployment's template, kept so `scale` can make more replicas (pods "<name>-<i>").
struct DeploymentSpec {
  std::string name;  // the key, as a pod's
  std::string ns = std::string(kDefaultNamespace);
  int replicas = 0;
  std::map<std::string, std::string> labels;
  std::vector<ContainerSpec> containers;
};

struct NodeSpec {
  std::string name;
  int index = 0;
  int rack = 0;          // index into ClusterSpec::racks
  uint32_t asn = 0;      // network = "bgp": the AS its speaker is in (0 otherwise)
  net::Prefix pod_cidr;  // the node's slice of the cluster pod CIDR
  net::Ipv4 gateway;     // .1 of pod_cidr, on cbr0
  net::Mac bridge_mac;
  net::Ipv4 underlay_ip;
  net::Ipv4 vtep_ip;  // .0 of pod_cidr on vxlan0 (as flannel does)
  // The last usable address of pod_cidr: the source the userspace proxy gives to flows it sends to
  // a backend (routed into the node's TUN; never a pod's address).
  net::Ipv4 proxy_ip;
  net::Mac vtep_mac;
  std::string netns;
  std::vector<int> pods;  // indices into ClusterSpec::pods, in address order
  // CNI labs: the node's effective [cni] (overrides applied), and its daemon (a plugin's node
  // agent: run inside the node's namespaces before any pod, stopped at down). Empty = none.
  CniSpec cni;
  std::vector<std::string> daemon;
};

struct ServicePortSpec {
  std::string name;
  int port = 0;
  int target_port = 0;           // resolved number; 0 when only a name is given
  std::string target_port_name;  // a container port name, resolved per endpoint
  Protocol protocol = Protocol::kTcp;
  int node_port = 0;  // NodePort only
};

struct ServiceSpec {
  std::string name;  // the key, as a pod's; it selects pods of its own namespace only
  std::string ns = std::string(kDefaultNamespace);
  ServiceType type = ServiceType::kClusterIp;
  std::map<std::string, std::string> selector;
  net::Ipv4 cluster_ip;  // zero when headless
  // cluster_ip = "None": no ClusterIP and no NAT; cluster DNS answers its name with each ready
  // endpoint's address (lib/dns).
  bool headless = false;
  bool affinity_client_ip = false;
  int affinity_timeout = 10800;  // seconds, Kubernetes' default
  Algorithm algorithm = Algorithm::kRandom;
  std::vector<ServicePortSpec> ports;
  std::vector<int> endpoints;  // indices into ClusterSpec::pods matching the selector
};

struct BackendRef {
  std::string service;
  int port = 0;
  std::string port_name;
};

struct IngressPathSpec {
  std::string path;
  PathType type = PathType::kPrefix;
  BackendRef backend;
};

struct IngressRuleSpec {
  std::string host;  // empty = any host
  std::vector<IngressPathSpec> paths;
};

struct IngressTlsSpec {
  std::vector<std::string> hosts;
  std::string cert;  // paths relative to the lab file, as written
  std::string key;
};

struct IngressSpec {
  std::string name;  // the key; its backends are Services of its namespace
  std::string ns = std::string(kDefaultNamespace);
  std::optional<BackendRef> default_backend;
  std::vector<IngressRuleSpec> rules;
  std::vector<IngressTlsSpec> tls;
};

// --- Layer 7: the edge ---------------------------------------------------------------------------

enum class ListenerProtocol { kHttp, kHttps };
// How the ingress reaches a backend Service: through its ClusterIP (the Service layer balances, as
// external traffic does in Kubernetes) or straight to one of its endpoints (the ingress balances).
enum class UpstreamMode { kService, kEndpoints };

// A certificate and key for some SNI host names (PEM files; paths absolute after Resolve).
struct TlsCertSpec {
  std::vector<std::string>
      hosts;  // exact names or "*.example.com"; empty = the default certificate
  std::string cert, key;
  SourcePos pos;  // where it was written, for errors found when the files are read
};

// [[listener]]: a Gateway listener on the host loopback. Without any [[listener]] a lab that has
// ingresses or http_routes gets "http" on 127.0.0.1:8080 and, if it has TLS, "https" on :8443.
struct ListenerSpec {
  std::string name;
  net::Ipv4 address;  // 127.0.0.0/8 only
  int port = 0;
  ListenerProtocol protocol = ListenerProtocol::kHttp;
  std::vector<TlsCertSpec> tls;    // HTTPS: certificates chosen by SNI (first = default)
  bool redirect_to_https = false;  // HTTP: every request gets a 308 to the first HTTPS listener
  UpstreamMode upstream = UpstreamMode::kService;
  int node = 0;                 // index of the node whose netns upstream connections are opened in
  int upstream_timeout_s = 30;  // a response header must arrive by then, else 504
  // Client connections open at once; one more is accepted and closed at once (counted), as
  // Envoy's per-listener connection limit does. 1024 (nginx's worker_connections is 512 to 1024):
  // plenty for a lab, and a bound on the edge's memory (a connection's buffers are ~144 KiB) and
  // on the fds one listener can take from the process.
  int max_connections = kDefaultMaxConnections;
  static constexpr int kDefaultMaxConnections = 1024;
  static constexpr int kMaxMaxConnections = 65536;
};

struct HttpHeaderMatch {
  std::string name;  // lowercase
  std::string value;
};

struct HttpRouteMatchSpec {
  PathType path_type = PathType::kPrefix;
  std::string path = "/";
  std::string method;                         // empty = any
  std::vector<HttpHeaderMatch> headers;       // exact value matches, all must hold
  std::vector<HttpHeaderMatch> query_params;  // exact value matches, all must hold
};

struct BackendRefSpec {
  std::string service;
  int port = 0;  // the service port number
  int weight = 1;
};

struct HeaderModifierSpec {
  std::vector<std::pair<std::string, std::string>> set, add;
  std::vector<std::string> remove;
};

struct RedirectSpec {
  std::string scheme;    // empty = keep
  std::string hostname;  // empty = keep
  int port = 0;          // 0 = keep (or the scheme's default when the scheme changes)
  int status_code = 302;
};

struct HttpRouteRuleSpec {
  std::vector<HttpRouteMatchSpec> matches;  // empty = one match of "/" Prefix
  std::vector<BackendRefSpec> backends;
  HeaderModifierSpec request_headers;
  std::optional<RedirectSpec> redirect;
};

// [[http_route]]: a Gateway API HTTPRoute.
struct HttpRouteSpec {
  std::string name;  // the key; its backends are Services of its namespace
  std::string ns = std::string(kDefaultNamespace);
  std::vector<std::string> parents;    // listener names; empty = every listener
  std::vector<std::string> hostnames;  // exact or "*.x"; empty = any host
  std::vector<HttpRouteRuleSpec> rules;
};

// --- Layer 3: racks and BGP ----------------------------------------------------------------------

// How the speakers of a network = "bgp" lab peer (lib/bgp renders their BIRD configs):
//   kEbgp            one private AS per node, each node peering with its rack's ToR (the default,
//                    as Calico's and Cilium's own labs); ToRs peer with the spine.
//   kFullMesh        one rack: every node and the ToR in one AS, each peering with every other.
//   kRouteReflector  each rack one AS: the nodes peer with their ToR, which reflects their routes
//                    to each other (rr client) and to the spine over eBGP.
enum class BgpMode { kEbgp, kFullMesh, kRouteReflector };
std::string_view ToString(BgpMode m);

// RFC 6996's private AS numbers: 64512-65534 and 4200000000-4294967294.
bool IsPrivateAsn(int64_t asn);

// A rack: its nodes share one subnet and bridge. With a routed underlay that bridge sits in the
// rack's top-of-rack router namespace, whose address on it is the nodes' default gateway, and the
// ToRs meet at the spine. Addresses carry their family (IPv4 today; IPv6 comes with dual-stack).
struct RackSpec {
  std::string name;  // "r1"
  int index = 0;
  net::IpPrefix cidr;   // the rack's subnet (the lab's underlay_cidr when it is the only rack)
  net::IpAddr gateway;  // .1 of cidr: the ToR on the rack bridge (the underlay's br0 otherwise)
  std::string tor;      // the ToR's object name, "tor-<rack>" (routed underlay only)
  std::string netns;    // mkn-<cluster>-tor-<rack> (routed underlay only)
  uint32_t asn = 0;     // the ToR's (network = "bgp")
  // The ToR's point-to-point link to the spine (more than one rack): a /30, .1 the spine's end
  // (port "tor-<rack>"), .2 the ToR's (port "spine").
  net::IpPrefix uplink;
  net::IpAddr spine_end, tor_end;
  std::vector<int> nodes;  // indices into ClusterSpec::nodes, in node order
};

// --- The world outside the cluster
// ----------------------------------------------------------------

// [cluster] world = true (the default; false switches it off): a lab namespace standing in for the
// Internet, so no test needs the real one. Its link ends on the underlay side (the flat underlay's
// namespace, else the spine, else the one ToR), which routes it; nodes route everything that is
// not the cluster's toward it and masquerade their pods' traffic to it (lib/world). It answers on
// every address of `hosts`: http-echo :80, tcp-echo and udp-echo :7 (RFC 862's port), DNS :53.
// The zone the world's DNS is authoritative for; its names are under it.
inline constexpr std::string_view kWorldZone = "example.test";

struct WorldHost {
  std::string name;  // "example.test"
  net::IpAddr addr;
};

struct WorldSpec {
  bool enabled = false;
  // [cluster] world_cidr: RFC 5737's TEST-NET-3 by default, never routed on the real Internet.
  net::IpPrefix cidr;
  net::IpAddr gateway;  // .1 of cidr: the attach point's end of the link (its port "world")
  std::vector<WorldHost> hosts;  // .2, .3, .4: example.test, www.example.test, echo.example.test
  std::string netns;             // mkn-<cluster>-world
  std::string attach_netns;      // the underlay's, the spine's, or (one rack, routed) the ToR's
  // The node masquerades its pods' traffic to the world. Not in a CNI lab: there egress belongs to
  // the plugin chain (the bridge plugin's ipMasq), as a cluster's CNI owns it.
  bool masquerade = true;
};

struct BgpSpec {
  BgpMode mode = BgpMode::kEbgp;
  uint32_t spine_asn = 64512;
};

struct ClusterSpec {
  std::string name;
  NetworkMode network = NetworkMode::kVxlan;
  net::Prefix pod_cidr;
  int node_cidr_mask = 24;
  net::Prefix service_cidr;
  net::Prefix underlay_cidr;
  net::Ipv4 underlay_gateway;  // .1 of underlay_cidr, on the underlay bridge
  int mtu = 1500;              // of the underlay
  int pod_mtu = 1450;          // mtu - 50 with VXLAN, mtu - 58 with Geneve, mtu with host-gw
  int vni = 1;
  ProxyMode proxy_mode = ProxyMode::kUserspace;
  std::string marker;  // ifalias carried by everything this cluster creates
  std::vector<NodeSpec> nodes;
  // Every lab has at least one rack. One rack without BGP is the flat underlay (one bridge in
  // mkn-<cluster>-underlay); more racks, or network = "bgp", make it routed: a ToR per rack, and a
  // spine (mkn-<cluster>-spine) when there is more than one.
  std::vector<RackSpec> racks;
  bool routed_underlay = false;
  std::string spine_netns;  // routed underlay with more than one rack
  BgpSpec bgp;              // network = "bgp"
  std::vector<PodSpec> pods;
  std::vector<DeploymentSpec> deployments;
  std::vector<ServiceSpec> services;
  std::vector<IngressSpec> ingresses;
  std::vector<HttpRouteSpec> http_routes;
  std::vector<ListenerSpec> listeners;  // filled with the defaults when the lab has routes
  // [cluster] dns: the lab has the cluster DNS pod kube-system/coredns and its Service
  // kube-system/kube-dns (the last pod and Service added; FindPod/FindService by key).
  bool dns = false;
  bool auto_tls = false;  // [cluster] auto_tls: a local CA and certificates for every route host
  // [cluster] network = "cni": pods are wired by a CNI plugin chain (NodeSpec::cni), not by the
  // tool. `network` then says how the tool routes between nodes (unless cni.node_routes = kPlugin).
  bool cni_mode = false;
  CniSpec cni;                      // the cluster-wide [cni], before node overrides
  std::vector<ExpectSpec> expects;  // [[expect]], in file order
  // Every namespace the lab has: "default" first, then [[namespace]] and those workloads name, by
  // name.
  std::vector<NamespaceSpec> namespaces;
  std::vector<NetworkPolicySpec> network_policies;  // in file order
  WorldSpec world;                                  // [cluster] world

  const PodSpec* FindPod(std::string_view name) const;
  const NodeSpec* FindNode(std::string_view name) const;
  const DeploymentSpec* FindDeployment(std::string_view name) const;
  const NamespaceSpec* FindNamespace(std::string_view name) const;
  const ServiceSpec* FindService(std::string_view key) const;
  // The cluster DNS Service's address (dns only), nullopt without one.
  std::optional<net::Ipv4> DnsIp() const;
  // More than one namespace: `get` shows a NAMESPACE column.
  bool HasNamespaces() const { return namespaces.size() > 1; }
};

// Validates a RawConfig and fills every default. Problems go to `diags` (its file name also
// anchors the lab's relative paths); returns nullopt if any of them is an error.
std::optional<ClusterSpec> Resolve(const RawConfig& raw, Diagnostics& diags);

// `minikube-net apply`: the [[network_policy]] tables of `raw` resolved against a running lab
// (`live`: its namespaces, its mode), checked as Resolve() checks a lab's, and a namespace the lab
// does not have is an error (kubectl: namespaces "q" not found). Every other table of `raw` is the
// caller's to refuse (lib/config/toml/load.h's LoadPolicies). nullopt if any problem is an error.
std::optional<std::vector<NetworkPolicySpec>> ResolvePolicies(const RawConfig& raw,
                                                              const ClusterSpec& live,
                                                              Diagnostics& diags);

}  // namespace mkn::config
