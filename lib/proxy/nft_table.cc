#include "lib/proxy/nft_table.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "lib/proxy/nft_ruleset.h"
#include "lib/strings/str_cat.h"

namespace mkn::proxy {
namespace {

using config::Algorithm;
using config::ClusterSpec;
using config::Protocol;
using config::ServicePortSpec;
using config::ServiceSpec;
using config::ServiceType;

constexpr std::string_view kT = "ip kube-proxy";  // family and table, as every command spells them

// jhash needs a seed; without one the kernel draws a random one per load, and a reload (or another
// node) would map the same client elsewhere. A fixed seed keeps source-hash stable across reloads.
constexpr std::string_view kSourceHashSeed = "0x6d6b6e31";  // "mkn1"

// The shared pick chains and the prefix of their sets (pick-random-3: the ports it serves with 3
// endpoints).
constexpr std::string_view kPickRandom = "pick-random";
constexpr std::string_view kPickSourceHash = "pick-source-hash";

std::string PortName(const ServicePortSpec& p) { return p.name.empty() ? StrCat(p.port) : p.name; }

// "default/web:http" or "default/empty:80": kube-proxy's comment for a service port.
std::string Label(const ServiceSpec& svc, const ServicePortSpec& port) {
  return StrCat(svc.ns, "/", config::NameOfKey(svc.name), ":", PortName(port));
}

bool IsNodePort(const ServiceSpec& svc, const ServicePortSpec& port) {
  return svc.type == ServiceType::kNodePort && port.node_port != 0;
}

// The port's own chain is needed when its pick keeps state (round-robin's counter, affinity's
// sets) or has two ways in (ClusterIP and NodePort must share one counter or one set of clients).
bool OwnChain(const ServiceSpec& svc, const ServicePortSpec& port) {
  return NftAlgorithm(svc.algorithm) == Algorithm::kRoundRobin || svc.affinity_client_ip ||
         IsNodePort(svc, port);
}

std::string PickChain(Algorithm a) {
  return std::string(NftAlgorithm(a) == Algorithm::kSourceHash ? kPickSourceHash : kPickRandom);
}

std::string PickSet(Algorithm a, size_t n) { return StrCat(PickChain(a), "-", n); }

// `numgen random mod 3 offset 1`: a slot 1..n (0 is a flow no pick has seen).
std::string PickExpr(Algorithm a, size_t n) {
  switch (NftAlgorithm(a)) {
    case Algorithm::kRoundRobin:
      return StrCat("numgen inc mod ", n, " offset 1");
    case Algorithm::kSourceHash:
      return StrCat("jhash ip saddr mod ", n, " seed ", kSourceHashSeed, " offset 1");
    case Algorithm::kRandom:
    case Algorithm::kLeastConn:  // never returned by NftAlgorithm
      break;
  }
  return StrCat("numgen random mod ", n, " offset 1");
}

std::string PickComment(Algorithm a) {
  if (a == Algorithm::kLeastConn)
    return " comment \"least-conn is not expressible in nftables: random\"";
  if (a == Algorithm::kRoundRobin)
    return " comment \"round-robin: one counter for every new flow\"";
  return "";
}

NftPortDefinition Definition(const ServiceSpec& svc, const ServicePortSpec& port) {
  return NftPortDefinition{svc.name,
                           port.name,
                           port.target_port_name,
                           svc.type,
                           svc.algorithm,
                           port.protocol,
                           svc.cluster_ip,
                           svc.affinity_client_ip,
                           svc.affinity_timeout,
                           port.port,
                           port.target_port,
                           port.node_port};
}

// Definition(svc, port) == def, without copying the strings.
bool SameDefinition(const ServiceSpec& svc, const ServicePortSpec& port,
                    const NftPortDefinition& def) {
  return svc.name == def.service && port.name == def.name &&
         port.target_port_name == def.target_port_name && svc.type == def.type &&
         svc.algorithm == def.algorithm && port.protocol == def.protocol &&
         svc.cluster_ip == def.cluster_ip && svc.affinity_client_ip == def.affinity &&
         svc.affinity_timeout == def.affinity_timeout && port.port == def.port &&
         port.target_port == def.target_port && port.node_port == def.node_port;
}

int TargetPort(const config::PodSpec& pod, const ServicePortSpec& port) {
  if (port.target_port_name.empty()) return port.target_port != 0 ? port.target_port : port.port;
  int target = 0;
  for (const config::ContainerSpec& c : pod.containers) {
    for (const config::ContainerPort& cp : c.ports) {
      if (cp.name == port.target_port_name && cp.protocol == port.protocol) target = cp.port;
    }
  }
  return target;  // 0: this pod does not serve the named port
}

bool SameEndpoints(const ClusterSpec& spec, const ServiceSpec& svc, const ServicePortSpec& port,
                   const std::vector<NftEndpoint>& have) {
  size_t k = 0;
  for (int i : svc.endpoints) {
    if (i < 0 || static_cast<size_t>(i) >= spec.pods.size()) continue;
    const config::PodSpec& pod = spec.pods[i];
    int target = TargetPort(pod, port);
    if (target == 0) continue;
    if (k == have.size() || have[k].ip != pod.ip || have[k].port != target) return false;
    ++k;
  }
  return k == have.size();
}

NftPortPart BuildPart(const ClusterSpec& spec, const ServiceSpec& svc, const ServicePortSpec& port,
                      std::vector<NftEndpoint> eps) {
  NftPortPart p;
  p.definition = Definition(svc, port);
  const std::string cip = svc.cluster_ip.ToString();
  const std::string_view proto = NftProto(port.protocol);
  const std::string key = StrCat(cip, " . ", proto, " . ", port.port);
  const std::string label = Label(svc, port);
  const bool node_port = IsNodePort(svc, port);
  const std::string np_key = StrCat(proto, " . ", port.node_port);
  const size_t n = eps.size();
  const std::string service = ServicePortChain("service", svc, port);
  const std::string external = ServicePortChain("external", svc, port);
  p.elements.reserve(6 + 3 * eps.size());
  auto add = [&](std::string_view set, std::string k, std::string value = "",
                 std::string comment = "") {
    p.elements.push_back(
        {{std::string(set), std::move(k)}, NftElement{std::move(value), std::move(comment)}});
  };

  add("cluster-ips", cip);
  // Every port, with or without endpoints: its entry (and counter) never changes. Without
  // endpoints the pick finds no slot, nothing is DNATed, and filter-* rejects the flow.
  const bool own = OwnChain(svc, port);
  add("service-ips", key, StrCat("goto ", own ? service : PickChain(svc.algorithm)), label);
  if (node_port) add("service-nodeports", np_key, StrCat("goto ", external), label);
  if (n == 0) {
    add("no-endpoint-services", key, "goto reject-chain", label);
    if (node_port) add("no-endpoint-nodeports", np_key, "goto reject-chain", label);
  }
  for (size_t s = 0; s < n; ++s) {
    const std::string ip = eps[s].ip.ToString();
    const std::string target = StrCat(ip, " . ", eps[s].port);
    add("service-endpoints", StrCat(key, " . ", s + 1), target);
    if (node_port) add("nodeport-endpoints", StrCat(np_key, " . ", s + 1), target);
    add("hairpin", StrCat(ip, " . ", ip));
  }
  if (!own) {
    if (n > 0) add(PickSet(svc.algorithm, n), key);
  } else {
    NftChain& c = p.chains[service];
    if (n > 0 && svc.affinity_client_ip) {
      std::vector<std::string> sets;
      for (const NftEndpoint& e : eps) {
        sets.push_back(EndpointChain("affinity", svc, port, e.ip.ToString(), e.port));
        p.sets[sets.back()] = NftSetDecl{false,
                                         true,
                                         {"type ipv4_addr", "flags dynamic,timeout",
                                          StrCat("timeout ", svc.affinity_timeout, "s")}};
      }
      // The first set that holds the client wins; else the algorithm picks. Then the chosen slot's
      // set learns (or refreshes) the client. No verdicts: the chain ends, `endpoints` DNATs.
      for (size_t s = 0; s < n; ++s)
        c.rules.push_back(StrCat("ct mark 0 ip saddr @", sets[s], " ct mark set ", s + 1));
      c.rules.push_back(
          StrCat("ct mark 0 ct mark set ", PickExpr(svc.algorithm, n), PickComment(svc.algorithm)));
      for (size_t s = 0; s < n; ++s)
        c.rules.push_back(StrCat("ct mark ", s + 1, " update @", sets[s], " { ip saddr }"));
    } else if (n > 0) {
      c.rules.push_back(
          StrCat("ct mark set ", PickExpr(svc.algorithm, n), PickComment(svc.algorithm)));
    }
    if (node_port) {
      // externalTrafficPolicy=Cluster: always masquerade, so the reply returns via this node even
      // when the backend lives on another one.
      p.chains[external].rules = {"jump mark-for-masquerade", StrCat("goto ", service)};
    }
  }
  p.endpoints = std::move(eps);
  std::sort(p.elements.begin(), p.elements.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  p.elements.erase(std::unique(p.elements.begin(), p.elements.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
                   p.elements.end());
  return p;
}

// --- the parts every table has -----------------------------------------------------------------

std::map<std::string, NftSetDecl> StaticSets() {
  auto set = [](std::vector<std::string> decl) {
    return NftSetDecl{false, false, std::move(decl)};
  };
  auto map = [](std::vector<std::string> decl) { return NftSetDecl{true, false, std::move(decl)}; };
  return {
      {"cluster-ips", set({"type ipv4_addr", "comment \"Active ClusterIPs\""})},
      {"hairpin", set({"type ipv4_addr . ipv4_addr",
                       "comment \"endpoint . itself: a flow it sent to its own service\""})},
      {"no-endpoint-nodeports",
       map({"type inet_proto . inet_service : verdict",
            "comment \"vmap to drop or reject packets to service nodeports with no endpoints\""})},
      {"no-endpoint-services",
       map({"type ipv4_addr . inet_proto . inet_service : verdict",
            "comment \"vmap to drop or reject packets to services with no endpoints\""})},
      {"nodeport-endpoints",
       map({"type inet_proto . inet_service . mark : ipv4_addr . inet_service",
            "comment \"NodePort . slot (ct mark): the endpoint to DNAT to\""})},
      {"service-endpoints",
       map({"type ipv4_addr . inet_proto . inet_service . mark : ipv4_addr . inet_service",
            "comment \"ClusterIP . slot (ct mark): the endpoint to DNAT to\""})},
      {"service-ips", map({"type ipv4_addr . inet_proto . inet_service : verdict", "counter",
                           "comment \"ClusterIP traffic\""})},
      {"service-nodeports", map({"type inet_proto . inet_service : verdict", "counter",
                                 "comment \"NodePort traffic\""})},
  };
}

std::map<std::string, NftChain> StaticChains(const std::string& pod_cidr,
                                             const std::string& service_cidr) {
  auto base = [](std::string_view type, std::string_view hook, int priority,
                 std::vector<std::string> rules) {
    return NftChain{
        {StrCat("type ", type, " hook ", hook, " priority ", priority, "; policy accept;")},
        std::move(rules)};
  };
  auto chain = [](std::vector<std::string> rules) { return NftChain{{}, std::move(rules)}; };
  const std::string local = "fib daddr type local ip daddr != 127.0.0.0/8";
  return {
      {"cluster-ips-check",
       chain({"ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of "
              "ClusterIPs\"",
              StrCat("ip daddr { ", service_cidr,
                     " } drop comment \"Drop traffic to unallocated ClusterIPs\"")})},
      // The pick left the slot in the flow's conntrack mark; the slot's endpoint is in one map.
      // A flow no pick saw (mark 0, no slot) is found in neither and left alone.
      {"endpoints",
       chain({"meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport . ct mark "
              "map @service-endpoints",
              StrCat(local,
                     " meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport . ct mark "
                     "map @nodeport-endpoints")})},
      {"filter-forward",
       base("filter", "forward", 0,
            {"ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"})},
      {"filter-input", base("filter", "input", 0,
                            {"ct state new jump nodeport-endpoints-check",
                             "ct state new jump service-endpoints-check"})},
      {"filter-output",
       base("filter", "output", 0,
            {"ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"})},
      {"mark-for-masquerade", chain({StrCat("mark set mark or ", kMasqueradeMark)})},
      // A hairpin flow (an endpoint that picked itself) must be masqueraded, else the backend
      // would answer itself directly and the client would never see the service address again.
      {"masquerading",
       chain({"ip saddr . ip daddr @hairpin jump mark-for-masquerade",
              StrCat("mark and ", kMasqueradeMark, " == 0 return"),
              StrCat("mark set mark xor ", kMasqueradeMark), "masquerade fully-random"})},
      {"nat-output", base("nat", "output", -100, {"jump services", "jump endpoints"})},
      {"nat-postrouting", base("nat", "postrouting", 100, {"jump masquerading"})},
      {"nat-prerouting", base("nat", "prerouting", -100, {"jump services", "jump endpoints"})},
      // NodePorts: any local address but loopback, as kube-proxy 1.29 matched them.
      {"nodeport-endpoints-check",
       chain({StrCat(local, " meta l4proto . th dport vmap @no-endpoint-nodeports")})},
      // kube-proxy's reject-chain says only `reject` (ICMP port unreachable for everything); a TCP
      // client sees a reset here, as from a closed port.
      {"reject-chain",
       NftChain{
           {"comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\""},
           {"meta l4proto tcp reject with tcp reset", "reject with icmp type port-unreachable"}}},
      {"service-endpoints-check",
       chain({"ip daddr . meta l4proto . th dport vmap @no-endpoint-services"})},
      // Sources outside the pod network (the node itself, the underlay) are masqueraded so the
      // reply comes back through this node; a pod's address is kept.
      {"services",
       chain({StrCat("ip daddr @cluster-ips ip saddr != ", pod_cidr, " jump mark-for-masquerade"),
              "ip daddr . meta l4proto . th dport vmap @service-ips",
              StrCat(local, " meta l4proto . th dport vmap @service-nodeports")})},
  };
}

// "pick-random-12" -> ("pick-random", 12); nullopt for any other name.
std::optional<std::pair<std::string, int>> ParsePickSet(std::string_view name) {
  for (std::string_view chain : {kPickSourceHash, kPickRandom}) {
    if (name.size() <= chain.size() + 1 || name.substr(0, chain.size()) != chain ||
        name[chain.size()] != '-')
      continue;
    std::string_view digits = name.substr(chain.size() + 1);
    int n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc() && end == digits.data() + digits.size() && n > 0)
      return std::make_pair(std::string(chain), n);
  }
  return std::nullopt;
}

NftSetDecl PickSetDecl(const std::string& chain, int n) {
  return NftSetDecl{false,
                    false,
                    {"type ipv4_addr . inet_proto . inet_service",
                     StrCat("comment \"the service ports ", chain, " serves with ", n,
                            n == 1 ? " endpoint\"" : " endpoints\"")}};
}

std::string PickRule(const std::string& chain, int n, const std::string& set) {
  Algorithm a = chain == kPickSourceHash ? Algorithm::kSourceHash : Algorithm::kRandom;
  return StrCat("ip daddr . meta l4proto . th dport @", set, " ct mark set ",
                PickExpr(a, static_cast<size_t>(n)));
}

// --- writing ----------------------------------------------------------------------------------

std::string ElementText(const std::string& key, const NftElement& e) {
  std::string out = key;
  if (!e.comment.empty()) StrAppend(&out, " comment \"", e.comment, "\"");
  if (!e.value.empty()) StrAppend(&out, " : ", e.value);
  return out;
}

std::string Joined(const std::vector<std::string>& decl) {
  std::string out;
  for (const std::string& d : decl) {
    // A base chain's declaration carries its own semicolons.
    StrAppend(&out, out.empty() ? "" : " ", d, d.back() == ';' ? "" : " ;");
  }
  return out;
}

}  // namespace

std::vector<NftEndpoint> ResolveNftEndpoints(const ClusterSpec& spec, const ServiceSpec& svc,
                                             const ServicePortSpec& port) {
  std::vector<NftEndpoint> out;
  out.reserve(svc.endpoints.size());
  for (int i : svc.endpoints) {
    if (i < 0 || static_cast<size_t>(i) >= spec.pods.size()) continue;
    const config::PodSpec& pod = spec.pods[i];
    if (int target = TargetPort(pod, port); target != 0) out.push_back({pod.ip, target});
  }
  return out;
}

NftTable NftTable::Build(const ClusterSpec& spec) {
  NftTable t;
  t.pod_cidr_ = spec.pod_cidr.ToString();
  t.service_cidr_ = spec.service_cidr.ToString();
  for (const ServiceSpec& svc : spec.services) {
    t.first_port_.push_back(t.ports_.size());
    if (svc.headless) continue;  // no ClusterIP, no rules: the cluster DNS names its endpoints
    for (const ServicePortSpec& port : svc.ports) {
      t.ports_.push_back(BuildPart(spec, svc, port, ResolveNftEndpoints(spec, svc, port)));
      t.Add(t.ports_.back());
    }
  }
  t.first_port_.push_back(t.ports_.size());
  return t;
}

void NftTable::Add(const NftPortPart& part) {
  for (const auto& [key, e] : part.elements) {
    Counted& c = elements_[key];
    if (c.count++ == 0) {
      c.element = e;
      ++set_sizes_[key.first];
    }
  }
}

void NftTable::Remove(const NftPortPart& part) {
  for (const auto& [key, e] : part.elements) {
    auto it = elements_.find(key);
    if (it == elements_.end() || --it->second.count > 0) continue;
    elements_.erase(it);
    if (--set_sizes_[key.first] == 0) set_sizes_.erase(key.first);
  }
}

std::map<std::string, std::map<int, std::string>> NftTable::PickSets() const {
  std::map<std::string, std::map<int, std::string>> out;
  out[std::string(kPickRandom)];
  out[std::string(kPickSourceHash)];
  for (const auto& [set, n] : set_sizes_) {
    if (auto parsed = ParsePickSet(set)) out[parsed->first][parsed->second] = set;
  }
  return out;
}

std::map<std::string, NftChain> NftTable::PickChains() const {
  std::map<std::string, NftChain> out;
  for (const auto& [chain, sizes] : PickSets()) {
    NftChain& c = out[chain];
    for (const auto& [n, set] : sizes) c.rules.push_back(PickRule(chain, n, set));
  }
  return out;
}

std::map<std::string, NftSetDecl> NftTable::SetDecls() const {
  std::map<std::string, NftSetDecl> out = StaticSets();
  for (const auto& [chain, sizes] : PickSets()) {
    for (const auto& [n, set] : sizes) out[set] = PickSetDecl(chain, n);
  }
  for (const NftPortPart& p : ports_) {
    for (const auto& [name, decl] : p.sets) out[name] = decl;
  }
  return out;
}

std::map<std::string, std::pair<NftSetDecl, std::map<std::string, NftElement>>> NftTable::Sets()
    const {
  std::map<std::string, std::pair<NftSetDecl, std::map<std::string, NftElement>>> out;
  for (auto& [name, decl] : SetDecls()) out[name].first = std::move(decl);
  for (const auto& [key, c] : elements_) out[key.first].second[key.second] = c.element;
  return out;
}

std::map<std::string, NftChain> NftTable::Chains() const {
  std::map<std::string, NftChain> out = StaticChains(pod_cidr_, service_cidr_);
  for (auto& [name, c] : PickChains()) out[name] = std::move(c);
  for (const NftPortPart& p : ports_) {
    for (const auto& [name, c] : p.chains) out[name] = c;
  }
  return out;
}

std::string NftTable::RenderFull(const std::vector<std::string>& banner) const {
  std::string out;
  out.reserve(4096 + 64 * elements_.size());
  for (const std::string& b : banner) StrAppend(&out, "# ", b, "\n");
  // Create it if missing (so delete cannot fail), delete it, rebuild it: one transaction.
  StrAppend(&out, "table ", kT, " {}\ndelete table ", kT, "\ntable ", kT, " {\n");
  StrAppend(&out, "\tcomment \"rules for kube-proxy\"\n");
  // Sets in name order, each with its run of elements_ (ordered by set, then key): no copies.
  auto e = elements_.begin();
  for (const auto& [name, decl] : SetDecls()) {
    while (e != elements_.end() && e->first.first < name) ++e;  // (a set no one declares: none)
    StrAppend(&out, "\n\t", decl.map ? "map " : "set ", name, " {\n");
    for (const std::string& d : decl.decl) StrAppend(&out, "\t\t", d, "\n");
    bool first = true;
    for (; e != elements_.end() && e->first.first == name; ++e) {
      if (decl.dynamic) continue;
      StrAppend(&out, first ? "\t\telements = { " : ",\n\t\t\t     ",
                ElementText(e->first.second, e->second.element));
      first = false;
    }
    if (!first) out += " }\n";
    out += "\t}\n";
  }
  for (const auto& [name, c] : Chains()) {
    StrAppend(&out, "\n\tchain ", name, " {\n");
    for (const std::string& d : c.decl) StrAppend(&out, "\t\t", d, "\n");
    for (const std::string& r : c.rules) StrAppend(&out, "\t\t", r, "\n");
    out += "\t}\n";
  }
  out += "}\n";
  return out;
}

NftUpdate NftTable::Plan(const ClusterSpec& next, const std::vector<int>* changed) const {
  NftUpdate u;
  auto full = [&]() {
    u = NftUpdate{};
    u.full_sync = true;
    u.replacement = std::make_shared<const NftTable>(Build(next));
    return u;
  };
  if (next.pod_cidr.ToString() != pod_cidr_ || next.service_cidr.ToString() != service_cidr_)
    return full();
  // 1. The ports whose endpoints changed (the same ports, or a full sync).
  if (next.services.size() + 1 != first_port_.size()) return full();
  auto compare = [&](size_t i) {
    const ServiceSpec& svc = next.services[i];
    if (svc.headless) return first_port_[i + 1] == first_port_[i];
    if (svc.ports.size() != first_port_[i + 1] - first_port_[i]) return false;
    for (size_t j = 0; j < svc.ports.size(); ++j) {
      const size_t p = first_port_[i] + j;
      const ServicePortSpec& port = svc.ports[j];
      if (!SameDefinition(svc, port, ports_[p].definition)) return false;
      if (!SameEndpoints(next, svc, port, ports_[p].endpoints))
        u.parts.emplace_back(p, BuildPart(next, svc, port, ResolveNftEndpoints(next, svc, port)));
    }
    return true;
  };
  if (changed == nullptr) {
    for (size_t i = 0; i < next.services.size(); ++i) {
      if (!compare(i)) return full();
    }
  } else {
    std::vector<int> services = *changed;
    std::sort(services.begin(), services.end());
    services.erase(std::unique(services.begin(), services.end()), services.end());
    for (int i : services) {
      if (i < 0 || static_cast<size_t>(i) >= next.services.size() || !compare(i)) return full();
    }
  }
  if (u.parts.empty()) return u;

  // 2. Elements: counts before and after; what appears, goes, or changes its value.
  std::map<ElementKey, int> delta;
  std::map<ElementKey, const NftElement*> now;
  for (const auto& [index, part] : u.parts) {
    for (const auto& [key, e] : ports_[index].elements) --delta[key];
    for (const auto& [key, e] : part.elements) {
      ++delta[key];
      now[key] = &e;
    }
  }
  std::map<std::string, std::vector<std::string>> dels, adds;  // set -> keys / element texts
  std::map<std::string, int> set_delta;                        // pick sets: elements gained
  for (const auto& [key, d] : delta) {
    auto was = elements_.find(key);
    const int before = was == elements_.end() ? 0 : was->second.count;
    const int after = before + d;
    const NftElement* next_e = nullptr;
    if (after > 0) next_e = now.count(key) ? now[key] : &was->second.element;
    const bool changed = before > 0 && after > 0 && !(*next_e == was->second.element);
    if (before > 0 && (after == 0 || changed)) dels[key.first].push_back(key.second);
    if (after > 0 && (before == 0 || changed))
      adds[key.first].push_back(ElementText(key.second, *next_e));
    if (ParsePickSet(key.first)) set_delta[key.first] += (after > 0) - (before > 0);
  }

  // 3. Pick sets that come or go, and the pick chains that name them.
  std::map<std::string, std::map<int, std::string>> sizes = PickSets();
  std::set<std::string> new_sets, gone_sets, pick_chains;
  for (const auto& [set, d] : set_delta) {
    if (d == 0) continue;
    auto parsed = *ParsePickSet(set);
    auto had = set_sizes_.find(set);
    const int count = had == set_sizes_.end() ? 0 : had->second;
    const bool existed = count > 0;
    const bool exists = count + d > 0;
    if (existed == exists) continue;
    pick_chains.insert(parsed.first);
    if (exists) {
      new_sets.insert(set);
      sizes[parsed.first][parsed.second] = set;
    } else {
      gone_sets.insert(set);
      sizes[parsed.first].erase(parsed.second);
    }
  }

  // 4. The ports' own chains and sets.
  std::map<std::string, NftChain> new_chains, changed_chains;
  std::set<std::string> gone_chains;
  std::map<std::string, NftSetDecl> added_sets;
  for (const auto& [index, part] : u.parts) {
    const NftPortPart& old = ports_[index];
    for (const auto& [name, c] : part.chains) {
      auto o = old.chains.find(name);
      if (o == old.chains.end()) {
        new_chains[name] = c;
      } else if (!(o->second == c)) {
        changed_chains[name] = c;
      }
    }
    for (const auto& [name, c] : old.chains) {
      if (!part.chains.count(name)) gone_chains.insert(name);
    }
    // (A set's declaration changes only with the port's definition: a full sync.)
    for (const auto& [name, s] : part.sets) {
      if (!old.sets.count(name)) added_sets[name] = s;
    }
    for (const auto& [name, s] : old.sets) {
      if (!part.sets.count(name)) gone_sets.insert(name);
    }
  }
  for (const std::string& chain : pick_chains) {
    NftChain& c = changed_chains[chain];
    for (const auto& [n, set] : sizes[chain]) c.rules.push_back(PickRule(chain, n, set));
  }

  // 5. The transaction: declare, rewrite, change elements (deletions first), then remove what
  // nothing references any more.
  std::string& out = u.text;
  auto line = [&](auto&&... parts) {
    StrAppend(&out, parts..., "\n");
    ++u.commands;
  };
  for (const std::string& set : new_sets) {
    auto parsed = *ParsePickSet(set);
    line("add set ", kT, " ", set, " { ", Joined(PickSetDecl(parsed.first, parsed.second).decl),
         " }");
  }
  for (const auto& [name, s] : added_sets)
    line("add ", s.map ? "map " : "set ", kT, " ", name, " { ", Joined(s.decl), " }");
  for (const auto& [name, c] : new_chains) line("add chain ", kT, " ", name);
  for (const auto& [name, c] : changed_chains) line("flush chain ", kT, " ", name);
  for (auto* chains : {&new_chains, &changed_chains}) {
    for (const auto& [name, c] : *chains) {
      for (const std::string& r : c.rules) line("add rule ", kT, " ", name, " ", r);
    }
  }
  for (const auto& [set, keys] : dels) {
    std::string list;
    for (const std::string& k : keys) StrAppend(&list, list.empty() ? "" : ", ", k);
    line("delete element ", kT, " ", set, " { ", list, " }");
  }
  for (const auto& [set, elems] : adds) {
    std::string list;
    for (const std::string& e : elems) StrAppend(&list, list.empty() ? "" : ", ", e);
    line("add element ", kT, " ", set, " { ", list, " }");
  }
  for (const std::string& name : gone_chains) line("flush chain ", kT, " ", name);
  for (const std::string& name : gone_chains) line("delete chain ", kT, " ", name);
  for (const std::string& name : gone_sets) line("delete set ", kT, " ", name);
  return u;
}

void NftTable::Commit(NftUpdate update) {
  if (update.full_sync) {
    if (update.replacement) *this = *update.replacement;
    return;
  }
  for (auto& [index, part] : update.parts) {
    Remove(ports_[index]);
    Add(part);
    ports_[index] = std::move(part);
  }
}

}  // namespace mkn::proxy
