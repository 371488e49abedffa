// Namespaces and NetworkPolicies of Resolve() (resolver.h): [[namespace]] and the namespace every
// workload names, then [[network_policy]] checked the way the API server validates a
// NetworkPolicy (selectors, peers, ports, ip blocks) and defaulted (policy_types).

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "lib/config/resolver.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {
namespace internal {
namespace {

// "svc/NAME" is a Service wherever a pod key may be written ([[expect]], trace), so no namespace
// may be called "svc".
constexpr std::string_view kReservedNamespace = "svc";

// IANA_SVC_NAME, what a container port's name must be to be named by a policy or a Service.
bool IsPortName(std::string_view n) {
  if (n.empty() || n.size() > 15) return false;
  bool letter = false;
  for (char c : n) {
    if (c >= 'a' && c <= 'z') {
      letter = true;
    } else if (!(c >= '0' && c <= '9') && c != '-') {
      return false;
    }
  }
  return letter && n.front() != '-' && n.back() != '-' && n.find("--") == std::string_view::npos;
}

}  // namespace

void Resolver::ResolveNamespaces() {
  spec_.namespaces.push_back(
      NamespaceSpec{std::string(kDefaultNamespace),
                    {{std::string(kNamespaceNameLabel), std::string(kDefaultNamespace)}}});
  for (size_t i = 0; i < raw_.namespaces.size(); ++i) {
    const RawNamespace& rn = raw_.namespaces[i];
    std::string what =
        rn.name.set ? StrCat("namespace \"", rn.name.value, "\"") : StrCat("namespace #", i + 1);
    if (!CheckName(rn.name, what, net::kMaxPodName, "a Kubernetes namespace name (a DNS label)"))
      continue;
    if (rn.name.value == kReservedNamespace) {
      d_.Error(rn.name.pos, StrCat(what, ": the name is reserved (\"svc/NAME\" names a Service)"));
      continue;
    }
    NamespaceSpec* ns = const_cast<NamespaceSpec*>(spec_.FindNamespace(rn.name.value));
    if (ns != nullptr && ns->labels.size() > 1) {
      d_.Error(rn.name.pos, StrCat(what, ": duplicate namespace"));
      continue;
    }
    if (ns == nullptr) {
      spec_.namespaces.push_back(NamespaceSpec{rn.name.value, {}});
      ns = &spec_.namespaces.back();
    }
    ns->labels = rn.labels.value;
    // As the API server: the name label is always there and always the name.
    ns->labels[std::string(kNamespaceNameLabel)] = rn.name.value;
  }
}

std::string Resolver::NamespaceOf(const Field<std::string>& f, std::string_view what) {
  if (f.bad) return "";
  if (!f.set) return std::string(kDefaultNamespace);
  if (!net::IsDnsLabel(f.value, net::kMaxPodName)) {
    d_.Error(f.pos, StrCat(what, ": namespace \"", f.value,
                           "\" must be lowercase letters, digits and '-', starting and ending "
                           "with a letter or digit"));
    return "";
  }
  if (f.value == kReservedNamespace) {
    d_.Error(f.pos, StrCat(what, ": namespace \"", f.value,
                           "\" is reserved (\"svc/NAME\" names a Service)"));
    return "";
  }
  if (spec_.FindNamespace(f.value) == nullptr && live_) {
    std::string names;
    for (const NamespaceSpec& ns : spec_.namespaces)
      names += StrCat(names.empty() ? "" : ", ", ns.name);
    d_.Error(f.pos, StrCat(what, ": namespace \"", f.value, "\" does not exist in cluster ",
                           spec_.name, " (its namespaces: ", names, ")"));
    return "";
  }
  if (spec_.FindNamespace(f.value) == nullptr) {
    spec_.namespaces.push_back(
        NamespaceSpec{f.value, {{std::string(kNamespaceNameLabel), f.value}}});
  }
  return f.value;
}

std::optional<LabelSelector> Resolver::ResolveSelector(const RawLabelSelector& raw,
                                                       const std::string& what) {
  LabelSelector s;
  bool ok = !raw.match_labels.bad;
  s.match_labels = raw.match_labels.value;
  for (const RawSelectorRequirement& rq : raw.match_expressions) {
    if (rq.key.bad || rq.op.bad || rq.values.bad) {
      ok = false;
      continue;
    }
    SelectorRequirement q;
    if (!rq.key.set || rq.key.value.empty()) {
      d_.Error(rq.pos, StrCat(what, ": match_expressions: missing \"key\""));
      ok = false;
      continue;
    }
    q.key = rq.key.value;
    static constexpr std::pair<std::string_view, SelectorOp> kOps[] = {
        {"In", SelectorOp::kIn},
        {"NotIn", SelectorOp::kNotIn},
        {"Exists", SelectorOp::kExists},
        {"DoesNotExist", SelectorOp::kDoesNotExist}};
    auto op = std::find_if(std::begin(kOps), std::end(kOps),
                           [&](const auto& o) { return o.first == rq.op.value; });
    if (op == std::end(kOps)) {
      d_.Error(rq.op.set ? rq.op.pos : rq.pos,
               StrCat(what, ": match_expressions: operator \"", rq.op.value,
                      "\" is not In, NotIn, Exists or DoesNotExist"));
      ok = false;
      continue;
    }
    q.op = op->second;
    q.values = rq.values.value;
    const bool needs_values = q.op == SelectorOp::kIn || q.op == SelectorOp::kNotIn;
    if (needs_values == q.values.empty()) {
      d_.Error(rq.values.set ? rq.values.pos : rq.pos,
               StrCat(what, ": match_expressions: ", op->first,
                      needs_values ? " needs values" : " takes no values"));
      ok = false;
      continue;
    }
    s.match_expressions.push_back(std::move(q));
  }
  if (!ok) return std::nullopt;
  return s;
}

std::optional<PolicyRuleSpec> Resolver::ResolvePolicyRule(const RawPolicyRule& raw, bool ingress,
                                                          const std::string& what) {
  PolicyRuleSpec rule;
  bool ok = true;
  const std::string_view peers_key = ingress ? "from" : "to";
  for (size_t i = 0; i < raw.peers.size(); ++i) {
    const RawPolicyPeer& rp = raw.peers[i];
    std::string pw = StrCat(what, ": ", peers_key, " #", i + 1);
    PolicyPeerSpec peer;
    const bool selectors = rp.pod_selector.present || rp.namespace_selector.present;
    if (rp.ip_block.present == selectors) {
      d_.Error(rp.pos, StrCat(pw, selectors ? ": ip_block cannot be combined with a selector"
                                            : ": give pod_selector, namespace_selector (or both) "
                                              "or ip_block"));
      ok = false;
      continue;
    }
    if (rp.pod_selector.present) {
      std::optional<LabelSelector> s =
          ResolveSelector(rp.pod_selector, StrCat(pw, ": pod_selector"));
      if (!s) ok = false;
      if (s) peer.pod_selector = std::move(*s);
      peer.has_pod_selector = true;
    }
    if (rp.namespace_selector.present) {
      std::optional<LabelSelector> s =
          ResolveSelector(rp.namespace_selector, StrCat(pw, ": namespace_selector"));
      if (!s) ok = false;
      if (s) peer.namespace_selector = std::move(*s);
      peer.has_namespace_selector = true;
    }
    if (rp.ip_block.present) {
      const RawIpBlock& rb = rp.ip_block;
      peer.has_ip_block = true;
      if (!rb.cidr.set) {
        if (!rb.cidr.bad) d_.Error(rb.pos, StrCat(pw, ": ip_block: missing \"cidr\""));
        ok = false;
        continue;
      }
      std::optional<net::IpPrefix> cidr = net::IpPrefix::Parse(rb.cidr.value);
      if (!cidr) {
        d_.Error(rb.cidr.pos, StrCat(pw, ": ip_block: cidr \"", rb.cidr.value,
                                     "\" is not a CIDR like 10.0.0.0/8"));
        ok = false;
        continue;
      }
      // The one place that says IPv6 is not supported yet: dual stack lifts it here.
      if (cidr->family() != net::Family::kIpv4) {
        d_.Error(rb.cidr.pos, StrCat(pw, ": ip_block: cidr ", cidr->ToString(),
                                     " is IPv6; this lab is IPv4 only (dual stack comes later)"));
        ok = false;
        continue;
      }
      peer.ip_block.cidr = cidr->Network();
      for (const std::string& e : rb.except.value) {
        std::optional<net::IpPrefix> ex = net::IpPrefix::Parse(e);
        if (!ex || ex->family() != cidr->family() || !cidr->Contains(*ex) || ex->len <= cidr->len) {
          d_.Error(rb.except.pos, StrCat(pw, ": ip_block: except \"", e,
                                         "\" must be a CIDR strictly inside ", cidr->ToString()));
          ok = false;
          continue;
        }
        peer.ip_block.except.push_back(ex->Network());
      }
    }
    rule.peers.push_back(std::move(peer));
  }
  for (const RawPolicyPort& rp : raw.ports) {
    PolicyPortSpec port;
    std::string pw = StrCat(what, ": ports");
    if (rp.port.number.bad || rp.protocol.bad || rp.end_port.bad) {
      ok = false;
      continue;
    }
    if (rp.protocol.set && rp.protocol.value != "TCP" && rp.protocol.value != "UDP") {
      d_.Error(rp.protocol.pos,
               StrCat(pw, ": protocol \"", rp.protocol.value, "\" is not \"TCP\" or \"UDP\"",
                      rp.protocol.value == "SCTP" ? " (SCTP is not supported)" : ""));
      ok = false;
      continue;
    }
    port.protocol = rp.protocol.value == "UDP" ? PolicyProtocol::kUdp : PolicyProtocol::kTcp;
    if (rp.port.number.set) {
      if (!CheckPort(rp.port.number, pw)) {
        ok = false;
        continue;
      }
      port.port = static_cast<int>(rp.port.number.value);
    } else if (rp.port.name.set) {
      if (!IsPortName(rp.port.name.value)) {
        d_.Error(rp.port.name.pos,
                 StrCat(pw, ": port \"", rp.port.name.value,
                        "\" is not a port name (1-15 lowercase letters, digits and '-', at least "
                        "one letter)"));
        ok = false;
        continue;
      }
      port.port_name = rp.port.name.value;
      // A named port is resolved per destination pod; a name no container of the lab declares
      // (with this protocol) matches nothing, which is legal in Kubernetes but nearly always a
      // typo: warn.
      const auto declares = [&](const std::vector<ContainerSpec>& containers) {
        for (const ContainerSpec& c : containers) {
          for (const ContainerPort& cp : c.ports) {
            if (cp.name == port.port_name &&
                (cp.protocol == Protocol::kUdp) == (port.protocol == PolicyProtocol::kUdp))
              return true;
          }
        }
        return false;
      };
      bool declared = false;
      for (const PodSpec& pod : spec_.pods) declared = declared || declares(pod.containers);
      for (const DeploymentSpec& dep : spec_.deployments)
        declared = declared || declares(dep.containers);
      if (!declared) {
        d_.Warning(rp.port.name.pos,
                   StrCat(pw, ": port \"", port.port_name, "\" names no ",
                          port.protocol == PolicyProtocol::kUdp ? "UDP" : "TCP",
                          " container port of any pod: this port matches nothing"));
      }
    }
    if (rp.end_port.set) {
      if (port.port == 0) {
        d_.Error(rp.end_port.pos, StrCat(pw, ": end_port needs a numeric port"));
        ok = false;
        continue;
      }
      if (rp.end_port.value < port.port || rp.end_port.value > 65535) {
        d_.Error(rp.end_port.pos, StrCat(pw, ": end_port ", rp.end_port.value,
                                         " must be between port ", port.port, " and 65535"));
        ok = false;
        continue;
      }
      port.end_port = static_cast<int>(rp.end_port.value);
    }
    rule.ports.push_back(std::move(port));
  }
  if (!ok) return std::nullopt;
  return rule;
}

void Resolver::ResolveNetworkPolicies() {
  std::set<std::string> keys;
  for (size_t i = 0; i < raw_.network_policies.size(); ++i) {
    const RawNetworkPolicy& rn = raw_.network_policies[i];
    std::string what = rn.name.set ? StrCat("network_policy \"", rn.name.value, "\"")
                                   : StrCat("network_policy #", i + 1);
    NetworkPolicySpec np;
    bool ok = CheckName(rn.name, what, net::kMaxPodName, "a Kubernetes name");
    np.ns = NamespaceOf(rn.ns, what);
    if (np.ns.empty()) ok = false;
    np.name = rn.name.value;
    if (ok && !keys.insert(np.key()).second) {
      d_.Error(rn.name.pos, StrCat(what, ": duplicate network_policy name"));
      ok = false;
    }
    if (rn.pod_selector.present) {
      std::optional<LabelSelector> s =
          ResolveSelector(rn.pod_selector, StrCat(what, ": pod_selector"));
      if (s) np.pod_selector = std::move(*s);
      if (!s) ok = false;
    }
    if (rn.policy_types.bad) ok = false;
    if (rn.policy_types.set) {
      np.ingress = np.egress = false;
      for (const std::string& t : rn.policy_types.value) {
        if (t == "Ingress") {
          np.ingress = true;
        } else if (t == "Egress") {
          np.egress = true;
        } else {
          d_.Error(rn.policy_types.pos,
                   StrCat(what, ": policy_types: \"", t, "\" is not \"Ingress\" or \"Egress\""));
          ok = false;
        }
      }
      if (rn.policy_types.value.empty()) {
        d_.Error(rn.policy_types.pos, StrCat(what,
                                             ": policy_types is empty (leave it out for the "
                                             "default: Ingress, and Egress with egress rules)"));
        ok = false;
      }
      if (!np.ingress && !rn.ingress.empty())
        d_.Warning(rn.pos, StrCat(what,
                                  ": ingress rules without \"Ingress\" in policy_types "
                                  "are ignored"));
      if (!np.egress && !rn.egress.empty())
        d_.Warning(rn.pos, StrCat(what,
                                  ": egress rules without \"Egress\" in policy_types "
                                  "are ignored"));
    } else {
      // The API server's default: Ingress always, Egress when the policy has egress rules.
      np.ingress = true;
      np.egress = rn.has_egress;
    }
    for (size_t k = 0; k < rn.ingress.size(); ++k) {
      std::optional<PolicyRuleSpec> r =
          ResolvePolicyRule(rn.ingress[k], true, StrCat(what, ": ingress #", k + 1));
      if (!r) ok = false;
      if (r && np.ingress) np.ingress_rules.push_back(std::move(*r));
    }
    for (size_t k = 0; k < rn.egress.size(); ++k) {
      std::optional<PolicyRuleSpec> r =
          ResolvePolicyRule(rn.egress[k], false, StrCat(what, ": egress #", k + 1));
      if (!r) ok = false;
      if (r && np.egress) np.egress_rules.push_back(std::move(*r));
    }
    if (ok && spec_.cni_mode) {
      d_.Error(rn.pos, StrCat(what,
                              ": network policies are not enforced in a network = \"cni\" "
                              "lab (the plugin chain wires its pods; enforcing is its job)"));
      ok = false;
    }
    if (ok) spec_.network_policies.push_back(std::move(np));
  }
  // "default" first, the rest by name: the order `get ns` and the compiled sets list them in.
  std::sort(spec_.namespaces.begin() + 1, spec_.namespaces.end(),
            [](const NamespaceSpec& a, const NamespaceSpec& b) { return a.name < b.name; });
}

std::optional<std::vector<NetworkPolicySpec>> Resolver::RunPolicies(const ClusterSpec& live) {
  spec_ = live;
  spec_.network_policies.clear();
  live_ = true;
  ResolveNetworkPolicies();
  if (d_.HasErrors()) return std::nullopt;
  return std::move(spec_.network_policies);
}

}  // namespace internal

std::optional<std::vector<NetworkPolicySpec>> ResolvePolicies(const RawConfig& raw,
                                                              const ClusterSpec& live,
                                                              Diagnostics& diags) {
  return internal::Resolver(raw, diags).RunPolicies(live);
}

}  // namespace mkn::config
