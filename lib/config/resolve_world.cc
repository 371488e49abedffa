// The world outside the cluster (resolver.h): [cluster] world and world_cidr resolved into
// ClusterSpec::world. Runs after the racks (the world's link ends on the underlay side, which they
// decide) and before the pods (whose names must not take the world's namespace).

#include <iterator>

#include "lib/config/resolver.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::config::internal {
namespace {

// RFC 5737's TEST-NET-3: documentation addresses, never routed on the real Internet, so a lab
// that leaks one reaches nobody.
constexpr std::string_view kDefaultWorldCidr = "203.0.113.0/24";
// .1 is the attach point's, .2.. the world's own names; a /29 is the smallest that holds them.
constexpr int kMaxWorldLen = 29;
constexpr std::string_view kWorldNames[] = {"example.test", "www.example.test",
                                            "echo.example.test"};

}  // namespace

void Resolver::ResolveWorld() {
  const RawCluster& c = raw_.cluster;
  // On by default, except in a CNI lab: the tool does not touch a chain's pod side there, and a
  // world only the nodes could reach would surprise more than help (`world = true` still makes it).
  spec_.world.enabled = c.world.set ? c.world.value : !spec_.cni_mode;
  if (!spec_.world.enabled) {
    if (c.world_cidr.set) {
      d_.Error(c.world_cidr.pos,
               "[cluster] world_cidr: the world is off (world = false); remove one of the two");
    }
    return;
  }
  spec_.world.masquerade = !spec_.cni_mode;
  spec_.world.netns = net::NetnsName(spec_.name, net::kWorldObject);
  spec_.world.attach_netns = !spec_.routed_underlay
                                 ? net::NetnsName(spec_.name, net::kUnderlayObject)
                             : !spec_.spine_netns.empty() ? spec_.spine_netns
                             : spec_.racks.empty()        ? std::string()
                                                          : spec_.racks[0].netns;
  for (const NodeSpec& n : spec_.nodes) {
    if (n.name != net::kWorldObject) continue;
    d_.Error(n.index < static_cast<int>(raw_.nodes.size()) ? raw_.nodes[n.index].name.pos
                                                           : raw_.node_count.pos,
             StrCat("node \"world\": the name is taken by the world outside the cluster (mkn-",
                    spec_.name,
                    "-world, and its port on the underlay side); rename the node or "
                    "set [cluster] world = false"));
  }

  const std::string text = c.world_cidr.set ? c.world_cidr.value : std::string(kDefaultWorldCidr);
  std::optional<net::IpPrefix> p = net::IpPrefix::Parse(text);
  if (!p) {
    d_.Error(c.world_cidr.pos,
             StrCat("[cluster] world_cidr: \"", text, "\" is not a CIDR like ", kDefaultWorldCidr));
    return;
  }
  // The one place the world is IPv4 (the nodes and pods that reach it are, until dual-stack).
  if (p->family() != net::Family::kIpv4) {
    d_.Error(c.world_cidr.pos,
             StrCat("[cluster] world_cidr: ", p->ToString(),
                    " is IPv6: the world is IPv4 until the lab is dual-stack (its pods and nodes "
                    "are IPv4); give an IPv4 CIDR like ",
                    kDefaultWorldCidr));
    return;
  }
  if (!p->IsNetwork()) {
    d_.Error(c.world_cidr.pos,
             StrCat("[cluster] world_cidr: ", p->ToString(), " has host bits set (did you mean ",
                    p->Network().ToString(), "?)"));
    return;
  }
  if (p->len > kMaxWorldLen) {
    d_.Error(c.world_cidr.pos,
             StrCat("[cluster] world_cidr: ", p->ToString(), " is too small; use /", kMaxWorldLen,
                    " or larger (.1 is the cluster side's, .2-.4 the world's)"));
    return;
  }
  // Outside everything the cluster owns: a world address that is also a pod's, a Service's or a
  // node's would be routed inside the cluster, and the masquerade skips the cluster's ranges.
  const std::pair<std::optional<net::Prefix>, std::string_view> owned[] = {
      {pod_cidr_, "pod_cidr"}, {service_cidr_, "service_cidr"}, {underlay_cidr_, "underlay_cidr"}};
  for (const auto& [cidr, name] : owned) {
    if (cidr && p->Overlaps(net::IpPrefix::FromV4(*cidr))) {
      d_.Error(c.world_cidr.pos,
               StrCat("[cluster] world_cidr: ", p->ToString(), " overlaps ", name, " ",
                      cidr->ToString(), ": the world must be outside the cluster"));
      return;
    }
  }
  // (A rack's subnet and the spine's links lie inside the underlay_cidr: ResolveRacks.)
  const net::Prefix v4 = *p->V4();
  spec_.world.cidr = *p;
  spec_.world.gateway = net::IpAddr::FromV4(v4.Host(1));
  for (size_t i = 0; i < std::size(kWorldNames); ++i) {
    spec_.world.hosts.push_back(
        WorldHost{std::string(kWorldNames[i]), net::IpAddr::FromV4(v4.Host(2 + i))});
  }
}

}  // namespace mkn::config::internal
