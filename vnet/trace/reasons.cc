// vnet/trace/reasons — why the probe went on from each hop, read from the kernel where it was seen
// (reasons.h). Split from trace.cc, whose RunTrace calls it after the probe's loop.
#include "vnet/trace/reasons.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"
#include "vnet/kernel/conntrack.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/nft.h"

namespace mkn::vnet {
namespace {

using trace::Flow;
using trace::Hop;
using trace::Leg;

// RTPROT_BIRD (<linux/rtnetlink.h>): the routes BIRD installs.
constexpr int kRtprotBird = 12;

std::string FlowText(const KernelFlow& k) {
  // The reply tuple says both rewrites: its source is the DNAT's target, its destination the
  // masquerade's address and port (a NodePort's).
  const bool snat = k.reply_dst != k.orig_src || k.reply_dport != k.orig_sport;
  return StrCat(k.protocol, " ", k.orig_src.ToString(), ":", k.orig_sport, " > ",
                k.orig_dst.ToString(), ":", k.orig_dport, " DNAT to ", k.reply_src.ToString(), ":",
                k.reply_sport,
                snat ? StrCat(", SNAT to ", k.reply_dst.ToString(), ":", k.reply_dport) : "");
}

// A routing table as `ip route` names it: "local" (255), "default" (253), else its number.
std::string TableName(int table) {
  if (table == 255) return "local";
  if (table == 253) return "default";
  return StrCat(table);
}

// The kernel's route lookup for the packet `k` (lib/trace's RouteKeyOf) in the calling thread's
// netns, as `ip route get DST [from SRC iif DEV] ipproto P [sport S] dport D` says it, so that a
// FIB rule on the protocol, ports or input device is honoured (the userspace proxy's NodePorts go
// into its TUN by one: "dev mkn-proxy table 100"); the table when it is not main. A packet that
// came in by a bridge's port entered the stack at the bridge. An input lookup the kernel refuses
// (a source reverse-path filtering drops, say) is asked again as an output lookup, which is what
// trace asked before it knew of input lookups. A router (`kind` "router") says it is one: its
// routes are the fabric's, BIRD's in a bgp lab.
std::string RouteReason(NlSocket& nl, const trace::RouteKey& k, std::string_view kind,
                        std::string_view object) {
  RouteGet q;
  q.dst = k.dst;
  switch (k.proto) {
    case trace::Proto::kTcp:
      q.ipproto = IPPROTO_TCP;
      break;
    case trace::Proto::kUdp:
      q.ipproto = IPPROTO_UDP;
      break;
    case trace::Proto::kIcmp:
      q.ipproto = IPPROTO_ICMP;
      break;
  }
  q.sport = k.sport;
  q.dport = k.dport;
  if (!k.iif.empty() && k.src) {
    absl::StatusOr<LinkInfo> l = nl.GetLink(k.iif);
    if (l.ok()) {
      q.iif = l->master > 0 ? l->master : l->index;
      q.src = k.src;
    }
  }
  absl::StatusOr<RouteInfo> r = nl.GetRoute(q);
  if (!r.ok() && q.iif > 0 && !absl::IsNotFound(r.status())) {
    q.iif = 0;
    q.src.reset();
    r = nl.GetRoute(q);
  }
  if (!r.ok()) return StrCat("route get ", k.dst.ToString(), ": ", r.status().message());
  std::string dev;
  if (r->oif > 0) {
    absl::StatusOr<LinkInfo> l = nl.GetLink(r->oif);
    dev = l.ok() ? l->name : StrCat(r->oif);
  }
  return StrCat(kind == "router" ? StrCat("routed by ", object, ": ") : "", "route ",
                r->type == "unicast" ? "" : StrCat(r->type, " "), r->dst.ToString(),
                r->gateway ? StrCat(" via ", r->gateway->ToString()) : "",
                dev.empty() ? "" : StrCat(" dev ", dev),
                r->protocol == kRtprotBird ? " proto bird" : "",
                r->table != 254 && r->table != 0 ? StrCat(" table ", TableName(r->table)) : "");
}

// The egress masquerade's conntrack entry: the original tuple and the address (and port) the node
// gave it, which the reply tuple's destination is.
std::string SnatText(const KernelFlow& k) {
  if (k.protocol == "icmp") {
    return StrCat("icmp ", k.orig_src.ToString(), " > ", k.orig_dst.ToString(), " id ",
                  k.orig_sport, " SNAT to ", k.reply_dst.ToString(), " id ", k.reply_dport);
  }
  return StrCat(k.protocol, " ", k.orig_src.ToString(), ":", k.orig_sport, " > ",
                k.orig_dst.ToString(), ":", k.orig_dport, " SNAT to ", k.reply_dst.ToString(), ":",
                k.reply_dport);
}

// The masquerade rule of the calling thread's netns (lib/world's `table ip mkn-egress`) with its
// counter, as nft lists it: "masquerade (counter packets 3 bytes 252)"; "" when it is not there.
std::string EgressRuleText() {
  absl::StatusOr<std::string> listed =
      NftOutput(StrCat("list chain ip ", net::kEgressTable, " postrouting"));
  if (!listed.ok()) return "";
  for (absl::string_view piece : absl::StrSplit(AsAbsl(*listed), '\n')) {
    const std::string_view line = AsStd(piece);
    if (line.find("masquerade") == std::string_view::npos) continue;
    const size_t c = line.find("counter ");
    const size_t m = line.find(" masquerade", c == std::string_view::npos ? 0 : c);
    const std::string counter = c == std::string_view::npos || m == std::string_view::npos
                                    ? ""
                                    : StrCat(" (", line.substr(c, m - c), ")");
    return StrCat("nft table ip ", net::kEgressTable, " postrouting: masquerade", counter);
  }
  return "";
}

// Reads the kernel's reason at each hop that saw the probe, one thread per namespace.
std::string NudName(uint16_t state) {
  switch (state) {
    case 0x01:
      return "INCOMPLETE";
    case 0x02:
      return "REACHABLE";
    case 0x04:
      return "STALE";
    case 0x08:
      return "DELAY";
    case 0x10:
      return "PROBE";
    case 0x20:
      return "FAILED";
    case 0x40:
      return "NOARP";
    case 0x80:
      return "PERMANENT";
  }
  return StrCat("state ", state);
}

// What the kernel of one namespace holds, read once for all its hops.
struct KernelTables {
  NlSocket& nl;
  std::optional<std::vector<NeighInfo>> fdb, neigh;
  std::map<int, std::string> names;

  const std::vector<NeighInfo>& Fdb() {
    if (!fdb) fdb = nl.ListNeighbors(AF_BRIDGE).value_or(std::vector<NeighInfo>{});
    return *fdb;
  }
  const std::vector<NeighInfo>& Neigh() {
    if (!neigh) neigh = nl.ListNeighbors(AF_INET).value_or(std::vector<NeighInfo>{});
    return *neigh;
  }
  std::string Name(int ifindex) {
    auto it = names.find(ifindex);
    if (it != names.end()) return it->second;
    absl::StatusOr<LinkInfo> l = nl.GetLink(ifindex);
    return names[ifindex] = l.ok() ? l->name : StrCat("if", ifindex);
  }
  // The bridge's forwarding entry for `mac`: which port it leaves by, or that it is the bridge's
  // own address (up to this namespace's stack).
  std::string BridgeReason(const std::optional<net::Mac>& mac, std::string_view fallback) {
    if (!mac) return std::string(fallback);
    for (const NeighInfo& e : Fdb()) {
      if (e.master == 0 || !e.mac || *e.mac != *mac) continue;
      const std::string bridge = Name(e.master), port = Name(e.ifindex);
      if (e.ifindex == e.master || (e.state & 0x80) != 0) {
        return StrCat("bridge ", bridge, ": fdb ", mac->ToString(), " is its own (", port,
                      "): up to the stack");
      }
      return StrCat("bridge ", bridge, ": fdb ", mac->ToString(), " -> port ", port);
    }
    return StrCat(fallback, ": no fdb entry for ", mac->ToString(), " (flooded)");
  }
  // The ARP entry of `ip` on `dev`.
  std::string NeighReason(net::Ipv4 ip, std::string_view dev) {
    for (const NeighInfo& e : Neigh()) {
      if (e.ip && *e.ip == ip && Name(e.ifindex) == dev) {
        return StrCat("neigh ", ip.ToString(), " lladdr ",
                      e.mac ? e.mac->ToString() : std::string("-"), " ", NudName(e.state), " dev ",
                      dev);
      }
    }
    return StrCat("no neighbour entry for ", ip.ToString(), " on ", dev);
  }
  // A VXLAN device: the route's gateway (the peer's VTEP address), its neighbour entry (the
  // peer's VTEP MAC) and the FDB entry that names the peer's underlay address.
  std::string VxlanReason(net::Ipv4 dst, std::string_view dev) {
    absl::StatusOr<RouteInfo> r = nl.GetRoute(dst);
    if (!r.ok() || !r->gateway)
      return "VXLAN FDB: the peer node's VTEP MAC -> its underlay address";
    std::optional<net::Mac> mac;
    std::string text = StrCat("neigh ", r->gateway->ToString(), " lladdr ");
    for (const NeighInfo& e : Neigh()) {
      if (e.ip && *e.ip == *r->gateway && Name(e.ifindex) == dev) mac = e.mac;
    }
    if (!mac) return StrCat("no neighbour entry for ", r->gateway->ToString(), " on ", dev);
    StrAppend(&text, mac->ToString());
    for (const NeighInfo& e : Fdb()) {
      if (e.mac && *e.mac == *mac && e.ip && Name(e.ifindex) == dev)
        return StrCat(text, "; fdb ", mac->ToString(), " dst ", e.ip->ToString());
    }
    return StrCat(text, "; no fdb entry for it on ", dev);
  }
};

}  // namespace

// SRC's own route to DST (a pod's or a node's namespace; "" for `host` or when it cannot be
// read): the reason when the probe never left, or left a way no predicted hop sees.
std::string SourceRoute(const trace::Request& r) {
  if (r.src.netns.empty()) return "";
  absl::StatusOr<Fd> ns = OpenNetns(r.src.netns);
  if (!ns.ok()) return "";
  std::string text;
  (void)RunInNetns(ns->get(), [&]() -> absl::Status {
    MKN_ASSIGN_OR_RETURN(NlSocket nl, NlSocket::Open());
    text = RouteReason(nl, trace::SourceRouteKey(r), r.src.kind, r.src.object);
    return absl::OkStatus();
  });
  return text;
}

// `ip -n NETNS route get DST` over netlink: a CNI lab's route, which its plugins made. A lookup
// that fails is an answer too (its error is the kernel's: ENETUNREACH's text, as `ip` prints it).
trace::RouteAnswer AskRoute(const trace::RouteQuery& q) {
  trace::RouteAnswer a;
  a.query = q;
  absl::StatusOr<Fd> ns = OpenNetns(q.netns);
  if (!ns.ok()) {
    a.error = std::string(ns.status().message());
    return a;
  }
  absl::Status done = RunInNetns(ns->get(), [&]() -> absl::Status {
    MKN_ASSIGN_OR_RETURN(NlSocket nl, NlSocket::Open());
    absl::StatusOr<RouteInfo> r = nl.GetRoute(q.dst, /*fib_match=*/false);
    if (!r.ok()) {
      a.error = absl::IsNotFound(r.status()) ? std::strerror(ENETUNREACH)
                                             : std::string(r.status().message());
      return absl::OkStatus();
    }
    a.ok = true;
    a.src = r->prefsrc.value_or(net::Ipv4{});
    a.via = r->gateway;
    if (r->oif > 0) {
      absl::StatusOr<LinkInfo> l = nl.GetLink(r->oif);
      a.dev = l.ok() ? l->name : StrCat("if", r->oif);
    }
    return absl::OkStatus();
  });
  if (!done.ok()) {
    a.ok = false;
    a.error = std::string(done.message());
  }
  return a;
}

void ReadReasons(const trace::Path& p, std::vector<trace::Observation>& seen,
                 const std::vector<std::optional<net::Mac>>& macs) {
  std::map<std::string, std::vector<size_t>> by_netns;
  for (size_t i = 0; i < p.hops.size(); ++i) {
    if (!seen[i].seen && p.hops[i].Sniffed()) continue;
    if (p.hops[i].why.empty()) continue;
    by_netns[p.hops[i].netns].push_back(i);
  }
  for (const auto& [netns, hops] : by_netns) {
    absl::StatusOr<Fd> ns = OpenNetns(netns);
    if (!ns.ok()) continue;
    (void)RunInNetns(ns->get(), [&]() -> absl::Status {
      absl::StatusOr<NlSocket> nl = NlSocket::Open();
      std::optional<KernelTables> tables;
      if (nl.ok()) tables.emplace(KernelTables{*nl, {}, {}, {}});
      std::optional<std::vector<KernelFlow>> flows;
      for (size_t i : hops) {
        const Hop& h = p.hops[i];
        std::string& why = seen[i].why;
        // A CNI lab's node or underlay interface that is a bridge's port (the bridge plugin's
        // veths, the underlay's port of each node): the
        // bridge's FDB decided, not a route (the frame goes up to the stack, or out of a port).
        if (p.cni && h.kind != "pod" && h.Sniffed() && macs[i] && tables) {
          absl::StatusOr<LinkInfo> l = nl->GetLink(h.ifname);
          if (l.ok() && l->master > 0) {
            why = tables->BridgeReason(macs[i], StrCat("bridged by ", tables->Name(l->master)));
            continue;
          }
        }
        if (h.why == "route" && nl.ok()) {
          // Encapsulated, the packet's own destination is the outer one (RouteKeyOf).
          why = RouteReason(*nl, trace::RouteKeyOf(h), h.kind, h.object);
        } else if (h.why == "nat" && !h.Sniffed()) {
          // The probe's socket already proved a translation undone on input (SocketProof).
          const std::string proof = std::exchange(why, "");
          if (!flows) {
            absl::StatusOr<std::vector<KernelFlow>> f = ListKernelFlows();
            flows = f.ok() ? *f : std::vector<KernelFlow>{};
          }
          const Flow& f = h.leg == Leg::kRequest ? h.flow : h.flow.Reversed();
          for (const KernelFlow& k : *flows) {
            if (k.orig_src == f.src && k.orig_sport == f.sport && k.orig_dst == f.dst &&
                k.orig_dport == f.dport)
              why = StrCat("conntrack ", FlowText(k));
          }
          // Masqueraded (a CNI lab's edge upstream, from the node's address): the port seen
          // after it is the masquerade's pick, the reply tuple's.
          for (const KernelFlow& k : *flows) {
            if (why.empty() && h.http && k.orig_src == f.src && k.orig_dst == f.dst &&
                k.orig_dport == f.dport && k.reply_dport == f.sport)
              why = StrCat("conntrack ", FlowText(k));
          }
          if (why.empty()) why = "no conntrack entry for the probe";
          if (!proof.empty()) StrAppend(&why, "; ", proof);
        } else if (h.why == "snat") {
          // The world's egress: the masquerade's rule (its counter moved by the probe) on the
          // way out, and on both legs the flow's conntrack entry with the node's address in it.
          if (!flows) {
            absl::StatusOr<std::vector<KernelFlow>> f = ListKernelFlows();
            flows = f.ok() ? *f : std::vector<KernelFlow>{};
          }
          const Flow& f = h.leg == Leg::kRequest ? h.flow : h.flow.Reversed();
          std::string entry;
          for (const KernelFlow& k : *flows) {
            if (k.protocol == trace::ToString(f.proto) && k.orig_src == f.src &&
                k.orig_sport == f.sport && k.orig_dst == f.dst && k.orig_dport == f.dport)
              entry = StrCat("conntrack ", SnatText(k));
          }
          if (entry.empty()) entry = "no conntrack entry for the probe";
          if (h.leg == Leg::kRequest) {
            const std::string rule = EgressRuleText();
            why = rule.empty() ? entry : StrCat(rule, "; ", entry);
          } else {
            why = StrCat(entry, ": the answer goes back to ", f.src.ToString());
          }
        } else if (h.why == "nat") {
          why = "into the userspace proxy (minikube-net conntrack shows its flows)";
        } else if (h.why == "pump") {
          why = "into the Geneve pump (userspace): to the peer node's underlay address, UDP 6081";
        } else if (h.why == "fdb" && tables) {
          why = tables->VxlanReason(h.flow.dst, h.ifname);
        } else if (h.why == "bridge" && tables) {
          const std::string fallback = h.kind == "router"
                                           ? StrCat("bridged by ", h.object, "'s br0")
                                       : h.object == net::kUnderlayObject ? "bridged by br0"
                                                                          : "bridged by cbr0";
          // A router's bridge says whose it is: "tor-r1 bridge br0: ...".
          why = StrCat(h.kind == "router" ? StrCat(h.object, " ") : "",
                       tables->BridgeReason(macs[i], fallback));
        } else if (h.why == "local") {
          why = "local delivery";
        } else if (h.why == "neigh" && tables) {
          why = tables->NeighReason(h.flow.dst, h.ifname);
        }
      }
      return absl::OkStatus();
    });
  }
}

}  // namespace mkn::vnet
