#include "lib/capture/targets.h"

#include <algorithm>

#include "absl/status/status.h"
#include "lib/control/usage.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::capture {
namespace {

constexpr std::string_view kSayWhat =
    "say a pod, a node, a router (tor-<rack>, spine), underlay, or OBJECT:IFACE (e.g. web-0:eth0)";

bool IsToR(const LabObject& o) { return o.kind == ObjectKind::kRouter && !o.rack.empty(); }
bool IsSpine(const LabObject& o) { return o.kind == ObjectKind::kRouter && o.rack.empty(); }

// A routed lab's `underlay:IFACE`: the routers that have IFACE, by the fabric's naming (lib/net/
// naming): a node's port is in its rack's ToR, br0 and the port to the spine in every ToR, a ToR's
// port in the spine. Empty: IFACE is nowhere in the fabric.
std::vector<size_t> RoutedUnderlayPort(const std::vector<LabObject>& objects,
                                       const std::string& iface) {
  std::vector<size_t> out;
  const bool has_spine = std::any_of(objects.begin(), objects.end(), IsSpine);
  for (const LabObject& n : objects) {
    if (n.kind != ObjectKind::kNode || n.name != iface || n.rack.empty()) continue;
    for (size_t i = 0; i < objects.size(); ++i)
      if (IsToR(objects[i]) && objects[i].rack == n.rack) out.push_back(i);
    return out;
  }
  const bool every_tor =
      iface == net::kUnderlayBridge || (iface == net::kTorSpinePort && has_spine);
  for (size_t i = 0; i < objects.size(); ++i) {
    if (every_tor && IsToR(objects[i])) out.push_back(i);
    // The spine's port to a ToR is named as the ToR is.
    if (IsToR(objects[i]) && objects[i].name == iface && has_spine) {
      for (size_t j = 0; j < objects.size(); ++j)
        if (IsSpine(objects[j])) out.push_back(j);
    }
  }
  return out;
}

}  // namespace

std::string_view ToString(ObjectKind k) {
  switch (k) {
    case ObjectKind::kUnderlay:
      return "underlay";
    case ObjectKind::kRouter:
      return "router";
    case ObjectKind::kNode:
      return "node";
    case ObjectKind::kPod:
      return "pod";
  }
  return "?";
}

absl::StatusOr<std::vector<Target>> SelectTargets(const std::vector<LabObject>& objects,
                                                  const std::vector<std::string>& words) {
  // Per object: not chosen, chosen whole, or these interfaces.
  std::vector<bool> chosen(objects.size(), words.empty());
  std::vector<bool> whole(objects.size(), words.empty());
  std::vector<std::vector<std::string>> ifaces(objects.size());
  auto choose = [&](size_t i, const std::string& iface) {
    chosen[i] = true;
    if (iface.empty()) {
      whole[i] = true;
    } else if (std::find(ifaces[i].begin(), ifaces[i].end(), iface) == ifaces[i].end()) {
      ifaces[i].push_back(iface);
    }
  };
  std::vector<std::string> names;
  for (const LabObject& o : objects) names.push_back(o.name);
  // A routed lab has routers where a flat one has the underlay's namespace; `underlay` is them.
  const bool routed = std::find(names.begin(), names.end(), net::kUnderlayObject) == names.end() &&
                      std::any_of(objects.begin(), objects.end(),
                                  [](const LabObject& o) { return o.kind == ObjectKind::kRouter; });
  if (routed) names.emplace_back(net::kUnderlayObject);
  for (const std::string& word : words) {
    const size_t colon = word.find(':');
    const std::string name = word.substr(0, colon);
    const std::string iface = colon == std::string::npos ? "" : word.substr(colon + 1);
    if (name.empty() || (colon != std::string::npos && iface.empty()))
      return absl::InvalidArgumentError(StrCat("capture target \"", word, "\": ", kSayWhat));
    if (routed && name == net::kUnderlayObject) {
      if (iface.empty()) {
        for (size_t i = 0; i < objects.size(); ++i)
          if (objects[i].kind == ObjectKind::kRouter) choose(i, "");
        continue;
      }
      const std::vector<size_t> at = RoutedUnderlayPort(objects, iface);
      if (at.empty()) {
        return absl::InvalidArgumentError(StrCat(
            "capture target \"", word, "\": the routed underlay has no ", iface,
            ": it has a port per node (underlay:node1) in its rack's ToR, br0 and spine in each "
            "ToR, and tor-<rack> in the spine; or name a router's interface (tor-r1:br0)"));
      }
      for (size_t i : at) choose(i, iface);
      continue;
    }
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      std::string msg =
          StrCat("capture target \"", name, "\": the lab has no pod, node or router of that name");
      if (std::string near = control::Nearest(name, names); !near.empty()) {
        StrAppend(&msg, ": did you mean \"", near, "\"?");
      } else {
        // Nothing near: what it has, so the next try needs no other command (up to 12 names).
        StrAppend(&msg, " (it has ");
        for (size_t i = 0; i < names.size() && i < 12; ++i)
          StrAppend(&msg, i == 0 ? "" : ", ", names[i]);
        StrAppend(&msg, names.size() > 12 ? ", ...)" : ")");
      }
      return absl::InvalidArgumentError(msg);
    }
    choose(static_cast<size_t>(it - names.begin()), iface);
  }
  std::vector<Target> out;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (!chosen[i]) continue;
    out.push_back(Target{objects[i], whole[i] ? std::vector<std::string>{} : ifaces[i]});
  }
  return out;
}

std::string InterfaceName(const LabObject& o, std::string_view iface) {
  return StrCat(o.name, ":", iface);
}

std::string DescribeInterface(const LabObject& o, std::string_view iface,
                              const std::vector<std::string>& addresses) {
  std::string d;
  if (o.netns.empty()) {
    // trace's `host`: no lab namespace, the one trace runs in.
    d = StrCat(o.name, " (the namespace trace runs in)");
  } else if (o.kind == ObjectKind::kUnderlay) {
    d = "underlay";
  } else if (IsToR(o)) {
    d = StrCat("ToR ", o.name, " of rack ", o.rack);
  } else if (IsSpine(o)) {
    d = StrCat("spine router ", o.name);
  } else {
    d = StrCat(ToString(o.kind), " ", o.name);
  }
  if (!o.node.empty()) StrAppend(&d, " on ", o.node);
  if (o.kind == ObjectKind::kNode && !o.rack.empty()) StrAppend(&d, " in rack ", o.rack);
  StrAppend(&d, o.netns.empty() ? "" : StrCat(", netns ", o.netns), ", ", iface);
  for (const std::string& a : addresses) StrAppend(&d, " ", a);
  return d;
}

}  // namespace mkn::capture
