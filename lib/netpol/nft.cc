// RenderNodeTable (nft.h): the model of policy.h written as nftables rules for the pods of one
// node.

#include "lib/netpol/nft.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "lib/netpol/policy.h"
#include "lib/strings/columns.h"
#include "lib/strings/str_cat.h"

namespace mkn::netpol {
namespace {

using config::ClusterSpec;
using config::NetworkPolicySpec;
using config::PodSpec;
using config::PolicyPeerSpec;
using config::PolicyRuleSpec;

std::string Proto(config::PolicyProtocol p) {
  return p == config::PolicyProtocol::kUdp ? "udp" : "tcp";
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string PolicyName(const NetworkPolicySpec& np) { return StrCat(np.ns, "/", np.name); }

// "x/allow-y/in1/peer2": a peer's set (rules and peers counted from 1, as the lab's errors do).
std::string PeerSet(const NetworkPolicySpec& np, bool ingress, size_t rule, size_t peer) {
  return StrCat(PolicyName(np), "/", ingress ? "in" : "eg", rule + 1, "/peer", peer + 1);
}

bool Usable(const PodSpec& p) { return p.ip.value != 0; }  // a CNI pod whose ADD failed has none

// The sets of every rule of the policies that isolate a pod on this node.
void RenderSets(const ClusterSpec& spec, const NetworkPolicySpec& np, bool ingress,
                std::vector<std::string>& out, std::vector<std::string>& skeleton,
                std::map<std::string, std::vector<std::string>>& sets,
                std::map<std::string, std::string>& heads) {
  const std::vector<PolicyRuleSpec>& rules = ingress ? np.ingress_rules : np.egress_rules;
  for (size_t r = 0; r < rules.size(); ++r) {
    for (size_t m = 0; m < rules[r].peers.size(); ++m) {
      const PolicyPeerSpec& peer = rules[r].peers[m];
      const std::string name = PeerSet(np, ingress, r, m);
      std::vector<std::string> elems, except;
      if (peer.has_ip_block) {
        elems.push_back(peer.ip_block.cidr.ToString());
        for (const net::IpPrefix& e : peer.ip_block.except) except.push_back(e.ToString());
      } else {
        std::set<uint32_t> ips;
        for (const PodSpec& p : spec.pods) {
          if (Usable(p) && PeerSelectsPod(spec, np, peer, p)) ips.insert(p.ip.value);
        }
        for (uint32_t ip : ips) elems.push_back(net::Ipv4{ip}.ToString());
      }
      auto set = [&](const std::string& n, const std::vector<std::string>& e,
                     const std::string& comment) {
        // auto-merge: an ip_block's except prefixes may overlap each other (the kernel then lists
        // neighbouring pod addresses as one range, 10.244.0.6/31).
        const std::string head =
            StrCat("  set ", n, " {\n    type ipv4_addr; flags interval; auto-merge;\n",
                   "    comment \"", comment, "\"\n");
        out.push_back(StrCat(
            head, e.empty() ? "" : StrCat("    elements = { ", Join(e, ", "), " }\n"), "  }"));
        skeleton.push_back(StrCat(head, "  }"));
        sets[n] = e;
        heads[n] = StrCat("type ipv4_addr; flags interval; auto-merge; comment \"", comment, "\";");
      };
      const std::string what = StrCat(PolicyName(np), " ", ingress ? "ingress #" : "egress #",
                                      r + 1, " ", ingress ? "from #" : "to #", m + 1);
      set(name, elems, peer.has_ip_block ? StrCat(what, ": ip_block") : StrCat(what, ": pods"));
      if (!except.empty()) set(StrCat(name, "/except"), except, StrCat(what, ": except"));
    }
  }
}

// The match of each peer of a rule ("" = any peer).
std::vector<std::string> PeerMatches(const NetworkPolicySpec& np, bool ingress, size_t r,
                                     const PolicyRuleSpec& rule) {
  if (rule.peers.empty()) return {""};
  const std::string field = ingress ? "ip saddr" : "ip daddr";
  std::vector<std::string> out;
  for (size_t m = 0; m < rule.peers.size(); ++m) {
    const std::string set = PeerSet(np, ingress, r, m);
    std::string match = StrCat(field, " @", set);
    if (rule.peers[m].has_ip_block && !rule.peers[m].ip_block.except.empty())
      StrAppend(&match, " ", field, " != @", set, "/except");
    out.push_back(match + " ");
  }
  return out;
}

// The rules of one pod's chain that one policy contributes.
void RenderPolicyRules(const ClusterSpec& spec, const NetworkPolicySpec& np, bool ingress,
                       const PodSpec& pod, std::vector<std::string>& out) {
  const std::vector<PolicyRuleSpec>& rules = ingress ? np.ingress_rules : np.egress_rules;
  const std::string verdict = ingress ? "accept" : "return";
  for (size_t r = 0; r < rules.size(); ++r) {
    const PolicyRuleSpec& rule = rules[r];
    const std::string comment =
        StrCat(" comment \"", PolicyName(np), " ", ingress ? "ingress #" : "egress #", r + 1, "\"");
    for (const std::string& peer : PeerMatches(np, ingress, r, rule)) {
      if (rule.ports.empty()) {
        out.push_back(StrCat(peer, verdict, comment));
        continue;
      }
      for (const config::PolicyPortSpec& port : rule.ports) {
        const std::string l4 = StrCat("meta l4proto ", Proto(port.protocol));
        if (!port.port_name.empty() && !ingress) {
          // An egress named port is the destination's: each pod the rule reaches that has it.
          std::vector<std::string> elems;
          for (const PodSpec& d : spec.pods) {
            if (!Usable(d)) continue;
            const bool peer_ok =
                rule.peers.empty() ||
                std::any_of(rule.peers.begin(), rule.peers.end(), [&](const PolicyPeerSpec& p) {
                  return PeerSelectsPod(spec, np, p, d);
                });
            std::optional<std::pair<int, int>> pr = PortRange(port, &d);
            if (peer_ok && pr) elems.push_back(StrCat(d.ip.ToString(), " . ", pr->first));
          }
          if (elems.empty()) continue;
          out.push_back(StrCat(l4, " ip daddr . th dport { ", Join(elems, ", "), " } ", verdict,
                               " comment \"", PolicyName(np), " egress #", r + 1, " port ",
                               port.port_name, "\""));
          continue;
        }
        std::optional<std::pair<int, int>> pr = PortRange(port, &pod);
        if (!pr) continue;  // a named port this pod does not have: nothing to allow
        std::string ports = pr->first == 0 ? ""
                            : pr->first == pr->second
                                ? StrCat(" th dport ", pr->first)
                                : StrCat(" th dport ", pr->first, "-", pr->second);
        out.push_back(StrCat(peer, l4, ports, " ", verdict, comment));
      }
    }
  }
}

}  // namespace

std::string DropCounter(std::string_view pod_key, bool ingress) {
  std::string key(pod_key);
  if (key.find('/') == std::string::npos) key = StrCat(config::kDefaultNamespace, "/", key);
  return StrCat("drops-", ingress ? "ingress/" : "egress/", key);
}

std::string RenderNodeTable(const ClusterSpec& spec, int node_index) {
  return BuildNodeTable(spec, node_index).full;
}

std::string RenderChange(const NodeTable& before, const NodeTable& after) {
  const std::string table = StrCat("inet ", kTable);
  if (after.full == before.full) return "";
  if (before.full.empty()) return after.full;
  if (after.full.empty()) return StrCat("delete table ", table, "\n");
  std::string out;
  auto elements = [&](const std::string& name, const std::vector<std::string>& elems) {
    if (!elems.empty())
      StrAppend(&out, "add element ", table, " ", name, " { ", Join(elems, ", "), " }\n");
  };
  if (after.skeleton == before.skeleton) {
    // Only peer sets changed: their elements; chains and counters stay.
    for (const auto& [name, elems] : after.sets) {
      auto old = before.sets.find(name);
      if (old != before.sets.end() && old->second == elems) continue;
      StrAppend(&out, "flush set ", table, " ", name, "\n");
      elements(name, elems);
    }
    return out;
  }
  // Objects that go, or whose declaration changes (deleted, then added again).
  std::set<std::string> gone_sets, gone_counters, gone_chains;
  for (const auto& [name, head] : before.set_heads) {
    auto it = after.set_heads.find(name);
    if (it == after.set_heads.end() || it->second != head) gone_sets.insert(name);
  }
  for (const auto& [name, comment] : before.counters) {
    auto it = after.counters.find(name);
    if (it == after.counters.end() || it->second != comment) gone_counters.insert(name);
  }
  for (const auto& [name, rules] : before.chains)
    if (after.chains.count(name) == 0) gone_chains.insert(name);
  // A rule names a set as "@<set>" and a counter as "\"<counter>\"".
  auto names_gone = [&](const std::string& rule) {
    for (const std::string& s : gone_sets) {
      for (size_t at = rule.find(StrCat("@", s)); at != std::string::npos;
           at = rule.find(StrCat("@", s), at + 1)) {
        const size_t end = at + 1 + s.size();
        if (end == rule.size() || rule[end] == ' ' || rule[end] == ',') return true;
      }
    }
    for (const std::string& c : gone_counters)
      if (rule.find(StrCat("\"", c, "\"")) != std::string::npos) return true;
    return false;
  };
  // Chains whose rules are rewritten: they changed, or name something that goes.
  std::set<std::string> refill;
  for (const auto& [name, rules] : after.chains) {
    auto old = before.chains.find(name);
    if (old == before.chains.end()) continue;
    bool rewrite = old->second != rules;
    for (const std::string& r : old->second) rewrite = rewrite || names_gone(r);
    if (rewrite) refill.insert(name);
  }
  // 1. Nothing may still name what goes: the chains that go or change are emptied first.
  for (const std::string& c : refill) StrAppend(&out, "flush chain ", table, " ", c, "\n");
  for (const std::string& c : gone_chains) StrAppend(&out, "flush chain ", table, " ", c, "\n");
  // 2. What goes.
  for (const std::string& c : gone_chains) StrAppend(&out, "delete chain ", table, " ", c, "\n");
  for (const std::string& s : gone_sets) StrAppend(&out, "delete set ", table, " ", s, "\n");
  for (const std::string& c : gone_counters)
    StrAppend(&out, "delete counter ", table, " ", c, "\n");
  // 3. What comes (sets with their elements), and the elements of the sets that stay.
  for (const auto& [name, head] : after.set_heads) {
    if (before.set_heads.count(name) != 0 && gone_sets.count(name) == 0) continue;
    StrAppend(&out, "add set ", table, " ", name, " { ", head, " }\n");
    elements(name, after.sets.at(name));
  }
  for (const auto& [name, elems] : after.sets) {
    if (before.sets.count(name) == 0 || gone_sets.count(name) != 0) continue;
    if (before.sets.at(name) == elems) continue;
    StrAppend(&out, "flush set ", table, " ", name, "\n");
    elements(name, elems);
  }
  for (const auto& [name, comment] : after.counters) {
    if (before.counters.count(name) != 0 && gone_counters.count(name) == 0) continue;
    StrAppend(&out, "add counter ", table, " ", name, " { comment \"", comment, "\"; }\n");
  }
  std::vector<std::string> fill(refill.begin(), refill.end());
  for (const auto& [name, rules] : after.chains) {
    if (before.chains.count(name) != 0) continue;
    StrAppend(&out, "add chain ", table, " ", name, "\n");
    fill.push_back(name);
  }
  // 4. The rules: pods' chains before `forward`, whose vmaps jump to them.
  std::stable_partition(fill.begin(), fill.end(),
                        [](const std::string& c) { return c != "forward"; });
  for (const std::string& c : fill) {
    for (const std::string& r : after.chains.at(c))
      StrAppend(&out, "add rule ", table, " ", c, " ", r, "\n");
  }
  return out;
}

NodeTable BuildNodeTable(const ClusterSpec& spec, int node_index) {
  NodeTable t;
  if (spec.network_policies.empty()) return t;
  const config::NodeSpec& node = spec.nodes[node_index];
  const std::vector<Isolation> iso = Isolate(spec);
  // Which policies matter here: those isolating a pod of this node.
  std::set<int> in_pols, eg_pols;
  std::vector<const PodSpec*> in_pods, eg_pods;
  for (int i : node.pods) {
    const PodSpec& p = spec.pods[i];
    if (!Usable(p)) continue;
    if (!iso[i].ingress.empty()) in_pods.push_back(&p);
    if (!iso[i].egress.empty()) eg_pods.push_back(&p);
    in_pols.insert(iso[i].ingress.begin(), iso[i].ingress.end());
    eg_pols.insert(iso[i].egress.begin(), iso[i].egress.end());
  }
  const std::string table = StrCat("inet ", kTable);
  std::string out =
      StrCat("# minikube-net ", spec.name, "/", node.name,
             ": NetworkPolicy for this node's pods, one transaction (created, deleted, rebuilt).\n",
             "table ", table, "\ndelete table ", table, "\ntable ", table, " {\n");
  const std::string header = out;
  std::vector<std::string> sets, skeleton;
  for (int k : in_pols)
    RenderSets(spec, spec.network_policies[k], true, sets, skeleton, t.sets, t.set_heads);
  for (int k : eg_pols)
    RenderSets(spec, spec.network_policies[k], false, sets, skeleton, t.sets, t.set_heads);
  for (const std::string& s : sets) StrAppend(&out, s, "\n");
  std::string rest;
  auto key = [](const PodSpec& p) {
    return config::QualifiedName(p.ns, config::NameOfKey(p.name));
  };
  auto full_key = [](const PodSpec& p) { return StrCat(p.ns, "/", config::NameOfKey(p.name)); };
  for (const auto* pods : {&eg_pods, &in_pods}) {
    const bool ingress = pods == &in_pods;
    for (const PodSpec* p : *pods) {
      const std::string comment =
          StrCat(full_key(*p), ingress ? " ingress" : " egress", ": new flows no policy allows");
      StrAppend(&rest, "  counter ", DropCounter(key(*p), ingress), " {\n    comment \"", comment,
                "\"\n  }\n");
      t.counters[DropCounter(key(*p), ingress)] = comment;
    }
  }
  // The chain every forwarded packet of the node passes.
  std::vector<std::string>& forward = t.chains["forward"];
  forward.push_back("ct state established,related accept comment \"replies of allowed flows\"");
  auto vmap = [&](const std::vector<const PodSpec*>& pods, bool ingress) {
    if (pods.empty()) return;
    std::vector<std::string> elems;
    for (const PodSpec* p : pods)
      elems.push_back(
          StrCat(p->ip.ToString(), " : jump ", ingress ? "ingress/" : "egress/", full_key(*p)));
    forward.push_back(StrCat("ip ", ingress ? "daddr" : "saddr", " vmap { ", Join(elems, ", "),
                             " } comment \"",
                             ingress ? "isolated for ingress" : "isolated for egress", "\""));
  };
  vmap(eg_pods, false);
  vmap(in_pods, true);
  StrAppend(&rest,
            "  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
  for (const std::string& r : forward) StrAppend(&rest, "    ", r, "\n");
  StrAppend(&rest, "  }\n");
  auto chain = [&](const PodSpec& p, bool ingress) {
    const std::vector<int>& pols =
        ingress ? iso[&p - spec.pods.data()].ingress : iso[&p - spec.pods.data()].egress;
    const std::string name = StrCat(ingress ? "ingress/" : "egress/", full_key(p));
    std::vector<std::string>& rules = t.chains[name];
    if (ingress) {
      // The pod's own node always reaches it (kubelet's probes): its address on cbr0, and the
      // userspace proxy's, which is the source of the Service flows it relays.
      rules.push_back(StrCat("ip saddr { ", node.gateway.ToString(), ", ", node.proxy_ip.ToString(),
                             " } accept comment \"the pod's own node\""));
    }
    for (int k : pols) RenderPolicyRules(spec, spec.network_policies[k], ingress, p, rules);
    rules.push_back(StrCat("counter name \"", DropCounter(key(p), ingress), "\" drop"));
    StrAppend(&rest, "  chain ", name, " {\n");
    for (const std::string& r : rules) StrAppend(&rest, "    ", r, "\n");
    StrAppend(&rest, "  }\n");
  };
  for (const PodSpec* p : eg_pods) chain(*p, false);
  for (const PodSpec* p : in_pods) chain(*p, true);
  StrAppend(&rest, "}\n");
  t.full = out + rest;
  t.skeleton = header;
  for (const std::string& k : skeleton) StrAppend(&t.skeleton, k, "\n");
  t.skeleton += rest;
  return t;
}

std::string PolicyTable(const ClusterSpec& spec, const std::vector<std::string>& live,
                        const std::map<std::string, uint64_t>& counters) {
  std::vector<std::vector<std::string>> rows = {
      {"NAMESPACE", "NAME", "POD-SELECTOR", "TYPES", "PODS", "DROPS"}};
  for (const NetworkPolicySpec& np : spec.network_policies) {
    std::vector<std::string> pods;
    uint64_t drops = 0;
    for (const std::string& key : live) {
      // The pod's labels: its own, or its deployment's template for a replica made by `scale`.
      const PodSpec* p = spec.FindPod(key);
      const std::map<std::string, std::string>* labels = p ? &p->labels : nullptr;
      const std::string ns(config::NamespaceOfKey(key));
      if (labels == nullptr) {
        const size_t dash = key.rfind('-');
        const config::DeploymentSpec* d =
            dash == std::string::npos ? nullptr : spec.FindDeployment(key.substr(0, dash));
        if (d != nullptr) labels = &d->labels;
      }
      if (labels == nullptr || ns != np.ns || !np.pod_selector.Matches(*labels)) continue;
      pods.emplace_back(config::NameOfKey(key));
      for (bool in : {true, false}) {
        if (in ? !np.ingress : !np.egress) continue;
        auto it = counters.find(DropCounter(key, in));
        if (it != counters.end()) drops += it->second;
      }
    }
    std::string types = np.ingress && np.egress ? "Ingress,Egress"
                        : np.ingress            ? "Ingress"
                                                : "Egress";
    rows.push_back({np.ns, np.name, np.pod_selector.ToString(), types,
                    pods.empty() ? "<none>" : Join(pods, ","), StrCat(drops)});
  }
  return Columns(rows);
}

std::string DropVerdict(const ClusterSpec& spec, const std::map<std::string, uint64_t>& before,
                        const std::map<std::string, uint64_t>& after) {
  const std::vector<Isolation> iso = Isolate(spec);
  std::vector<std::string> out;
  for (size_t i = 0; i < spec.pods.size(); ++i) {
    const PodSpec& p = spec.pods[i];
    const std::string key = config::QualifiedName(p.ns, config::NameOfKey(p.name));
    for (bool ingress : {false, true}) {
      const std::string c = DropCounter(key, ingress);
      auto a = after.find(c);
      if (a == after.end()) continue;
      auto b = before.find(c);
      if (a->second <= (b == before.end() ? 0 : b->second)) continue;
      std::vector<std::string> pols;
      for (int k : ingress ? iso[i].ingress : iso[i].egress)
        pols.push_back(PolicyName(spec.network_policies[k]));
      out.push_back(StrCat("dropped by NetworkPolicy ", Join(pols, ", "), " (",
                           ingress ? "ingress" : "egress", " of ", p.ns, "/",
                           config::NameOfKey(p.name), ")"));
    }
  }
  return Join(out, "; ");
}

std::map<std::string, uint64_t> ParseCounters(std::string_view listing) {
  std::map<std::string, uint64_t> out;
  std::string current;
  size_t pos = 0;
  while (pos < listing.size()) {
    size_t nl = listing.find('\n', pos);
    if (nl == std::string_view::npos) nl = listing.size();
    std::string_view line = listing.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.substr(0, 8) == "counter ") {
      std::string_view name = line.substr(8);
      const size_t sp = name.find(' ');
      current = std::string(name.substr(0, sp));
      if (!current.empty() && current.front() == '"')
        current = current.substr(1, current.size() - 2);
    } else if (!current.empty() && line.substr(0, 8) == "packets ") {
      std::string_view n = line.substr(8);
      uint64_t v = 0;
      for (char c : n) {
        if (c < '0' || c > '9') break;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      out[current] = v;
      current.clear();
    }
  }
  return out;
}

}  // namespace mkn::netpol
