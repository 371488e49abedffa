// The running cluster's side of the control socket: each verb of lib/control/protocol.h answered
// from what this process holds (the spec as it is now, the userspace proxy, the edge, each node's
// CNI chain) and what the kernel says inside the nodes (nftables counters, conntrack).
//
// Requests arrive concurrently, each on a thread of the control socket (vnet/cluster/control.h).
// kill and scale take the cluster's mutex themselves (RunningCluster::KillPod, Scale); every other
// verb runs under it, so it sees a spec no kill or scale is halfway through.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "lib/cni/invoke.h"
#include "lib/control/protocol.h"
#include "lib/control/usage.h"
#include "lib/dns/answer.h"
#include "lib/net/naming.h"
#include "lib/proxy/nft_ruleset.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/cluster_impl.h"
#include "vnet/cni/exec.h"
#include "vnet/cni/runtime.h"
#include "vnet/kernel/conntrack.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/nft.h"

namespace mkn::vnet {

using control::ErrorAnswer;

namespace {

// Names for control::NoSuch's suggestion, in spec order.
template <typename T>
std::vector<std::string> NamesOf(const std::vector<T>& items) {
  std::vector<std::string> names;
  names.reserve(items.size());
  for (const T& x : items) names.push_back(x.name);
  return names;
}

// Drops by lib/nat's names for their reasons: only the reasons that counted.
std::map<std::string, uint64_t> DropsByName(
    const std::array<uint64_t, nat::kDropReasonCount>& drops) {
  std::map<std::string, uint64_t> out;
  for (int d = 1; d < nat::kDropReasonCount; ++d) {
    if (drops[d] != 0) out[std::string(nat::ToString(static_cast<nat::DropReason>(d)))] = drops[d];
  }
  return out;
}

// A node's NAT as `get proxy` shows it.
control::NatNodeCounters NatNodeOf(const ProxyNodeStats& n) {
  const nat::NatCounters& c = n.counters;
  control::NatNodeCounters out;
  out.packets = c.packets;
  out.forwarded = c.forwarded;
  out.replied = c.replied;
  out.dropped = c.dropped;
  out.drops = DropsByName(c.drops);
  out.fragments_held = c.held;
  out.fragments_reassembled = c.reassembled;
  out.datagrams_reassembled = c.datagrams;
  out.fragments_dropped = c.fragments_dropped;
  out.conntrack_entries = n.conntrack_entries;
  out.conntrack_max = n.conntrack_max;
  out.conntrack_evictions = n.conntrack_evictions;
  out.conntrack_refused = n.conntrack_refused;
  out.read_errors = n.read_errors;
  out.write_errors = n.write_errors;
  out.netpol_drops = n.netpol_drops;
  return out;
}

// The kernel's, field for field.
control::KernelNodeCounters KernelNodeOf(const KernelCounters& k) {
  return {k.conntrack_entries, k.conntrack_max,           k.conntrack_early_drop,
          k.conntrack_drop,    k.conntrack_insert_failed, k.ip_reasm_reqds,
          k.ip_reasm_oks,      k.ip_reasm_fails,          k.ip_in_discards};
}

}  // namespace

class ControlHandler {
 public:
  explicit ControlHandler(RunningCluster& rc) : rc_(rc), impl_(*rc.impl_) {}

  absl::StatusOr<control::KillAnswer> Serve(const control::KillRequest& r) {
    auto t0 = std::chrono::steady_clock::now();
    {
      // The same check KillPod makes, here to suggest the name that was probably meant.
      std::lock_guard<std::mutex> l(impl_.mu);
      if (impl_.spec.FindPod(r.pod) == nullptr)
        return control::NoSuch("pod", r.pod, impl_.spec.name, NamesOf(impl_.spec.pods));
    }
    MKN_RETURN_IF_ERROR(rc_.KillPod(r.pod));
    std::lock_guard<std::mutex> l(impl_.mu);
    const PodState* p = rc_.state_.FindPod(r.pod);
    return control::KillAnswer{
        r.pod, p ? p->ip : "", p ? p->node : "",
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count()};
  }

  absl::StatusOr<control::ScaleAnswer> Serve(const control::ScaleRequest& r) {
    {
      std::lock_guard<std::mutex> l(impl_.mu);
      if (impl_.spec.FindDeployment(r.deployment) == nullptr) {
        return control::NoSuch("deployment", r.deployment, impl_.spec.name,
                               NamesOf(impl_.spec.deployments));
      }
    }
    MKN_RETURN_IF_ERROR(rc_.Scale(r.deployment, r.replicas));
    return control::ScaleAnswer{};
  }

  // apply / delete netpol take the cluster's mutex themselves (RunningCluster::ChangePolicies).
  absl::StatusOr<control::NetpolAnswer> Serve(const control::NetpolRequest& r) {
    return rc_.ChangePolicies(r);
  }

  absl::StatusOr<control::ResyncAnswer> Serve(const control::ResyncRequest& r) {
    std::lock_guard<std::mutex> l(impl_.mu);
    if (impl_.down) return absl::FailedPreconditionError("the cluster is stopping");
    return rc_.ResyncNftTables(r.check);
  }

  absl::StatusOr<control::ServicesAnswer> Serve(const control::ServicesRequest&) {
    std::lock_guard<std::mutex> l(impl_.mu);
    control::ServicesAnswer a = control::ServicesFromSpec(impl_.spec);
    AddProxyCounters(a);
    if (config::HasNftTables(impl_.spec.proxy_mode) && !impl_.spec.services.empty())
      MKN_RETURN_IF_ERROR(AddNftCounters(a));
    AddSockLbCounters(a);
    return a;
  }

  // The same Services; only `services` asks the kernel of every node for nftables' counters.
  absl::StatusOr<control::ServicesAnswer> Serve(const control::EndpointsRequest&) {
    std::lock_guard<std::mutex> l(impl_.mu);
    control::ServicesAnswer a = control::ServicesFromSpec(impl_.spec);
    AddProxyCounters(a);
    return a;
  }

  absl::StatusOr<control::RoutesAnswer> Serve(const control::RoutesRequest&) {
    std::lock_guard<std::mutex> l(impl_.mu);
    control::RoutesAnswer a;
    if (!impl_.ingress) return a;
    for (const IngressRouteStats& r : impl_.ingress->Stats()) {
      // "-" as in the access log's route=- : a request no route took.
      a.routes.push_back({r.route.empty() ? "-" : r.route,
                          r.requests,
                          {r.status[1], r.status[2], r.status[3], r.status[4], r.status[5]},
                          r.bytes_in,
                          r.bytes_out});
    }
    a.listeners = impl_.ingress->Listening();
    for (const IngressListenerStats& l : impl_.ingress->ListenerStats()) {
      a.listener_stats.push_back(
          {l.listener, l.max_connections, l.connections, l.accepted, l.refused, l.accept_errors});
    }
    a.exceptions = impl_.ingress->Exceptions();
    return a;
  }

  // The resolver's counters (vnet/apps' AppServer::DnsCounters) under lib/dns's names.
  absl::StatusOr<control::DnsAnswer> Serve(const control::DnsRequest&) {
    std::lock_guard<std::mutex> l(impl_.mu);
    control::DnsAnswer a;
    if (!impl_.spec.dns || !impl_.apps) return a;
    const dns::Counters c = impl_.apps->DnsCounters();
    a.served = true;
    a.queries = c.queries;
    a.forwarded = c.forwarded;
    a.truncated = c.truncated;
    for (dns::Rcode r : dns::kRcodes)
      a.rcodes[std::string(dns::ToString(r))] = c.rcodes[static_cast<size_t>(r)];
    for (size_t i = 1; i < c.dropped.size(); ++i) {  // 0 is kNone
      a.drops[std::string(dns::ToString(static_cast<dns::DropReason>(i)))] = c.dropped[i];
    }
    a.tcp_evicted = c.tcp_evicted;
    a.tcp_refused = c.tcp_refused;
    return a;
  }

  absl::StatusOr<control::OverlayAnswer> Serve(const control::OverlayRequest&) {
    std::lock_guard<std::mutex> l(impl_.mu);
    const config::ClusterSpec& spec = impl_.spec;
    control::OverlayAnswer a;
    a.network = spec.cni_mode ? StrCat("cni/", config::ToString(spec.cni.node_routes))
                              : std::string(config::ToString(spec.network));
    if (!impl_.geneve) {
      if (spec.cni_mode && spec.cni.node_routes == config::NodeRoutes::kPlugin) {
        a.note = "the plugin chain (or a node daemon) routes between nodes";
      } else if (spec.network == config::NetworkMode::kVxlan) {
        a.note = StrCat("the kernel's ", net::kNodeVxlan,
                        " carries it: ip -n <node netns> -s link show ", net::kNodeVxlan);
      } else {
        a.note = "no overlay: pods' packets cross the underlay as they are (ip -s link show eth0)";
      }
      return a;
    }
    a.pump_error = impl_.geneve->Error();
    for (const GeneveNodeStats& s : impl_.geneve->Stats()) {
      control::OverlayNodeInfo n;
      n.node = s.node;
      n.device = s.device;
      n.local = s.local;
      n.vni = s.vni;
      n.tx_frames = s.tx_frames;
      n.tx_super_frames = s.tx_super_frames;
      n.tx_datagrams = s.tx_datagrams;
      n.tx_sends = s.tx_sends;
      n.tx_bytes = s.tx_bytes;
      n.rx_datagrams = s.rx_datagrams;
      n.rx_frames = s.rx_frames;
      n.rx_joined = s.rx_joined;
      n.rx_bytes = s.rx_bytes;
      for (size_t i = 0; i < s.drops.size(); ++i) {
        if (s.drops[i] != 0)
          n.drops[std::string(geneve::ToString(static_cast<geneve::DropReason>(i)))] = s.drops[i];
      }
      n.read_errors = s.read_errors;
      n.write_errors = s.write_errors;
      a.nodes.push_back(std::move(n));
    }
    return a;
  }

  absl::StatusOr<control::ConntrackAnswer> Serve(const control::ConntrackRequest& r) {
    std::lock_guard<std::mutex> l(impl_.mu);
    const config::ClusterSpec& spec = impl_.spec;
    // An unknown node would select no flow: an empty table that looks like an idle cluster.
    if (!r.node.empty() && spec.FindNode(r.node) == nullptr)
      return control::NoSuch("node", r.node, spec.name, NamesOf(spec.nodes));
    control::ConntrackAnswer a;
    if (!impl_.proxy && config::HasNftTables(spec.proxy_mode) && !spec.services.empty()) {
      MKN_RETURN_IF_ERROR(AddKernelFlows(r.node, a));
      return a;
    }
    // No Services, no flows: an empty table, as `get svc` shows an empty one (not an error).
    if (!impl_.proxy) return a;
    for (const ProxyFlow& f : impl_.proxy->Flows(r.node)) {
      a.flows.push_back({f.node, f.protocol, f.state, f.service, f.original, f.reply, f.endpoint,
                         f.expires_in_ms, f.packets, f.bytes});
    }
    return a;
  }

  absl::StatusOr<control::CniAnswer> Serve(const control::CniRequest& r) {
    // One verb of a node's chain, run here with the node's view this process holds (a second
    // process mounting the same view would share its overlay upper dirs), serialized with kill and
    // scale.
    std::lock_guard<std::mutex> l(impl_.mu);
    const config::ClusterSpec& spec = impl_.spec;
    if (!spec.cni_mode || impl_.cni_nodes.empty())
      return absl::FailedPreconditionError("not a network = \"cni\" lab");
    int node = 0;
    const config::PodSpec* pod = nullptr;
    if (!r.pod.empty()) {
      pod = spec.FindPod(r.pod);
      if (pod == nullptr) return control::NoSuch("pod", r.pod, spec.name, NamesOf(spec.pods));
      node = pod->node;
    } else if (!r.node.empty()) {
      const config::NodeSpec* n = spec.FindNode(r.node);
      if (n == nullptr) return control::NoSuch("node", r.node, spec.name, NamesOf(spec.nodes));
      node = n->index;
    }
    if (node >= static_cast<int>(impl_.cni_nodes.size()) || !impl_.cni_nodes[node])
      return absl::FailedPreconditionError("that node's chain is not open");
    CniNode& cn = *impl_.cni_nodes[node];
    if (cni::IsPodVerb(r.verb) && pod == nullptr)
      return absl::InvalidArgumentError(StrCat("cni ", r.verb, ": name a pod"));
    ChainOutcome out = cn.RunVerb(
        r.verb, pod != nullptr ? cn.AsCached(PodRuntimeConf(spec, *pod)) : cni::RuntimeConf{});
    if (absl::IsInvalidArgument(out.status) && out.calls.empty()) return out.status;
    return CniAnswerOf(out, spec.nodes[node].name, cn.version());
  }

 private:
  // Userspace: the proxy's own counters, per service port (its ServiceTable numbers the ports in
  // spec order, headless Services left out: they have no ClusterIP to translate), and each node's.
  void AddProxyCounters(control::ServicesAnswer& a) const {
    if (!impl_.proxy) return;
    const ProxyStats stats = impl_.proxy->Stats();
    size_t port_id = 0;
    for (size_t i = 0; i < a.services.size(); ++i) {
      if (i < impl_.spec.services.size() && impl_.spec.services[i].headless) continue;
      for (control::ServicePortInfo& p : a.services[i].ports) {
        if (port_id < stats.services.size()) {
          const nat::ServiceCounters& c = stats.services[port_id].counters;
          control::PortCounters pc;
          pc.packets = c.packets;
          pc.bytes = c.bytes;
          pc.new_flows = c.new_flows;
          pc.flows = stats.services[port_id].flows;
          pc.icmp_errors = c.icmp_errors;
          pc.drops = DropsByName(c.drops);
          p.counters = std::move(pc);
        }
        ++port_id;
      }
    }
    for (const ProxyNodeStats& n : stats.nodes) a.nodes.push_back({n.node, NatNodeOf(n), {}});
    a.proxy_error = stats.pump_error;
  }

  // ebpf: the connect()/sendmsg() calls the programs translated are new flows of the port (added to
  // what the node tables counted for traffic from outside the pods' sockets), the calls they
  // refused for want of endpoints its no_endpoints drops; from the maps' counters.
  void AddSockLbCounters(control::ServicesAnswer& a) const {
    if (!impl_.sock_lb) return;
    for (const proxy::SockLbService& s : impl_.sock_lb_maps.services) {
      if (s.service < 0 || static_cast<size_t>(s.service) >= a.services.size()) continue;
      control::ServiceInfo& info = a.services[s.service];
      if (s.port_index < 0 || static_cast<size_t>(s.port_index) >= info.ports.size()) continue;
      control::ServicePortInfo& p = info.ports[s.port_index];
      if (!p.counters) p.counters = control::PortCounters{};
      const SockLbCounters c = impl_.sock_lb->ServiceCounters(s.id);
      p.counters->new_flows += c.translated;
      if (c.refused > 0) p.counters->drops["no_endpoints"] += c.refused;
    }
  }

  // nftables: new flows from the counters of each port's service-ips and service-nodeports
  // elements, packets, bytes and live flows from the kernel's conntrack table (acct on), summed
  // over nodes; and each node's kernel counters, read while its thread is in the node anyway.
  absl::Status AddNftCounters(control::ServicesAnswer& a) const {
    const config::ClusterSpec& spec = impl_.spec;
    std::vector<std::vector<control::PortCounters>> sum(spec.services.size());
    for (size_t i = 0; i < spec.services.size(); ++i) sum[i].resize(spec.services[i].ports.size());
    for (const config::NodeSpec& n : spec.nodes) {
      std::string rules;
      std::vector<KernelFlow> flows;
      KernelCounters kernel;
      MKN_RETURN_IF_ERROR(RunInNetns(impl_.applied.netns.at(n.netns).get(), [&]() -> absl::Status {
        MKN_ASSIGN_OR_RETURN(rules,
                             NftOutput(StrCat("list table ip ", net::kNftTable), /*json=*/true));
        MKN_ASSIGN_OR_RETURN(flows, ListKernelFlows());
        MKN_ASSIGN_OR_RETURN(kernel, ReadKernelCounters());
        return absl::OkStatus();
      }));
      a.nodes.push_back({n.name, {}, KernelNodeOf(kernel)});
      absl::StatusOr<std::vector<std::vector<uint64_t>>> fresh =
          proxy::ParseNftCounters(spec, rules);
      // What nft printed is this process's to read: not the caller's bad input.
      if (!fresh.ok())
        return absl::InternalError(StrCat("node ", n.name, ": ", fresh.status().message()));
      for (size_t i = 0; i < sum.size(); ++i) {
        for (size_t j = 0; j < sum[i].size(); ++j) sum[i][j].new_flows += (*fresh)[i][j];
      }
      for (const KernelFlow& f : flows) {
        std::optional<std::pair<int, int>> port =
            proxy::ServicePortOfFlow(spec, f.orig_dst, f.orig_dport, f.protocol);
        if (!port) continue;
        control::PortCounters& c = sum[port->first][port->second];
        c.packets += f.packets;
        c.bytes += f.bytes;
        ++c.flows;
      }
    }
    for (size_t i = 0; i < sum.size(); ++i) {
      for (size_t j = 0; j < sum[i].size(); ++j) a.services[i].ports[j].counters = sum[i][j];
    }
    return absl::OkStatus();
  }

  // nftables: the kernel's flows that were translated (their reply does not come from where they
  // went), of one node or all, each named by the service port it was sent to.
  absl::Status AddKernelFlows(const std::string& only_node, control::ConntrackAnswer& a) const {
    const config::ClusterSpec& spec = impl_.spec;
    std::map<uint32_t, std::string> pod_of;
    for (const config::PodSpec& p : spec.pods) pod_of[p.ip.value] = p.name;
    auto ep = [](net::Ipv4 x, uint16_t px, net::Ipv4 y, uint16_t py) {
      return StrCat(x.ToString(), ":", px, " -> ", y.ToString(), ":", py);
    };
    for (const config::NodeSpec& n : spec.nodes) {
      if (!only_node.empty() && n.name != only_node) continue;
      std::vector<KernelFlow> kf;
      MKN_RETURN_IF_ERROR(RunInNetns(impl_.applied.netns.at(n.netns).get(), [&]() -> absl::Status {
        MKN_ASSIGN_OR_RETURN(kf, ListKernelFlows());
        return absl::OkStatus();
      }));
      for (const KernelFlow& f : kf) {
        if (f.orig_dst == f.reply_src || (f.protocol != "tcp" && f.protocol != "udp")) continue;
        const std::string proto = f.protocol == "tcp" ? "TCP" : "UDP";
        auto pod = pod_of.find(f.reply_src.value);
        // Named as the userspace proxy names it; a flow no service port claims keeps its address.
        std::optional<std::pair<int, int>> sp =
            proxy::ServicePortOfFlow(spec, f.orig_dst, f.orig_dport, f.protocol);
        std::string service =
            sp ? proxy::ServicePortLabel(spec.services[sp->first],
                                         spec.services[sp->first].ports[sp->second])
               : StrCat(f.orig_dst.ToString(), ":", f.orig_dport, "/", proto);
        a.flows.push_back({n.name, proto, f.state.empty() ? "-" : f.state, std::move(service),
                           ep(f.orig_src, f.orig_sport, f.orig_dst, f.orig_dport),
                           ep(f.reply_src, f.reply_sport, f.reply_dst, f.reply_dport),
                           pod == pod_of.end() ? "" : pod->second, f.expires_s * 1000, f.packets,
                           f.bytes});
      }
    }
    return absl::OkStatus();
  }

  RunningCluster& rc_;
  RunningCluster::Impl& impl_;
};

std::string RunningCluster::HandleControl(const std::string& request) {
  absl::StatusOr<control::Request> req = control::ParseRequest(request);
  if (!req.ok()) return control::Encode(control::ToJson(ErrorAnswer::FromStatus(req.status())));
  ControlHandler handler(*this);
  return std::visit(
      [&](const auto& r) {
        auto answer = handler.Serve(r);
        return control::Encode(answer.ok()
                                   ? control::ToJson(*answer)
                                   : control::ToJson(ErrorAnswer::FromStatus(answer.status())));
      },
      *req);
}

}  // namespace mkn::vnet
