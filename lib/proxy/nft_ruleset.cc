#include "lib/proxy/nft_ruleset.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/nat/service_table.h"
#include "lib/proxy/nft_table.h"
#include "lib/strings/str_cat.h"

namespace mkn::proxy {
namespace {

using config::Algorithm;
using config::ClusterSpec;
using config::Protocol;
using config::ServicePortSpec;
using config::ServiceSpec;
using config::ServiceType;

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
  return StrCat(svc.ns, "/", config::NameOfKey(svc.name), "/", NftProto(port.protocol), "/",
                PortLabel(port));
}

std::vector<std::string> Banner(const ClusterSpec& spec, const config::NodeSpec& node) {
  std::vector<std::string> b = {
      StrCat("minikube-net ", spec.name, "/", node.name,
             ": Services as kube-proxy's nftables mode writes them, in maps."),
      "One transaction: the table is created if missing, deleted, and rebuilt, all or nothing.",
      "nat-prerouting/nat-output -> services -> a pick (ct mark = slot) -> endpoints (dnat).",
      "A backend sees the client pod's own address; NodePort, hairpin and non-pod sources are",
      StrCat("masqueraded (mark ", kMasqueradeMark,
             ") to the node's address. Services without endpoints are rejected"),
      "in filter-*: TCP with a reset, UDP with ICMP port unreachable."};
  for (const ServiceSpec& s : spec.services) {
    if (s.algorithm == Algorithm::kLeastConn) {
      b.push_back(
          "least-conn cannot be expressed in nftables (no rule reads a backend's connection "
          "count): random.");
      break;
    }
  }
  return b;
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
  return NftTable::Build(spec).RenderFull(Banner(spec, spec.nodes.at(node_index)));
}

std::vector<std::string> NftBanner(const ClusterSpec& spec, int node_index) {
  return Banner(spec, spec.nodes.at(node_index));
}

absl::StatusOr<std::vector<std::vector<uint64_t>>> ParseNftCounters(const ClusterSpec& spec,
                                                                    std::string_view nft_json) {
  using json = nlohmann::json;
  std::vector<std::vector<uint64_t>> out(spec.services.size());
  // Each port's key in service-ips ("10.96.0.10|tcp|80") and service-nodeports ("tcp|30080").
  std::map<std::string, std::pair<size_t, size_t>, std::less<>> by_key;
  for (size_t i = 0; i < spec.services.size(); ++i) {
    const ServiceSpec& s = spec.services[i];
    out[i].assign(s.ports.size(), 0);
    for (size_t j = 0; j < s.ports.size(); ++j) {
      const ServicePortSpec& p = s.ports[j];
      by_key[StrCat("service-ips|", s.cluster_ip.ToString(), "|", NftProto(p.protocol), "|",
                    p.port)] = {i, j};
      if (s.type == ServiceType::kNodePort && p.node_port != 0)
        by_key[StrCat("service-nodeports|", NftProto(p.protocol), "|", p.node_port)] = {i, j};
    }
  }
  const json doc = json::parse(nft_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("nft -j output: not JSON");
  auto items = doc.is_object() ? doc.find("nftables") : doc.end();
  if (items == doc.end() || !items->is_array())
    return absl::InvalidArgumentError("nft -j output: want {\"nftables\": [...]}");
  // A key's parts as text: "10.96.0.10", "tcp", 80.
  auto part = [](const json& v) -> std::string {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_unsigned()) return StrCat(v.get<uint64_t>());
    return "?";
  };
  for (size_t n = 0; n < items->size(); ++n) {
    const json& item = (*items)[n];
    auto map = item.is_object() ? item.find("map") : item.end();
    if (map == item.end() || !map->is_object()) continue;  // the table, sets, chains, rules
    auto name = map->find("name");
    if (name == map->end() || !name->is_string()) continue;
    const std::string& set = name->get_ref<const std::string&>();
    if (set != "service-ips" && set != "service-nodeports") continue;
    auto elems = map->find("elem");
    if (elems == map->end() || !elems->is_array()) continue;
    for (const json& e : *elems) {
      // [{"elem": {"val": {"concat": [...]}, "counter": {...}}}, {"goto": ...}]
      if (!e.is_array() || e.empty() || !e[0].is_object()) continue;
      const json* elem = &e[0];
      if (auto inner = elem->find("elem"); inner != elem->end() && inner->is_object())
        elem = &*inner;
      auto val = elem->find("val");
      const json& key = val != elem->end() ? *val : *elem;
      auto concat = key.is_object() ? key.find("concat") : key.end();
      if (concat == key.end() || !concat->is_array()) continue;
      std::string k = set;
      for (const json& v : *concat) StrAppend(&k, "|", part(v));
      auto port = by_key.find(k);
      if (port == by_key.end()) continue;  // a port this spec does not have
      auto counter = elem->find("counter");
      if (counter == elem->end()) continue;
      auto packets = counter->is_object() ? counter->find("packets") : counter->end();
      if (packets == counter->end() || !packets->is_number_unsigned()) {
        return absl::InvalidArgumentError(
            StrCat("nft -j output: nftables[", n, "]: map ", set, ": a counter without packets"));
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
  auto same = [&](const ServicePortSpec& p) { return NftProto(p.protocol) == protocol; };
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
