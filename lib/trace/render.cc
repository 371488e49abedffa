// lib/trace/render — the halves of trace's decisions that read a predicted path: each hop's libpcap
// filter, the prediction as text, the verdict against what was seen, and the table and JSON.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/strings/str_cat.h"
#include "lib/trace/trace.h"

namespace mkn::trace {

namespace {

std::string Hex32(net::Ipv4 ip) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", ip.value);
  return buf;
}

}  // namespace

// --- Filters -----------------------------------------------------------------------------------

namespace {

// A filter's top-level " and " terms; the filter whole when it has a top-level " or " (pcap's
// and/or bind equally, left to right: such a filter is no plain conjunction).
std::vector<std::string> AndTerms(const std::string& f) {
  std::vector<std::string> terms;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '(' || f[i] == '[') {
      ++depth;
    } else if (f[i] == ')' || f[i] == ']') {
      --depth;
    } else if (depth == 0 && f.compare(i, 4, " or ") == 0) {
      return {f};
    } else if (depth == 0 && f.compare(i, 5, " and ") == 0) {
      terms.push_back(f.substr(start, i - start));
      start = i + 5;
      i += 4;
    }
  }
  terms.push_back(f.substr(start));
  return terms;
}

// The filter's form with every number (address, port, offset, hex value) as '#': the hops of one
// kind on different branches have the same form.
std::string Form(const std::string& f) {
  std::string out;
  for (size_t i = 0; i < f.size();) {
    if (std::isdigit(static_cast<unsigned char>(f[i])) != 0) {
      while (i < f.size() && (std::isxdigit(static_cast<unsigned char>(f[i])) != 0 || f[i] == 'x'))
        ++i;
      out += '#';
    } else {
      out += f[i++];
    }
  }
  return out;
}

}  // namespace

std::string UnionFilter(const std::vector<std::string>& filters) {
  // Grouped by form, in order of first appearance; duplicates once.
  std::vector<std::pair<std::string, std::vector<std::vector<std::string>>>> groups;
  std::set<std::string> seen;
  for (const std::string& f : filters) {
    if (f.empty() || !seen.insert(f).second) continue;
    const std::string form = Form(f);
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == form; });
    if (it == groups.end()) it = groups.insert(groups.end(), {form, {}});
    it->second.push_back(AndTerms(f));
  }
  std::string out;
  for (const auto& [form, members] : groups) {
    // The terms every member has, once, in the first member's order; each member is those and
    // the rest of its own: (C and V1) or (C and V2) ... = C and (V1 or V2 ...).
    std::vector<std::string> common;
    for (const std::string& t : members.front()) {
      const bool everywhere = std::all_of(members.begin(), members.end(), [&](const auto& m) {
        return std::find(m.begin(), m.end(), t) != m.end();
      });
      if (everywhere && std::find(common.begin(), common.end(), t) == common.end())
        common.push_back(t);
    }
    std::string alternatives;
    bool any = false;  // a member that is the common terms alone: the alternatives add nothing
    for (const auto& m : members) {
      std::string rest;
      for (const std::string& t : m)
        if (std::find(common.begin(), common.end(), t) == common.end())
          StrAppend(&rest, rest.empty() ? "" : " and ", t);
      if (rest.empty()) any = true;
      StrAppend(&alternatives, alternatives.empty() ? "(" : " or (", rest, ")");
    }
    std::string group;
    for (const std::string& t : common) StrAppend(&group, group.empty() ? "" : " and ", t);
    if (!any && members.size() > 1) {
      StrAppend(&group, group.empty() ? "" : " and ", "(", alternatives, ")");
    } else if (!any) {
      group = alternatives;  // one member: itself, in its parentheses
    }
    StrAppend(&out, out.empty() ? "(" : " or (", group, ")");
  }
  return out;
}

std::string FilterFor(const Hop& h) {
  const Flow& f = h.flow;
  const bool request = h.leg == Leg::kRequest;
  // A masquerade's random port (the client's) is left out.
  // A port of 0 is the probe's mark before it is picked (`trace --dry-run`): left out too.
  const bool any_sport = (h.random_port && request) || f.sport == 0;
  const bool any_dport = (h.random_port && !request) || f.dport == 0;
  const std::string ports = StrCat(any_sport ? "" : StrCat(" and src port ", f.sport),
                                   any_dport ? "" : StrCat(" and dst port ", f.dport));
  if (!h.outer) {
    std::string s = StrCat(ToString(f.proto), " and src host ", f.src.ToString(), " and dst host ",
                           f.dst.ToString());
    switch (f.proto) {
      case Proto::kIcmp:
        StrAppend(&s, " and icmp[0] == ", request ? 8 : 0,
                  f.sport == 0 ? "" : StrCat(" and icmp[4:2] == ", f.sport));
        break;
      case Proto::kTcp:
        if (h.http) {
          // A segment with data: the IP total length beyond both headers.
          StrAppend(&s, ports,
                    " and (ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) != 0");
          break;
        }
        // The reply: the SYN-ACK, or the RST of a port nothing listens on (a refusal).
        StrAppend(&s, ports,
                  request ? " and tcp[13] & 0x12 == 0x02"
                          : " and (tcp[13] & 0x12 == 0x12 or tcp[13] & 0x04 != 0)");
        break;
      case Proto::kUdp:
        StrAppend(&s, ports);
        if (!request) {
          // Or the refusal: an ICMP destination unreachable back to the client that quotes the
          // probe (its IPv4 header at icmp[8], 20 bytes; its UDP ports at icmp[28] and icmp[30]).
          // The sender is not checked: a router may say "host unreachable" for the destination.
          s = StrCat("(", s, ") or (icmp and dst host ", f.dst.ToString(),
                     " and icmp[0] == 3 and icmp[17] == 17 and icmp[20:4] == ", Hex32(f.dst),
                     " and icmp[24:4] == ", Hex32(f.src),
                     any_dport ? "" : StrCat(" and icmp[28:2] == ", f.dport),
                     " and icmp[30:2] == ", f.sport, ")");
        }
        break;
    }
    return s;
  }
  // Inside the encapsulation, by offsets from the UDP header (libpcap 1.10 has no `vxlan`, and its
  // `geneve`, which skips any options, compiles to so many instructions that a union of a path's
  // filters passes the kernel's 4096-instruction limit). VXLAN: UDP 8, VXLAN 8, inner Ethernet 14,
  // so the inner IPv4 header at udp[30]; Geneve as minikube-net's pump sends it: UDP 8, the base
  // header 8 and one 8-byte option (Opt Len 2, checked), so udp[38]. The inner IPv4 header is 20
  // bytes: the kernel sends these probes without options.
  const bool geneve = h.encap == "geneve";
  const int ip = geneve ? 38 : 30, l4 = ip + 20;
  auto at = [](int off, std::string_view size = "") {
    return StrCat("udp[", off, size.empty() ? "" : ":", size, "]");
  };
  const std::string l4_ports =
      StrCat(any_sport ? "" : StrCat(" and ", at(l4, "2"), " == ", f.sport),
             any_dport ? "" : StrCat(" and ", at(l4 + 2, "2"), " == ", f.dport));
  const std::string head =
      StrCat("udp dst port ", geneve ? 6081 : config::kVxlanPort, " and src host ",
             h.outer->first.ToString(), " and dst host ", h.outer->second.ToString(),
             geneve ? " and udp[8] & 0x3f == 2" : "");
  std::string s = StrCat(head, " and ", at(ip + 9), " == ",
                         f.proto == Proto::kIcmp  ? 1
                         : f.proto == Proto::kTcp ? 6
                                                  : 17,
                         " and ", at(ip + 12, "4"), " == ", Hex32(f.src), " and ", at(ip + 16, "4"),
                         " == ", Hex32(f.dst));
  switch (f.proto) {
    case Proto::kIcmp:
      StrAppend(&s, " and ", at(l4), " == ", request ? 8 : 0,
                f.sport == 0 ? "" : StrCat(" and ", at(l4 + 4, "2"), " == ", f.sport));
      break;
    case Proto::kTcp:
      if (h.http) {
        StrAppend(&s, l4_ports, " and (", at(ip + 2, "2"), " - 20 - ((", at(l4 + 12),
                  " & 0xf0) >> 2)) != 0");
        break;
      }
      StrAppend(
          &s, l4_ports, " and ",
          request ? StrCat(at(l4 + 13), " & 0x12 == 0x02")
                  : StrCat("(", at(l4 + 13), " & 0x12 == 0x12 or ", at(l4 + 13), " & 0x04 != 0)"));
      break;
    case Proto::kUdp:
      StrAppend(&s, l4_ports);
      if (!request) {
        // Or the ICMP destination unreachable that quotes the probe, as above.
        s = StrCat(head, " and ((", s.substr(head.size() + 5), ") or (", at(ip + 9), " == 1 and ",
                   at(ip + 16, "4"), " == ", Hex32(f.dst), " and ", at(l4), " == 3 and ",
                   at(l4 + 17), " == 17 and ", at(l4 + 20, "4"), " == ", Hex32(f.dst), " and ",
                   at(l4 + 24, "4"), " == ", Hex32(f.src),
                   any_dport ? "" : StrCat(" and ", at(l4 + 28, "2"), " == ", f.dport), " and ",
                   at(l4 + 30, "2"), " == ", f.sport, "))");
      }
      break;
  }
  return s;
}

// --- Rendering ---------------------------------------------------------------------------------

namespace {

std::string Where(const Hop& h) {
  return h.Sniffed() ? StrCat(h.object, ":", h.ifname) : StrCat(h.object, " (", h.role, ")");
}

// `random_port`: the client's port is a masquerade's pick, shown as "*" where it is predicted.
std::string FlowText(const Flow& f, Leg leg, bool random_port = false,
                     std::string_view refused = "", int icmp_code = -1, bool http = false) {
  if (!refused.empty() && icmp_code >= 0) {
    // The ICMP error, and the probe it quotes.
    return StrCat("icmp ", f.src.ToString(), " > ", f.dst.ToString(), " unreachable (code ",
                  icmp_code, ") for ", ToString(f.proto), " ", f.dst.ToString(), ":", f.dport,
                  " > ", f.src.ToString(), ":", f.sport);
  }
  // A masquerade's pick, or the probe's mark before it is picked (0, `trace --dry-run`).
  const bool any_sport = (random_port && leg == Leg::kRequest) || f.sport == 0;
  const bool any_dport = (random_port && leg == Leg::kReply) || f.dport == 0;
  std::string s = StrCat(ToString(f.proto), " ", f.src.ToString());
  if (f.proto != Proto::kIcmp) StrAppend(&s, ":", any_sport ? "*" : StrCat(f.sport));
  StrAppend(&s, " > ", f.dst.ToString());
  if (f.proto != Proto::kIcmp) StrAppend(&s, ":", any_dport ? "*" : StrCat(f.dport));
  if (f.proto == Proto::kIcmp)
    StrAppend(&s, leg == Leg::kRequest ? " echo request" : " echo reply", " id ",
              f.sport == 0 ? "*" : StrCat(f.sport));
  if (f.proto == Proto::kTcp && http) {
    StrAppend(&s, leg == Leg::kRequest ? " HTTP request" : " HTTP response");
  } else if (f.proto == Proto::kTcp) {
    StrAppend(&s, leg == Leg::kRequest ? " SYN" : !refused.empty() ? " RST" : " SYN-ACK");
  }
  return s;
}

std::string OuterText(const std::optional<std::pair<net::Ipv4, net::Ipv4>>& o,
                      std::string_view encap) {
  if (!o) return "";
  return StrCat(" in ", encap.empty() ? "vxlan" : encap, " ", o->first.ToString(), " > ",
                o->second.ToString());
}

std::string Pad(std::string s, size_t n) {
  if (s.size() < n) s.append(n - s.size(), ' ');
  return s;
}

}  // namespace

std::string CniFilter(const Path& p) {
  std::string f;
  std::vector<std::string_view> have;
  for (const Hop& h : p.hops) {
    // Each form of the packet once: as its pod sends it, and through a Service also as the other
    // end receives it (the translated request, the reply with the ClusterIP back).
    if (!h.Sniffed() || std::find(have.begin(), have.end(), h.filter) != have.end()) continue;
    have.push_back(h.filter);
    StrAppend(&f, f.empty() ? "(" : " or (", h.filter, ")");
  }
  // Inside VXLAN or Geneve (the node routes a CNI lab may use): vnet/trace looks inside.
  StrAppend(&f, " or (udp dst port ", config::kVxlanPort, ") or (udp dst port 6081)");
  return f;
}

RouteKey RouteKeyOf(const Hop& h) {
  RouteKey k;
  const bool in = h.Sniffed() && h.dir == Direction::kIn;
  if (h.outer) {
    // The kernel routes the outer packet: UDP to the encapsulation's port, from a source port
    // hashed from the inner flow (not known here, so not asked).
    k.dst = h.outer->second;
    k.proto = Proto::kUdp;
    k.dport = h.encap == "geneve" ? 6081 : 4789;
    if (in) k.src = h.outer->first;
  } else {
    const Flow& f = h.flow;
    const bool request = h.leg == Leg::kRequest;
    k.dst = f.dst;
    k.proto = f.proto;
    if (f.proto != Proto::kIcmp) {
      k.sport = h.random_port && request ? 0 : f.sport;
      k.dport = h.random_port && !request ? 0 : f.dport;
    }
    if (in) k.src = f.src;
  }
  if (in) k.iif = h.ifname;
  return k;
}

RouteKey SourceRouteKey(const Request& r) {
  RouteKey k;
  k.dst = r.dst.ip;
  k.proto = r.proto;
  if (r.proto != Proto::kIcmp) {
    k.sport = r.id;
    k.dport = r.dst.port;
  }
  return k;
}

std::string RenderPrediction(const Path& p) {
  // The header as the real run's (RenderTable), with a "# " in front.
  std::string out = StrCat(
      "# trace ", p.request.src.word, " -> ", p.request.dst.word, " (", ToString(p.request.proto),
      ", network ", p.cni || p.cni_lab ? "cni" : config::ToString(p.network), ", proxy ",
      config::ToString(p.proxy),
      p.request.service.empty() ? "" : StrCat(", Service ", p.request.service), ")\n");
  if (p.request.id == 0) {
    StrAppend(&out, "# the probe's mark (",
              p.request.proto == Proto::kIcmp ? "its echo identifier" : "its source port",
              ") is picked when it is sent: * here, and left out of the filters\n");
  }
  for (size_t e = 0; e < p.endpoints.size(); ++e)
    StrAppend(&out, "# branch ", e, ": endpoint ", p.endpoints[e], "\n");
  for (const Place& place : p.sniff_all)
    StrAppend(&out, "# every interface of ", place.kind, " ", place.object, " (", place.netns,
              ")\n");
  if (p.cni) StrAppend(&out, "# filter: ", CniFilter(p), "\n");
  // WHERE as wide as its longest (a NodePort's translation point), so DIR keeps its column.
  size_t where = 34;
  for (const Hop& h : p.hops) where = std::max(where, Where(h).size() + 1);
  for (const Hop& h : p.hops) {
    StrAppend(
        &out, Pad(std::string(ToString(h.leg)), 8), Pad(h.branch < 0 ? "*" : StrCat(h.branch), 3),
        Pad(Where(h), where), Pad(h.Sniffed() ? std::string(ToString(h.dir)) : "-", 4),
        FlowText(h.flow, h.leg, h.random_port, "", -1, h.http), OuterText(h.outer, h.encap), "\n");
    if (h.Sniffed()) StrAppend(&out, "                filter: ", h.filter, "\n");
  }
  return out;
}

void DiedAtSource(Path& p, std::vector<Observation>& seen, std::string_view why) {
  Hop h;
  h.leg = Leg::kRequest;
  h.object = p.request.src.object;
  h.kind = p.request.src.kind;
  h.netns = p.request.src.netns;
  h.dir = Direction::kOut;
  h.role = std::string(kSourceRouteRole);
  h.why = "route";
  // The packet as SRC meant to send it: the first hop's, else the request's own ends.
  h.flow = !p.hops.empty()
               ? p.hops.front().flow
               : Flow{p.request.proto, p.request.src.ip, p.request.dst.ip, p.request.id,
                      p.request.proto == Proto::kIcmp ? p.request.id : p.request.dst.port};
  p.hops.insert(p.hops.begin(), std::move(h));
  seen.resize(p.hops.size() - 1);
  Observation o;
  o.why = std::string(why);
  seen.insert(seen.begin(), std::move(o));
}

Verdict Judge(const Path& p, const std::vector<Observation>& seen) {
  Verdict v;
  const int branches = static_cast<int>(p.endpoints.size());
  auto on_branch = [&](const Hop& h, int b) { return h.branch == -1 || h.branch == b; };
  int best = -1, best_seen = -1;
  for (int b = 0; b < std::max(branches, 1); ++b) {
    const int want = branches == 0 ? -1 : b;
    int n = 0;
    for (size_t i = 0; i < p.hops.size(); ++i)
      if (p.hops[i].branch == want && i < seen.size() && seen[i].seen) ++n;
    if (n > best_seen) {
      best_seen = n;
      best = want;
    }
  }
  v.branch = best;
  for (size_t i = 0; i < p.hops.size(); ++i)
    if (on_branch(p.hops[i], best)) v.hops.push_back(static_cast<int>(i));
  for (size_t k = 0; k < v.hops.size(); ++k) {
    const int i = v.hops[k];
    const bool ok = static_cast<size_t>(i) < seen.size() && seen[i].seen;
    // A translation point no interface shows is proved by the hop after it.
    bool implied = false;
    if (!p.hops[i].Sniffed() && k + 1 < v.hops.size()) {
      const int next = v.hops[k + 1];
      implied = static_cast<size_t>(next) < seen.size() && seen[next].seen;
    }
    if (ok || implied) {
      v.last_seen = i;
      continue;
    }
    v.first_missing = i;
    break;
  }
  v.ok = v.first_missing < 0;
  // An edge that answered itself with an error (404, 502, 503, 504): the request died there.
  for (size_t k = 0; k < v.hops.size(); ++k) {
    const int i = v.hops[k];
    if (p.hops[i].kind != "edge" || static_cast<size_t>(i) >= seen.size() || !seen[i].seen ||
        seen[i].refused.empty())
      continue;
    v.ok = false;
    v.word = kVerdictLost;
    v.first_missing = i;
    v.last_seen = k > 0 ? v.hops[k - 1] : -1;
    v.summary =
        StrCat("lost at the edge: ", seen[i].refused,
               v.last_seen >= 0 ? StrCat("; last seen at ", Where(p.hops[v.last_seen])) : "");
    return v;
  }
  const Hop* last = v.last_seen >= 0 ? &p.hops[v.last_seen] : nullptr;
  // The first reply hop on the path: where the destination answered (or refused).
  int answer = -1;
  for (int i : v.hops) {
    if (p.hops[i].leg == Leg::kReply && p.hops[i].Sniffed()) {
      answer = i;
      break;
    }
  }
  const Observation* refusal =
      answer >= 0 && static_cast<size_t>(answer) < seen.size() && !seen[answer].refused.empty()
          ? &seen[answer]
          : nullptr;
  v.refused = v.ok && refusal != nullptr;
  v.word = v.refused ? kVerdictRefused : v.ok ? kVerdictOk : kVerdictLost;
  if (v.refused) {
    // The path works both ways; the destination said no. The same word as check's "refused".
    const bool port = refusal->icmp_code < 0 || refusal->icmp_code == 3;
    v.summary = StrCat("refused by ", p.hops[answer].object, " (", refusal->refused,
                       port ? "): the packet got there, nothing listens on that port"
                            : "): the packet got as far as that, no host answers its address",
                       best >= 0 ? StrCat(" (endpoint ", p.endpoints[best], ")") : "");
  } else if (v.ok) {
    int64_t total = 0;
    for (int i : v.hops)
      if (static_cast<size_t>(i) < seen.size() && seen[i].seen)
        total = std::max(total, seen[i].offset_ns);
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", static_cast<double>(total) / 1e6);
    v.summary = StrCat("ok: every predicted hop saw the probe, there and back, in ", ms, " ms",
                       best >= 0 ? StrCat(" (endpoint ", p.endpoints[best], ")") : "");
  } else if (const Hop& miss = p.hops[v.first_missing];
             miss.role == kSourceRouteRole && !miss.Sniffed()) {
    // DiedAtSource: its send failed, nothing left SRC.
    const std::string why =
        static_cast<size_t>(v.first_missing) < seen.size() ? seen[v.first_missing].why : "";
    v.summary = StrCat("lost at the source: ", miss.object, " did not send it (its ",
                       kSourceRouteRole, ")", why.empty() ? "" : StrCat(": ", why));
  } else {
    v.summary = StrCat("lost: not seen at ", Where(miss), " (", ToString(miss.leg), ", ",
                       ToString(miss.dir), ")",
                       last != nullptr ? StrCat("; last seen at ", Where(*last), " (",
                                                ToString(last->leg), ", ", ToString(last->dir), ")")
                                       : "; never seen");
    if (last != nullptr && static_cast<size_t>(v.last_seen) < seen.size() &&
        !seen[v.last_seen].why.empty())
      StrAppend(&v.summary, ": ", seen[v.last_seen].why);
  }
  return v;
}

void BlamePolicy(const Path& p, std::vector<Observation>& seen, Verdict& v, std::string_view by) {
  if (v.ok || by.empty() || v.first_missing < 0) return;
  const Hop& miss = p.hops[v.first_missing];
  const Hop* last = v.last_seen >= 0 ? &p.hops[v.last_seen] : nullptr;
  v.summary = StrCat("lost: ", by, ": not seen at ", Where(miss), " (", ToString(miss.leg), ", ",
                     ToString(miss.dir), ")",
                     last != nullptr ? StrCat("; last seen at ", Where(*last), " (",
                                              ToString(last->leg), ", ", ToString(last->dir), ")")
                                     : "; never seen");
  if (static_cast<size_t>(v.first_missing) >= seen.size()) seen.resize(v.first_missing + 1);
  seen[v.first_missing].why = std::string(by);
}

std::string RenderTable(const Path& p, const std::vector<Observation>& seen, const Verdict& v) {
  std::string out = StrCat(
      "trace ", p.request.src.word, " -> ", p.request.dst.word, " (", ToString(p.request.proto),
      ", network ", p.cni || p.cni_lab ? "cni" : config::ToString(p.network), ", proxy ",
      config::ToString(p.proxy),
      p.request.service.empty() ? "" : StrCat(", Service ", p.request.service), ")\n");
  // WHERE as wide as its widest entry (a translation point's role is long: "node1 (nft DNAT +
  // masquerade (NodePort))"), so that every line's columns stay under their heading.
  size_t where_width = 30;
  for (int i : v.hops) where_width = std::max(where_width, Where(p.hops[i]).size() + 2);
  StrAppend(&out, Pad("#", 4), Pad("LEG", 8), Pad("TIME", 11), Pad("WHERE", where_width),
            Pad("DIR", 5), Pad("PACKET AS SEEN THERE", 76), "WHY\n");
  int row = 0;
  for (int i : v.hops) {
    const Hop& h = p.hops[i];
    const Observation* o = static_cast<size_t>(i) < seen.size() ? &seen[i] : nullptr;
    const bool was_seen = o != nullptr && o->seen;
    char t[32];
    if (was_seen) {
      std::snprintf(t, sizeof t, "+%.3fms", static_cast<double>(o->offset_ns) / 1e6);
    } else {
      std::snprintf(t, sizeof t, "%s", h.Sniffed() ? "MISSING" : "-");
    }
    const std::string packet =
        was_seen ? StrCat(FlowText(o->flow, h.leg, false, h.http ? "" : o->refused,
                                   h.http ? -1 : o->icmp_code, h.http),
                          OuterText(o->outer, h.encap))
                 : StrCat(FlowText(h.flow, h.leg, h.random_port, "", -1, h.http),
                          OuterText(h.outer, h.encap), h.Sniffed() ? " (expected)" : "");
    StrAppend(
        &out, Pad(StrCat(++row), 4), Pad(std::string(ToString(h.leg)), 8), Pad(t, 11),
        Pad(StrCat(Where(h), " "), where_width),
        Pad(h.Sniffed() ? std::string(ToString(h.dir)) : "-", 5),
        o != nullptr && !o->why.empty() ? StrCat(Pad(StrCat(packet, " "), 76), o->why) : packet,
        "\n");
    if (i == v.first_missing) break;
  }
  StrAppend(&out, v.summary, "\n");
  return out;
}

namespace {

// A flow in JSON. ICMP echo has no ports: its identifier (the probe's mark) is "id". A port a
// masquerade picks (`any`'s random_port: the client's side) is null in what was expected: any,
// as the table's "*".
nlohmann::json FlowJson(const Flow& f, const Hop* any = nullptr) {
  if (f.proto == Proto::kIcmp)
    return nlohmann::json{{"src", f.src.ToString()}, {"dst", f.dst.ToString()}, {"id", f.sport}};
  nlohmann::json j{
      {"src", f.src.ToString()}, {"dst", f.dst.ToString()}, {"sport", f.sport}, {"dport", f.dport}};
  if (any != nullptr && any->random_port)
    j[any->leg == Leg::kRequest ? "sport" : "dport"] = nullptr;
  return j;
}

nlohmann::json HeadJson(const Path& p) {
  nlohmann::json j;
  j["src"] = p.request.src.word;
  j["dst"] = p.request.dst.word;
  j["proto"] = ToString(p.request.proto);
  j["network"] = p.cni || p.cni_lab ? "cni" : config::ToString(p.network);
  j["proxy_mode"] = config::ToString(p.proxy);
  if (!p.request.service.empty()) j["service"] = p.request.service;
  return j;
}

}  // namespace

std::string RenderPredictionJson(const Path& p) {
  nlohmann::json j = HeadJson(p);
  j["dry_run"] = true;
  j["endpoints"] = p.endpoints;
  nlohmann::json hops = nlohmann::json::array();
  for (const Hop& h : p.hops) {
    hops.push_back({{"leg", ToString(h.leg)},
                    {"branch", h.branch < 0 ? nlohmann::json(nullptr) : nlohmann::json(h.branch)},
                    {"object", h.object},
                    {"kind", h.kind},
                    {"netns", h.netns},
                    {"interface", h.ifname},
                    {"direction", h.Sniffed() ? ToString(h.dir) : ""},
                    {"role", h.role},
                    {"expected", FlowJson(h.flow, &h)},
                    {"filter", h.filter}});
  }
  j["hops"] = std::move(hops);
  if (p.cni) {
    nlohmann::json all = nlohmann::json::array();
    for (const Place& place : p.sniff_all)
      all.push_back({{"object", place.object}, {"kind", place.kind}, {"netns", place.netns}});
    j["sniff_all"] = std::move(all);
    j["filter"] = CniFilter(p);
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string RenderJson(const Path& p, const std::vector<Observation>& seen, const Verdict& v) {
  nlohmann::json j = HeadJson(p);
  if (v.branch >= 0) j["endpoint"] = p.endpoints[v.branch];
  j["verdict"] = v.word;
  j["ok"] = v.ok && !v.refused;  // "ok": the answer came back (a refusal is no answer)
  j["summary"] = v.summary;
  nlohmann::json hops = nlohmann::json::array();
  auto flow_json = [](const Flow& f, const Hop* any = nullptr) { return FlowJson(f, any); };
  for (int i : v.hops) {
    const Hop& h = p.hops[i];
    const Observation* o = static_cast<size_t>(i) < seen.size() ? &seen[i] : nullptr;
    nlohmann::json hj{{"leg", ToString(h.leg)}, {"object", h.object},
                      {"kind", h.kind},         {"netns", h.netns},
                      {"interface", h.ifname},  {"direction", h.Sniffed() ? ToString(h.dir) : ""},
                      {"role", h.role},         {"expected", flow_json(h.flow, &h)},
                      {"filter", h.filter},     {"seen", o != nullptr && o->seen}};
    if (o != nullptr && o->seen) {
      hj["offset_ns"] = o->offset_ns;
      hj["packet"] = flow_json(o->flow);
      if (o->outer)
        hj["outer"] = {{"encap", h.encap},
                       {"src", o->outer->first.ToString()},
                       {"dst", o->outer->second.ToString()}};
    }
    if (o != nullptr && !o->why.empty()) hj["why"] = o->why;
    if (o != nullptr && !o->refused.empty()) hj["refused"] = o->refused;
    hops.push_back(std::move(hj));
  }
  j["hops"] = std::move(hops);
  if (v.first_missing >= 0) j["first_missing"] = Where(p.hops[v.first_missing]);
  if (v.last_seen >= 0) j["last_seen"] = Where(p.hops[v.last_seen]);
  // The why texts come from the kernel (nft rule comments, interface names): bytes that are not
  // UTF-8 become U+FFFD rather than an exception (the dashboard runs this on its own thread).
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string RenderJsonError(std::string_view src, std::string_view dst, std::string_view verdict,
                            std::string_view text) {
  nlohmann::json j;
  j["src"] = src;
  j["dst"] = dst;
  j["verdict"] = verdict;
  j["ok"] = false;
  j["error"] = text;
  return j.dump(2) + "\n";
}

}  // namespace mkn::trace
