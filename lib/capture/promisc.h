// lib/capture/promisc — which interfaces a capture puts in promiscuous mode, so that capturing
// does not change the traffic it records.
//
// tcpdump makes every interface it listens on promiscuous, and for most interfaces that changes
// nothing but what the socket sees. A bridge is different: a promiscuous bridge device passes
// every frame it forwards up to its own stack too, and where br_netfilter translates on that bridge
// (nftables proxy mode, eBPF NodePorts, NetworkPolicy labs, CNI bridges) the node then routes that
// copy: a Service's frame to a pod of the same node reaches the pod twice. So a bridge is left
// alone when every one of its ports is captured in the same run (capture's default "everything",
// or a whole node): the ports' copies already show every frame it forwards. A bridge captured
// without all its ports (`capture node1:cbr0`) is still made promiscuous, since seeing the
// forwarded frames there is what the user asked for, and the capture says what that can cost.
// Pure: vnet/capture lists each namespace's links and carries the decision out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/capture/targets.h"

namespace mkn::capture {

// One interface of a namespace, as the kernel lists it (RTM_GETLINK), and whether this capture
// listens on it.
struct NsLink {
  std::string name;
  int index = 0;
  bool bridge = false;  // IFLA_INFO_KIND "bridge"
  int master = 0;       // IFLA_MASTER: the bridge it is a port of; 0 = none
  bool captured = false;
};

enum class Promiscuity {
  kOff,           // not captured, or the capture is not promiscuous (-p, trace)
  kOn,            // captured, promiscuous (tcpdump's default)
  kBridgeSpared,  // a bridge whose every port is captured: left as it is
  kBridgeAlone,   // a bridge captured without all its ports: promiscuous, with a warning
};

// Whether target `t` listens on interface `iface` of its namespace: the named interfaces, or every
// one but lo.
bool Captures(const Target& t, std::string_view iface);

// Per link of one namespace (`links`' order): what the capture does with it. `promiscuous` false
// (-p): every link kOff. A bridge with no port forwards nothing and is spared.
std::vector<Promiscuity> DecidePromiscuity(const std::vector<NsLink>& links, bool promiscuous);

// The stderr line for the bridges left kBridgeAlone (their capture names, "node1:cbr0"); "" for
// none.
std::string BridgeAloneWarning(const std::vector<std::string>& bridges);

}  // namespace mkn::capture
