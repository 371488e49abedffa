// The workloads of Resolve() (resolver.h): [[pod]] and [[deployment]] with their containers
// (built-in apps or commands, ports, env), a pod's CNI args, then the placement of every pod on a
// node and its address, MAC, namespace and veth names.

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "lib/config/resolver.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::config::internal {

// A pod's CNI_ARGS and capability args; only in a CNI lab.
void Resolver::ResolvePodCni(const RawPodCni& rc, SourcePos pod_pos, const std::string& what,
                             PodCniSpec& out) {
  bool any = rc.args.present() || !rc.port_mappings.empty() || rc.has_bandwidth ||
             rc.ips.present() || rc.mac.present();
  if (!any) return;
  if (!spec_.cni_mode) {
    SourcePos at = rc.args.present()           ? rc.args.pos
                   : !rc.port_mappings.empty() ? rc.port_mappings[0].pos
                   : rc.has_bandwidth          ? rc.bandwidth_pos
                   : rc.ips.present()          ? rc.ips.pos
                   : rc.mac.present()          ? rc.mac.pos
                                               : pod_pos;
    d_.Error(
        at,
        StrCat(
            what,
            ": cni_args, port_mappings, bandwidth, ips and mac are for a network = \"cni\" lab"));
    return;
  }
  for (const auto& [k, v] : rc.args.value) {
    if (k.empty() || k.find_first_of("=;") != std::string::npos ||
        v.find(';') != std::string::npos) {
      d_.Error(
          rc.args.pos,
          StrCat(what, ": cni_args: \"", k, "=", v,
                 "\" cannot be written in CNI_ARGS (no '=' or ';' in keys, no ';' in values)"));
      continue;
    }
    out.args.emplace_back(k, v);
  }
  for (size_t i = 0; i < rc.port_mappings.size(); ++i) {
    const RawPortMapping& m = rc.port_mappings[i];
    std::string mw = StrCat(what, ": port_mappings[", i, "]");
    PortMappingSpec pm;
    bool ok = true;
    for (auto [f, name] :
         {std::pair{&m.host_port, "host_port"}, std::pair{&m.container_port, "container_port"}}) {
      if (!f->set) {
        if (!f->bad) d_.Error(m.pos, StrCat(mw, ": missing \"", name, "\""));
        ok = false;
      } else if (!CheckPort(*f, StrCat(mw, " ", name))) {
        ok = false;
      }
    }
    if (m.protocol.set) {
      std::string proto = absl::AsciiStrToLower(m.protocol.value);
      if (proto != "tcp" && proto != "udp" && proto != "sctp") {
        d_.Error(m.protocol.pos, StrCat(mw, ": protocol \"", m.protocol.value,
                                        "\" is not \"tcp\", \"udp\" or \"sctp\""));
        ok = false;
      }
      pm.protocol = proto;
    }
    if (m.host_ip.set) {
      if (!net::Ipv4::Parse(m.host_ip.value)) {
        d_.Error(m.host_ip.pos,
                 StrCat(mw, ": host_ip \"", m.host_ip.value, "\" is not an IPv4 address"));
        ok = false;
      }
      pm.host_ip = m.host_ip.value;
    }
    if (!ok) continue;
    pm.host_port = static_cast<int>(m.host_port.value);
    pm.container_port = static_cast<int>(m.container_port.value);
    out.port_mappings.push_back(pm);
  }
  if (rc.has_bandwidth) {
    BandwidthSpec b;
    bool any_set = false;
    for (auto [f, dst, name] : {std::tuple{&rc.ingress_rate, &b.ingress_rate, "ingress_rate"},
                                std::tuple{&rc.ingress_burst, &b.ingress_burst, "ingress_burst"},
                                std::tuple{&rc.egress_rate, &b.egress_rate, "egress_rate"},
                                std::tuple{&rc.egress_burst, &b.egress_burst, "egress_burst"}}) {
      if (!f->set) continue;
      if (f->value <= 0) {
        d_.Error(f->pos, StrCat(what, ": bandwidth ", name, ": ", f->value, " must be positive"));
        continue;
      }
      *dst = f->value;
      any_set = true;
    }
    if (!any_set)
      d_.Error(
          rc.bandwidth_pos,
          StrCat(what,
                 ": bandwidth: give ingress_rate/ingress_burst and/or egress_rate/egress_burst"));
    if ((b.ingress_rate > 0) != (b.ingress_burst > 0) ||
        (b.egress_rate > 0) != (b.egress_burst > 0)) {
      d_.Error(rc.bandwidth_pos, StrCat(what,
                                        ": bandwidth: a rate needs its burst (the bandwidth "
                                        "plugin refuses one without the other)"));
    }
    out.bandwidth = b;
  }
  for (const std::string& ip : rc.ips.value) {
    // IPv4 CIDRs are checked here; an IPv6 one is passed through for the plugin to judge.
    if (ip.find(':') == std::string::npos && !net::Prefix::Parse(ip)) {
      d_.Error(rc.ips.pos, StrCat(what, ": ips: \"", ip, "\" is not a CIDR like 10.244.1.50/24"));
      continue;
    }
    out.ips.push_back(ip);
  }
  if (rc.mac.set) {
    if (!net::Mac::Parse(rc.mac.value)) {
      d_.Error(rc.mac.pos, StrCat(what, ": mac \"", rc.mac.value,
                                  "\" is not a MAC address like 0a:58:0a:f4:01:05"));
    } else {
      out.mac = rc.mac.value;
    }
  }
}

std::optional<ContainerSpec> Resolver::ResolveContainer(const RawContainer& rc, size_t i,
                                                        const std::string& owner) {
  ContainerSpec c;
  std::string what = StrCat(owner, ": container ",
                            rc.name.set ? StrCat("\"", rc.name.value, "\"") : StrCat("#", i + 1));
  bool ok = true;
  if (rc.app.bad || rc.command.bad) return std::nullopt;
  if (rc.app.set == rc.command.set) {
    d_.Error(rc.pos, StrCat(what,
                            ": give exactly one of app = \"http-echo\"|\"tcp-echo\"|\"udp-echo\" "
                            "or command = [...]"));
    return std::nullopt;
  }
  int default_port = 0;
  if (rc.app.set) {
    if (rc.app.value == "http-echo") {
      c.app = AppKind::kHttpEcho;
      default_port = 8080;
    } else if (rc.app.value == "tcp-echo") {
      c.app = AppKind::kTcpEcho;
      default_port = 7;
    } else if (rc.app.value == "udp-echo") {
      c.app = AppKind::kUdpEcho;
      default_port = 7;
    } else {
      d_.Error(rc.app.pos, StrCat(what, ": unknown app \"", rc.app.value,
                                  "\" (built-in apps: http-echo, tcp-echo, udp-echo)"));
      ok = false;
    }
    if (rc.env.set) {
      d_.Error(rc.env.pos, StrCat(what, ": env is for command containers"));
      ok = false;
    }
  } else {
    c.app = AppKind::kCommand;
    if (rc.command.value.empty() || rc.command.value[0].empty()) {
      d_.Error(rc.command.pos, StrCat(what, ": command is empty"));
      ok = false;
    }
    c.command = rc.command.value;
    for (const auto& [k, v] : rc.env.value) c.env.emplace_back(k, v);
  }
  if (rc.name.set) {
    if (!net::IsDnsLabel(rc.name.value)) {
      d_.Error(rc.name.pos, StrCat(what, ": name must be lowercase letters, digits and '-'"));
      ok = false;
    }
    c.name = rc.name.value;
  } else {
    c.name = rc.app.set ? rc.app.value : StrCat("c", i);
  }
  for (const RawContainerPort& rp : rc.ports) {
    ContainerPort p;
    if (!rp.port.set) {
      d_.Error(rp.pos, StrCat(what, ": ports: missing \"port\""));
      ok = false;
      continue;
    }
    if (!CheckPort(rp.port, what)) {
      ok = false;
      continue;
    }
    p.port = static_cast<int>(rp.port.value);
    p.name = rp.name.value;
    std::optional<Protocol> proto = ParseProtocol(rp.protocol, what);
    if (!proto) {
      ok = false;
      continue;
    }
    p.protocol = *proto;
    c.ports.push_back(p);
  }
  if (rc.port.set || default_port != 0) {
    // A built-in app serves `port`; without it, the first port it declares with its protocol (so
    // ports = [{ name = "dns", port = 5353, protocol = "UDP" }] is what a udp-echo serves, as a
    // container serves what it declares), else its default.
    Protocol app_proto = c.app == AppKind::kUdpEcho ? Protocol::kUdp : Protocol::kTcp;
    if (!rc.port.set) {
      for (const ContainerPort& p : c.ports) {
        if (p.protocol == app_proto) {
          default_port = p.port;
          break;
        }
      }
    }
    Field<int64_t> port = rc.port.set ? rc.port : Field<int64_t>{default_port, rc.pos, true};
    if (!CheckPort(port, what)) return std::nullopt;
    const Protocol proto = app_proto;
    // The served port goes first: the plan serves ports[0].
    auto served = std::find_if(c.ports.begin(), c.ports.end(), [&](const ContainerPort& p) {
      return p.port == port.value && p.protocol == proto;
    });
    if (served == c.ports.end()) {
      c.ports.insert(c.ports.begin(), ContainerPort{"", static_cast<int>(port.value), proto});
    } else {
      std::rotate(c.ports.begin(), served, served + 1);
    }
  }
  if (!ok) return std::nullopt;
  return c;
}

void Resolver::ResolveContainers(const std::vector<RawContainer>& raw, SourcePos pos,
                                 const std::string& owner, std::vector<ContainerSpec>& out) {
  if (raw.empty()) {
    d_.Error(pos, StrCat(owner, ": no containers (add a [[...container]] with app or command)"));
    return;
  }
  std::map<std::pair<int, Protocol>, std::string> bound;
  std::set<std::string> names;
  for (size_t i = 0; i < raw.size(); ++i) {
    std::optional<ContainerSpec> c = ResolveContainer(raw[i], i, owner);
    if (!c) continue;
    if (!names.insert(c->name).second) {
      d_.Error(raw[i].name.set ? raw[i].name.pos : raw[i].pos,
               StrCat(owner, ": duplicate container name \"", c->name, "\""));
    }
    for (const ContainerPort& p : c->ports) {
      auto [it, fresh] = bound.emplace(std::make_pair(p.port, p.protocol), c->name);
      if (!fresh) {
        d_.Error(raw[i].port.set ? raw[i].port.pos : raw[i].pos,
                 StrCat(owner, ": containers \"", it->second, "\" and \"", c->name, "\" both use ",
                        ToString(p.protocol), " port ", p.port,
                        " (containers of a pod share one network namespace)"));
      }
    }
    out.push_back(std::move(*c));
  }
}

void Resolver::AddPending(PendingPod p) {
  // A pod outside "default" is mkn-<cluster>-<ns>-<pod>: pods of two namespaces may share a name
  // (the netpol suite's x/a, y/a), and a lab without namespaces keeps the names it had.
  const std::string object = KeyObject(p.spec.name);
  const std::string what = StrCat("pod \"", p.spec.name, "\"");
  if (pod_names_.count(p.spec.name)) {
    d_.Error(
        p.pos,
        StrCat(what, ": duplicate pod name",
               p.spec.ns == kDefaultNamespace ? "" : StrCat(" in namespace \"", p.spec.ns, "\"")));
    return;
  }
  if (spec_.FindNode(object) != nullptr || object == net::kUnderlayObject) {
    d_.Error(p.pos,
             StrCat(what, ": the name is taken by a node ",
                    "(nodes and pods share the namespace names mkn-", spec_.name, "-<name>)"));
    return;
  }
  if (absl::StartsWith(AsAbsl(object), AsAbsl(net::kVerifyPodPrefix))) {
    d_.Error(p.pos, StrCat(what, ": names starting with \"", net::kVerifyPodPrefix,
                           "\" are reserved for verify's test pods (mkn-", spec_.name, "-",
                           net::kVerifyPodPrefix, "...)"));
    return;
  }
  if (spec_.world.enabled && object == net::kWorldObject) {
    d_.Error(p.pos, StrCat(what, ": the name is taken by the world outside the cluster (mkn-",
                           spec_.name, "-world); rename the pod or set [cluster] world = false"));
    return;
  }
  if (fabric_names_.count(object)) {
    d_.Error(p.pos, StrCat(what, ": the name is taken by a router of the ", "routed underlay (mkn-",
                           spec_.name, "-", object, ")"));
    return;
  }
  if (!pod_objects_.insert(object).second) {
    d_.Error(p.pos, StrCat(what, ": its namespace name mkn-", spec_.name, "-", object,
                           " is taken by another pod (a pod outside \"default\" is ",
                           "mkn-<cluster>-<namespace>-<pod>)"));
    return;
  }
  pod_names_.insert(p.spec.name);
  p.object = object;
  pending_.push_back(std::move(p));
}

void Resolver::CollectPods() {
  for (size_t i = 0; i < raw_.pods.size(); ++i) {
    const RawPod& rp = raw_.pods[i];
    std::string what = rp.name.set ? StrCat("pod \"", rp.name.value, "\"") : StrCat("pod #", i + 1);
    PendingPod p;
    p.pos = rp.name.set ? rp.name.pos : rp.pos;
    bool named = CheckName(rp.name, what, net::kMaxPodName, "a Kubernetes pod name (a DNS label)");
    p.spec.ns = NamespaceOf(rp.ns, what);
    if (p.spec.ns.empty()) continue;
    p.spec.name = QualifiedName(p.spec.ns, rp.name.value);
    p.spec.labels = rp.labels.value;
    p.node = rp.node;
    ResolveContainers(rp.containers, rp.pos, what, p.spec.containers);
    ResolvePodCni(rp.cni, rp.pos, what, p.spec.cni);
    if (named)
      AddPending(std::move(p));  // placed even with bad containers, so placement is checked too
  }
  for (size_t i = 0; i < raw_.deployments.size(); ++i) {
    const RawDeployment& rd = raw_.deployments[i];
    std::string what =
        rd.name.set ? StrCat("deployment \"", rd.name.value, "\"") : StrCat("deployment #", i + 1);
    if (!CheckName(rd.name, what, net::kMaxPodName - 6, "a pod name with its -<index> suffix"))
      continue;
    if (rd.replicas.bad) continue;
    const std::string ns = NamespaceOf(rd.ns, what);
    if (ns.empty()) continue;
    const std::string key = QualifiedName(ns, rd.name.value);
    if (spec_.FindDeployment(key) != nullptr) {
      d_.Error(rd.name.pos, StrCat(what, ": duplicate deployment name"));
      continue;
    }
    if (!rd.replicas.set) {
      d_.Error(rd.pos, StrCat(what, ": missing \"replicas\""));
      continue;
    }
    if (rd.replicas.value < 0 || rd.replicas.value > kMaxPods) {
      d_.Error(rd.replicas.pos,
               StrCat(what, ": replicas ", rd.replicas.value, " is out of range 0-", kMaxPods));
      continue;
    }
    std::vector<ContainerSpec> containers;
    size_t errors = d_.all().size();
    ResolveContainers(rd.containers, rd.template_pos, what, containers);
    if (d_.all().size() != errors) continue;
    spec_.deployments.push_back(
        DeploymentSpec{key, ns, static_cast<int>(rd.replicas.value), rd.labels.value, containers});
    for (int64_t r = 0; r < rd.replicas.value; ++r) {
      PendingPod p;
      p.pos = rd.name.pos;
      p.spec.name = StrCat(key, "-", r);
      p.spec.ns = ns;
      p.spec.deployment = key;
      p.spec.labels = rd.labels.value;
      p.spec.containers = containers;
      AddPending(std::move(p));
    }
  }
  if (spec_.dns) AddDnsPod();
  if (pending_.size() > kMaxPods) {
    d_.Error({1, 1}, StrCat("the lab has ", pending_.size(), " pods, at most ", kMaxPods));
  }
}

void Resolver::AddDnsPod() {
  const std::string key = QualifiedName(kSystemNamespace, kDnsPodName);
  if (pod_names_.count(key)) {
    d_.Error(raw_.cluster.dns.set ? raw_.cluster.dns.pos : raw_.cluster.pos,
             StrCat("pod \"", key, "\" is the cluster DNS's: rename yours, or set [cluster] ",
                    "dns = false"));
    return;
  }
  if (spec_.FindNamespace(kSystemNamespace) == nullptr) {
    spec_.namespaces.push_back(
        NamespaceSpec{std::string(kSystemNamespace),
                      {{std::string(kNamespaceNameLabel), std::string(kSystemNamespace)}}});
  }
  PendingPod p;
  p.pos = raw_.cluster.pos;
  p.system = true;
  p.spec.name = key;
  p.spec.ns = std::string(kSystemNamespace);
  p.spec.labels = {{std::string(kDnsAppLabel), std::string(kDnsServiceName)}};
  ContainerSpec c;
  c.name = std::string(kDnsPodName);
  c.app = AppKind::kDns;
  c.ports = {{"dns", 53, Protocol::kUdp}, {"dns-tcp", 53, Protocol::kTcp}};
  p.spec.containers.push_back(std::move(c));
  AddPending(std::move(p));
}

void Resolver::PlacePods() {
  if (spec_.nodes.empty()) return;
  std::vector<int> load(spec_.nodes.size(), 0);
  std::vector<int> node_of(pending_.size(), -1);
  // Pods pinned to a node first, then the rest to the least loaded node (lowest index on a tie),
  // the way the scheduler spreads replicas.
  for (size_t i = 0; i < pending_.size(); ++i) {
    const Field<std::string>& f = pending_[i].node;
    if (pending_[i].system) {
      node_of[i] = 0;  // not counted: the lab's pods spread as they would without it
      continue;
    }
    if (!f.set) continue;
    const NodeSpec* n = spec_.FindNode(f.value);
    if (n == nullptr) {
      std::vector<std::string> names;
      for (const NodeSpec& node : spec_.nodes) names.push_back(node.name);
      d_.Error(f.pos, StrCat("pod \"", pending_[i].spec.name, "\": unknown node \"", f.value,
                             "\" (nodes: ", absl::StrJoin(names, ", "), ")"));
      continue;
    }
    node_of[i] = n->index;
    ++load[n->index];
  }
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (pending_[i].node.set || pending_[i].system) continue;
    int best = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    node_of[i] = best;
    ++load[best];
  }
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (node_of[i] < 0) continue;
    PodSpec p = std::move(pending_[i].spec);
    NodeSpec& node = spec_.nodes[node_of[i]];
    p.node = node.index;
    p.netns = net::NetnsName(spec_.name, pending_[i].object);
    int idx = static_cast<int>(spec_.pods.size());
    node.pods.push_back(idx);
    spec_.pods.push_back(std::move(p));
  }
  if (!nodes_ok_) return;
  for (NodeSpec& node : spec_.nodes) {
    // .0 is the VTEP, .1 the gateway on cbr0, the one before broadcast the proxy address, the
    // last address broadcast.
    uint64_t fits = node.pod_cidr.Size() - 4;
    if (node.pods.size() > fits) {
      SourcePos where = node_cidr_fields_[node.index].set ? node_cidr_fields_[node.index].pos
                                                          : raw_.cluster.node_cidr_mask.pos;
      d_.Error(where, StrCat("node \"", node.name, "\": pod_cidr ", node.pod_cidr.ToString(),
                             " holds ", fits, " pods, ", node.pods.size(), " are placed on it"));
      continue;
    }
    std::set<std::string> veths;
    for (size_t k = 0; k < node.pods.size(); ++k) {
      PodSpec& p = spec_.pods[node.pods[k]];
      if (spec_.cni_mode) {
        p.ip = net::Ipv4{};  // the chain's IPAM decides; known after ADD
        p.mac = net::Mac{};
      } else {
        p.ip = node.pod_cidr.Host(2 + k);
        p.mac = net::Mac::FromIpv4(p.ip);
      }
      uint32_t salt = 0;
      do {
        p.host_veth = net::PodVethName(spec_.name, p.name, salt++);
      } while (!veths.insert(p.host_veth).second);
    }
  }
}

}  // namespace mkn::config::internal
