// lib/config/netpol — namespaces and `[[network_policy]]` as resolved data (Kubernetes semantics).
//
// A workload's identity is its *key*: its name in the "default" namespace, "<ns>/<name>" in any
// other (kubectl's and the netpol e2e suite's notation). Keys are what `exec`, `kill`, `logs`,
// `[[expect]]` and the state name a pod by; a lab without namespaces has the keys it always had.
//
// A NetworkPolicySpec is checked and complete: selectors parsed, CIDRs of either family read (the
// resolver says which it supports), named ports kept as names (each selected pod resolves them),
// the policy types filled the way the API server defaults them. lib/netpol compiles policies and
// a running lab's pods into each node's nftables table. Pure data.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lib/net/ip_addr.h"

namespace mkn::config {

inline constexpr std::string_view kDefaultNamespace = "default";
// The label the API server puts on every namespace (what `namespace_selector` matches by name).
inline constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

// "<ns>/<name>", or `name` in the default namespace.
std::string QualifiedName(std::string_view ns, std::string_view name);
// The namespace and the name of a key ("x/a" → "x", "a"; "a" → "default", "a").
std::string_view NamespaceOfKey(std::string_view key);
std::string_view NameOfKey(std::string_view key);
// The <object> of a pod's netns name mkn-<cluster>-<object>: "x-a" for "x/a", "a" for "a".
std::string KeyObject(std::string_view key);

struct NamespaceSpec {
  std::string name;
  std::map<std::string, std::string> labels;  // kNamespaceNameLabel included
};

enum class SelectorOp { kIn, kNotIn, kExists, kDoesNotExist };
std::string_view ToString(SelectorOp op);

struct SelectorRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kIn;
  std::vector<std::string> values;
  bool operator==(const SelectorRequirement&) const = default;
};

// match_labels AND every requirement; the empty selector matches everything.
struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<SelectorRequirement> match_expressions;
  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool Empty() const { return match_labels.empty() && match_expressions.empty(); }
  // "app=web,tier in (a,b)" as kubectl prints a selector; "<all>" when empty.
  std::string ToString() const;
  bool operator==(const LabelSelector&) const = default;
};

struct IpBlockSpec {
  net::IpPrefix cidr;
  std::vector<net::IpPrefix> except;  // each inside cidr
  bool operator==(const IpBlockSpec&) const = default;
};

// One `from`/`to` entry: an ip_block, or pods chosen by a pod selector and/or a namespace selector
// (both = pods matching the first in namespaces matching the second; only a pod selector = in the
// policy's own namespace; only a namespace selector = every pod of those namespaces).
struct PolicyPeerSpec {
  bool has_pod_selector = false, has_namespace_selector = false, has_ip_block = false;
  LabelSelector pod_selector, namespace_selector;
  IpBlockSpec ip_block;
  bool operator==(const PolicyPeerSpec&) const = default;
};

enum class PolicyProtocol { kTcp, kUdp };
std::string_view ToString(PolicyProtocol p);

struct PolicyPortSpec {
  PolicyProtocol protocol = PolicyProtocol::kTcp;
  int port = 0;           // 0: every port of the protocol (unless port_name)
  std::string port_name;  // a container port name, resolved per destination pod
  int end_port = 0;       // 0: just `port`
  bool operator==(const PolicyPortSpec&) const = default;
};

struct PolicyRuleSpec {
  std::vector<PolicyPeerSpec> peers;  // empty: every peer
  std::vector<PolicyPortSpec> ports;  // empty: every port and protocol
  bool operator==(const PolicyRuleSpec&) const = default;
};

struct NetworkPolicySpec {
  std::string name;
  std::string ns = std::string(kDefaultNamespace);
  LabelSelector pod_selector;  // within ns
  bool ingress = true;         // policy_types has "Ingress": selected pods are isolated for it
  bool egress = false;
  std::vector<PolicyRuleSpec> ingress_rules, egress_rules;
  std::string key() const { return QualifiedName(ns, name); }
  bool operator==(const NetworkPolicySpec&) const = default;
};

}  // namespace mkn::config
