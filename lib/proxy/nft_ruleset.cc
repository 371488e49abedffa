#include "lib/proxy/nft_ruleset.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/nat/service_table.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::proxy {
namespace {

using config::Algorithm;
using config::ClusterSpec;
using config::Protocol;
using config::ServicePortSpec;
using config::ServiceSpec;
using config::ServiceType;

// jhash needs a seed; without one the kernel draws a random one per load, and a reload (or another
// node) would map the same client elsewhere. A fixed seed keeps source-hash stable across reloads.
constexpr std::string_view kSourceHashSeed = "0x6d6b6e31";  // "mkn1"

std::string_view Proto(Protocol p) { return p == Protocol::kTcp ? "tcp" : "udp"; }

// 8 characters of base32 (RFC 4648 alphabet, as kube-proxy) over 40 bits of FNV-1a 64.
std::string Hash8(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(kAlphabet[(h >> (59 - 5 * i)) & 31]);
  return out;
}

std::string PortLabel(const ServicePortSpec& p) { return p.name.empty() ? StrCat(p.port) : p.name; }

std::string ServicePortBase(const ServiceSpec& svc, const ServicePortSpec& port) {
  return StrCat(kNamespace, "/", svc.name, "/", Proto(port.protocol), "/", PortLabel(port));
}

// "default/web:http" or "default/empty:80", for comments.
std::string Label(const ServiceSpec& svc, const ServicePortSpec& port) {
  return StrCat(kNamespace, "/", svc.name, ":", PortLabel(port));
}

std::string_view AlgorithmName(Algorithm a) { return config::ToString(a); }

// The endpoints of one service port, target port resolved per pod. The same resolution as the
// userspace proxy (a pod that does not declare a named target port is not an endpoint of that
// port).
std::vector<nat::Endpoint> Endpoints(const ClusterSpec& spec, const ServiceSpec& svc,
                                     const ServicePortSpec& ps) {
  std::vector<config::PodSpec> pods;
  for (int i : svc.endpoints) {
    if (i >= 0 && static_cast<size_t>(i) < spec.pods.size()) pods.push_back(spec.pods[i]);
  }
  nat::ServicePort p;
  p.port = static_cast<uint16_t>(ps.port);
  p.protocol = ps.protocol;
  p.target_port = ps.target_port;
  p.target_port_name = ps.target_port_name;
  return nat::ResolveEndpoints(p, pods);
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  template <typename... Args>
  void Line(const Args&... args) {
    StrAppend(&out_, args..., "\n");
  }
  template <typename... Args>
  void Add(const Args&... args) {
    StrAppend(&out_, "add ", args..., "\n");
  }

 private:
  std::string& out_;
};

constexpr std::string_view kT = "ip kube-proxy";  // family and table, as every command spells them

void Banner(const ClusterSpec& spec, const config::NodeSpec& node, Writer& w) {
  w.Line("# minikube-net ", spec.name, "/", node.name,
         ": Services as kube-proxy's nftables mode writes them.");
  w.Line(
      "# One transaction: the table is created if missing, deleted, and rebuilt, all or nothing.");
  w.Line(
      "# nat-prerouting/nat-output -> services -> service-* (pick a backend) -> endpoint-* "
      "(dnat).");
  w.Line(
      "# A backend sees the client pod's own address; NodePort, hairpin and non-pod sources are");
  w.Line("# masqueraded (mark ", kMasqueradeMark,
         ") to the node's address. Services without endpoints are rejected");
  w.Line("# in filter-*: TCP with a reset, UDP with ICMP port unreachable.");
}

void BaseRules(const ClusterSpec& spec, Writer& w) {
  const std::string svc_cidr = spec.service_cidr.ToString();
  w.Line("table ", kT, " {}");
  w.Line("delete table ", kT);
  w.Add("table ", kT, " { comment \"rules for kube-proxy\" ; }");
  w.Line();
  w.Add("set ", kT, " cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" ; }");
  w.Add("map ", kT,
        " no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment \"vmap to "
        "drop or reject packets to service nodeports with no endpoints\" ; }");
  w.Add("map ", kT,
        " no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "
        "\"vmap to drop or reject packets to services with no endpoints\" ; }");
  w.Add("map ", kT,
        " service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"ClusterIP "
        "traffic\" ; }");
  w.Add("map ", kT,
        " service-nodeports { type inet_proto . inet_service : verdict ; comment \"NodePort "
        "traffic\" ; }");
  w.Line();
  w.Add("chain ", kT, " cluster-ips-check");
  w.Add("chain ", kT, " filter-forward { type filter hook forward priority 0 ; }");
  w.Add("chain ", kT, " filter-input { type filter hook input priority 0 ; }");
  w.Add("chain ", kT, " filter-output { type filter hook output priority 0 ; }");
  w.Add("chain ", kT, " mark-for-masquerade");
  w.Add("chain ", kT, " masquerading");
  w.Add("chain ", kT, " nat-output { type nat hook output priority -100 ; }");
  w.Add("chain ", kT, " nat-postrouting { type nat hook postrouting priority 100 ; }");
  w.Add("chain ", kT, " nat-prerouting { type nat hook prerouting priority -100 ; }");
  w.Add("chain ", kT, " nodeport-endpoints-check");
  w.Add(
      "chain ", kT,
      " reject-chain { comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }");
  w.Add("chain ", kT, " services");
  w.Add("chain ", kT, " service-endpoints-check");
  w.Line();
  w.Add("rule ", kT,
        " cluster-ips-check ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports "
        "of ClusterIPs\"");
  w.Add("rule ", kT, " cluster-ips-check ip daddr { ", svc_cidr,
        " } drop comment \"Drop traffic to unallocated ClusterIPs\"");
  w.Add("rule ", kT, " filter-forward ct state new jump service-endpoints-check");
  w.Add("rule ", kT, " filter-forward ct state new jump cluster-ips-check");
  w.Add("rule ", kT, " filter-input ct state new jump nodeport-endpoints-check");
  w.Add("rule ", kT, " filter-input ct state new jump service-endpoints-check");
  w.Add("rule ", kT, " filter-output ct state new jump service-endpoints-check");
  w.Add("rule ", kT, " filter-output ct state new jump cluster-ips-check");
  w.Add("rule ", kT, " mark-for-masquerade mark set mark or ", kMasqueradeMark);
  w.Add("rule ", kT, " masquerading mark and ", kMasqueradeMark, " == 0 return");
  w.Add("rule ", kT, " masquerading mark set mark xor ", kMasqueradeMark);
  w.Add("rule ", kT, " masquerading masquerade fully-random");
  w.Add("rule ", kT, " nat-output jump services");
  w.Add("rule ", kT, " nat-postrouting jump masquerading");
  w.Add("rule ", kT, " nat-prerouting jump services");
  // NodePorts: any local address but loopback, as kube-proxy 1.29 matched them (later versions list
  // the node's addresses in a set @nodeport-ips; fib needs no list to keep in sync).
  w.Add("rule ", kT,
        " nodeport-endpoints-check fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th "
        "dport vmap @no-endpoint-nodeports");
  // kube-proxy's reject-chain says only `reject` (ICMP port unreachable for everything); the issue
  // wants a TCP client to see a reset, so TCP gets one.
  w.Add("rule ", kT, " reject-chain meta l4proto tcp reject with tcp reset");
  w.Add("rule ", kT, " reject-chain reject with icmp type port-unreachable");
  w.Add("rule ", kT, " services ip daddr . meta l4proto . th dport vmap @service-ips");
  w.Add("rule ", kT,
        " services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap "
        "@service-nodeports");
  w.Add("rule ", kT,
        " service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services");
}

void RenderServicePort(const ClusterSpec& spec, const ServiceSpec& svc, const ServicePortSpec& ps,
                       Writer& w) {
  const std::string cip = svc.cluster_ip.ToString();
  const std::string_view proto = Proto(ps.protocol);
  const bool node_port = svc.type == ServiceType::kNodePort && ps.node_port != 0;
  const std::vector<nat::Endpoint> eps = Endpoints(spec, svc, ps);
  w.Line();
  w.Line("# ", Label(svc, ps), ": ", config::ToString(ps.protocol), " ", cip, ":", ps.port,
         node_port ? StrCat(" and node port ", ps.node_port) : std::string(), ", ", eps.size(),
         eps.size() == 1 ? " endpoint" : " endpoints", ", ", AlgorithmName(svc.algorithm),
         svc.affinity_client_ip ? StrCat(", ClientIP affinity ", svc.affinity_timeout, "s")
                                : std::string());
  w.Add("element ", kT, " cluster-ips { ", cip, " }");
  if (eps.empty()) {
    w.Add("element ", kT, " no-endpoint-services { ", cip, " . ", proto, " . ", ps.port,
          " comment \"", Label(svc, ps), "\" : goto reject-chain }");
    if (node_port) {
      w.Add("element ", kT, " no-endpoint-nodeports { ", proto, " . ", ps.node_port, " comment \"",
            Label(svc, ps), "\" : goto reject-chain }");
    }
    return;
  }

  const std::string service = ServicePortChain("service", svc, ps);
  const std::string external = ServicePortChain("external", svc, ps);
  std::vector<std::string> endpoint, affinity;
  for (const nat::Endpoint& e : eps) {
    endpoint.push_back(EndpointChain("endpoint", svc, ps, e.ip.ToString(), e.port));
    affinity.push_back(EndpointChain("affinity", svc, ps, e.ip.ToString(), e.port));
  }

  // Declarations first: a rule or a map element may only name a chain or set that exists.
  if (svc.affinity_client_ip) {
    for (const std::string& a : affinity) {
      w.Add("set ", kT, " ", a, " { type ipv4_addr ; flags dynamic,timeout ; timeout ",
            svc.affinity_timeout, "s ; }");
    }
  }
  w.Add("chain ", kT, " ", service);
  if (node_port) w.Add("chain ", kT, " ", external);
  for (const std::string& e : endpoint) w.Add("chain ", kT, " ", e);

  // Every new flow of the service passes here once (NAT chains see a flow's first packet only):
  // `minikube-net get svc` reads this counter as the service's new flows on this node.
  w.Add("rule ", kT, " ", service, " counter");
  // The service chain: non-pod sources (the node itself, the underlay) are masqueraded so the reply
  // comes back through this node; a pod's address is kept.
  w.Add("rule ", kT, " ", service, " ip daddr ", cip, " ip saddr != ", spec.pod_cidr.ToString(),
        " jump mark-for-masquerade");
  if (svc.affinity_client_ip) {
    for (size_t i = 0; i < eps.size(); ++i) {
      w.Add("rule ", kT, " ", service, " ip saddr @", affinity[i], " goto ", endpoint[i]);
    }
  }
  std::string pick, comment;
  if (svc.algorithm == Algorithm::kLeastConn) {
    w.Line(
        "# least-conn cannot be expressed in nftables (no rule reads a backend's connection "
        "count): random.");
    comment = "least-conn is not expressible in nftables: random";
  }
  switch (NftAlgorithm(svc.algorithm)) {
    case Algorithm::kRandom:
    case Algorithm::kLeastConn:  // never returned by NftAlgorithm
      pick = "numgen random";
      break;
    case Algorithm::kRoundRobin:
      pick = "numgen inc";
      comment = "round-robin: a counter shared by every new flow";
      break;
    case Algorithm::kSourceHash:
      pick = StrCat("jhash ip saddr");
      comment = "source-hash: one client address, one backend";
      break;
  }
  std::string vmap;
  for (size_t i = 0; i < endpoint.size(); ++i) {
    StrAppend(&vmap, i == 0 ? "" : ", ", i, " : goto ", endpoint[i]);
  }
  w.Add("rule ", kT, " ", service, " ", pick, " mod ", eps.size(),
        svc.algorithm == Algorithm::kSourceHash ? StrCat(" seed ", kSourceHashSeed) : std::string(),
        " vmap { ", vmap, " }",
        comment.empty() ? std::string() : StrCat(" comment \"", comment, "\""));

  // NodePort (externalTrafficPolicy=Cluster): always masquerade, so the reply returns via this node
  // even when the backend lives on another one.
  if (node_port) {
    w.Add("rule ", kT, " ", external, " jump mark-for-masquerade");
    w.Add("rule ", kT, " ", external, " goto ", service);
  }

  // Endpoint chains: hairpin (the backend is the client) is masqueraded, else the backend would
  // answer itself directly and the client would never see the service address again.
  for (size_t i = 0; i < eps.size(); ++i) {
    const std::string ip = eps[i].ip.ToString();
    w.Add("rule ", kT, " ", endpoint[i], " ip saddr ", ip, " jump mark-for-masquerade");
    if (svc.affinity_client_ip)
      w.Add("rule ", kT, " ", endpoint[i], " update @", affinity[i], " { ip saddr }");
    w.Add("rule ", kT, " ", endpoint[i], " meta l4proto ", proto, " dnat to ", ip, ":",
          eps[i].port);
  }

  w.Add("element ", kT, " service-ips { ", cip, " . ", proto, " . ", ps.port, " : goto ", service,
        " }");
  if (node_port) {
    w.Add("element ", kT, " service-nodeports { ", proto, " . ", ps.node_port, " : goto ", external,
          " }");
  }
}

}  // namespace

std::string ServicePortChain(std::string_view prefix, const ServiceSpec& svc,
                             const ServicePortSpec& port) {
  std::string base = ServicePortBase(svc, port);
  return StrCat(prefix, "-", Hash8(base), "-", base);
}

std::string EndpointChain(std::string_view prefix, const ServiceSpec& svc,
                          const ServicePortSpec& port, std::string_view ip, int target_port) {
  std::string base = StrCat(ServicePortBase(svc, port), "__", ip, "/", target_port);
  return StrCat(prefix, "-", Hash8(base), "-", base);
}

std::string RenderNftRuleset(const ClusterSpec& spec, int node_index) {
  std::string out;
  Writer w(out);
  Banner(spec, spec.nodes.at(node_index), w);
  BaseRules(spec, w);
  for (const ServiceSpec& svc : spec.services) {
    for (const ServicePortSpec& ps : svc.ports) RenderServicePort(spec, svc, ps, w);
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<uint64_t>>> ParseNftCounters(const ClusterSpec& spec,
                                                                    std::string_view nft_json) {
  using json = nlohmann::json;
  std::vector<std::vector<uint64_t>> out(spec.services.size());
  // Each port's service chain by name, as RenderServicePort names it.
  std::map<std::string, std::pair<size_t, size_t>, std::less<>> chains;
  for (size_t i = 0; i < spec.services.size(); ++i) {
    out[i].assign(spec.services[i].ports.size(), 0);
    for (size_t j = 0; j < spec.services[i].ports.size(); ++j)
      chains[ServicePortChain("service", spec.services[i], spec.services[i].ports[j])] = {i, j};
  }
  const json doc = json::parse(nft_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("nft -j output: not JSON");
  auto items = doc.is_object() ? doc.find("nftables") : doc.end();
  if (items == doc.end() || !items->is_array())
    return absl::InvalidArgumentError("nft -j output: want {\"nftables\": [...]}");
  for (size_t n = 0; n < items->size(); ++n) {
    const json& item = (*items)[n];
    auto rule = item.is_object() ? item.find("rule") : item.end();
    if (rule == item.end() || !rule->is_object()) continue;  // the table, sets, maps, chains
    auto chain = rule->find("chain");
    if (chain == rule->end() || !chain->is_string()) continue;
    auto port = chains.find(chain->get_ref<const std::string&>());
    if (port == chains.end()) continue;
    auto expr = rule->find("expr");
    if (expr == rule->end() || !expr->is_array()) continue;
    for (const json& e : *expr) {
      auto counter = e.is_object() ? e.find("counter") : e.end();
      if (counter == e.end()) continue;
      auto packets = counter->is_object() ? counter->find("packets") : counter->end();
      if (packets == counter->end() || !packets->is_number_unsigned()) {
        return absl::InvalidArgumentError(StrCat("nft -j output: nftables[", n, "]: chain ",
                                                 port->first, ": a counter without packets"));
      }
      out[port->second.first][port->second.second] += packets->get<uint64_t>();
    }
  }
  return out;
}

Algorithm NftAlgorithm(Algorithm a) {
  // The kernel keeps no per-backend connection count a rule could read (IPVS does; nftables has no
  // such expression), so least-conn is served as random, and the ruleset and `get svc` say so.
  return a == Algorithm::kLeastConn ? Algorithm::kRandom : a;
}

std::string ServicePortLabel(const ServiceSpec& svc, const ServicePortSpec& port) {
  nat::ServicePort p;
  p.service = svc.name;
  p.name = port.name;
  p.port = static_cast<uint16_t>(port.port);
  p.protocol = port.protocol;
  return p.Label();
}

std::optional<std::pair<int, int>> ServicePortOfFlow(const ClusterSpec& spec, net::Ipv4 orig_dst,
                                                     int orig_dport, std::string_view protocol) {
  auto same = [&](const ServicePortSpec& p) { return Proto(p.protocol) == protocol; };
  for (size_t i = 0; i < spec.services.size(); ++i) {
    const ServiceSpec& s = spec.services[i];
    for (size_t j = 0; j < s.ports.size(); ++j) {
      if (s.cluster_ip == orig_dst && s.ports[j].port == orig_dport && same(s.ports[j]))
        return std::make_pair(static_cast<int>(i), static_cast<int>(j));
    }
  }
  bool to_node = false;
  for (const config::NodeSpec& n : spec.nodes) to_node = to_node || n.underlay_ip == orig_dst;
  if (!to_node) return std::nullopt;
  for (size_t i = 0; i < spec.services.size(); ++i) {
    const ServiceSpec& s = spec.services[i];
    for (size_t j = 0; j < s.ports.size(); ++j) {
      if (s.ports[j].node_port != 0 && s.ports[j].node_port == orig_dport && same(s.ports[j]))
        return std::make_pair(static_cast<int>(i), static_cast<int>(j));
    }
  }
  return std::nullopt;
}

}  // namespace mkn::proxy
