#include "lib/capture/promisc.h"

#include <algorithm>
#include <map>

#include "lib/strings/str_cat.h"

namespace mkn::capture {

bool Captures(const Target& t, std::string_view iface) {
  if (t.interfaces.empty()) return iface != "lo";
  return std::find(t.interfaces.begin(), t.interfaces.end(), iface) != t.interfaces.end();
}

std::vector<Promiscuity> DecidePromiscuity(const std::vector<NsLink>& links, bool promiscuous) {
  std::vector<Promiscuity> out(links.size(), Promiscuity::kOff);
  if (!promiscuous) return out;
  // Per bridge (by index): does it have a port this capture does not listen on?
  std::map<int, bool> port_missed;
  for (const NsLink& l : links)
    if (l.master != 0 && !l.captured) port_missed[l.master] = true;
  for (size_t i = 0; i < links.size(); ++i) {
    const NsLink& l = links[i];
    if (!l.captured) continue;
    if (!l.bridge) {
      out[i] = Promiscuity::kOn;
    } else {
      out[i] =
          port_missed.count(l.index) != 0 ? Promiscuity::kBridgeAlone : Promiscuity::kBridgeSpared;
    }
  }
  return out;
}

std::string BridgeAloneWarning(const std::vector<std::string>& bridges) {
  if (bridges.empty()) return "";
  std::string names;
  for (const std::string& b : bridges) StrAppend(&names, names.empty() ? "" : " ", b);
  return StrCat(
      "minikube-net: capture: ", names, bridges.size() == 1 ? " is" : " are",
      " promiscuous without all ", bridges.size() == 1 ? "its" : "their",
      " ports captured, so it shows the frames it forwards; where the node's nftables rules "
      "translate (proxy_mode nftables, NodePorts in ebpf mode, CNI labs), this can deliver NATed "
      "frames to a pod of that node twice: -p avoids it (or capture the whole node)");
}

}  // namespace mkn::capture
