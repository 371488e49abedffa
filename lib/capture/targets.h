// lib/capture/targets — what `capture` and `trace` listen on: the TARGET words a user types
// (`web-0`, `node1`, `underlay`, `tor-r1`, `spine`, `web-0:eth0`, none = everything of the lab)
// against the lab's namespaces, and the names a capture gives each interface.
//
// `underlay` is the lab's physical network whatever its shape. A flat lab has one namespace of that
// name (mkn-<cluster>-underlay: br0 and a port per node). A routed lab (racks, network = "bgp") has
// none: there `underlay` is every router, each ToR (its rack's bridge br0, a port per node of the
// rack, its port `spine`) and the spine (a port `tor-<rack>` per ToR), and `underlay:IFACE` is
// where IFACE is in that fabric: `underlay:node1` node1's port in its rack's ToR (as in a flat lab,
// the node's port on the switch), `underlay:br0` and `underlay:spine` that interface in every ToR,
// `underlay:tor-r1` the spine's port to tor-r1.
//
// A target is a namespace and either one named interface or every interface in it but `lo` (a
// pod's lo carries only its own containers' chatter; `web-0:lo` asks for it by name). Which
// interfaces a namespace has is the kernel's to say (vnet/capture lists them when it opens the
// sockets), so this works for CNI labs too, whose interfaces a plugin names. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mkn::capture {

enum class ObjectKind { kUnderlay, kRouter, kNode, kPod };
std::string_view ToString(ObjectKind k);

// A namespace of the lab, as the cluster's state names it.
struct LabObject {
  std::string name;  // "underlay", a router's ("tor-r1", "spine"), a node's or a pod's name
  ObjectKind kind = ObjectKind::kPod;
  std::string netns;  // /run/netns/<netns>
  std::string node;   // a pod's node; "" otherwise
  std::string rack;   // a node's rack and a ToR's in a routed lab; "" otherwise (and for the spine)
};

struct Target {
  LabObject object;
  std::vector<std::string> interfaces;  // empty = every interface but lo
};

// The targets `words` name, in the lab's order (`objects`' order: the underlay or the routers,
// the nodes, the pods), each namespace once; a whole namespace absorbs the single interfaces named
// in it. No words: every object. `underlay` in a routed lab (no object of that name, routers) is
// the routers, as the header says. InvalidArgument for a word that names no object, with the
// nearest name ("did you mean ...?"), for an `underlay:IFACE` the routed fabric has no place for,
// or for an empty object or interface name ("web-0:").
absl::StatusOr<std::vector<Target>> SelectTargets(const std::vector<LabObject>& objects,
                                                  const std::vector<std::string>& words);

// if_name of an interface in a capture: "<object>:<iface>", the TARGET word that selects it.
std::string InterfaceName(const LabObject& o, std::string_view iface);
// if_description: where the interface is and what it carries, e.g.
// "pod web-0 on node1, netns mkn-lab-web-0, eth0 10.244.1.2/24",
// "ToR tor-r1 of rack r1, netns mkn-bgp-tor-r1, br0 172.18.1.1/24".
std::string DescribeInterface(const LabObject& o, std::string_view iface,
                              const std::vector<std::string>& addresses);

}  // namespace mkn::capture
