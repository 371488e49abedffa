#include "lib/world/world.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_join.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::world {

std::vector<net::IpPrefix> ClusterRanges(const config::ClusterSpec& spec) {
  return {net::IpPrefix::FromV4(spec.pod_cidr), net::IpPrefix::FromV4(spec.service_cidr),
          net::IpPrefix::FromV4(spec.underlay_cidr)};
}

std::string RenderEgress(const config::ClusterSpec& spec, int node_index) {
  if (!spec.world.enabled || !spec.world.masquerade) return "";
  (void)node_index;  // every node's table is the same today; the argument keeps the shape of
                     // lib/netpol's and lib/proxy's per-node tables (a per-node exception later)
  std::vector<std::string> ranges;
  for (const net::IpPrefix& p : ClusterRanges(spec)) ranges.push_back(p.ToString());
  const std::string table = StrCat("ip ", net::kEgressTable);
  // Created, deleted and rebuilt in one transaction, as lib/netpol's: loading it twice is a no-op.
  return StrCat(
      "table ", table, " {}\ndelete table ", table, "\ntable ", table, " {\n",
      "  chain postrouting {\n", "    type nat hook postrouting priority srcnat; policy accept;\n",
      "    ip saddr ", spec.pod_cidr.ToString(), " ip daddr != { ", absl::StrJoin(ranges, ", "),
      " } oifname \"", net::kNodeUplinkIf,
      "\" counter masquerade comment \"pods to the world: SNAT to the node\"\n", "  }\n}\n");
}

namespace {

std::string Canonical(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

LookupResult Lookup(const config::WorldSpec& world, std::string_view name) {
  const std::string n = Canonical(name);
  const bool in_zone =
      n == kZone ||
      (n.size() > kZone.size() && n.compare(n.size() - kZone.size(), kZone.size(), kZone) == 0 &&
       n[n.size() - kZone.size() - 1] == '.');
  if (!world.enabled || !in_zone) return {Answer::kRefused, {}};
  for (const config::WorldHost& h : world.hosts) {
    if (h.name == n) return {Answer::kAddress, {h.addr}};
  }
  return {Answer::kNxDomain, {}};
}

bool IsWorldAddress(const config::WorldSpec& world, const net::IpAddr& ip) {
  return world.enabled && std::any_of(world.hosts.begin(), world.hosts.end(),
                                      [&](const config::WorldHost& h) { return h.addr == ip; });
}

}  // namespace mkn::world
