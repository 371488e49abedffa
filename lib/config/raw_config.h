// lib/config/raw_config — the lab file as written, with the source position of every value.
//
// Parse() (lib/config/toml/load.h) fills it, checking only what TOML itself can tell: syntax,
// unknown keys (with a did-you-mean), value types. Meaning (names, CIDRs, references) is checked by
// Resolve() in spec.h. Nothing here has defaults filled, and nothing here knows TOML: plain data.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/config/diagnostics.h"

namespace mkn::config {

template <typename T>
struct Field {
  T value{};
  SourcePos pos;  // of the value; of the enclosing table when absent
  bool set = false;
  bool bad = false;  // present but of the wrong type (already reported)
  bool present() const { return set || bad; }
};

using StringMap = std::map<std::string, std::string>;

// A port given as a number or as the name of a container port ("http").
struct PortRef {
  Field<int64_t> number;
  Field<std::string> name;
  bool set() const { return number.set || name.set; }
};

struct RawContainerPort {
  SourcePos pos;
  Field<std::string> name;
  Field<int64_t> port;
  Field<std::string> protocol;
};

struct RawContainer {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> app;
  Field<int64_t> port;
  Field<std::vector<std::string>> command;
  Field<StringMap> env;
  std::vector<RawContainerPort> ports;
};

// [cni] (cluster-wide) and a node's `cni = { ... }` override: a network = "cni" lab's chain.
struct RawCni {
  SourcePos pos;
  bool present = false;
  Field<std::string> conflist;  // a path relative to the lab file, or the JSON itself ("{" first)
  Field<std::vector<std::string>> bin_dir;  // a list, or one "a:b" string (CNI_PATH)
  Field<int64_t> timeout;                   // seconds, per plugin call
  Field<std::string> ifname;
  Field<std::string> node_routes;  // "host-gw" | "vxlan" | "bgp" | "plugin"
};

struct RawNode {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> pod_cidr;
  Field<std::string> rack;  // a [[rack]] name
  RawCni cni;
  Field<std::vector<std::string>> daemon;
};

// portMappings capability arg: { host_port = 8080, container_port = 80, protocol = "tcp" }.
struct RawPortMapping {
  SourcePos pos;
  Field<int64_t> host_port;
  Field<int64_t> container_port;
  Field<std::string> protocol;
  Field<std::string> host_ip;
};

// What a pod gives its CNI chain: CNI_ARGS and the capability args (runtimeConfig).
struct RawPodCni {
  Field<StringMap> args;  // cni_args
  std::vector<RawPortMapping> port_mappings;
  bool has_bandwidth = false;
  SourcePos bandwidth_pos;
  Field<int64_t> ingress_rate, ingress_burst, egress_rate, egress_burst;  // bits/s and bits
  Field<std::vector<std::string>> ips;
  Field<std::string> mac;
};

struct RawPod {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> ns;  // `namespace`; "default" when unset
  Field<std::string> node;
  Field<StringMap> labels;
  std::vector<RawContainer> containers;
  RawPodCni cni;
};

struct RawDeployment {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> ns;
  Field<int64_t> replicas;
  SourcePos template_pos;
  Field<StringMap> labels;
  std::vector<RawContainer> containers;
};

struct RawServicePort {
  SourcePos pos;
  Field<std::string> name;
  Field<int64_t> port;
  PortRef target_port;
  Field<std::string> protocol;
  Field<int64_t> node_port;
};

struct RawService {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> ns;
  Field<std::string> type;
  Field<StringMap> selector;
  Field<std::string> cluster_ip;
  Field<std::string> session_affinity;
  Field<int64_t> affinity_timeout;
  Field<std::string> algorithm;
  std::vector<RawServicePort> ports;
};

struct RawBackend {
  SourcePos pos;
  Field<std::string> service;
  PortRef port;
};

struct RawIngressPath {
  SourcePos pos;
  Field<std::string> path;
  Field<std::string> path_type;
  RawBackend backend;  // service/port keys sit in the path table itself
};

struct RawIngressRule {
  SourcePos pos;
  Field<std::string> host;
  std::vector<RawIngressPath> paths;
};

struct RawIngressTls {
  SourcePos pos;
  Field<std::vector<std::string>> hosts;
  Field<std::string> cert;
  Field<std::string> key;
};

struct RawIngress {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> ns;
  bool has_default_backend = false;
  RawBackend default_backend;
  std::vector<RawIngressRule> rules;
  std::vector<RawIngressTls> tls;
};

// [cluster] bgp = { mode = "ebgp", spine_asn = 64512 }: a network = "bgp" lab's speakers.
struct RawBgp {
  SourcePos pos;
  bool present = false;
  Field<std::string> mode;  // "ebgp" | "full-mesh" | "route-reflector"
  Field<int64_t> spine_asn;
};

// [[rack]]: a rack of nodes behind its own top-of-rack router (a routed underlay).
struct RawRack {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> cidr;  // either family when read; the resolver says what it supports
  Field<int64_t> asn;       // the ToR's
};

struct RawCluster {
  SourcePos pos;
  bool present = false;
  Field<std::string> name;
  Field<std::string> network;
  Field<std::string> pod_cidr;
  Field<int64_t> node_cidr_mask;
  Field<std::string> service_cidr;
  Field<std::string> underlay_cidr;
  Field<int64_t> mtu;
  Field<int64_t> vni;
  Field<std::string> proxy_mode;
  Field<bool> auto_tls;
  Field<bool> dns;       // the cluster DNS (kube-system/coredns behind kube-dns)
  Field<int64_t> racks;  // `racks = N`, or [[rack]] tables
  RawBgp bgp;
  Field<bool> world;              // the built-in outside world (default on)
  Field<std::string> world_cidr;  // its addresses; either family when read
};

// --- Layer 7: the edge ---------------------------------------------------------------------------

// { name = "x-env", value = "canary" }: header and query matches, header modifier set/add.
struct RawNameValue {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> value;
  Field<std::string> type;  // matches only: "Exact" (the one type supported)
};

struct RawListenerTls {
  SourcePos pos;
  Field<std::vector<std::string>> hosts;
  Field<std::string> cert;
  Field<std::string> key;
};

struct RawListener {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> address;
  Field<int64_t> port;
  Field<std::string> protocol;
  std::vector<RawListenerTls> tls;
  Field<bool> redirect_to_https;
  Field<std::string> upstream;
  Field<std::string> node;
  Field<int64_t> upstream_timeout;  // seconds
  Field<int64_t> max_connections;
};

struct RawHttpRouteMatch {
  SourcePos pos;
  // path = { type = "PathPrefix", value = "/x" }, or path = "/x" (a PathPrefix).
  SourcePos path_pos;
  Field<std::string> path_type;
  Field<std::string> path_value;
  Field<std::string> method;
  std::vector<RawNameValue> headers;
  std::vector<RawNameValue> query_params;
};

struct RawBackendRef {
  RawBackend backend;  // service, port (number or service port name)
  Field<int64_t> weight;
};

struct RawHeaderModifier {
  SourcePos pos;
  std::vector<RawNameValue> set, add;
  Field<std::vector<std::string>> remove;
};

struct RawRedirect {
  SourcePos pos;
  Field<std::string> scheme;
  Field<std::string> hostname;
  Field<int64_t> port;
  Field<int64_t> status_code;
};

struct RawHttpRouteRule {
  SourcePos pos;
  std::vector<RawHttpRouteMatch> matches;
  std::vector<RawBackendRef> backend_refs;
  bool has_backend_refs = false;  // the key is present (an empty array still counts)
  bool has_modifier = false;
  RawHeaderModifier modifier;
  bool has_redirect = false;
  RawRedirect redirect;
};

struct RawHttpRoute {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> ns;
  Field<std::vector<std::string>> parents;
  Field<std::vector<std::string>> hostnames;
  std::vector<RawHttpRouteRule> rules;
};

// --- Namespaces and NetworkPolicy ---------------------------------------------------------------

// [[namespace]]: a namespace's labels (what a policy's namespace_selector matches). A namespace
// that workloads name without a [[namespace]] table exists with no labels but its name's.
struct RawNamespace {
  SourcePos pos;
  Field<std::string> name;
  Field<StringMap> labels;
};

// { key = "tier", operator = "In", values = ["web"] }
struct RawSelectorRequirement {
  SourcePos pos;
  Field<std::string> key;
  Field<std::string> op;
  Field<std::vector<std::string>> values;
};

// A Kubernetes LabelSelector: match_labels AND every match_expressions requirement.
struct RawLabelSelector {
  SourcePos pos;
  bool present = false;
  Field<StringMap> match_labels;
  std::vector<RawSelectorRequirement> match_expressions;
};

// ip_block = { cidr = "10.244.0.0/16", except = ["10.244.1.0/24"] }: either family when read.
struct RawIpBlock {
  SourcePos pos;
  bool present = false;
  Field<std::string> cidr;
  Field<std::vector<std::string>> except;
};

struct RawPolicyPeer {
  SourcePos pos;
  RawLabelSelector pod_selector;
  RawLabelSelector namespace_selector;
  RawIpBlock ip_block;
};

struct RawPolicyPort {
  SourcePos pos;
  PortRef port;
  Field<std::string> protocol;
  Field<int64_t> end_port;
};

struct RawPolicyRule {
  SourcePos pos;
  bool has_peers = false;  // `from` / `to` is written (empty or absent: every peer)
  std::vector<RawPolicyPeer> peers;
  bool has_ports = false;  // empty or absent: every port
  std::vector<RawPolicyPort> ports;
};

struct RawNetworkPolicy {
  SourcePos pos;
  Field<std::string> name;
  Field<std::string> ns;
  RawLabelSelector pod_selector;  // absent = {} (every pod of the namespace)
  Field<std::vector<std::string>> policy_types;
  bool has_ingress = false, has_egress = false;
  std::vector<RawPolicyRule> ingress, egress;
};

// --- [[expect]]: what must and must not connect (lib/config/expect.h) ---------------------------

// `from` / `to`: a name ("client", "svc/web:80", "host-edge", "10.244.1.3") or a label selector
// table ({ app = "web" }).
struct RawExpectEnd {
  SourcePos pos;  // of the value; of the [[expect]] table when absent
  Field<std::string> name;
  Field<StringMap> selector;
  bool present() const { return name.present() || selector.present(); }
};

struct RawExpect {
  SourcePos pos;
  RawExpectEnd from, to;
  Field<int64_t> port;
  Field<std::string> proto;
  Field<std::string> result;
  Field<std::string> host;
  Field<std::string> path;
};

struct RawConfig {
  bool well_formed = false;  // the text parsed as TOML
  RawCluster cluster;
  Field<int64_t> node_count;  // `nodes = N`
  std::vector<RawNode> nodes;
  std::vector<RawRack> racks;
  std::vector<RawPod> pods;
  std::vector<RawDeployment> deployments;
  std::vector<RawService> services;
  std::vector<RawIngress> ingresses;
  std::vector<RawListener> listeners;
  std::vector<RawHttpRoute> http_routes;
  RawCni cni;
  std::vector<RawExpect> expects;
  std::vector<RawNamespace> namespaces;
  std::vector<RawNetworkPolicy> network_policies;
};

}  // namespace mkn::config
