// lib/capture/targets — what `capture` and `trace` listen on: the TARGET words a user types
// (`web-0`, `node1`, `underlay`, `web-0:eth0`, none = everything of the lab) against the lab's
// namespaces, and the names a capture gives each interface.
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

enum class ObjectKind { kUnderlay, kNode, kPod };
std::string_view ToString(ObjectKind k);

// A namespace of the lab, as the cluster's state names it.
struct LabObject {
  std::string name;  // "underlay", a node's or a pod's name
  ObjectKind kind = ObjectKind::kPod;
  std::string netns;  // /run/netns/<netns>
  std::string node;   // a pod's node; "" otherwise
};

struct Target {
  LabObject object;
  std::vector<std::string> interfaces;  // empty = every interface but lo
};

// The targets `words` name, in the lab's order (`objects`' order: the underlay, the nodes, the
// pods), each namespace once; a whole namespace absorbs the single interfaces named in it. No
// words: every object. InvalidArgument for a word that names no object, with the nearest name ("did
// you mean ...?"), or for an empty object or interface name ("web-0:").
absl::StatusOr<std::vector<Target>> SelectTargets(const std::vector<LabObject>& objects,
                                                  const std::vector<std::string>& words);

// if_name of an interface in a capture: "<object>:<iface>", the TARGET word that selects it.
std::string InterfaceName(const LabObject& o, std::string_view iface);
// if_description: where the interface is and what it carries, e.g.
// "pod web-0 on node1, netns mkn-lab-web-0, eth0 10.244.1.2/24".
std::string DescribeInterface(const LabObject& o, std::string_view iface,
                              const std::vector<std::string>& addresses);

}  // namespace mkn::capture
