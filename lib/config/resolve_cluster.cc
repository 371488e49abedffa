// The cluster-wide part of Resolve() (resolver.h): [cluster] (name, network, CIDRs, MTU, VNI,
// proxy mode), [cni] and a node's override of it, and the nodes with their pod ranges, gateways,
// VTEPs and underlay addresses. Runs first: every later step reads what it fills.

#include <algorithm>
#include <cstdint>
#include <set>

#include "absl/strings/match.h"
#include "lib/config/resolver.h"
#include "lib/net/naming.h"
#include "lib/strings/edit_distance.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::config::internal {
namespace {

constexpr int kMaxNodes = 1024;

}  // namespace

std::optional<net::Prefix> Resolver::Cidr(const Field<std::string>& f, std::string_view what,
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

void Resolver::ResolveCluster() {
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
      c.network.value != "geneve" && c.network.value != "bgp" && c.network.value != "cni") {
    // A typo ("bpg") gets the word it was probably meant to be, as names and flags do.
    const std::string meant =
        Closest(c.network.value, {"vxlan", "host-gw", "geneve", "bgp", "cni"}, 2);
    d_.Error(c.network.pos,
             StrCat("[cluster] network: \"", c.network.value,
                    "\" is not \"vxlan\", \"host-gw\", \"geneve\", \"bgp\" or \"cni\"",
                    meant.empty() || EditDistance(c.network.value, meant) >= c.network.value.size()
                        ? ""
                        : StrCat(" (did you mean \"", meant, "\"?)")));
  }
  spec_.network = c.network.value == "host-gw"  ? NetworkMode::kHostGw
                  : c.network.value == "geneve" ? NetworkMode::kGeneve
                  : c.network.value == "bgp"    ? NetworkMode::kBgp
                                                : NetworkMode::kVxlan;
  ResolveCni();
  pod_cidr_ = Cidr(c.pod_cidr, "[cluster] pod_cidr", "10.244.0.0/16");
  service_cidr_ = Cidr(c.service_cidr, "[cluster] service_cidr", "10.96.0.0/12");
  underlay_cidr_ = Cidr(c.underlay_cidr, "[cluster] underlay_cidr", "172.18.0.0/16");
  if (c.mtu.set && (c.mtu.value < 1280 || c.mtu.value > 9000)) {
    d_.Error(c.mtu.pos, StrCat("[cluster] mtu: ", c.mtu.value, " is out of range 1280-9000"));
  } else if (c.mtu.set) {
    spec_.mtu = static_cast<int>(c.mtu.value);
  }
  spec_.pod_mtu = spec_.network == NetworkMode::kVxlan    ? spec_.mtu - kVxlanOverhead
                  : spec_.network == NetworkMode::kGeneve ? spec_.mtu - kGeneveOverhead
                                                          : spec_.mtu;
  if (c.vni.set && (c.vni.value < 1 || c.vni.value > 16777215)) {
    d_.Error(c.vni.pos, StrCat("[cluster] vni: ", c.vni.value, " is out of range 1-16777215"));
  } else if (c.vni.set) {
    spec_.vni = static_cast<int>(c.vni.value);
  }
  if (c.proxy_mode.set && c.proxy_mode.value != "userspace" && c.proxy_mode.value != "nftables" &&
      c.proxy_mode.value != "ebpf") {
    d_.Error(c.proxy_mode.pos, StrCat("[cluster] proxy_mode: \"", c.proxy_mode.value,
                                      "\" is not \"userspace\", \"nftables\" or \"ebpf\""));
  }
  spec_.proxy_mode = c.proxy_mode.value == "nftables" ? ProxyMode::kNftables
                     : c.proxy_mode.value == "ebpf"   ? ProxyMode::kEbpf
                                                      : ProxyMode::kUserspace;
  if (spec_.cni_mode) {
    // The userspace proxy answers ARP for its source address on the tool's own cbr0, which a CNI
    // lab does not have; kube-proxy's way (nftables) works on whatever the plugin builds.
    if (c.proxy_mode.set && c.proxy_mode.value == "userspace") {
      d_.Error(c.proxy_mode.pos,
               "[cluster] proxy_mode: \"userspace\" needs the built-in pod network; "
               "a network = \"cni\" lab serves Services with \"nftables\" (the default there)");
    }
    if (!c.proxy_mode.set || c.proxy_mode.value != "ebpf") spec_.proxy_mode = ProxyMode::kNftables;
  }
  spec_.auto_tls = c.auto_tls.set && c.auto_tls.value;
  // The cluster DNS is on unless switched off. A CNI lab's pods are its plugin chain's to wire:
  // a resolver pod there would be one more pod under test in every `verify` check, so it is off
  // (and cannot be asked for) until the runtime wires system pods of its own.
  spec_.dns = !c.dns.set || c.dns.value;
  if (spec_.cni_mode) {
    if (c.dns.set && c.dns.value) {
      d_.Error(c.dns.pos,
               "[cluster] dns: the cluster DNS needs the built-in pod network (not "
               "network = \"cni\")");
    }
    spec_.dns = false;
  }
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
      d_.Error(c.underlay_cidr.pos, StrCat("[cluster] underlay_cidr: ", underlay_cidr_->ToString(),
                                           " is too small; use /30 or larger"));
      underlay_cidr_.reset();
    } else {
      spec_.underlay_gateway = underlay_cidr_->Host(1);
    }
  }
  auto overlap = [&](const std::optional<net::Prefix>& a, const std::optional<net::Prefix>& b,
                     const Field<std::string>& where, std::string_view an, std::string_view bn) {
    if (a && b && a->Overlaps(*b)) {
      d_.Error(where.pos,
               StrCat("[cluster] ", an, " ", a->ToString(), " overlaps ", bn, " ", b->ToString()));
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
      overlap(underlay_cidr_, service_cidr_, c.underlay_cidr.set ? c.underlay_cidr : c.service_cidr,
              "underlay_cidr", "service_cidr")) {
    underlay_cidr_.reset();
  }
  CountRacks();
}

// Lays `raw` over `base`: the cluster's [cni] over the defaults, a node's cni = {...} over that.
void Resolver::ApplyCni(const RawCni& raw, std::string_view what, CniSpec& out) {
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
      d_.Error(raw.timeout.pos,
               StrCat(what, " timeout: ", raw.timeout.value, " is out of range 1-3600 (seconds)"));
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

void Resolver::ResolveCni() {
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
    } else if (v == "geneve") {
      spec_.cni.node_routes = NodeRoutes::kGeneve;
    } else if (v == "plugin") {
      spec_.cni.node_routes = NodeRoutes::kPlugin;
    } else if (v == "bgp") {
      spec_.cni.node_routes = NodeRoutes::kBgp;
    } else {
      d_.Error(rc.node_routes.pos,
               StrCat("[cni] node_routes: \"", v,
                      "\" is not \"host-gw\", \"vxlan\", \"geneve\", \"bgp\" or \"plugin\""));
    }
  }
  spec_.network = spec_.cni.node_routes == NodeRoutes::kVxlan    ? NetworkMode::kVxlan
                  : spec_.cni.node_routes == NodeRoutes::kGeneve ? NetworkMode::kGeneve
                  : spec_.cni.node_routes == NodeRoutes::kBgp    ? NetworkMode::kBgp
                                                                 : NetworkMode::kHostGw;
}

void Resolver::ResolveNodes() {
  std::vector<RawNode> raw_nodes = raw_.nodes;
  if (raw_.node_count.set) {
    if (!raw_nodes.empty()) {
      d_.Error(raw_.node_count.pos, "nodes: give either `nodes = N` or [[node]] tables, not both");
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
      } else if (rn.name.value == "lo" || rn.name.value == net::kUnderlayBridge) {
        // A node's port on the underlay switch is named after the node, beside the switch's own
        // bridge and loopback (lib/net/naming): `up` could not make it.
        d_.Error(rn.name.pos, StrCat(what, ": the name \"", rn.name.value,
                                     "\" is taken in the underlay namespace (its ",
                                     rn.name.value == "lo" ? "loopback" : "bridge",
                                     "), where each node's port is named after the node"));
      } else if (absl::StartsWith(AsAbsl(rn.name.value), AsAbsl(net::kVerifyPodPrefix))) {
        d_.Error(rn.name.pos, StrCat(what, ": names starting with \"", net::kVerifyPodPrefix,
                                     "\" are reserved for verify's test pods"));
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
        d_.Error(f.pos, StrCat(what, ": ", p->ToString(), " overlaps node \"", spec_.nodes[j].name,
                               "\" ", chosen[j]->ToString()));
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
    n.vtep_mac.bytes[0] = 0x0e;  // differs from any pod/bridge MAC even when .0 and .1 share bytes
  }
  nodes_ok_ =
      std::all_of(chosen.begin(), chosen.end(), [](const auto& c) { return c.has_value(); });
  if (underlay_cidr_ && !spec_.routed_underlay) {  // a routed underlay's: ResolveRacks
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

}  // namespace mkn::config::internal
