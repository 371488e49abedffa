#include "lib/control/format.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>

#include "lib/cni/invoke.h"
#include "lib/config/netpol.h"
#include "lib/strings/columns.h"
#include "lib/strings/str_cat.h"

namespace mkn::control {
namespace {

std::string PortsText(const ServiceInfo& s) {
  std::string out;
  for (const ServicePortInfo& p : s.ports) {
    if (!out.empty()) out += ",";
    StrAppend(&out, p.port);
    if (p.node_port != 0) StrAppend(&out, ":", p.node_port);
    StrAppend(&out, "/", p.protocol);
  }
  return out;
}

// "no_flow 4460, table_full 7" (`sep` " ") or "no_flow=4460,table_full=7" (`sep` "=").
std::string DropsText(const std::map<std::string, uint64_t>& drops, std::string_view sep,
                      std::string_view between) {
  std::string out;
  for (const auto& [reason, n] : drops) {
    if (n == 0) continue;
    StrAppend(&out, out.empty() ? "" : between, reason, sep, n);
  }
  return out;
}

// "1 datagram", "3 datagrams".
std::string Count(uint64_t n, std::string_view one, std::string_view many) {
  return StrCat(n, " ", n == 1 ? one : many);
}

// A node's line under `get svc`, "" when its proxy dropped nothing: every clause that is not zero.
std::string NodeNote(const NodeProxyStats& n) {
  std::vector<std::string> parts;
  if (const NatNodeCounters* c = n.nat ? &*n.nat : nullptr) {
    if (c->dropped == 0 && c->conntrack_evictions == 0 && c->read_errors == 0 &&
        c->write_errors == 0)
      return "";
    if (c->dropped != 0)
      parts.push_back(StrCat(Count(c->dropped, "packet", "packets"), " dropped (",
                             DropsText(c->drops, " ", ", "), ")"));
    if (c->conntrack_evictions != 0) {
      parts.push_back(StrCat(Count(c->conntrack_evictions, "unassured flow", "unassured flows"),
                             " evicted from a full table (", c->conntrack_entries, " of ",
                             c->conntrack_max, " flows now)"));
    }
    if (c->datagrams_reassembled != 0) {
      parts.push_back(StrCat(Count(c->fragments_reassembled, "fragment", "fragments"),
                             " reassembled into ",
                             Count(c->datagrams_reassembled, "datagram", "datagrams")));
    }
    if (c->read_errors + c->write_errors != 0) {
      parts.push_back(StrCat(Count(c->read_errors, "TUN read error", "TUN read errors"), ", ",
                             Count(c->write_errors, "TUN write error", "TUN write errors")));
    }
  } else if (const KernelNodeCounters* k = n.kernel ? &*n.kernel : nullptr) {
    if (k->conntrack_early_drop == 0 && k->conntrack_drop == 0 && k->conntrack_insert_failed == 0 &&
        k->ip_reasm_fails == 0 && k->ip_in_discards == 0)
      return "";
    if (k->conntrack_early_drop != 0)
      parts.push_back(StrCat(Count(k->conntrack_early_drop, "unassured flow", "unassured flows"),
                             " evicted (early_drop)"));
    if (k->conntrack_drop != 0)
      parts.push_back(
          StrCat(Count(k->conntrack_drop, "packet", "packets"), " dropped by conntrack (drop)"));
    if (k->conntrack_insert_failed != 0)
      parts.push_back(StrCat(
          Count(k->conntrack_insert_failed, "conntrack insert", "conntrack inserts"), " failed"));
    if (k->ip_reasm_fails != 0)
      parts.push_back(
          StrCat(Count(k->ip_reasm_fails, "IP reassembly", "IP reassemblies"), " failed"));
    if (k->ip_reasm_oks != 0)
      parts.push_back(StrCat(Count(k->ip_reasm_oks, "datagram", "datagrams"), " reassembled"));
    if (k->ip_in_discards != 0)
      parts.push_back(Count(k->ip_in_discards, "IP input discard", "IP input discards"));
  } else {
    return "";
  }
  std::string out = StrCat(n.node, n.kernel ? " (kernel)" : "", ": ");
  for (size_t i = 0; i < parts.size(); ++i) StrAppend(&out, i ? "; " : "", parts[i]);
  return out + "\n";
}

std::string ProxyErrorNote(const ServicesAnswer& a) {
  if (a.proxy_error.empty()) return "";
  return StrCat("the userspace proxy stopped (", a.proxy_error,
                "): Services do not answer until the cluster is brought down and up again\n");
}

}  // namespace

std::string Table(const std::vector<std::vector<std::string>>& rows) { return Columns(rows); }

std::string PodsTable(const std::vector<PodRow>& pods, bool namespaces) {
  std::vector<std::vector<std::string>> rows = {{"POD", "NODE", "IP", "CONTAINERS", "ENTER WITH"}};
  if (namespaces) rows[0].insert(rows[0].begin(), "NAMESPACE");
  for (const PodRow& p : pods) {
    std::string cs;
    for (const ContainerRow& c : p.containers) {
      if (!cs.empty()) cs += ",";
      StrAppend(&cs, c.name, "(", c.app == "command" ? "cmd" : c.app,
                c.first_port.empty() ? "" : " ", c.first_port, ")");
    }
    // A CNI lab's pod whose ADD failed has no address: say why instead.
    rows.push_back({p.name, p.node, p.error.empty() ? p.ip : "<none>", cs,
                    StrCat("ip netns exec ", p.netns, " sh")});
    if (namespaces) {
      const size_t slash = p.name.find('/');
      rows.back()[0] = slash == std::string::npos ? p.name : p.name.substr(slash + 1);
      rows.back().insert(rows.back().begin(),
                         slash == std::string::npos ? "default" : p.name.substr(0, slash));
    }
  }
  std::string out = Table(rows);
  for (const PodRow& p : pods) {
    if (!p.error.empty()) StrAppend(&out, "pod ", p.name, ": CNI ADD failed: ", p.error, "\n");
  }
  return out;
}

std::string NodesTable(const std::vector<NodeRow>& nodes) {
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "UNDERLAY IP", "POD CIDR", "PODS", "NETNS"}};
  for (const NodeRow& n : nodes)
    rows.push_back({n.name, n.underlay_ip, n.pod_cidr, std::to_string(n.pods), n.netns});
  return Table(rows);
}

std::string Count(int64_t n, std::string_view noun) {
  return StrCat(n, " ", noun, n == 1 ? "" : "s");
}

std::string StatusTable(const std::vector<ClusterRow>& clusters) {
  std::vector<std::vector<std::string>> rows = {
      {"CLUSTER", "STATE", "NETWORK", "NODES", "PODS", "PID", "LAB"}};
  for (const ClusterRow& c : clusters) {
    if (c.unreadable) {
      rows.push_back({c.name, "? (root only)", "-", "-", "-", "-", "-"});
      continue;
    }
    rows.push_back(
        {c.name, c.alive ? c.phase : StrCat("dead (run: minikube-net down ", c.name, ")"),
         c.network, std::to_string(c.nodes), std::to_string(c.pods), std::to_string(c.pid), c.lab});
  }
  return Table(rows);
}

ServicesAnswer ServicesIn(ServicesAnswer a, const std::string& ns) {
  std::vector<ServiceInfo> kept;
  for (ServiceInfo& s : a.services) {
    const size_t slash = s.name.find('/');
    const std::string in = slash == std::string::npos ? "default" : s.name.substr(0, slash);
    if (in != ns) continue;
    if (slash != std::string::npos) s.name = s.name.substr(slash + 1);
    kept.push_back(std::move(s));
  }
  a.services = std::move(kept);
  return a;
}

absl::StatusOr<ServiceName> ParseServiceName(std::string_view word, std::string_view ns_flag) {
  std::string_view rest = word;
  for (std::string_view type : {"svc/", "service/", "services/"}) {
    if (rest.starts_with(type)) {
      rest.remove_prefix(type.size());
      break;
    }
  }
  std::vector<std::string_view> parts;
  for (size_t at = 0;;) {
    const size_t slash = rest.find('/', at);
    parts.push_back(rest.substr(at, slash == std::string_view::npos ? slash : slash - at));
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat("get svc: \"", word, "\" ", why,
               ": say NAME, NAMESPACE/NAME or svc/NAME (as get svc kube-dns -n kube-system, "
               "kube-system/kube-dns, svc/kube-dns)"));
  };
  if (parts.size() > 2) return bad("has too many parts");
  for (std::string_view p : parts)
    if (p.empty()) return bad("has an empty part");
  ServiceName n;
  n.name = std::string(parts.back());
  if (parts.size() == 2) {
    n.ns = std::string(parts[0]);
    if (!ns_flag.empty() && ns_flag != n.ns) {
      return absl::InvalidArgumentError(StrCat("get svc: \"", word, "\" is in namespace \"", n.ns,
                                               "\", but -n says \"", ns_flag,
                                               "\": give the namespace once"));
    }
  } else {
    n.ns = ns_flag.empty() ? "default" : std::string(ns_flag);
  }
  return n;
}

absl::StatusOr<ServicesAnswer> OneService(ServicesAnswer a, const ServiceName& want) {
  std::vector<std::string> elsewhere;
  std::vector<std::string> here;
  for (const ServiceInfo& s : a.services) {
    const std::string_view ns = config::NamespaceOfKey(s.name);
    if (ns == want.ns) here.emplace_back(config::NameOfKey(s.name));
    if (config::NameOfKey(s.name) == want.name && ns != want.ns) elsewhere.emplace_back(ns);
  }
  ServicesAnswer in = ServicesIn(std::move(a), want.ns);
  std::erase_if(in.services, [&](const ServiceInfo& s) { return s.name != want.name; });
  if (!in.services.empty()) return in;
  std::string hint;
  for (const std::string& e : elsewhere)
    StrAppend(&hint, hint.empty() ? ": did you mean " : " or ", "-n ", e, " (", e, "/", want.name,
              ")");
  if (!hint.empty()) {
    hint += "?";
  } else if (!here.empty()) {
    std::string names;
    for (const std::string& h : here) StrAppend(&names, names.empty() ? "" : ", ", h);
    hint = StrCat(" (its Services: ", names, ")");
  }
  return absl::NotFoundError(StrCat("get svc: service \"", want.name,
                                    "\" not found in namespace \"", want.ns, "\"", hint));
}

std::string ServicesTable(const ServicesAnswer& a, bool namespaces) {
  // Userspace: the proxy's own counters. nftables: new flows from each port's counted elements of
  // service-ips and service-nodeports, packets and bytes of the flows still in the kernel's
  // conntrack table. Either way every port has them, or none does: the first one says.
  const bool counters = !a.services.empty() && !a.services[0].ports.empty() &&
                        a.services[0].ports[0].counters.has_value();
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "ENDPOINTS", "ALGORITHM", "AFFINITY"}};
  if (counters) rows[0].insert(rows[0].end(), {"PACKETS", "BYTES", "FLOWS", "NEW", "DROPS"});
  if (namespaces) rows[0].insert(rows[0].begin(), "NAMESPACE");
  for (const ServiceInfo& s : a.services) {
    std::vector<std::string> r = {s.name,
                                  s.type,
                                  s.cluster_ip,
                                  PortsText(s),
                                  std::to_string(s.endpoints.size()),
                                  s.lab_algorithm.empty() ? s.algorithm : s.algorithm + "*",
                                  s.session_affinity};
    if (namespaces) {
      const size_t slash = s.name.find('/');
      r[0] = slash == std::string::npos ? s.name : s.name.substr(slash + 1);
      r.insert(r.begin(), slash == std::string::npos ? "default" : s.name.substr(0, slash));
    }
    if (counters) {
      uint64_t packets = 0, bytes = 0, flows = 0, fresh = 0, drops = 0;
      for (const ServicePortInfo& p : s.ports) {
        if (!p.counters) continue;
        packets += p.counters->packets;
        bytes += p.counters->bytes;
        flows += p.counters->flows;
        fresh += p.counters->new_flows;
        for (const auto& [reason, n] : p.counters->drops) drops += n;
      }
      r.insert(r.end(), {std::to_string(packets), std::to_string(bytes), std::to_string(flows),
                         std::to_string(fresh), std::to_string(drops)});
    }
    rows.push_back(std::move(r));
  }
  // A footnote, not a longer cell: the column stays one word, as scripts read it with awk.
  std::string notes;
  for (const ServiceInfo& s : a.services) {
    if (s.lab_algorithm.empty()) continue;
    StrAppend(&notes, "* ", s.name, ": the lab asks for ", s.lab_algorithm,
              ", which proxy_mode = \"", a.proxy_mode, "\" cannot serve; it serves ", s.algorithm,
              " (", s.lab_algorithm, " needs proxy_mode = \"userspace\"",
              s.lab_algorithm == "round-robin" || s.lab_algorithm == "source-hash"
                  ? " or \"nftables\""
                  : "",
              ")\n");
  }
  // What no service's row can show: a node's proxy that dropped, evicted or failed. A line only
  // then, so a healthy cluster's table stays the table.
  for (const NodeProxyStats& n : a.nodes) notes += NodeNote(n);
  return Table(rows) + notes + ProxyErrorNote(a);
}

std::string EndpointsTable(const ServicesAnswer& a) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "ENDPOINTS"}};
  for (const ServiceInfo& s : a.services) {
    std::string eps;
    for (const EndpointInfo& e : s.endpoints) {
      if (!eps.empty()) eps += ",";
      StrAppend(&eps, e.ip, "(", e.pod, ")");
    }
    rows.push_back({s.name, eps.empty() ? "<none>" : eps});
  }
  return Table(rows);
}

std::string ServicesJson(const ServicesAnswer& a) { return ToJson(a)["services"].dump(2) + "\n"; }

std::string ProxyText(const ServicesAnswer& a) {
  if (a.nodes.empty()) {
    return ProxyErrorNote(a) + StrCat("no proxy counters: the lab has no Services (proxy_mode = \"",
                                      a.proxy_mode, "\")\n");
  }
  std::vector<std::vector<std::string>> rows;
  std::string head;
  if (a.proxy_mode == "nftables" || a.proxy_mode == "ebpf") {
    head = a.proxy_mode == "nftables"
               ? "proxy_mode = \"nftables\": the kernel translates; its counters in each node's "
                 "netns\n"
               : "proxy_mode = \"ebpf\": pods' sockets are translated at connect() (get svc's NEW "
                 "counts them, from the maps); the rest by each node's nftables table:\n";
    rows.push_back({"NODE", "FLOWS", "MAX", "EARLY DROPS", "DROPS", "INSERT FAILED", "REASM REQDS",
                    "REASM OKS", "REASM FAILS", "IN DISCARDS"});
  } else {
    rows.push_back({"NODE", "PACKETS", "DROPPED", "FLOWS", "MAX", "EVICTED", "REFUSED",
                    "FRAGS HELD", "FRAGS REASSEMBLED", "DATAGRAMS", "FRAGS DROPPED", "TUN ERRORS",
                    "DROPS BY REASON"});
  }
  auto n2s = [](uint64_t x) { return std::to_string(x); };
  for (const NodeProxyStats& n : a.nodes) {
    if (n.kernel) {
      const KernelNodeCounters& k = *n.kernel;
      rows.push_back({n.node, n2s(k.conntrack_entries), n2s(k.conntrack_max),
                      n2s(k.conntrack_early_drop), n2s(k.conntrack_drop),
                      n2s(k.conntrack_insert_failed), n2s(k.ip_reasm_reqds), n2s(k.ip_reasm_oks),
                      n2s(k.ip_reasm_fails), n2s(k.ip_in_discards)});
    } else if (n.nat) {
      const NatNodeCounters& c = *n.nat;
      const std::string reasons = DropsText(c.drops, "=", ",");
      rows.push_back({n.node, n2s(c.packets), n2s(c.dropped), n2s(c.conntrack_entries),
                      n2s(c.conntrack_max), n2s(c.conntrack_evictions), n2s(c.conntrack_refused),
                      n2s(c.fragments_held), n2s(c.fragments_reassembled),
                      n2s(c.datagrams_reassembled), n2s(c.fragments_dropped),
                      n2s(c.read_errors + c.write_errors), reasons.empty() ? "-" : reasons});
    }
  }
  return ProxyErrorNote(a) + head + Table(rows);
}

std::string ProxyJson(const ServicesAnswer& a) {
  nlohmann::json j = ToJson(a);
  j.erase("ok");
  j.erase("services");
  return j.dump(2) + "\n";
}

std::string RoutesText(const RoutesAnswer& a) {
  std::string out;
  for (const std::string& l : a.listeners) {
    StrAppend(&out, "listening: ", l);
    for (const ListenerStats& s : a.listener_stats) {
      if (s.listener != l) continue;
      StrAppend(&out, " (", s.connections, " of ", s.max_connections, " connections; ", s.refused,
                " refused over the cap; ", s.accept_errors, " accept errors)");
    }
    StrAppend(&out, "\n");
  }
  if (a.exceptions != 0) {
    StrAppend(&out, "edge: ", a.exceptions,
              " coroutines ended by an exception (`minikube-net logs ingress` says which)\n");
  }
  std::vector<std::vector<std::string>> rows = {
      {"ROUTE", "REQUESTS", "2XX", "3XX", "4XX", "5XX", "BYTES IN", "BYTES OUT"}};
  for (const RouteStats& r : a.routes) {
    rows.push_back({r.route, std::to_string(r.requests), std::to_string(r.by_class[1]),
                    std::to_string(r.by_class[2]), std::to_string(r.by_class[3]),
                    std::to_string(r.by_class[4]), std::to_string(r.bytes_in),
                    std::to_string(r.bytes_out)});
  }
  return out + Table(rows);
}

std::string RoutesJson(const RoutesAnswer& a) { return ToJson(a).dump(2) + "\n"; }

std::string OverlayText(const OverlayAnswer& a) {
  if (a.nodes.empty()) return StrCat("network ", a.network, ": ", a.note, "\n");
  std::vector<std::vector<std::string>> rows = {{"NODE", "DEVICE", "LOCAL", "VNI",
                                                 "TX FRAMES (GSO)", "TX DGRAMS", "SENDS",
                                                 "RX DGRAMS", "RX FRAMES", "JOINED", "DROPS"}};
  std::string notes;
  for (const OverlayNodeInfo& n : a.nodes) {
    uint64_t drops = 0;
    std::string line;
    for (const auto& [reason, count] : n.drops) {
      drops += count;
      StrAppend(&line, " ", reason, "=", count);
    }
    if (!line.empty()) StrAppend(&notes, n.node, " drops:", line, "\n");
    if (n.read_errors + n.write_errors != 0) {
      StrAppend(&notes, n.node, ": ", n.read_errors, " failed reads, ", n.write_errors,
                " failed writes on ", n.device, " or its socket\n");
    }
    rows.push_back({n.node, n.device, n.local, std::to_string(n.vni),
                    StrCat(n.tx_frames, " (", n.tx_super_frames, ")"),
                    std::to_string(n.tx_datagrams), std::to_string(n.tx_sends),
                    std::to_string(n.rx_datagrams), std::to_string(n.rx_frames),
                    std::to_string(n.rx_joined), std::to_string(drops)});
  }
  std::string out = Table(rows) + notes;
  if (!a.pump_error.empty()) StrAppend(&out, "pump stopped: ", a.pump_error, "\n");
  return out;
}

std::string OverlayJson(const OverlayAnswer& a) { return ToJson(a).dump(2) + "\n"; }

std::string DnsText(const DnsAnswer& a) {
  if (!a.served) return "no cluster DNS in this lab ([cluster] dns = false, or a CNI lab)\n";
  std::string out = Table(
      {{"QUERIES", "FORWARDED", "TRUNCATED"},
       {std::to_string(a.queries), std::to_string(a.forwarded), std::to_string(a.truncated)}});
  // The rcodes a student meets first, then the rest as the answer has them.
  static constexpr std::string_view kFirst[] = {"NOERROR", "NXDOMAIN", "REFUSED", "SERVFAIL",
                                                "NOTIMP",  "FORMERR",  "BADVERS"};
  std::vector<std::vector<std::string>> rcodes = {{"RCODE", "ANSWERS"}};
  for (std::string_view name : kFirst) {
    auto it = a.rcodes.find(std::string(name));
    if (it != a.rcodes.end()) rcodes.push_back({it->first, std::to_string(it->second)});
  }
  for (const auto& [name, n] : a.rcodes) {
    if (std::find(std::begin(kFirst), std::end(kFirst), name) == std::end(kFirst))
      rcodes.push_back({name, std::to_string(n)});
  }
  std::vector<std::vector<std::string>> drops = {{"DROPPED (REASON)", "QUERIES"}};
  for (const auto& [reason, n] : a.drops) drops.push_back({reason, std::to_string(n)});
  StrAppend(&out, "\n", Table(rcodes), "\n", Table(drops), "\n",
            "TCP connections closed by the bounds (16 per client address, 128 in all): ",
            a.tcp_evicted, " idle for a newer one, ", a.tcp_refused, " new refused\n");
  return out;
}

std::string DnsJson(const DnsAnswer& a) { return ToJson(a).dump(2) + "\n"; }

std::string ConntrackTable(const ConntrackAnswer& a) {
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "PROTO", "STATE", "SERVICE", "ORIGINAL (as the client sent it)",
       "REPLY (as the endpoint answers)", "POD", "EXPIRES", "PACKETS"}};
  for (const FlowInfo& f : a.flows) {
    rows.push_back({f.node, f.protocol, f.state, f.service, f.original, f.reply, f.endpoint,
                    StrCat(f.expires_in_ms / 1000, "s"), std::to_string(f.packets)});
  }
  return Table(rows);
}

std::string ConntrackJson(const ConntrackAnswer& a) { return ToJson(a)["flows"].dump(2) + "\n"; }

std::string KillText(const KillAnswer& a) {
  return StrCat("pod ", a.pod, " killed and recreated on ", a.node, " with IP ", a.ip, " in ", a.ms,
                " ms\n");
}

std::string ScaleText(const ScaleRequest& r) {
  return StrCat("deployment ", r.deployment, " scaled to ", r.replicas, "\n");
}

std::string ResyncText(const ResyncAnswer& a) {
  std::string out;
  for (const NodeResync& n : a.nodes) {
    if (n.differences.empty()) {
      StrAppend(&out, n.node, ": in sync with a full sync of the spec\n");
    } else {
      StrAppend(&out, n.node, ": ", n.differences.size(),
                n.differences.size() == 1 ? " difference" : " differences",
                " from a full sync (-: only in the node, +: missing)\n");
      for (size_t i = 0; i < n.differences.size() && i < kMaxResyncLines; ++i)
        StrAppend(&out, "  ", n.differences[i], "\n");
      if (n.differences.size() > kMaxResyncLines)
        StrAppend(&out, "  ... and ", n.differences.size() - kMaxResyncLines, " more\n");
    }
    if (n.rewritten) StrAppend(&out, n.node, ": rewritten whole, in one transaction\n");
  }
  return out;
}

std::string CniText(const CniRequest& r, const CniAnswer& a, bool show_exec) {
  std::string out = show_exec ? a.calls : "";
  if (!a.chain_ok) return out;
  if (r.verb == "add") {
    StrAppend(&out, a.result.dump(2), "\n");
  } else if (r.verb == "version") {
    StrAppend(&out, nlohmann::json{{"negotiated", a.negotiated}, {"plugins", a.plugins}}.dump(2),
              "\n");
  } else if (!show_exec) {
    StrAppend(&out, "cni ", r.verb,
              cni::IsPodVerb(r.verb) ? StrCat(" ", r.pod) : StrCat(" node ", a.node), ": ok (",
              a.ncalls, " plugin calls)\n");
  }
  return out;
}

std::string CertText(const std::string& ca_cert, const std::string& ca_key, bool ca_reused,
                     const std::string& cert, const std::string& key,
                     const std::vector<std::string>& hosts) {
  std::string out = StrCat("CA:          ", ca_cert,
                           ca_reused ? " (reused)" : StrCat(" (new, its key in ", ca_key, ")"),
                           "\ncertificate: ", cert, "\nkey:         ", key, "\nhosts:       ");
  for (size_t i = 0; i < hosts.size(); ++i) StrAppend(&out, i ? ", " : "", hosts[i]);
  out += "\n\nTry it (with a listener on 127.0.0.1:8443):\n";
  for (const std::string& h : hosts) {
    if (h.find(':') != std::string::npos) continue;  // IPv6: listeners are on 127.0.0.0/8
    std::string host = h.rfind("*.", 0) == 0 ? "www" + h.substr(1) : h;
    if (h.find_first_not_of("0123456789.") == std::string::npos) {
      if (h.rfind("127.", 0) != 0) continue;  // only a loopback address reaches a listener
      StrAppend(&out, "  curl --cacert ", ca_cert, " https://", h, ":8443/\n");
    } else {
      StrAppend(&out, "  curl --cacert ", ca_cert, " https://", host, ":8443/ --resolve ", host,
                ":8443:127.0.0.1\n");
    }
  }
  return out;
}

std::string ForegroundStopHint(const StopHintFacts& f) {
  if (!f.in_sandbox) {
    return StrCat("press Ctrl-C to tear it down (or run: minikube-net down ", f.cluster, ")\n");
  }
  return StrCat("press Ctrl-C to tear it down (or, from another terminal: ", f.sandbox, " --join ",
                f.cluster, " -- ", f.binary, " down ", f.cluster, ")\n");
}

}  // namespace mkn::control
