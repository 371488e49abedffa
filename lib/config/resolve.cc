// Resolve(): RawConfig → ClusterSpec. Validates meaning and fills every default, name, address and
// MAC.

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "lib/config/spec.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {

std::string_view ToString(NetworkMode m) { return m == NetworkMode::kVxlan ? "vxlan" : "host-gw"; }
std::string_view ToString(NodeRoutes r) {
  switch (r) {
    case NodeRoutes::kHostGw:
      return "host-gw";
    case NodeRoutes::kVxlan:
      return "vxlan";
    case NodeRoutes::kPlugin:
      return "plugin";
  }
  return "?";
}
std::string_view ToString(ProxyMode m) {
  return m == ProxyMode::kUserspace ? "userspace" : "nftables";
}
std::string_view ToString(AppKind a) {
  switch (a) {
    case AppKind::kHttpEcho:
      return "http-echo";
    case AppKind::kTcpEcho:
      return "tcp-echo";
    case AppKind::kUdpEcho:
      return "udp-echo";
    default:
      return "command";
  }
}
std::string_view ToString(Protocol p) { return p == Protocol::kTcp ? "TCP" : "UDP"; }
std::string_view ToString(ServiceType t) {
  return t == ServiceType::kClusterIp ? "ClusterIP" : "NodePort";
}
std::string_view ToString(Algorithm a) {
  switch (a) {
    case Algorithm::kRoundRobin:
      return "round-robin";
    case Algorithm::kLeastConn:
      return "least-conn";
    case Algorithm::kSourceHash:
      return "source-hash";
    default:
      return "random";
  }
}
std::string_view ToString(PathType t) { return t == PathType::kExact ? "Exact" : "Prefix"; }

const PodSpec* ClusterSpec::FindPod(std::string_view n) const {
  for (const PodSpec& p : pods) {
    if (p.name == n) return &p;
  }
  return nullptr;
}

const NodeSpec* ClusterSpec::FindNode(std::string_view n) const {
  for (const NodeSpec& node : nodes) {
    if (node.name == n) return &node;
  }
  return nullptr;
}

const DeploymentSpec* ClusterSpec::FindDeployment(std::string_view n) const {
  for (const DeploymentSpec& d : deployments) {
    if (d.name == n) return &d;
  }
  return nullptr;
}

namespace {

constexpr int kMaxNodes = 1024;
constexpr int kMaxPods = 20000;

// Pods are collected from [[pod]] and [[deployment]] before placement.
struct PendingPod {
  PodSpec spec;
  SourcePos pos;
  Field<std::string> node;
};

class Resolver {
 public:
  Resolver(const RawConfig& raw, Diagnostics& d) : raw_(raw), d_(d) {}

  std::optional<ClusterSpec> Run() {
    ResolveCluster();
    ResolveNodes();
    CollectPods();
    PlacePods();
    ResolveServices();
    ResolveIngresses();
    ResolveListeners();
    ResolveHttpRoutes();
    if (d_.HasErrors()) return std::nullopt;
    return std::move(spec_);
  }

 private:
  // --- helpers -----------------------------------------------------------------------------------

  std::optional<net::Prefix> Cidr(const Field<std::string>& f, std::string_view what,
                                  std::string_view def) {
    std::string text = f.set ? f.value : std::string(def);
    std::optional<net::Prefix> p = net::Prefix::Parse(text);
    if (!p) {
      d_.Error(f.pos, StrCat(what, ": \"", text, "\" is not an IPv4 CIDR like 10.244.0.0/16"));
      return std::nullopt;
    }
    if (!p->IsNetwork()) {
      d_.Error(f.pos, StrCat(what, ": ", text, " has host bits set (did you mean ",
                             p->Network().ToString(), "?)"));
      return std::nullopt;
    }
    return p;
  }

  bool CheckName(const Field<std::string>& f, std::string_view what, size_t max,
                 std::string_view why) {
    if (f.bad) return false;
    if (!f.set) {
      d_.Error(f.pos, StrCat(what, ": missing \"name\""));
      return false;
    }
    if (f.value.size() > max) {
      d_.Error(f.pos, StrCat(what, ": name \"", f.value, "\" is ", f.value.size(),
                             " bytes, at most ", max, " fit ", why));
      return false;
    }
    if (!net::IsDnsLabel(f.value, max)) {
      d_.Error(f.pos, StrCat(what, ": name \"", f.value,
                             "\" must be lowercase letters, digits and '-', starting and ending "
                             "with a letter or digit"));
      return false;
    }
    return true;
  }

  bool CheckPort(const Field<int64_t>& f, std::string_view what) {
    if (f.value < 1 || f.value > 65535) {
      d_.Error(f.pos, StrCat(what, ": port ", f.value, " is out of range 1-65535"));
      return false;
    }
    return true;
  }

  std::optional<Protocol> ParseProtocol(const Field<std::string>& f, std::string_view what) {
    if (!f.set || f.value == "TCP") return Protocol::kTcp;
    if (f.value == "UDP") return Protocol::kUdp;
    d_.Error(f.pos, StrCat(what, ": protocol \"", f.value, "\" is not \"TCP\" or \"UDP\""));
    return std::nullopt;
  }

  // --- [cluster] ---------------------------------------------------------------------------------

  void ResolveCluster() {
    const RawCluster& c = raw_.cluster;
    if (!c.present) {
      d_.Error({1, 1}, "missing [cluster] table (at least: [cluster] name = \"lab\")");
      return;
    }
    if (CheckName(c.name, "[cluster]", net::kMaxClusterName, "in namespace names")) {
      spec_.name = c.name.value;
    }
    spec_.marker = net::OwnerMarker(spec_.name);
    if (c.network.set && c.network.value != "vxlan" && c.network.value != "host-gw" &&
        c.network.value != "cni") {
      d_.Error(c.network.pos, StrCat("[cluster] network: \"", c.network.value,
                                     "\" is not \"vxlan\", \"host-gw\" or \"cni\""));
    }
    spec_.network = c.network.value == "host-gw" ? NetworkMode::kHostGw : NetworkMode::kVxlan;
    ResolveCni();
    pod_cidr_ = Cidr(c.pod_cidr, "[cluster] pod_cidr", "10.244.0.0/16");
    service_cidr_ = Cidr(c.service_cidr, "[cluster] service_cidr", "10.96.0.0/12");
    underlay_cidr_ = Cidr(c.underlay_cidr, "[cluster] underlay_cidr", "172.18.0.0/16");
    if (c.mtu.set && (c.mtu.value < 1280 || c.mtu.value > 9000)) {
      d_.Error(c.mtu.pos, StrCat("[cluster] mtu: ", c.mtu.value, " is out of range 1280-9000"));
    } else if (c.mtu.set) {
      spec_.mtu = static_cast<int>(c.mtu.value);
    }
    spec_.pod_mtu = spec_.network == NetworkMode::kVxlan ? spec_.mtu - kVxlanOverhead : spec_.mtu;
    if (c.vni.set && (c.vni.value < 1 || c.vni.value > 16777215)) {
      d_.Error(c.vni.pos, StrCat("[cluster] vni: ", c.vni.value, " is out of range 1-16777215"));
    } else if (c.vni.set) {
      spec_.vni = static_cast<int>(c.vni.value);
    }
    if (c.proxy_mode.set && c.proxy_mode.value != "userspace" && c.proxy_mode.value != "nftables") {
      d_.Error(c.proxy_mode.pos, StrCat("[cluster] proxy_mode: \"", c.proxy_mode.value,
                                        "\" is not \"userspace\" or \"nftables\""));
    }
    spec_.proxy_mode =
        c.proxy_mode.value == "nftables" ? ProxyMode::kNftables : ProxyMode::kUserspace;
    if (spec_.cni_mode) {
      // The userspace proxy answers ARP for its source address on the tool's own cbr0, which a CNI
      // lab does not have; kube-proxy's way (nftables) works on whatever the plugin builds.
      if (c.proxy_mode.set && c.proxy_mode.value == "userspace") {
        d_.Error(c.proxy_mode.pos,
                 "[cluster] proxy_mode: \"userspace\" needs the built-in pod network; "
                 "a network = \"cni\" lab serves Services with \"nftables\" (the default there)");
      }
      spec_.proxy_mode = ProxyMode::kNftables;
    }
    spec_.auto_tls = c.auto_tls.set && c.auto_tls.value;
    if (pod_cidr_) {
      spec_.pod_cidr = *pod_cidr_;
      int mask = c.node_cidr_mask.set ? static_cast<int>(c.node_cidr_mask.value)
                                      : std::max(24, pod_cidr_->len);
      if (mask < pod_cidr_->len || mask > 29) {
        d_.Error(c.node_cidr_mask.pos,
                 StrCat("[cluster] node_cidr_mask: /", mask, " must be between the pod_cidr's /",
                        pod_cidr_->len, " and /29"));
        pod_cidr_.reset();
      } else {
        spec_.node_cidr_mask = mask;
      }
    }
    if (service_cidr_) spec_.service_cidr = *service_cidr_;
    if (underlay_cidr_) {
      spec_.underlay_cidr = *underlay_cidr_;
      if (underlay_cidr_->len > 30) {
        d_.Error(c.underlay_cidr.pos,
                 StrCat("[cluster] underlay_cidr: ", underlay_cidr_->ToString(),
                        " is too small; use /30 or larger"));
        underlay_cidr_.reset();
      } else {
        spec_.underlay_gateway = underlay_cidr_->Host(1);
      }
    }
    auto overlap = [&](const std::optional<net::Prefix>& a, const std::optional<net::Prefix>& b,
                       const Field<std::string>& where, std::string_view an, std::string_view bn) {
      if (a && b && a->Overlaps(*b)) {
        d_.Error(where.pos, StrCat("[cluster] ", an, " ", a->ToString(), " overlaps ", bn, " ",
                                   b->ToString()));
        return true;
      }
      return false;
    };
    if (overlap(service_cidr_, pod_cidr_, c.service_cidr.set ? c.service_cidr : c.pod_cidr,
                "service_cidr", "pod_cidr")) {
      service_cidr_.reset();
    }
    if (overlap(underlay_cidr_, pod_cidr_, c.underlay_cidr.set ? c.underlay_cidr : c.pod_cidr,
                "underlay_cidr", "pod_cidr") ||
        overlap(underlay_cidr_, service_cidr_,
                c.underlay_cidr.set ? c.underlay_cidr : c.service_cidr, "underlay_cidr",
                "service_cidr")) {
      underlay_cidr_.reset();
    }
  }

  // --- [cni] (issue 7) ---------------------------------------------------------------------------

  // Lays `raw` over `base`: the cluster's [cni] over the defaults, a node's cni = {...} over that.
  void ApplyCni(const RawCni& raw, std::string_view what, CniSpec& out) {
    if (raw.conflist.set) {
      std::string_view v = raw.conflist.value;
      size_t first = v.find_first_not_of(" \t\r\n");
      if (first == std::string_view::npos) {
        d_.Error(raw.conflist.pos,
                 StrCat(what, " conflist: empty (give a .conflist path or the JSON)"));
      } else if (v[first] == '{') {
        out.conflist_inline = raw.conflist.value;
        out.conflist_path.clear();
      } else {
        out.conflist_path = LabPath(raw.conflist.value);
        out.conflist_inline.clear();
      }
      out.conflist_pos = raw.conflist.pos;
    }
    if (raw.bin_dir.set) {
      if (raw.bin_dir.value.empty()) d_.Error(raw.bin_dir.pos, StrCat(what, " bin_dir: empty"));
      out.bin_dirs.clear();
      for (const std::string& dir : raw.bin_dir.value) out.bin_dirs.push_back(LabPath(dir));
    }
    if (raw.timeout.set) {
      if (raw.timeout.value < 1 || raw.timeout.value > 3600) {
        d_.Error(raw.timeout.pos, StrCat(what, " timeout: ", raw.timeout.value,
                                         " is out of range 1-3600 (seconds)"));
      } else {
        out.timeout_ms = static_cast<int>(raw.timeout.value * 1000);
      }
    }
    if (raw.ifname.set) {
      const std::string& n = raw.ifname.value;
      bool ok = !n.empty() && n.size() <= static_cast<size_t>(net::kMaxIfName) && n != "." &&
                n != ".." && n.find_first_of("/: \t\n") == std::string::npos;
      if (!ok) {
        d_.Error(raw.ifname.pos, StrCat(what, " ifname: \"", n, "\" is not an interface name (1-",
                                        net::kMaxIfName, " characters, no '/', ':' or spaces)"));
      } else {
        out.ifname = n;
      }
    }
  }

  void ResolveCni() {
    const RawCluster& c = raw_.cluster;
    spec_.cni_mode = c.network.value == "cni";
    const RawCni& rc = raw_.cni;
    if (!spec_.cni_mode) {
      if (rc.present) {
        d_.Error(
            rc.pos,
            "[cni]: only for a lab whose pods a CNI plugin wires: add [cluster] network = \"cni\"");
      }
      return;
    }
    spec_.cni.bin_dirs = {"/usr/lib/cni"};  // Debian's containernetworking-plugins
    if (!rc.present || !rc.conflist.set) {
      d_.Error(rc.present ? rc.pos : c.network.pos,
               "[cluster] network = \"cni\" needs [cni] conflist = \"<file>.conflist\" (or the "
               "JSON inline)");
    }
    if (rc.present) ApplyCni(rc, "[cni]", spec_.cni);
    if (rc.node_routes.set) {
      const std::string& v = rc.node_routes.value;
      if (v == "host-gw") {
        spec_.cni.node_routes = NodeRoutes::kHostGw;
      } else if (v == "vxlan") {
        spec_.cni.node_routes = NodeRoutes::kVxlan;
      } else if (v == "plugin") {
        spec_.cni.node_routes = NodeRoutes::kPlugin;
      } else {
        d_.Error(rc.node_routes.pos, StrCat("[cni] node_routes: \"", v,
                                            "\" is not \"host-gw\", \"vxlan\" or \"plugin\""));
      }
    }
    spec_.network =
        spec_.cni.node_routes == NodeRoutes::kVxlan ? NetworkMode::kVxlan : NetworkMode::kHostGw;
  }

  // A pod's CNI_ARGS and capability args; only in a CNI lab.
  void ResolvePodCni(const RawPodCni& rc, SourcePos pod_pos, const std::string& what,
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

  // --- nodes -------------------------------------------------------------------------------------

  void ResolveNodes() {
    std::vector<RawNode> raw_nodes = raw_.nodes;
    if (raw_.node_count.set) {
      if (!raw_nodes.empty()) {
        d_.Error(raw_.node_count.pos,
                 "nodes: give either `nodes = N` or [[node]] tables, not both");
      }
      if (raw_.node_count.value < 1 || raw_.node_count.value > kMaxNodes) {
        d_.Error(raw_.node_count.pos,
                 StrCat("nodes: ", raw_.node_count.value, " is out of range 1-", kMaxNodes));
        return;
      }
      if (raw_nodes.empty()) {
        for (int64_t i = 0; i < raw_.node_count.value; ++i) {
          RawNode n;
          n.pos = raw_.node_count.pos;
          n.name = {StrCat("node", i + 1), raw_.node_count.pos, true};
          raw_nodes.push_back(n);
        }
      }
    }
    if (raw_nodes.empty()) {  // a lab without nodes gets one, as `kind` does
      RawNode n;
      n.name = {"node1", {}, true};
      raw_nodes.push_back(n);
    }
    if (static_cast<int>(raw_nodes.size()) > kMaxNodes) {
      d_.Error(raw_nodes[kMaxNodes].pos, StrCat("nodes: at most ", kMaxNodes, " nodes"));
      return;
    }
    std::set<std::string> names;
    for (size_t i = 0; i < raw_nodes.size(); ++i) {
      const RawNode& rn = raw_nodes[i];
      NodeSpec n;
      n.index = static_cast<int>(i);
      std::string what =
          rn.name.set ? StrCat("node \"", rn.name.value, "\"") : StrCat("node #", i + 1);
      if (CheckName(rn.name, what, net::kMaxIfName, "an interface name (IFNAMSIZ)")) {
        if (rn.name.value == net::kUnderlayObject) {
          d_.Error(rn.name.pos,
                   StrCat(what, ": the name \"underlay\" is reserved for the underlay switch"));
        } else if (!names.insert(rn.name.value).second) {
          d_.Error(rn.name.pos, StrCat(what, ": duplicate node name"));
        }
        n.name = rn.name.value;
      }
      n.netns = net::NetnsName(spec_.name, n.name);
      if (spec_.cni_mode) {
        n.cni = spec_.cni;
        if (rn.cni.present) ApplyCni(rn.cni, StrCat(what, ": cni"), n.cni);
        if (rn.daemon.set) {
          if (rn.daemon.value.empty() || rn.daemon.value[0].empty()) {
            d_.Error(rn.daemon.pos, StrCat(what,
                                           ": daemon: give the command and its arguments, like "
                                           "[\"/usr/bin/agent\", \"--v=2\"]"));
          }
          n.daemon = rn.daemon.value;
        }
      } else if (rn.cni.present || rn.daemon.present()) {
        d_.Error(rn.cni.present ? rn.cni.pos : rn.daemon.pos,
                 StrCat(what, ": cni and daemon are for a network = \"cni\" lab"));
      }
      spec_.nodes.push_back(n);
      node_cidr_fields_.push_back(rn.pod_cidr);
      node_pos_.push_back(rn.pos);
    }
    // Node pod CIDRs: explicit ones first, then carve the rest in order, skipping what is taken.
    if (!pod_cidr_) return;
    std::vector<std::optional<net::Prefix>> chosen(spec_.nodes.size());
    for (size_t i = 0; i < spec_.nodes.size(); ++i) {
      const Field<std::string>& f = node_cidr_fields_[i];
      if (!f.set) continue;
      std::string what = StrCat("node \"", spec_.nodes[i].name, "\" pod_cidr");
      std::optional<net::Prefix> p = Cidr(f, what, "");
      if (!p) continue;
      if (!pod_cidr_->Contains(*p)) {
        d_.Error(f.pos, StrCat(what, ": ", p->ToString(), " is outside the cluster pod_cidr ",
                               pod_cidr_->ToString()));
        continue;
      }
      if (p->len > 29) {
        d_.Error(f.pos, StrCat(what, ": ", p->ToString(), " is too small; use /29 or larger"));
        continue;
      }
      for (size_t j = 0; j < i; ++j) {
        if (chosen[j] && chosen[j]->Overlaps(*p)) {
          d_.Error(f.pos, StrCat(what, ": ", p->ToString(), " overlaps node \"",
                                 spec_.nodes[j].name, "\" ", chosen[j]->ToString()));
          p.reset();
          break;
        }
      }
      chosen[i] = p;
    }
    uint64_t slots = uint64_t{1} << (spec_.node_cidr_mask - pod_cidr_->len);
    uint64_t next = 0;
    for (size_t i = 0; i < spec_.nodes.size(); ++i) {
      if (chosen[i] || node_cidr_fields_[i].set) continue;
      std::optional<net::Prefix> found;
      while (next < slots && !found) {
        net::Prefix cand = pod_cidr_->Subnet(next++, spec_.node_cidr_mask);
        bool taken = std::any_of(chosen.begin(), chosen.end(),
                                 [&](const auto& c) { return c && c->Overlaps(cand); });
        if (!taken) found = cand;
      }
      if (!found) {
        d_.Error(raw_.cluster.pod_cidr.pos,
                 StrCat("[cluster] pod_cidr: ", pod_cidr_->ToString(), " holds ", slots,
                        " node ranges of /", spec_.node_cidr_mask, ", the lab has ",
                        spec_.nodes.size(), " nodes (use a larger pod_cidr or node_cidr_mask)"));
        return;
      }
      chosen[i] = found;
    }
    for (size_t i = 0; i < spec_.nodes.size(); ++i) {
      if (!chosen[i]) continue;
      NodeSpec& n = spec_.nodes[i];
      n.pod_cidr = *chosen[i];
      n.vtep_ip = n.pod_cidr.Host(0);
      n.gateway = n.pod_cidr.Host(1);
      n.proxy_ip = n.pod_cidr.Host(n.pod_cidr.Size() - 2);
      n.bridge_mac = net::Mac::FromIpv4(n.gateway);
      n.vtep_mac = net::Mac::FromIpv4(n.vtep_ip);
      n.vtep_mac.bytes[0] =
          0x0e;  // differs from any pod/bridge MAC even when .0 and .1 share bytes
    }
    nodes_ok_ =
        std::all_of(chosen.begin(), chosen.end(), [](const auto& c) { return c.has_value(); });
    if (underlay_cidr_) {
      // .1 is the underlay switch's own address; nodes take .2 upward, broadcast excluded.
      uint64_t fits = underlay_cidr_->Size() - 3;
      if (spec_.nodes.size() > fits) {
        d_.Error(raw_.cluster.underlay_cidr.pos,
                 StrCat("[cluster] underlay_cidr: ", underlay_cidr_->ToString(), " has room for ",
                        fits, " node(s), the lab has ", spec_.nodes.size()));
      } else {
        for (NodeSpec& n : spec_.nodes) n.underlay_ip = underlay_cidr_->Host(2 + n.index);
      }
    }
  }

  // --- pods and deployments ----------------------------------------------------------------------

  std::optional<ContainerSpec> ResolveContainer(const RawContainer& rc, size_t i,
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

  void ResolveContainers(const std::vector<RawContainer>& raw, SourcePos pos,
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
                   StrCat(owner, ": containers \"", it->second, "\" and \"", c->name,
                          "\" both use ", ToString(p.protocol), " port ", p.port,
                          " (containers of a pod share one network namespace)"));
        }
      }
      out.push_back(std::move(*c));
    }
  }

  void AddPending(PendingPod p) {
    if (pod_names_.count(p.spec.name)) {
      d_.Error(p.pos, StrCat("pod \"", p.spec.name, "\": duplicate pod name"));
      return;
    }
    if (spec_.FindNode(p.spec.name) != nullptr || p.spec.name == net::kUnderlayObject) {
      d_.Error(p.pos,
               StrCat("pod \"", p.spec.name, "\": the name is taken by a node ",
                      "(nodes and pods share the namespace names mkn-", spec_.name, "-<name>)"));
      return;
    }
    pod_names_.insert(p.spec.name);
    pending_.push_back(std::move(p));
  }

  void CollectPods() {
    for (size_t i = 0; i < raw_.pods.size(); ++i) {
      const RawPod& rp = raw_.pods[i];
      std::string what =
          rp.name.set ? StrCat("pod \"", rp.name.value, "\"") : StrCat("pod #", i + 1);
      PendingPod p;
      p.pos = rp.name.set ? rp.name.pos : rp.pos;
      bool named =
          CheckName(rp.name, what, net::kMaxPodName, "a Kubernetes pod name (a DNS label)");
      p.spec.name = rp.name.value;
      p.spec.labels = rp.labels.value;
      p.node = rp.node;
      ResolveContainers(rp.containers, rp.pos, what, p.spec.containers);
      ResolvePodCni(rp.cni, rp.pos, what, p.spec.cni);
      if (named)
        AddPending(std::move(p));  // placed even with bad containers, so placement is checked too
    }
    for (size_t i = 0; i < raw_.deployments.size(); ++i) {
      const RawDeployment& rd = raw_.deployments[i];
      std::string what = rd.name.set ? StrCat("deployment \"", rd.name.value, "\"")
                                     : StrCat("deployment #", i + 1);
      if (!CheckName(rd.name, what, net::kMaxPodName - 6, "a pod name with its -<index> suffix"))
        continue;
      if (rd.replicas.bad) continue;
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
      spec_.deployments.push_back(DeploymentSpec{rd.name.value, static_cast<int>(rd.replicas.value),
                                                 rd.labels.value, containers});
      for (int64_t r = 0; r < rd.replicas.value; ++r) {
        PendingPod p;
        p.pos = rd.name.pos;
        p.spec.name = StrCat(rd.name.value, "-", r);
        p.spec.deployment = rd.name.value;
        p.spec.labels = rd.labels.value;
        p.spec.containers = containers;
        AddPending(std::move(p));
      }
    }
    if (pending_.size() > kMaxPods) {
      d_.Error({1, 1}, StrCat("the lab has ", pending_.size(), " pods, at most ", kMaxPods));
    }
  }

  void PlacePods() {
    if (spec_.nodes.empty()) return;
    std::vector<int> load(spec_.nodes.size(), 0);
    std::vector<int> node_of(pending_.size(), -1);
    // Pods pinned to a node first, then the rest to the least loaded node (lowest index on a tie),
    // the way the scheduler spreads replicas.
    for (size_t i = 0; i < pending_.size(); ++i) {
      const Field<std::string>& f = pending_[i].node;
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
      if (pending_[i].node.set) continue;
      int best = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
      node_of[i] = best;
      ++load[best];
    }
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (node_of[i] < 0) continue;
      PodSpec p = std::move(pending_[i].spec);
      NodeSpec& node = spec_.nodes[node_of[i]];
      p.node = node.index;
      p.netns = net::NetnsName(spec_.name, p.name);
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

  // --- services ----------------------------------------------------------------------------------

  void ResolveServices() {
    std::set<std::string> names;
    std::set<uint32_t> used_ips;
    std::set<int> used_node_ports;
    std::vector<std::pair<size_t, const RawService*>> auto_ip;
    for (size_t i = 0; i < raw_.services.size(); ++i) {
      const RawService& rs = raw_.services[i];
      std::string what =
          rs.name.set ? StrCat("service \"", rs.name.value, "\"") : StrCat("service #", i + 1);
      ServiceSpec s;
      if (CheckName(rs.name, what, net::kMaxPodName, "a Kubernetes service name") &&
          !names.insert(rs.name.value).second) {
        d_.Error(rs.name.pos, StrCat(what, ": duplicate service name"));
      }
      s.name = rs.name.value;
      if (rs.type.set && rs.type.value != "ClusterIP" && rs.type.value != "NodePort") {
        d_.Error(rs.type.pos, StrCat(what, ": type \"", rs.type.value,
                                     "\" is not \"ClusterIP\" or \"NodePort\""));
      }
      s.type = rs.type.value == "NodePort" ? ServiceType::kNodePort : ServiceType::kClusterIp;
      s.selector = rs.selector.value;
      if (rs.session_affinity.set && rs.session_affinity.value != "None" &&
          rs.session_affinity.value != "ClientIP") {
        d_.Error(rs.session_affinity.pos,
                 StrCat(what, ": session_affinity \"", rs.session_affinity.value,
                        "\" is not \"None\" or \"ClientIP\""));
      }
      s.affinity_client_ip = rs.session_affinity.value == "ClientIP";
      if (rs.affinity_timeout.set) {
        if (!s.affinity_client_ip) {
          d_.Error(rs.affinity_timeout.pos,
                   StrCat(what, ": affinity_timeout needs session_affinity = \"ClientIP\""));
        } else if (rs.affinity_timeout.value < 1 || rs.affinity_timeout.value > 86400) {
          d_.Error(rs.affinity_timeout.pos,
                   StrCat(what, ": affinity_timeout ", rs.affinity_timeout.value,
                          " is out of range 1-86400 seconds"));
        } else {
          s.affinity_timeout = static_cast<int>(rs.affinity_timeout.value);
        }
      }
      static const std::map<std::string, Algorithm> kAlgorithms = {
          {"random", Algorithm::kRandom},
          {"round-robin", Algorithm::kRoundRobin},
          {"least-conn", Algorithm::kLeastConn},
          {"source-hash", Algorithm::kSourceHash}};
      if (rs.algorithm.set) {
        auto it = kAlgorithms.find(rs.algorithm.value);
        if (it == kAlgorithms.end()) {
          d_.Error(rs.algorithm.pos,
                   StrCat(what, ": algorithm \"", rs.algorithm.value,
                          "\" is not random, round-robin, least-conn or source-hash"));
        } else {
          s.algorithm = it->second;
        }
      }
      // Endpoints: pods whose labels contain every selector pair.
      for (size_t k = 0; k < spec_.pods.size(); ++k) {
        const PodSpec& p = spec_.pods[k];
        bool match = !s.selector.empty() &&
                     std::all_of(s.selector.begin(), s.selector.end(), [&](const auto& kv) {
                       auto it = p.labels.find(kv.first);
                       return it != p.labels.end() && it->second == kv.second;
                     });
        if (match) s.endpoints.push_back(static_cast<int>(k));
      }
      if (s.selector.empty()) {
        d_.Warning(rs.selector.set ? rs.selector.pos : rs.pos,
                   StrCat(what, ": no selector, so no endpoints"));
      } else if (s.endpoints.empty()) {
        d_.Warning(rs.selector.pos, StrCat(what, ": selector matches no pod"));
      }
      ResolveServicePorts(rs, what, s, used_node_ports);
      if (rs.cluster_ip.set) {
        std::optional<net::Ipv4> ip = net::Ipv4::Parse(rs.cluster_ip.value);
        if (!ip) {
          d_.Error(rs.cluster_ip.pos, StrCat(what, ": cluster_ip \"", rs.cluster_ip.value,
                                             "\" is not an IPv4 address"));
        } else if (service_cidr_ &&
                   (!service_cidr_->Contains(*ip) || *ip == service_cidr_->Host(0) ||
                    ip->value == service_cidr_->Host(service_cidr_->Size() - 1).value)) {
          d_.Error(rs.cluster_ip.pos,
                   StrCat(what, ": cluster_ip ", ip->ToString(),
                          " is not a usable address of service_cidr ", service_cidr_->ToString()));
        } else if (!used_ips.insert(ip->value).second) {
          d_.Error(rs.cluster_ip.pos,
                   StrCat(what, ": cluster_ip ", ip->ToString(), " is already taken"));
        } else {
          s.cluster_ip = *ip;
        }
      } else {
        auto_ip.emplace_back(spec_.services.size(), &rs);
      }
      spec_.services.push_back(std::move(s));
    }
    if (!service_cidr_) return;
    uint64_t next = 1;
    for (auto [idx, rs] : auto_ip) {
      while (next < service_cidr_->Size() - 1 && used_ips.count(service_cidr_->Host(next).value))
        ++next;
      if (next >= service_cidr_->Size() - 1) {
        d_.Error(rs->pos, StrCat("[cluster] service_cidr ", service_cidr_->ToString(),
                                 " has no address left for service \"", rs->name.value, "\""));
        return;
      }
      spec_.services[idx].cluster_ip = service_cidr_->Host(next);
      used_ips.insert(service_cidr_->Host(next).value);
    }
    // NodePorts without a number are allocated after every fixed one is known.
    int next_port = 30000;
    for (ServiceSpec& s : spec_.services) {
      for (ServicePortSpec& p : s.ports) {
        if (s.type != ServiceType::kNodePort || p.node_port != 0) continue;
        while (used_node_ports.count(next_port)) ++next_port;
        p.node_port = next_port;
        used_node_ports.insert(next_port);
      }
    }
  }

  void ResolveServicePorts(const RawService& rs, const std::string& what, ServiceSpec& s,
                           std::set<int>& used_node_ports) {
    if (rs.ports.empty()) {
      d_.Error(rs.pos, StrCat(what, ": no ports (add [[service.port]] port = 80)"));
      return;
    }
    std::set<std::string> names;
    std::set<std::pair<int, Protocol>> seen;
    for (size_t j = 0; j < rs.ports.size(); ++j) {
      const RawServicePort& rp = rs.ports[j];
      std::string pw = StrCat(what, ": port ",
                              rp.name.set ? StrCat("\"", rp.name.value, "\"") : StrCat("#", j + 1));
      ServicePortSpec p;
      p.name = rp.name.value;
      if (!rp.port.set) {
        d_.Error(rp.pos, StrCat(pw, ": missing \"port\""));
        continue;
      }
      if (!CheckPort(rp.port, pw)) continue;
      p.port = static_cast<int>(rp.port.value);
      if (rs.ports.size() > 1 && !rp.name.set) {
        d_.Error(rp.pos, StrCat(pw, ": a service with several ports must name each one"));
      } else if (rp.name.set && !names.insert(rp.name.value).second) {
        d_.Error(rp.name.pos, StrCat(pw, ": duplicate port name"));
      }
      std::optional<Protocol> proto = ParseProtocol(rp.protocol, pw);
      if (!proto) continue;
      p.protocol = *proto;
      if (!seen.insert({p.port, p.protocol}).second) {
        d_.Error(rp.port.pos,
                 StrCat(pw, ": ", ToString(p.protocol), " port ", p.port, " is listed twice"));
      }
      if (rp.target_port.number.set) {
        if (!CheckPort(rp.target_port.number, pw)) continue;
        p.target_port = static_cast<int>(rp.target_port.number.value);
      } else if (rp.target_port.name.set) {
        p.target_port_name = rp.target_port.name.value;
        bool found = s.endpoints.empty();
        for (int e : s.endpoints) {
          for (const ContainerSpec& c : spec_.pods[e].containers) {
            for (const ContainerPort& cp : c.ports) {
              if (cp.name == p.target_port_name && cp.protocol == p.protocol) found = true;
            }
          }
        }
        if (!found) {
          d_.Error(rp.target_port.name.pos,
                   StrCat(pw, ": target_port \"", p.target_port_name, "\" names no ",
                          ToString(p.protocol), " container port of the selected pods"));
        }
      } else {
        p.target_port = p.port;
      }
      if (rp.node_port.set) {
        if (s.type != ServiceType::kNodePort) {
          d_.Error(rp.node_port.pos, StrCat(pw, ": node_port needs type = \"NodePort\""));
        } else if (rp.node_port.value < 30000 || rp.node_port.value > 32767) {
          d_.Error(rp.node_port.pos,
                   StrCat(pw, ": node_port ", rp.node_port.value, " is out of range 30000-32767"));
        } else if (!used_node_ports.insert(static_cast<int>(rp.node_port.value)).second) {
          d_.Error(rp.node_port.pos,
                   StrCat(pw, ": node_port ", rp.node_port.value, " is already taken"));
        } else {
          p.node_port = static_cast<int>(rp.node_port.value);
        }
      }
      s.ports.push_back(p);
    }
  }

  // --- ingress -----------------------------------------------------------------------------------

  std::optional<BackendRef> ResolveBackend(const RawBackend& rb, const std::string& what) {
    if (!rb.service.set) {
      d_.Error(rb.pos, StrCat(what, ": missing \"service\""));
      return std::nullopt;
    }
    const ServiceSpec* svc = nullptr;
    for (const ServiceSpec& s : spec_.services) {
      if (s.name == rb.service.value) svc = &s;
    }
    if (svc == nullptr) {
      d_.Error(rb.service.pos, StrCat(what, ": unknown service \"", rb.service.value, "\""));
      return std::nullopt;
    }
    BackendRef b;
    b.service = rb.service.value;
    if (!rb.port.set()) {
      if (svc->ports.size() != 1) {
        d_.Error(rb.pos, StrCat(what, ": service \"", svc->name,
                                "\" has several ports; say which with port"));
        return std::nullopt;
      }
      b.port = svc->ports[0].port;
      return b;
    }
    bool found = false;
    for (const ServicePortSpec& p : svc->ports) {
      if ((rb.port.number.set && p.port == rb.port.number.value) ||
          (rb.port.name.set && p.name == rb.port.name.value)) {
        found = true;
        b.port = p.port;
        b.port_name = p.name;
      }
    }
    if (!found) {
      const auto& pf = rb.port.number.set ? rb.port.number.pos : rb.port.name.pos;
      d_.Error(pf, StrCat(what, ": service \"", svc->name, "\" has no port ",
                          rb.port.number.set ? StrCat(rb.port.number.value)
                                             : StrCat("\"", rb.port.name.value, "\"")));
      return std::nullopt;
    }
    return b;
  }

  static bool IsHostName(std::string_view h) {
    if (h.substr(0, 2) == "*.") h.remove_prefix(2);
    if (h.empty() || h.size() > 253) return false;
    size_t start = 0;
    while (start <= h.size()) {
      size_t dot = h.find('.', start);
      std::string_view label =
          h.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (!net::IsDnsLabel(label)) return false;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    return true;
  }

  void ResolveIngresses() {
    std::set<std::string> names;
    for (size_t i = 0; i < raw_.ingresses.size(); ++i) {
      const RawIngress& ri = raw_.ingresses[i];
      std::string what =
          ri.name.set ? StrCat("ingress \"", ri.name.value, "\"") : StrCat("ingress #", i + 1);
      IngressSpec ing;
      if (CheckName(ri.name, what, net::kMaxPodName, "a Kubernetes name") &&
          !names.insert(ri.name.value).second) {
        d_.Error(ri.name.pos, StrCat(what, ": duplicate ingress name"));
      }
      ing.name = ri.name.value;
      if (ri.has_default_backend)
        ing.default_backend = ResolveBackend(ri.default_backend, StrCat(what, ": default_backend"));
      if (ri.rules.empty() && !ri.has_default_backend) {
        d_.Error(ri.pos, StrCat(what, ": no rules and no default_backend"));
      }
      for (const RawIngressRule& rr : ri.rules) {
        IngressRuleSpec rule;
        if (rr.host.set && !IsHostName(rr.host.value)) {
          d_.Error(rr.host.pos,
                   StrCat(what, ": host \"", rr.host.value,
                          "\" is not a lowercase DNS name (a leading \"*.\" is allowed)"));
        }
        rule.host = rr.host.value;
        if (rr.paths.empty())
          d_.Error(rr.pos, StrCat(what, ": a rule needs at least one [[...path]]"));
        for (const RawIngressPath& rp : rr.paths) {
          IngressPathSpec p;
          p.path = rp.path.set ? rp.path.value : "/";
          if (p.path.empty() || p.path[0] != '/') {
            d_.Error(rp.path.pos, StrCat(what, ": path \"", p.path, "\" must start with \"/\""));
          }
          if (rp.path_type.set && rp.path_type.value != "Prefix" && rp.path_type.value != "Exact") {
            d_.Error(rp.path_type.pos, StrCat(what, ": path_type \"", rp.path_type.value,
                                              "\" is not \"Prefix\" or \"Exact\""));
          }
          p.type = rp.path_type.value == "Exact" ? PathType::kExact : PathType::kPrefix;
          std::optional<BackendRef> b =
              ResolveBackend(rp.backend, StrCat(what, ": path \"", p.path, "\""));
          if (b) p.backend = *b;
          rule.paths.push_back(p);
        }
        ing.rules.push_back(rule);
      }
      for (const RawIngressTls& rt : ri.tls) {
        IngressTlsSpec t;
        if (!rt.cert.set || !rt.key.set) {
          d_.Error(rt.pos, StrCat(what, ": tls needs both cert and key (PEM files)"));
        }
        for (const std::string& h : rt.hosts.value) {
          if (!IsHostName(h))
            d_.Error(rt.hosts.pos, StrCat(what, ": tls host \"", h, "\" is not a DNS name"));
        }
        t.hosts = rt.hosts.value;
        t.cert = rt.cert.value;
        t.key = rt.key.value;
        ing.tls.push_back(t);
      }
      spec_.ingresses.push_back(std::move(ing));
    }
  }

  // --- the edge: listeners and HTTP routes (issue 6) ---------------------------------------------

  // A path written in the lab file, relative to the lab file's directory. Lexical only (lib does no
  // I/O): absolute when Load() was given an absolute file name, else relative to the same working
  // directory the lab file name is.
  std::string LabPath(const std::string& p) const {
    namespace fs = std::filesystem;
    fs::path path(p);
    if (!path.is_absolute()) path = fs::path(d_.file()).parent_path() / path;
    return path.lexically_normal().string();
  }

  std::string NodeNames() const {
    std::vector<std::string> names;
    for (const NodeSpec& node : spec_.nodes) names.push_back(node.name);
    return absl::StrJoin(names, ", ");
  }

  std::string ListenerNames() const {
    std::vector<std::string> names;
    for (const ListenerSpec& l : spec_.listeners) names.push_back(l.name);
    return absl::StrJoin(names, ", ");
  }

  // RFC 9110 token characters: what a header (or method) name may hold.
  static bool IsToken(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
      if (!ok) return false;
    }
    return true;
  }

  // A certificate entry: hosts checked, cert and key required, paths resolved.
  std::optional<TlsCertSpec> ResolveTls(const RawListenerTls& rt, const std::string& what) {
    TlsCertSpec t;
    t.pos = rt.pos;
    bool ok = true;
    if (!rt.cert.set || !rt.key.set) {
      if (!rt.cert.bad && !rt.key.bad)
        d_.Error(rt.pos, StrCat(what, ": tls needs both cert and key (PEM files)"));
      ok = false;
    }
    for (const std::string& h : rt.hosts.value) {
      if (!IsHostName(h)) {
        d_.Error(rt.hosts.pos,
                 StrCat(what, ": tls host \"", h,
                        "\" is not a lowercase DNS name (a leading \"*.\" is allowed)"));
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    t.hosts = rt.hosts.value;
    t.cert = LabPath(rt.cert.value);
    t.key = LabPath(rt.key.value);
    return t;
  }

  void ResolveListeners() {
    // Certificates an HTTPS listener without its own [[listener.tls]] serves: the ingresses' tls.
    std::vector<TlsCertSpec> ingress_certs;
    for (const RawIngress& ri : raw_.ingresses) {
      for (const RawIngressTls& rt : ri.tls) {
        if (!rt.cert.set || !rt.key.set) continue;  // reported by ResolveIngresses
        ingress_certs.push_back(
            TlsCertSpec{rt.hosts.value, LabPath(rt.cert.value), LabPath(rt.key.value), rt.pos});
      }
    }
    if (raw_.listeners.empty()) {
      if (raw_.ingresses.empty() && raw_.http_routes.empty()) return;
      ListenerSpec http;
      http.name = "http";
      http.address = net::Ipv4{0x7f000001};
      http.port = 8080;
      spec_.listeners.push_back(http);
      if (!ingress_certs.empty() || spec_.auto_tls) {
        ListenerSpec https = http;
        https.name = "https";
        https.port = 8443;
        https.protocol = ListenerProtocol::kHttps;
        https.tls = ingress_certs;
        spec_.listeners.push_back(https);
      }
      return;
    }
    bool any_https = std::any_of(raw_.listeners.begin(), raw_.listeners.end(),
                                 [](const RawListener& l) { return l.protocol.value == "HTTPS"; });
    std::set<std::string> names;
    std::map<std::pair<uint32_t, int>, std::string> bound;
    for (size_t i = 0; i < raw_.listeners.size(); ++i) {
      const RawListener& rl = raw_.listeners[i];
      std::string what =
          rl.name.set ? StrCat("listener \"", rl.name.value, "\"") : StrCat("listener #", i + 1);
      ListenerSpec l;
      if (CheckName(rl.name, what, net::kMaxPodName, "a Gateway listener name") &&
          !names.insert(rl.name.value).second) {
        d_.Error(rl.name.pos, StrCat(what, ": duplicate listener name"));
      }
      l.name = rl.name.value;
      if (rl.protocol.set && rl.protocol.value != "HTTP" && rl.protocol.value != "HTTPS") {
        d_.Error(rl.protocol.pos, StrCat(what, ": protocol \"", rl.protocol.value,
                                         "\" is not \"HTTP\" or \"HTTPS\""));
      }
      l.protocol =
          rl.protocol.value == "HTTPS" ? ListenerProtocol::kHttps : ListenerProtocol::kHttp;
      bool https = l.protocol == ListenerProtocol::kHttps;
      bool addr_ok = true;
      std::string addr_text = rl.address.set ? rl.address.value : "127.0.0.1";
      std::optional<net::Ipv4> addr = net::Ipv4::Parse(addr_text);
      if (rl.address.bad) {
        addr_ok = false;
      } else if (!addr) {
        d_.Error(rl.address.pos,
                 StrCat(what, ": address \"", addr_text, "\" is not an IPv4 address"));
        addr_ok = false;
      } else if ((addr->value >> 24) != 127) {
        d_.Error(rl.address.pos,
                 StrCat(what, ": address ", addr->ToString(),
                        " is not on the host loopback 127.0.0.0/8 (the edge listens on the host "
                        "only, so a lab never exposes a port to the network)"));
        addr_ok = false;
      } else {
        l.address = *addr;
      }
      l.port = https ? 8443 : 8080;
      bool port_ok = !rl.port.bad;
      if (rl.port.set) {
        port_ok = CheckPort(rl.port, what);
        if (port_ok) l.port = static_cast<int>(rl.port.value);
      }
      if (addr_ok && port_ok) {
        auto [it, fresh] = bound.emplace(std::make_pair(l.address.value, l.port), l.name);
        if (!fresh) {
          d_.Error(rl.port.set      ? rl.port.pos
                   : rl.address.set ? rl.address.pos
                                    : rl.pos,
                   StrCat(what, ": ", l.address.ToString(), ":", l.port,
                          " is already taken by listener \"", it->second, "\""));
        }
      }
      if (!https && !rl.tls.empty()) {
        d_.Error(rl.tls[0].pos, StrCat(what, ": tls needs protocol = \"HTTPS\""));
      }
      for (const RawListenerTls& rt : rl.tls) {
        if (std::optional<TlsCertSpec> t = ResolveTls(rt, what)) l.tls.push_back(*t);
      }
      if (https && rl.tls.empty()) {
        if (!ingress_certs.empty()) {
          l.tls = ingress_certs;
        } else if (!spec_.auto_tls) {
          d_.Error(rl.pos,
                   StrCat(what,
                          ": an HTTPS listener needs a certificate: add a [[listener.tls]] with "
                          "cert and key, an [[ingress.tls]], or [cluster] auto_tls = true"));
        }
      }
      if (rl.redirect_to_https.set && rl.redirect_to_https.value) {
        if (https) {
          d_.Error(rl.redirect_to_https.pos,
                   StrCat(what, ": redirect_to_https is for HTTP listeners"));
        } else if (!any_https) {
          d_.Error(
              rl.redirect_to_https.pos,
              StrCat(
                  what,
                  ": redirect_to_https needs an HTTPS listener to redirect to (add a [[listener]] "
                  "with protocol = \"HTTPS\")"));
        } else {
          l.redirect_to_https = true;
        }
      }
      if (rl.upstream.set && rl.upstream.value != "service" && rl.upstream.value != "endpoints") {
        d_.Error(rl.upstream.pos, StrCat(what, ": upstream \"", rl.upstream.value,
                                         "\" is not \"service\" or \"endpoints\""));
      }
      l.upstream =
          rl.upstream.value == "endpoints" ? UpstreamMode::kEndpoints : UpstreamMode::kService;
      if (rl.upstream_timeout.set) {
        if (rl.upstream_timeout.value < 1 || rl.upstream_timeout.value > 3600) {
          d_.Error(rl.upstream_timeout.pos,
                   StrCat(what, ": upstream_timeout ", rl.upstream_timeout.value,
                          " is out of range 1-3600 (seconds)"));
        } else {
          l.upstream_timeout_s = static_cast<int>(rl.upstream_timeout.value);
        }
      }
      if (rl.node.set) {
        if (const NodeSpec* n = spec_.FindNode(rl.node.value)) {
          l.node = n->index;
        } else {
          d_.Error(rl.node.pos, StrCat(what, ": unknown node \"", rl.node.value,
                                       "\" (nodes: ", NodeNames(), ")"));
        }
      }
      spec_.listeners.push_back(std::move(l));
    }
  }

  std::optional<HttpRouteMatchSpec> ResolveMatch(const RawHttpRouteMatch& rm,
                                                 const std::string& what) {
    static const std::set<std::string> kMethods = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                   "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    HttpRouteMatchSpec m;
    bool ok = true;
    if (rm.path_type.set) {
      const std::string& t = rm.path_type.value;
      if (t == "Exact") {
        m.path_type = PathType::kExact;
      } else if (t != "PathPrefix") {
        std::string hint = t == "Prefix" ? " (the Gateway API spells it \"PathPrefix\")"
                           : t == "RegularExpression" ? " (regular expressions are not supported)"
                                                      : "";
        d_.Error(rm.path_type.pos,
                 StrCat(what, ": path type \"", t, "\" is not \"Exact\" or \"PathPrefix\"", hint));
        ok = false;
      }
    }
    if (rm.path_value.set) {
      m.path = rm.path_value.value;
      if (m.path.empty() || m.path[0] != '/') {
        d_.Error(rm.path_value.pos, StrCat(what, ": path \"", m.path, "\" must start with \"/\""));
        ok = false;
      }
    }
    if (rm.method.set) {
      if (kMethods.count(rm.method.value)) {
        m.method = rm.method.value;
      } else {
        std::string upper = rm.method.value;
        for (char& c : upper) {
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        }
        d_.Error(
            rm.method.pos,
            StrCat(what, ": method \"", rm.method.value, "\" is not an HTTP method",
                   kMethods.count(upper) ? StrCat(" (methods are upper case: \"", upper, "\")")
                                         : std::string(" (GET, HEAD, POST, PUT, DELETE, CONNECT, "
                                                       "OPTIONS, TRACE, PATCH)")));
        ok = false;
      }
    }
    auto conditions = [&](const std::vector<RawNameValue>& raw, std::string_view kind,
                          std::vector<HttpHeaderMatch>& out, bool lower) {
      std::set<std::string> seen;
      for (const RawNameValue& nv : raw) {
        if (nv.type.set && nv.type.value != "Exact") {
          d_.Error(nv.type.pos, StrCat(what, ": ", kind, " match type \"", nv.type.value,
                                       "\" is not supported (only \"Exact\")"));
          ok = false;
        }
        if (!nv.name.set || !nv.value.set) {
          if (!nv.name.bad && !nv.value.bad) {
            d_.Error(nv.pos, StrCat(what, ": a ", kind, " match needs name and value"));
          }
          ok = false;
          continue;
        }
        std::string name = lower ? absl::AsciiStrToLower(nv.name.value) : nv.name.value;
        if (lower && !IsToken(name)) {
          d_.Error(nv.name.pos,
                   StrCat(what, ": \"", nv.name.value, "\" is not a valid header name"));
          ok = false;
        } else if (name.empty()) {
          d_.Error(nv.name.pos, StrCat(what, ": a ", kind, " match needs a non-empty name"));
          ok = false;
        } else if (!seen.insert(name).second) {
          d_.Error(nv.name.pos,
                   StrCat(what, ": ", kind, " \"", nv.name.value, "\" is matched twice"));
          ok = false;
        }
        out.push_back({name, nv.value.value});
      }
    };
    conditions(rm.headers, "header", m.headers, true);
    conditions(rm.query_params, "query parameter", m.query_params, false);
    if (!ok) return std::nullopt;
    return m;
  }

  void ResolveModifier(const RawHeaderModifier& rm, const std::string& what,
                       HeaderModifierSpec& out) {
    std::set<std::string> seen;
    auto check_name = [&](const Field<std::string>& f,
                          SourcePos pos) -> std::optional<std::string> {
      std::string name = absl::AsciiStrToLower(f.value);
      if (!IsToken(name)) {
        d_.Error(f.pos, StrCat(what, ": \"", f.value, "\" is not a valid header name"));
        return std::nullopt;
      }
      if (!seen.insert(name).second) {
        d_.Error(f.set ? f.pos : pos, StrCat(what, ": header \"", f.value, "\" is modified twice"));
        return std::nullopt;
      }
      return name;
    };
    auto pairs = [&](const std::vector<RawNameValue>& raw,
                     std::vector<std::pair<std::string, std::string>>& dst) {
      for (const RawNameValue& nv : raw) {
        if (!nv.name.set || !nv.value.set) {
          if (!nv.name.bad && !nv.value.bad)
            d_.Error(nv.pos, StrCat(what, ": needs name and value"));
          continue;
        }
        if (std::optional<std::string> n = check_name(nv.name, nv.pos))
          dst.emplace_back(*n, nv.value.value);
      }
    };
    pairs(rm.set, out.set);
    pairs(rm.add, out.add);
    for (const std::string& r : rm.remove.value) {
      if (std::optional<std::string> n =
              check_name(Field<std::string>{r, rm.remove.pos, true}, rm.remove.pos)) {
        out.remove.push_back(*n);
      }
    }
  }

  std::optional<RedirectSpec> ResolveRedirect(const RawRedirect& rr, const std::string& what) {
    RedirectSpec r;
    bool ok = true;
    if (rr.scheme.set) {
      if (rr.scheme.value != "http" && rr.scheme.value != "https") {
        d_.Error(rr.scheme.pos,
                 StrCat(what, ": scheme \"", rr.scheme.value, "\" is not \"http\" or \"https\""));
        ok = false;
      }
      r.scheme = rr.scheme.value;
    }
    if (rr.hostname.set) {
      if (rr.hostname.value.rfind("*", 0) == 0 || !IsHostName(rr.hostname.value)) {
        d_.Error(rr.hostname.pos, StrCat(what, ": hostname \"", rr.hostname.value,
                                         "\" is not a lowercase DNS name"));
        ok = false;
      }
      r.hostname = rr.hostname.value;
    }
    if (rr.port.set) {
      ok = CheckPort(rr.port, what) && ok;
      r.port = static_cast<int>(rr.port.value);
    }
    if (rr.status_code.set) {
      int64_t c = rr.status_code.value;
      if (c != 301 && c != 302 && c != 303 && c != 307 && c != 308) {
        d_.Error(rr.status_code.pos, StrCat(what, ": status_code ", c,
                                            " is not a redirect (301, 302, 303, 307 or 308)"));
        ok = false;
      }
      r.status_code = static_cast<int>(c);
    }
    if (!ok) return std::nullopt;
    return r;
  }

  void ResolveHttpRoutes() {
    std::set<std::string> names;
    for (size_t i = 0; i < raw_.http_routes.size(); ++i) {
      const RawHttpRoute& rr = raw_.http_routes[i];
      std::string what = rr.name.set ? StrCat("http_route \"", rr.name.value, "\"")
                                     : StrCat("http_route #", i + 1);
      HttpRouteSpec route;
      if (CheckName(rr.name, what, net::kMaxPodName, "a Kubernetes name") &&
          !names.insert(rr.name.value).second) {
        d_.Error(rr.name.pos, StrCat(what, ": duplicate http_route name"));
      }
      route.name = rr.name.value;
      for (const std::string& p : rr.parents.value) {
        bool known = std::any_of(spec_.listeners.begin(), spec_.listeners.end(),
                                 [&](const ListenerSpec& l) { return l.name == p; });
        if (!known) {
          d_.Error(rr.parents.pos,
                   StrCat(what, ": parent \"", p,
                          "\" is not a listener (listeners: ", ListenerNames(), ")"));
        } else if (std::find(route.parents.begin(), route.parents.end(), p) ==
                   route.parents.end()) {
          route.parents.push_back(p);
        }
      }
      for (const std::string& h : rr.hostnames.value) {
        if (!IsHostName(h)) {
          d_.Error(rr.hostnames.pos,
                   StrCat(what, ": hostname \"", h,
                          "\" is not a lowercase DNS name (a leading \"*.\" is allowed)"));
        }
      }
      route.hostnames = rr.hostnames.value;
      if (rr.rules.empty()) {
        d_.Error(rr.pos, StrCat(what, ": no rules (add a [[http_route.rule]] with backend_refs)"));
      }
      for (size_t j = 0; j < rr.rules.size(); ++j) {
        const RawHttpRouteRule& rule = rr.rules[j];
        std::string rw = StrCat(what, ": rule #", j + 1);
        HttpRouteRuleSpec r;
        for (size_t k = 0; k < rule.matches.size(); ++k) {
          if (auto m = ResolveMatch(rule.matches[k], StrCat(rw, ": match #", k + 1)))
            r.matches.push_back(*m);
        }
        if (rule.has_redirect && !rule.backend_refs.empty()) {
          d_.Error(rule.redirect.pos, StrCat(rw,
                                             ": a rule with request_redirect has no backend_refs "
                                             "(the redirect answers the request itself)"));
        } else if (!rule.has_redirect && rule.backend_refs.empty() && !rule.has_backend_refs) {
          d_.Error(rule.pos,
                   StrCat(rw,
                          ": needs backend_refs = [{ service = \"...\", port = ... }] or a "
                          "request_redirect"));
        } else if (!rule.has_redirect && rule.backend_refs.empty()) {
          d_.Error(rule.pos, StrCat(rw, ": backend_refs is empty"));
        }
        int64_t total = 0;
        bool backends_ok = true;
        for (const RawBackendRef& rb : rule.backend_refs) {
          std::optional<BackendRef> b = ResolveBackend(rb.backend, StrCat(rw, ": backend_refs"));
          int64_t weight = 1;
          if (rb.weight.set) {
            weight = rb.weight.value;
            if (weight < 0 || weight > 1000000) {
              d_.Error(rb.weight.pos,
                       StrCat(rw, ": backend_refs: weight ", weight, " is out of range 0-1000000"));
              backends_ok = false;
              continue;
            }
          }
          if (!b || rb.weight.bad) {
            backends_ok = false;
            continue;
          }
          total += weight;
          r.backends.push_back(BackendRefSpec{b->service, b->port, static_cast<int>(weight)});
        }
        if (backends_ok && !r.backends.empty() && total == 0) {
          d_.Error(rule.pos,
                   StrCat(rw,
                          ": every backend_ref has weight 0, so no request could be served "
                          "(give one a weight)"));
        }
        if (rule.has_modifier)
          ResolveModifier(rule.modifier, StrCat(rw, ": request_header_modifier"),
                          r.request_headers);
        if (rule.has_redirect) {
          if (auto red = ResolveRedirect(rule.redirect, StrCat(rw, ": request_redirect")))
            r.redirect = *red;
        }
        route.rules.push_back(std::move(r));
      }
      spec_.http_routes.push_back(std::move(route));
    }
  }

  const RawConfig& raw_;
  Diagnostics& d_;
  ClusterSpec spec_;
  std::optional<net::Prefix> pod_cidr_, service_cidr_, underlay_cidr_;
  std::vector<Field<std::string>> node_cidr_fields_;
  std::vector<SourcePos> node_pos_;
  bool nodes_ok_ = false;
  std::set<std::string> pod_names_;
  std::vector<PendingPod> pending_;
};

}  // namespace

std::optional<ClusterSpec> Resolve(const RawConfig& raw, Diagnostics& diags) {
  return Resolver(raw, diags).Run();
}

LoadResult Load(std::string_view text, std::string file) {
  LoadResult r{std::nullopt, Diagnostics(std::move(file))};
  RawConfig raw = Parse(text, r.diags);
  if (!raw.well_formed) return r;  // a file that is not TOML has no meaning to check
  // Type errors and unknown keys are reported together with the semantic ones: all at once.
  bool parse_errors = r.diags.HasErrors();
  r.spec = Resolve(raw, r.diags);
  if (parse_errors) r.spec.reset();
  return r;
}

}  // namespace mkn::config
