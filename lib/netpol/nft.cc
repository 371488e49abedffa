// RenderNodeTable (nft.h): the model of policy.h written as nftables rules for the pods of one
// node.

#include "lib/netpol/nft.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lib/netpol/policy.h"
#include "lib/strings/columns.h"
#include "lib/strings/str_cat.h"

namespace mkn::netpol {
// What every node's table needs of the whole lab, computed once for all of them: which policies
// isolate each pod, and each pod peer's addresses (a scan of every pod), by set name. Read-only
// once made.
struct LabView {
  explicit LabView(const config::ClusterSpec& s);
  const config::ClusterSpec& spec;
  std::vector<Isolation> iso;
  std::map<std::string, std::vector<std::string>> pod_sets;
};

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

// The sets of every rule of one policy in one direction: a peer of pods is a plain hash set of
// their addresses (a pod that comes or goes is one `add element` / `delete element`, and a lookup
// is one hash probe); an ip_block is an interval set (prefixes), with its except prefixes in a
// second one.
// A pod peer's addresses, sorted by value.
std::vector<std::string> PeerPods(const ClusterSpec& spec, const NetworkPolicySpec& np,
                                  const PolicyPeerSpec& peer) {
  std::set<uint32_t> ips;
  for (const PodSpec& p : spec.pods) {
    if (Usable(p) && PeerSelectsPod(spec, np, peer, p)) ips.insert(p.ip.value);
  }
  std::vector<std::string> out;
  for (uint32_t ip : ips) out.push_back(net::Ipv4{ip}.ToString());
  return out;
}

void AddSets(const LabView& lab, const NetworkPolicySpec& np, bool ingress, NodeTable& t,
             std::vector<std::string>& order) {
  const ClusterSpec& spec = lab.spec;
  const std::vector<PolicyRuleSpec>& rules = ingress ? np.ingress_rules : np.egress_rules;
  for (size_t r = 0; r < rules.size(); ++r) {
    for (size_t m = 0; m < rules[r].peers.size(); ++m) {
      const PolicyPeerSpec& peer = rules[r].peers[m];
      const std::string name = PeerSet(np, ingress, r, m);
      std::vector<std::string> elems, except;
      if (peer.has_ip_block) {
        elems.push_back(peer.ip_block.cidr.ToString());
        for (const net::IpPrefix& e : peer.ip_block.except) except.push_back(e.ToString());
      } else if (auto known = lab.pod_sets.find(name); known != lab.pod_sets.end()) {
        elems = known->second;
      } else {
        elems = PeerPods(spec, np, peer);
      }
      auto set = [&](const std::string& n, std::vector<std::string> e, bool interval,
                     const std::string& comment) {
        // auto-merge: an ip_block's except prefixes may overlap each other (the kernel then lists
        // neighbouring addresses as one range, 10.244.0.6/31).
        t.set_heads[n] = StrCat("type ipv4_addr; ", interval ? "flags interval; auto-merge; " : "",
                                "comment \"", comment, "\";");
        t.sets[n] = std::move(e);
        order.push_back(n);
      };
      const std::string what = StrCat(PolicyName(np), " ", ingress ? "ingress #" : "egress #",
                                      r + 1, " ", ingress ? "from #" : "to #", m + 1);
      if (peer.has_ip_block) {
        set(name, elems, true, StrCat(what, ": ip_block"));
        if (!except.empty()) set(StrCat(name, "/except"), except, true, StrCat(what, ": except"));
      } else {
        set(name, elems, false, StrCat(what, ": pods"));
      }
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

// A policy's chain in one direction: its rules, the same for every pod it isolates on the node,
// so that a change of the policy rewrites this one chain and no pod's. A named port differs per
// destination pod: it is matched as (address . port) of each pod that has it, the destination
// pods of the node the policy isolates for ingress (`local`), every pod a rule reaches for egress.
std::vector<std::string> PolicyRules(const ClusterSpec& spec, const NetworkPolicySpec& np,
                                     bool ingress, const std::vector<const PodSpec*>& local) {
  std::vector<std::string> out;
  const std::vector<PolicyRuleSpec>& rules = ingress ? np.ingress_rules : np.egress_rules;
  for (size_t r = 0; r < rules.size(); ++r) {
    const PolicyRuleSpec& rule = rules[r];
    const std::string what = StrCat(PolicyName(np), " ", ingress ? "ingress #" : "egress #", r + 1);
    for (const std::string& peer : PeerMatches(np, ingress, r, rule)) {
      if (rule.ports.empty()) {
        out.push_back(StrCat(peer, "accept comment \"", what, "\""));
        continue;
      }
      for (const config::PolicyPortSpec& port : rule.ports) {
        const std::string l4 = StrCat("meta l4proto ", Proto(port.protocol));
        if (!port.port_name.empty()) {
          std::vector<std::string> elems;
          auto add = [&](const PodSpec& d) {
            std::optional<std::pair<int, int>> pr = PortRange(port, &d);
            if (pr) elems.push_back(StrCat(d.ip.ToString(), " . ", pr->first));
          };
          if (ingress) {
            for (const PodSpec* d : local) add(*d);
          } else {
            for (const PodSpec& d : spec.pods) {
              const bool peer_ok =
                  rule.peers.empty() ||
                  std::any_of(rule.peers.begin(), rule.peers.end(), [&](const PolicyPeerSpec& p) {
                    return PeerSelectsPod(spec, np, p, d);
                  });
              if (Usable(d) && peer_ok) add(d);
            }
          }
          if (elems.empty()) continue;  // no pod has that port: nothing to allow
          out.push_back(StrCat(peer, l4, " ip daddr . th dport { ", Join(elems, ", "),
                               " } accept comment \"", what, " port ", port.port_name, "\""));
          continue;
        }
        std::optional<std::pair<int, int>> pr = PortRange(port, nullptr);
        if (!pr) continue;
        std::string ports = pr->first == 0 ? ""
                            : pr->first == pr->second
                                ? StrCat(" th dport ", pr->first)
                                : StrCat(" th dport ", pr->first, "-", pr->second);
        out.push_back(StrCat(peer, l4, ports, " accept comment \"", what, "\""));
      }
    }
  }
  return out;
}

std::string PolicyChain(const NetworkPolicySpec& np, bool ingress) {
  return StrCat("policy/", PolicyName(np), ingress ? "/ingress" : "/egress");
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
  auto elements = [&](std::string_view verb, const std::string& name,
                      const std::vector<std::string>& elems) {
    if (!elems.empty())
      StrAppend(&out, verb, " element ", table, " ", name, " { ", Join(elems, ", "), " }\n");
  };
  // A set that stays: a pod set gets the addresses that went deleted and those that came added,
  // in place (the others stay, as kube-proxy's and Calico's sets do); an interval set (an
  // ip_block, which changes only with its policy) is refilled.
  auto set_delta = [&](const std::string& name) {
    const std::vector<std::string>& now = after.sets.at(name);
    const std::vector<std::string>& was = before.sets.at(name);
    if (now == was) return;
    if (after.set_heads.at(name).find("flags interval") != std::string::npos) {
      StrAppend(&out, "flush set ", table, " ", name, "\n");
      elements("add", name, now);
      return;
    }
    const std::set<std::string> a(now.begin(), now.end()), b(was.begin(), was.end());
    std::vector<std::string> gone, came;
    for (const std::string& e : was)
      if (a.count(e) == 0) gone.push_back(e);
    for (const std::string& e : now)
      if (b.count(e) == 0) came.push_back(e);
    elements("delete", name, gone);
    elements("add", name, came);
  };
  if (after.skeleton == before.skeleton) {
    // Only peer sets changed: their elements; chains and counters stay.
    for (const auto& [name, elems] : after.sets) set_delta(name);
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
  auto head = [](const NodeTable& t, const std::string& chain) {
    auto it = t.chain_heads.find(chain);
    return it == t.chain_heads.end() ? std::string() : it->second;
  };
  for (const auto& [name, rules] : before.chains) {
    if (after.chains.count(name) == 0 || head(before, name) != head(after, name))
      gone_chains.insert(name);
  }
  // A rule names a set as "@<set>", a counter as "\"<counter>\"" and a chain as "jump <chain>".
  auto names = [](const std::string& rule, const std::string& prefix, const std::string& name) {
    const std::string word = StrCat(prefix, name);
    for (size_t at = rule.find(word); at != std::string::npos; at = rule.find(word, at + 1)) {
      const size_t end = at + word.size();
      if (end == rule.size() || rule[end] == ' ' || rule[end] == ',') return true;
    }
    return false;
  };
  auto names_gone = [&](const std::string& rule) {
    for (const std::string& s : gone_sets)
      if (names(rule, "@", s)) return true;
    for (const std::string& c : gone_counters)
      if (rule.find(StrCat("\"", c, "\"")) != std::string::npos) return true;
    for (const std::string& c : gone_chains)
      if (names(rule, "jump ", c)) return true;
    return false;
  };
  // Chains whose rules are rewritten: they changed, or name something that goes.
  std::set<std::string> refill;
  for (const auto& [name, rules] : after.chains) {
    auto old = before.chains.find(name);
    if (old == before.chains.end() || gone_chains.count(name) != 0) continue;
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
  for (const auto& [name, h] : after.set_heads) {
    if (before.set_heads.count(name) != 0 && gone_sets.count(name) == 0) continue;
    StrAppend(&out, "add set ", table, " ", name, " { ", h, " }\n");
    elements("add", name, after.sets.at(name));
  }
  for (const auto& [name, elems] : after.sets) {
    if (before.sets.count(name) == 0 || gone_sets.count(name) != 0) continue;
    set_delta(name);
  }
  for (const auto& [name, comment] : after.counters) {
    if (before.counters.count(name) != 0 && gone_counters.count(name) == 0) continue;
    StrAppend(&out, "add counter ", table, " ", name, " { comment \"", comment, "\"; }\n");
  }
  std::vector<std::string> fill(refill.begin(), refill.end());
  for (const auto& [name, rules] : after.chains) {
    if (before.chains.count(name) != 0 && gone_chains.count(name) == 0) continue;
    const std::string h = head(after, name);
    StrAppend(&out, "add chain ", table, " ", name, h.empty() ? "" : StrCat(" { ", h, " }"), "\n");
    fill.push_back(name);
  }
  // 4. The rules: the base chains (hooked) last, once every chain they reach is filled.
  std::stable_partition(fill.begin(), fill.end(),
                        [&](const std::string& c) { return head(after, c).empty(); });
  for (const std::string& c : fill) {
    for (const std::string& r : after.chains.at(c))
      StrAppend(&out, "add rule ", table, " ", c, " ", r, "\n");
  }
  return out;
}

namespace {

NodeTable BuildTable(const LabView& lab, int node_index) {
  NodeTable t;
  const ClusterSpec& spec = lab.spec;
  if (spec.network_policies.empty()) return t;
  const config::NodeSpec& node = spec.nodes[node_index];
  const std::vector<Isolation>& iso = lab.iso;
  // Which policies matter here: those isolating a pod of this node, with the pods they isolate.
  std::map<int, std::vector<const PodSpec*>> in_pols, eg_pols;
  std::vector<const PodSpec*> in_pods, eg_pods;
  for (int i : node.pods) {
    const PodSpec& p = spec.pods[i];
    if (!Usable(p)) continue;
    if (!iso[i].ingress.empty()) in_pods.push_back(&p);
    if (!iso[i].egress.empty()) eg_pods.push_back(&p);
    for (int k : iso[i].ingress) in_pols[k].push_back(&p);
    for (int k : iso[i].egress) eg_pols[k].push_back(&p);
  }
  std::vector<std::string> set_order, chain_order;
  for (const auto& [k, pods] : in_pols) AddSets(lab, spec.network_policies[k], true, t, set_order);
  for (const auto& [k, pods] : eg_pols) AddSets(lab, spec.network_policies[k], false, t, set_order);
  auto full_key = [](const PodSpec& p) { return StrCat(p.ns, "/", config::NameOfKey(p.name)); };
  auto key = [](const PodSpec& p) {
    return config::QualifiedName(p.ns, config::NameOfKey(p.name));
  };
  std::vector<std::string> counter_order;
  for (const auto* pods : {&eg_pods, &in_pods}) {
    const bool ingress = pods == &in_pods;
    for (const PodSpec* p : *pods) {
      const std::string c = DropCounter(key(*p), ingress);
      t.counters[c] =
          StrCat(full_key(*p), ingress ? " ingress" : " egress", ": new flows no policy allows");
      counter_order.push_back(c);
    }
  }
  // The base chains, one per direction on the forward hook: egress first; its accept ends only
  // its own chain, so an allowed packet goes on to the ingress chain (a drop ends both).
  auto base = [&](const std::vector<const PodSpec*>& pods, bool ingress) {
    if (pods.empty()) return;
    const std::string name = ingress ? "forward-ingress" : "forward-egress";
    t.chain_heads[name] = StrCat("type filter hook forward priority filter", ingress ? " + 1" : "",
                                 "; policy accept;");
    std::vector<std::string> elems;
    for (const PodSpec* p : pods)
      elems.push_back(
          StrCat(p->ip.ToString(), " : jump ", ingress ? "ingress/" : "egress/", full_key(*p)));
    t.chains[name] = {
        "ct state established,related accept comment \"replies of allowed flows\"",
        StrCat("ip ", ingress ? "daddr" : "saddr", " vmap { ", Join(elems, ", "), " } comment \"",
               ingress ? "isolated for ingress" : "isolated for egress", "\"")};
    chain_order.push_back(name);
  };
  base(eg_pods, false);
  base(in_pods, true);
  // proxy_mode = "userspace": the other nodes' proxy addresses (see the ingress chain below).
  const bool userspace = spec.proxy_mode == config::ProxyMode::kUserspace;
  std::vector<std::string> other_proxies;
  for (const config::NodeSpec& n : spec.nodes) {
    if (userspace && n.index != node_index) other_proxies.push_back(n.proxy_ip.ToString());
  }
  // Each pod's chain: the node's own addresses (ingress), a jump to the chain of every policy
  // isolating it (the first that accepts ends the walk), and the drop, counted.
  auto pod_chain = [&](const PodSpec& p, bool ingress) {
    const int i = static_cast<int>(&p - spec.pods.data());
    const std::string name = StrCat(ingress ? "ingress/" : "egress/", full_key(p));
    std::vector<std::string>& rules = t.chains[name];
    if (ingress) {
      // The pod's own node always reaches it (kubelet's probes): its address on cbr0, and the
      // userspace proxy's, which is the source of the Service flows it relays.
      rules.push_back(StrCat("ip saddr { ", node.gateway.ToString(), ", ", node.proxy_ip.ToString(),
                             " } accept comment \"the pod's own node\""));
      // proxy_mode = "userspace": a Service flow arrives from the proxy address of the client's
      // node, whichever node that is; that proxy judged it already, against the client (lib/nat,
      // lib/netpol/flow_policy), which this chain can no longer see.
      if (!other_proxies.empty()) {
        rules.push_back(StrCat("ip saddr { ", Join(other_proxies, ", "),
                               " } accept comment \"Service flows the userspace proxy allowed\""));
      }
    } else if (userspace) {
      // The userspace proxy translates a ClusterIP after this hook and judges the flow then,
      // against the backend it chose: this chain would see only the ClusterIP.
      rules.push_back(
          StrCat("ip daddr ", spec.service_cidr.ToString(),
                 " return comment \"Services: the userspace proxy judges the backend\""));
    }
    for (int k : ingress ? iso[i].ingress : iso[i].egress)
      rules.push_back(StrCat("jump ", PolicyChain(spec.network_policies[k], ingress)));
    rules.push_back(StrCat("counter name \"", DropCounter(key(p), ingress), "\" drop"));
    chain_order.push_back(name);
  };
  for (const PodSpec* p : eg_pods) pod_chain(*p, false);
  for (const PodSpec* p : in_pods) pod_chain(*p, true);
  for (const auto* pols : {&eg_pols, &in_pols}) {
    const bool ingress = pols == &in_pols;
    for (const auto& [k, pods] : *pols) {
      const NetworkPolicySpec& np = spec.network_policies[k];
      t.chains[PolicyChain(np, ingress)] = PolicyRules(spec, np, ingress, pods);
      chain_order.push_back(PolicyChain(np, ingress));
    }
  }
  // The text: the whole table in one transaction (created, deleted, rebuilt), and the same
  // without the sets' elements.
  const std::string table = StrCat("inet ", kTable);
  const std::string header =
      StrCat("# minikube-net ", spec.name, "/", node.name,
             ": NetworkPolicy for this node's pods, one transaction (created, deleted, rebuilt).\n",
             "table ", table, "\ndelete table ", table, "\ntable ", table, " {\n");
  std::string sets, skeleton_sets, rest;
  for (const std::string& n : set_order) {
    // set_heads' "type ...; [flags ...;] comment \"...\";" as the declaration's two lines.
    const std::string& h = t.set_heads[n];
    const size_t c = h.find("comment ");
    const std::string decl = StrCat("  set ", n, " {\n    ", h.substr(0, c - 1), "\n    ",
                                    h.substr(c, h.size() - c - 1), "\n");
    const std::vector<std::string>& e = t.sets[n];
    StrAppend(&sets, decl, e.empty() ? "" : StrCat("    elements = { ", Join(e, ", "), " }\n"),
              "  }\n");
    StrAppend(&skeleton_sets, decl, "  }\n");
  }
  for (const std::string& c : counter_order)
    StrAppend(&rest, "  counter ", c, " {\n    comment \"", t.counters[c], "\"\n  }\n");
  for (const std::string& c : chain_order) {
    StrAppend(&rest, "  chain ", c, " {\n");
    if (auto h = t.chain_heads.find(c); h != t.chain_heads.end())
      StrAppend(&rest, "    ", h->second, "\n");
    for (const std::string& r : t.chains[c]) StrAppend(&rest, "    ", r, "\n");
    StrAppend(&rest, "  }\n");
  }
  StrAppend(&rest, "}\n");
  t.full = StrCat(header, sets, rest);
  t.skeleton = StrCat(header, skeleton_sets, rest);
  return t;
}

}  // namespace

LabView::LabView(const ClusterSpec& s) : spec(s), iso(Isolate(s)) {
  for (const NetworkPolicySpec& np : s.network_policies) {
    for (bool ingress : {true, false}) {
      const std::vector<PolicyRuleSpec>& rules = ingress ? np.ingress_rules : np.egress_rules;
      for (size_t r = 0; r < rules.size(); ++r) {
        for (size_t m = 0; m < rules[r].peers.size(); ++m) {
          if (rules[r].peers[m].has_ip_block) continue;
          pod_sets[PeerSet(np, ingress, r, m)] = PeerPods(s, np, rules[r].peers[m]);
        }
      }
    }
  }
}

TableBuilder::TableBuilder(const ClusterSpec& spec) : lab_(std::make_unique<LabView>(spec)) {}
TableBuilder::~TableBuilder() = default;
NodeTable TableBuilder::Build(int node_index) const { return BuildTable(*lab_, node_index); }

NodeTable BuildNodeTable(const ClusterSpec& spec, int node_index) {
  return TableBuilder(spec).Build(node_index);
}

std::vector<NodeTable> BuildNodeTables(const ClusterSpec& spec) {
  std::vector<NodeTable> out(spec.nodes.size());
  if (spec.network_policies.empty()) return out;
  const TableBuilder b(spec);
  for (const config::NodeSpec& n : spec.nodes) out[n.index] = b.Build(n.index);
  return out;
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
