#include "lib/capture/targets.h"

#include <algorithm>

#include "absl/status/status.h"
#include "lib/control/usage.h"
#include "lib/strings/str_cat.h"

namespace mkn::capture {

std::string_view ToString(ObjectKind k) {
  switch (k) {
    case ObjectKind::kUnderlay:
      return "underlay";
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
  std::vector<std::string> names;
  for (const LabObject& o : objects) names.push_back(o.name);
  for (const std::string& word : words) {
    const size_t colon = word.find(':');
    const std::string name = word.substr(0, colon);
    const std::string iface = colon == std::string::npos ? "" : word.substr(colon + 1);
    if (name.empty() || (colon != std::string::npos && iface.empty())) {
      return absl::InvalidArgumentError(
          StrCat("capture target \"", word,
                 "\": say a pod, a node, underlay, or POD:IFACE (e.g. web-0:eth0)"));
    }
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      std::string msg =
          StrCat("capture target \"", name, "\": no pod, node or underlay of that name");
      if (std::string near = control::Nearest(name, names); !near.empty())
        StrAppend(&msg, ": did you mean \"", near, "\"?");
      return absl::InvalidArgumentError(msg);
    }
    const size_t i = static_cast<size_t>(it - names.begin());
    chosen[i] = true;
    if (iface.empty()) {
      whole[i] = true;
    } else if (std::find(ifaces[i].begin(), ifaces[i].end(), iface) == ifaces[i].end()) {
      ifaces[i].push_back(iface);
    }
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
  std::string d = o.kind == ObjectKind::kUnderlay ? std::string("underlay")
                                                  : StrCat(ToString(o.kind), " ", o.name);
  if (!o.node.empty()) StrAppend(&d, " on ", o.node);
  StrAppend(&d, ", netns ", o.netns, ", ", iface);
  for (const std::string& a : addresses) StrAppend(&d, " ", a);
  return d;
}

}  // namespace mkn::capture
