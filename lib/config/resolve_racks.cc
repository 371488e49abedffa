// The racks of a lab (resolver.h): how many and their names, which nodes each holds, the routed
// underlay's addresses (each rack's subnet and gateway, the ToR-spine links, every node's address
// in its rack), and a network = "bgp" lab's AS numbers and mode. Runs after the nodes (a rack's
// subnet must hold its nodes) and before the pods (a pod may not take a router's name).
//
// IPv4 is assumed in one place here, RackCidr(): the keys are read as either family, and an IPv6
// rack is refused there by name until the lab is dual-stack.

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "lib/config/resolver.h"
#include "lib/net/naming.h"
#include "lib/strings/edit_distance.h"
#include "lib/strings/str_cat.h"

namespace mkn::config::internal {
namespace {

// The spine's links are /30s of one /24: 64 of them.
constexpr int kMaxRacks = 64;
constexpr int kLinksLen = 24;
constexpr int kLinkLen = 30;
// A rack's default subnet: the (i+1)-th /24 of the underlay_cidr (the first holds the links).
constexpr int kRackLen = 24;
// ebgp mode: node N (1-based) is in AS 4200000000 + N, RFC 6996's 4-byte private range, which RFC
// 7938 (BGP in large data centres) uses so that every server and ToR can have its own AS; the
// 16-bit private range (1023 numbers) could not number 1024 nodes and their racks.
constexpr int64_t kNodeAsnBase = 4200000000;
constexpr int64_t kFirstRackAsn = 64513;  // the spine has 64512 unless bgp.spine_asn says

}  // namespace

void Resolver::CountRacks() {
  const RawCluster& c = raw_.cluster;
  rack_count_ = 1;
  if (c.racks.set) {
    if (!raw_.racks.empty()) {
      d_.Error(c.racks.pos,
               "[cluster] racks: give either `racks = N` or [[rack]] tables, not both");
    }
    if (c.racks.value < 1 || c.racks.value > kMaxRacks) {
      d_.Error(c.racks.pos,
               StrCat("[cluster] racks: ", c.racks.value, " is out of range 1-", kMaxRacks));
    } else {
      rack_count_ = static_cast<int>(c.racks.value);
    }
  }
  if (!raw_.racks.empty() && !c.racks.set) {
    if (raw_.racks.size() > static_cast<size_t>(kMaxRacks)) {
      d_.Error(raw_.racks[kMaxRacks].pos,
               StrCat("rack: at most ", kMaxRacks, " racks (the spine's links are /", kLinkLen,
                      "s of one /", kLinksLen, ")"));
    }
    rack_count_ = std::min<int>(static_cast<int>(raw_.racks.size()), kMaxRacks);
  }
  spec_.routed_underlay = rack_count_ > 1 || spec_.network == NetworkMode::kBgp;
}

// A [[rack]] cidr, parsed as either family; the one place that requires IPv4 (nullopt, reported).
std::optional<net::IpPrefix> Resolver::RackCidr(const Field<std::string>& f,
                                                const std::string& what) {
  std::optional<net::IpPrefix> p = net::IpPrefix::Parse(f.value);
  if (!p) {
    d_.Error(f.pos, StrCat(what, " cidr: \"", f.value, "\" is not a CIDR like 172.18.1.0/24"));
    return std::nullopt;
  }
  if (p->family() != net::Family::kIpv4) {
    d_.Error(f.pos, StrCat(what, " cidr: ", p->ToString(),
                           " is IPv6: racks are IPv4 until the lab is dual-stack (the pods, nodes "
                           "and underlay_cidr are IPv4); give an IPv4 CIDR"));
    return std::nullopt;
  }
  if (!p->IsNetwork()) {
    d_.Error(f.pos, StrCat(what, " cidr: ", p->ToString(), " has host bits set (did you mean ",
                           p->Network().ToString(), "?)"));
    return std::nullopt;
  }
  return p;
}

void Resolver::ResolveRacks() {
  const RawCluster& c = raw_.cluster;
  // Names: each [[rack]]'s, or r1..rN for `racks = N` (and the implicit one rack).
  std::set<std::string> names;
  for (int i = 0; i < rack_count_; ++i) {
    RackSpec r;
    r.index = i;
    r.name = StrCat("r", i + 1);
    if (static_cast<size_t>(i) < raw_.racks.size()) {
      const RawRack& rr = raw_.racks[i];
      std::string what =
          rr.name.set ? StrCat("rack \"", rr.name.value, "\"") : StrCat("rack #", i + 1);
      if (CheckName(rr.name, what, net::kMaxRackName,
                    StrCat("the spine's port to its ToR, \"", net::kTorPrefix, "<rack>\"")) &&
          !names.insert(rr.name.value).second) {
        d_.Error(rr.name.pos, StrCat(what, ": duplicate rack name"));
      }
      if (rr.name.set) r.name = rr.name.value;
    }
    spec_.racks.push_back(r);
  }
  // A routed underlay's routers have namespaces (mkn-<cluster>-tor-<rack>, -spine) beside the
  // nodes' and pods', and the ToR names its ports after the nodes and the spine.
  if (spec_.routed_underlay) {
    for (const RackSpec& r : spec_.racks) fabric_names_.insert(net::TorObject(r.name));
    fabric_names_.insert(std::string(net::kSpineObject));
    for (size_t i = 0; i < spec_.nodes.size(); ++i) {
      const std::string& n = spec_.nodes[i].name;
      if (!fabric_names_.count(n)) continue;
      d_.Error(i < raw_.nodes.size() ? raw_.nodes[i].name.pos : raw_.node_count.pos,
               StrCat("node \"", n, "\": the name is taken by the routed underlay's ",
                      n == net::kSpineObject ? "spine" : "top-of-rack router", " (mkn-", spec_.name,
                      "-", n, ")"));
    }
  }
  AssignRacks();
  AddressRacks();
  ResolveBgp();
  // host-gw routes via a node's underlay address, which must then be on the node's own link.
  const bool host_gw = spec_.network == NetworkMode::kHostGw &&
                       (!spec_.cni_mode || spec_.cni.node_routes == NodeRoutes::kHostGw);
  for (size_t i = 1; host_gw && i < spec_.nodes.size(); ++i) {
    const NodeSpec& a = spec_.nodes[0];
    const NodeSpec& b = spec_.nodes[i];
    if (a.rack == b.rack) continue;
    std::string why = StrCat("host-gw needs every node on one layer-2 segment: nodes ", a.name,
                             " and ", b.name, " are in racks ", spec_.racks[a.rack].name, " and ",
                             spec_.racks[b.rack].name, "; use ");
    if (spec_.cni_mode) {
      d_.Error(
          raw_.cni.node_routes.set ? raw_.cni.node_routes.pos : c.network.pos,
          StrCat("[cni] node_routes: ", why, "node_routes = \"bgp\", \"vxlan\" or \"plugin\""));
    } else {
      d_.Error(c.network.pos, StrCat("[cluster] network: ", why, "network = \"bgp\" or \"vxlan\""));
    }
    break;
  }
}

// Which rack each node is in: [[node]] rack = "r1", else spread in order: the racks, first to last,
// each take their share of the nodes (the first ones one more when they do not divide), so nodes
// 1-2 of 4 are in r1 and 3-4 in r2, as a rack fills in a data centre.
void Resolver::AssignRacks() {
  const size_t racks = spec_.racks.size();
  std::vector<std::string> rack_names;
  for (const RackSpec& r : spec_.racks) rack_names.push_back(r.name);
  std::vector<int> count(racks, 0);
  std::vector<bool> pinned(spec_.nodes.size(), false);
  for (size_t i = 0; i < spec_.nodes.size() && i < raw_.nodes.size(); ++i) {
    const Field<std::string>& f = raw_.nodes[i].rack;
    if (!f.set) continue;
    auto it = std::find(rack_names.begin(), rack_names.end(), f.value);
    if (it == rack_names.end()) {
      std::string near = Closest(f.value, rack_names, 2);
      d_.Error(f.pos, StrCat("node \"", spec_.nodes[i].name, "\": rack \"", f.value,
                             "\" is not a rack of this lab (",
                             near.empty() ? "" : StrCat("did you mean \"", near, "\"? "),
                             "racks: ", absl::StrJoin(rack_names, ", "), ")"));
      continue;
    }
    spec_.nodes[i].rack = static_cast<int>(it - rack_names.begin());
    pinned[i] = true;
    ++count[spec_.nodes[i].rack];
  }
  const size_t n = spec_.nodes.size();
  for (size_t i = 0; i < n; ++i) {
    if (pinned[i]) continue;
    size_t pick = racks;
    for (size_t r = 0; r < racks && pick == racks; ++r) {
      size_t share = n / racks + (r < n % racks ? 1 : 0);
      if (static_cast<size_t>(count[r]) < share) pick = r;
    }
    if (pick == racks) pick = std::min_element(count.begin(), count.end()) - count.begin();
    spec_.nodes[i].rack = static_cast<int>(pick);
    ++count[pick];
  }
  for (NodeSpec& node : spec_.nodes) spec_.racks[node.rack].nodes.push_back(node.index);
}

void Resolver::AddressRacks() {
  const RawCluster& c = raw_.cluster;
  const int racks = static_cast<int>(spec_.racks.size());
  if (!spec_.routed_underlay) {
    // One rack, no BGP: the flat underlay, its addresses ResolveNodes gave.
    if (!raw_.racks.empty() && raw_.racks[0].cidr.set) {
      d_.Error(raw_.racks[0].cidr.pos,
               StrCat("rack \"", spec_.racks[0].name,
                      "\" cidr: one rack without BGP is the flat underlay, one bridge: set "
                      "[cluster] underlay_cidr instead (or add racks, or network = \"bgp\")"));
    }
    if (underlay_cidr_) {
      spec_.racks[0].cidr = net::IpPrefix::FromV4(*underlay_cidr_);
      spec_.racks[0].gateway = net::IpAddr::FromV4(spec_.underlay_gateway);
    }
    return;
  }
  if (!underlay_cidr_) return;
  const net::IpPrefix underlay = net::IpPrefix::FromV4(*underlay_cidr_);
  const std::string underlay_where = StrCat("[cluster] underlay_cidr: ", underlay.ToString());
  // The spine's links: the first /24, a /30 per rack.
  std::optional<net::Prefix> links;
  if (racks > 1) {
    if (underlay_cidr_->len > kLinksLen) {
      d_.Error(c.underlay_cidr.pos,
               StrCat(underlay_where, " is too small for ", racks,
                      " racks: the spine's links take a /24 of it; use /22 or larger"));
      return;
    }
    links = underlay_cidr_->Subnet(0, kLinksLen);
    spec_.spine_netns = net::NetnsName(spec_.name, net::kSpineObject);
  }
  std::vector<std::optional<net::IpPrefix>> cidrs(racks);
  for (int i = 0; i < racks && static_cast<size_t>(i) < raw_.racks.size(); ++i) {
    const RawRack& rr = raw_.racks[i];
    if (!rr.cidr.set) continue;
    const std::string what = StrCat("rack \"", spec_.racks[i].name, "\"");
    std::optional<net::IpPrefix> p = RackCidr(rr.cidr, what);
    if (!p) continue;
    if (!underlay.Contains(*p)) {
      d_.Error(rr.cidr.pos, StrCat(what, " cidr: ", p->ToString(), " is outside the ",
                                   underlay_where, " (the underlay's addresses)"));
      continue;
    }
    if (links && p->Overlaps(net::IpPrefix::FromV4(*links))) {
      d_.Error(rr.cidr.pos, StrCat(what, " cidr: ", p->ToString(), " overlaps the spine's links ",
                                   links->ToString(), " (the first /24 of the underlay_cidr)"));
      continue;
    }
    for (int j = 0; j < i && p; ++j) {
      if (cidrs[j] && cidrs[j]->Overlaps(*p)) {
        d_.Error(rr.cidr.pos, StrCat(what, " cidr: ", p->ToString(), " overlaps rack \"",
                                     spec_.racks[j].name, "\" ", cidrs[j]->ToString()));
        p.reset();
      }
    }
    cidrs[i] = p;
  }
  // The rest: one rack is the whole underlay_cidr (addresses as a flat underlay's); more take the
  // /24s after the links', skipping any a [[rack]] cidr took.
  uint64_t next = 1;
  const uint64_t slots =
      underlay_cidr_->len <= kRackLen ? uint64_t{1} << (kRackLen - underlay_cidr_->len) : 0;
  for (int i = 0; i < racks; ++i) {
    if (cidrs[i] || (static_cast<size_t>(i) < raw_.racks.size() && raw_.racks[i].cidr.set))
      continue;
    if (racks == 1) {
      cidrs[i] = underlay;
      continue;
    }
    while (next < slots && !cidrs[i]) {
      net::IpPrefix cand = net::IpPrefix::FromV4(underlay_cidr_->Subnet(next++, kRackLen));
      if (std::none_of(cidrs.begin(), cidrs.end(),
                       [&](const auto& o) { return o && o->Overlaps(cand); })) {
        cidrs[i] = cand;
      }
    }
    if (!cidrs[i]) {
      d_.Error(c.underlay_cidr.pos,
               StrCat(underlay_where, " has room for ", slots > 0 ? slots - 1 : 0,
                      " racks of /24 after the spine's links, the lab has ", racks,
                      " (use a larger underlay_cidr, or give [[rack]] cidr)"));
      return;
    }
  }
  for (int i = 0; i < racks; ++i) {
    RackSpec& r = spec_.racks[i];
    r.tor = net::TorObject(r.name);
    r.netns = net::NetnsName(spec_.name, r.tor);
    if (links) {
      net::Prefix link = links->Subnet(static_cast<uint64_t>(i), kLinkLen);
      r.uplink = net::IpPrefix::FromV4(link);
      r.spine_end = net::IpAddr::FromV4(link.Host(1));
      r.tor_end = net::IpAddr::FromV4(link.Host(2));
    }
    if (!cidrs[i]) continue;
    std::optional<net::Prefix> v4 = cidrs[i]->V4();  // RackCidr let only IPv4 through
    r.cidr = *cidrs[i];
    r.gateway = net::IpAddr::FromV4(v4->Host(1));
    // .1 is the ToR's, nodes take .2 upward, broadcast excluded.
    const uint64_t fits = v4->len <= 30 ? v4->Size() - 3 : 0;
    if (r.nodes.size() > fits) {
      const bool own = static_cast<size_t>(i) < raw_.racks.size() && raw_.racks[i].cidr.set;
      d_.Error(own ? raw_.racks[i].cidr.pos : c.underlay_cidr.pos,
               StrCat("rack \"", r.name, "\" cidr: ", r.cidr.ToString(), " has room for ", fits,
                      " node(s), the rack has ", r.nodes.size()));
      continue;
    }
    for (size_t k = 0; k < r.nodes.size(); ++k)
      spec_.nodes[r.nodes[k]].underlay_ip = v4->Host(2 + k);
  }
}

void Resolver::ResolveBgp() {
  const RawCluster& c = raw_.cluster;
  const RawBgp& rb = c.bgp;
  if (spec_.network != NetworkMode::kBgp) {
    // A network the lab failed to name ("bpg") is an error already: no warnings about the keys of
    // the mode it probably meant on top of it.
    const std::string& nw = c.network.value;
    if (c.network.set && nw != "vxlan" && nw != "host-gw" && nw != "geneve" && nw != "bgp" &&
        nw != "cni")
      return;
    // Kept, not refused: a lab switches between "bgp" and "vxlan" by its network line alone.
    if (rb.present) {
      d_.Warning(rb.pos,
                 "[cluster] bgp: ignored: BGP speakers run only with network = \"bgp\" (or a CNI "
                 "lab's node_routes = \"bgp\")");
    }
    for (size_t i = 0; i < raw_.racks.size(); ++i) {
      const RawRack& rr = raw_.racks[i];
      if (rr.asn.set) {
        const std::string name = i < spec_.racks.size() ? spec_.racks[i].name : rr.name.value;
        d_.Warning(rr.asn.pos,
                   StrCat("rack \"", name,
                          "\" asn: ignored: BGP speakers run only with network = \"bgp\" (or a "
                          "CNI lab's node_routes = \"bgp\")"));
      }
    }
    return;
  }
  if (rb.mode.set) {
    const std::string& m = rb.mode.value;
    if (m == "ebgp") {
      spec_.bgp.mode = BgpMode::kEbgp;
    } else if (m == "full-mesh") {
      spec_.bgp.mode = BgpMode::kFullMesh;
    } else if (m == "route-reflector") {
      spec_.bgp.mode = BgpMode::kRouteReflector;
    } else {
      // "ibgp" is one edit from "ebgp" but means the opposite: both iBGP designs are named.
      const std::string meant = Closest(m, {"ebgp", "full-mesh", "route-reflector"}, 2);
      const std::string hint = absl::AsciiStrToLower(m) == "ibgp"
                                   ? " (iBGP is \"full-mesh\" or \"route-reflector\")"
                               : meant.empty() || EditDistance(m, meant) >= m.size()
                                   ? ""
                                   : StrCat(" (did you mean \"", meant, "\"?)");
      d_.Error(rb.mode.pos,
               StrCat("[cluster] bgp mode: \"", m,
                      "\" is not \"ebgp\", \"full-mesh\" or \"route-reflector\"", hint));
    }
  }
  if (spec_.bgp.mode == BgpMode::kFullMesh && spec_.racks.size() > 1) {
    d_.Error(rb.mode.pos,
             StrCat("[cluster] bgp mode: \"full-mesh\" is one rack's iBGP mesh (every next hop "
                    "on the rack's own link); this lab has ",
                    spec_.racks.size(), " racks: use mode = \"ebgp\" or \"route-reflector\""));
  }
  // Who has which AS: the nodes' (ebgp: fixed by their number) and what the lab says first, then
  // the defaults around them.
  std::map<int64_t, std::string> taken;
  auto take = [&](int64_t asn, const std::string& who, SourcePos pos) {
    auto [it, fresh] = taken.emplace(asn, who);
    if (!fresh) {
      d_.Error(pos, StrCat(who, ": AS ", asn, " is ", it->second, " already",
                           it->second.rfind("node ", 0) == 0
                               ? " (ebgp mode: node N is in AS 4200000000 + N)"
                               : ""));
    }
    return fresh;
  };
  auto private_asn = [&](const Field<int64_t>& f, const std::string& what) {
    if (IsPrivateAsn(f.value)) return true;
    d_.Error(f.pos, StrCat(what, ": ", f.value,
                           " is not a private AS number (64512-65534 or "
                           "4200000000-4294967294, RFC 6996)"));
    return false;
  };
  if (spec_.bgp.mode == BgpMode::kEbgp) {
    for (NodeSpec& n : spec_.nodes) {
      n.asn = static_cast<uint32_t>(kNodeAsnBase + n.index + 1);
      taken.emplace(n.asn, StrCat("node \"", n.name, "\"'s"));
    }
  }
  // One rack has no spine: its ASN is then nobody's.
  const bool spine = spec_.racks.size() > 1;
  if (rb.spine_asn.set && private_asn(rb.spine_asn, "[cluster] bgp spine_asn") &&
      (!spine || take(rb.spine_asn.value, "[cluster] bgp spine_asn", rb.spine_asn.pos))) {
    spec_.bgp.spine_asn = static_cast<uint32_t>(rb.spine_asn.value);
  }
  if (spine) taken[spec_.bgp.spine_asn] = "the spine's";
  for (size_t i = 0; i < spec_.racks.size() && i < raw_.racks.size(); ++i) {
    const RawRack& rr = raw_.racks[i];
    const std::string what = StrCat("rack \"", spec_.racks[i].name, "\" asn");
    if (!rr.asn.set || !private_asn(rr.asn, what)) continue;
    if (take(rr.asn.value, what, rr.asn.pos)) {
      spec_.racks[i].asn = static_cast<uint32_t>(rr.asn.value);
      taken[rr.asn.value] = StrCat("rack \"", spec_.racks[i].name, "\"'s");
    }
  }
  int64_t next = kFirstRackAsn;
  for (RackSpec& r : spec_.racks) {
    if (r.asn != 0) continue;
    while (taken.count(next)) ++next;
    r.asn = static_cast<uint32_t>(next);
    taken.emplace(next, StrCat("rack \"", r.name, "\"'s"));
  }
  // iBGP modes: a node is in its rack's AS, with its ToR (and, full-mesh, every other node).
  if (spec_.bgp.mode != BgpMode::kEbgp) {
    for (NodeSpec& n : spec_.nodes) n.asn = spec_.racks[n.rack].asn;
  }
}

}  // namespace mkn::config::internal
