#include "lib/bgp/bird_config.h"

#include <algorithm>

#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::bgp {
namespace {

using config::BgpMode;
using config::ClusterSpec;

// BIRD's names of a family's channel and table: "ipv4", "ipv6".
std::string_view Channel(net::Family f) { return f == net::Family::kIpv4 ? "ipv4" : "ipv6"; }

std::string_view ModeWords(BgpMode m) {
  switch (m) {
    case BgpMode::kEbgp:
      return "eBGP, one private AS per node";
    case BgpMode::kFullMesh:
      return "iBGP full mesh in one rack";
    case BgpMode::kRouteReflector:
      return "iBGP per rack, the ToR reflecting; eBGP between racks";
  }
  return "";
}

// The cluster's pod range as a BIRD prefix set: it and every prefix inside it.
std::string PodSet(const ClusterSpec& spec) {
  return StrCat("[ ", net::IpPrefix::FromV4(spec.pod_cidr).ToString(), "+ ]");
}

// A session's import filter: exactly `accept` (a BIRD prefix set without '+' matches only the
// prefix itself), "none" for nothing.
std::string ImportFilter(const std::vector<net::IpPrefix>& accept) {
  if (accept.empty()) return "none";
  std::string set;
  for (const net::IpPrefix& p : accept) StrAppend(&set, set.empty() ? "" : ", ", p.ToString());
  return StrCat("where net ~ [ ", set, " ]");
}

// The pod CIDRs of the nodes `pick` says yes to, in node order.
template <typename Pred>
std::vector<net::IpPrefix> PodCidrs(const ClusterSpec& spec, Pred pick) {
  std::vector<net::IpPrefix> out;
  for (const config::NodeSpec& n : spec.nodes) {
    if (pick(n)) out.push_back(net::IpPrefix::FromV4(n.pod_cidr));
  }
  return out;
}

}  // namespace

std::string_view ToString(Role r) {
  switch (r) {
    case Role::kNode:
      return "node";
    case Role::kTor:
      return "tor";
    case Role::kSpine:
      return "spine";
  }
  return "?";
}

std::string ProtocolName(std::string_view peer_object) {
  std::string name(peer_object);
  std::replace(name.begin(), name.end(), '-', '_');
  if (name.empty() || !(name[0] >= 'a' && name[0] <= 'z')) name = StrCat("p_", name);
  if (IsBirdKeyword(name)) StrAppend(&name, "_peer");
  return name;
}

std::vector<Speaker> Speakers(const ClusterSpec& spec) {
  std::vector<Speaker> out;
  if (spec.network != config::NetworkMode::kBgp) return out;
  const bool spine = spec.racks.size() > 1;
  const bool rr = spec.bgp.mode == BgpMode::kRouteReflector;
  if (spine) {
    Speaker s;
    s.object = std::string(net::kSpineObject);
    s.role = Role::kSpine;
    s.netns = spec.spine_netns;
    s.router_id = *spec.racks[0].spine_end.V4();
    s.asn = spec.bgp.spine_asn;
    s.family = spec.racks[0].uplink.family();
    for (size_t ri = 0; ri < spec.racks.size(); ++ri) {
      const config::RackSpec& r = spec.racks[ri];
      s.peers.push_back({r.tor, r.tor_end, r.asn, StrCat("rack ", r.name, "'s top-of-rack router"),
                         false, PodCidrs(spec, [&](const config::NodeSpec& n) {
                           return n.rack == static_cast<int>(ri);
                         })});
    }
    out.push_back(std::move(s));
  }
  for (size_t ri = 0; ri < spec.racks.size(); ++ri) {
    const config::RackSpec& r = spec.racks[ri];
    Speaker s;
    s.object = r.tor;
    s.role = Role::kTor;
    s.netns = r.netns;
    s.router_id = *r.gateway.V4();
    s.asn = r.asn;
    s.family = r.cidr.family();
    for (int i : r.nodes) {
      const config::NodeSpec& n = spec.nodes[i];
      s.peers.push_back({n.name,
                         net::IpAddr::FromV4(n.underlay_ip),
                         n.asn,
                         StrCat("node ", n.name, " of this rack"),
                         rr,
                         {net::IpPrefix::FromV4(n.pod_cidr)}});
    }
    if (spine) {
      s.peers.push_back({std::string(net::kSpineObject), r.spine_end, spec.bgp.spine_asn,
                         "the spine, which joins the racks", false,
                         PodCidrs(spec, [&](const config::NodeSpec& n) {
                           return n.rack != static_cast<int>(ri);
                         })});
    }
    out.push_back(std::move(s));
  }
  for (const config::NodeSpec& n : spec.nodes) {
    const config::RackSpec& r = spec.racks[n.rack];
    Speaker s;
    s.object = n.name;
    s.role = Role::kNode;
    s.netns = n.netns;
    s.router_id = n.underlay_ip;
    s.asn = n.asn;
    s.family = r.cidr.family();
    s.announce.push_back(net::IpPrefix::FromV4(n.pod_cidr));
    const bool mesh = spec.bgp.mode == BgpMode::kFullMesh;
    // In a full mesh the ToR only listens: nothing is learned from it.
    s.peers.push_back(
        {r.tor, r.gateway, r.asn, "this rack's top-of-rack router", false,
         mesh ? std::vector<net::IpPrefix>{}
              : PodCidrs(spec, [&](const config::NodeSpec& o) { return o.index != n.index; })});
    if (mesh) {
      for (const config::NodeSpec& o : spec.nodes) {
        if (o.index == n.index) continue;
        s.peers.push_back({o.name,
                           net::IpAddr::FromV4(o.underlay_ip),
                           o.asn,
                           StrCat("node ", o.name, " (full mesh)"),
                           false,
                           {net::IpPrefix::FromV4(o.pod_cidr)}});
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string RenderBirdConfig(const ClusterSpec& spec, const Speaker& s) {
  const std::string_view ch = Channel(s.family);
  const std::string pods = PodSet(spec);
  std::string out = StrCat("# BIRD 2 configuration of ", s.object, "'s BGP speaker, AS ", s.asn,
                           ": lab \"", spec.name, "\",\n# bgp mode ",
                           config::ToString(spec.bgp.mode), " (", ModeWords(spec.bgp.mode), ").\n",
                           "# Rendered by minikube-net (lib/bgp) from the lab; `minikube-net plan` "
                           "prints it, `minikube-net bgp` shows its sessions.\n");
  // The log (logs/bird-<speaker>.log) says when each session goes up or down, and why.
  StrAppend(&out, "log stderr all;\n", "debug protocols { states };\n",
            "timeformat protocol iso long ms;\n", "router id ", s.router_id.ToString(), ";\n\n");
  StrAppend(&out,
            "# Interfaces and their addresses: BFD and directly connected sessions need them.\n",
            "protocol device {\n}\n\n");
  StrAppend(&out,
            "# Routes learned over BGP go into this namespace's kernel table (ip route: proto "
            "bird);\n# nothing is read back from it.\n",
            "protocol kernel {\n  ", ch,
            " {\n    import none;\n    export where source = RTS_BGP;\n  };\n}\n\n");
  if (!s.announce.empty()) {
    StrAppend(&out,
              "# This node's pod CIDR, announced whole as Calico announces a node's IPAM block: a "
              "blackhole\n# route in BIRD's own table, never exported to the kernel (cbr0's "
              "connected route serves it).\n",
              "protocol static POD_CIDR {\n  ", ch, ";\n");
    for (const net::IpPrefix& p : s.announce)
      StrAppend(&out, "  route ", p.ToString(), " blackhole;\n");
    StrAppend(&out, "}\n\n");
  }
  StrAppend(&out, "# BFD on every interface: a peer silent for ", kBfdMultiplier, " x ",
            kBfdIntervalMs, " ms is down, and so is the session with it.\n",
            "protocol bfd {\n  interface \"*\" {\n    interval ", kBfdIntervalMs,
            " ms;\n    multiplier ", kBfdMultiplier, ";\n  };\n}\n\n");
  StrAppend(&out,
            "# What every session shares: the shortest timers BIRD takes, BFD, and no graceful "
            "restart,\n# so a stopped speaker's routes go at once instead of being kept as "
            "stale.\n",
            "template bgp PEER {\n  hold time ", kHoldTimeS, ";\n  keepalive time ", kKeepaliveS,
            ";\n  connect delay time ", kConnectDelayS, ";\n  connect retry time ", kConnectRetryS,
            ";\n  error wait time 1, 5;\n  graceful restart off;\n  bfd on;\n}\n");
  for (const Peer& p : s.peers) {
    const bool ibgp = p.asn == s.asn;
    StrAppend(&out, "\n# ", p.object, ": ", p.what, ", AS ", p.asn, " (", ibgp ? "iBGP" : "eBGP",
              ").\n");
    // What this session exports, and why its next hops resolve (bird_config.h).
    std::string export_filter;
    std::string next_hop;
    switch (s.role) {
      case Role::kNode:
        export_filter = "where proto = \"POD_CIDR\"";
        StrAppend(&out, "# Exports only this node's pod CIDR; learns the others. ",
                  ibgp ? "iBGP keeps the originating\n# node as next hop: on this rack's link."
                       : "Next hops: the node itself\n# within the rack, the ToR from other racks.",
                  "\n");
        break;
      case Role::kTor:
        export_filter = StrCat("where net ~ ", pods);
        if (p.rr_client) {
          next_hop = "    next hop self ebgp;\n";
          StrAppend(&out,
                    "# A route reflector client: its routes are reflected to the rack with its own "
                    "next hop;\n# routes from the spine leave with this ToR as next hop (next hop "
                    "self ebgp), since the\n# node has no route to the spine's address.\n");
        } else if (spec.bgp.mode == BgpMode::kFullMesh) {
          export_filter = "none";
          StrAppend(&out,
                    "# Full mesh: every node tells every speaker itself; the ToR only listens.\n");
        } else if (p.object == net::kSpineObject) {
          StrAppend(&out,
                    "# Passes the rack's pod CIDRs up and the other racks' down, with this "
                    "ToR as next hop.\n");
        } else {
          StrAppend(&out,
                    "# Passes every pod CIDR; one from a node of this rack keeps that node as "
                    "next hop (same link).\n");
        }
        break;
      case Role::kSpine:
        export_filter = StrCat("where net ~ ", pods);
        StrAppend(&out,
                  "# Passes each rack's pod CIDRs to the others, with the spine as next "
                  "hop.\n");
        break;
    }
    StrAppend(&out, "protocol bgp ", ProtocolName(p.object), " from PEER {\n", "  description \"",
              p.object, "\";\n", "  local as ", s.asn, ";\n", "  neighbor ", p.address.ToString(),
              " as ", p.asn, ";\n");
    // BIRD takes an iBGP neighbour for a multihop one unless told otherwise (and would then resolve
    // its next hops recursively, through routes to them in its own table): this one is on the link.
    if (ibgp) StrAppend(&out, "  direct;\n");
    if (p.rr_client) StrAppend(&out, "  rr client;\n");
    // Only what this peer may originate or pass on (Peer::accept); the rest is kept, marked
    // filtered, for `birdc show route filtered` and the bgp verb's received vs accepted.
    StrAppend(&out, "  ", ch, " {\n", "    gateway direct;\n", next_hop, "    import ",
              ImportFilter(p.accept), ";\n", "    import keep filtered on;\n", "    export ",
              export_filter, ";\n", "  };\n}\n");
  }
  return out;
}

}  // namespace mkn::bgp
