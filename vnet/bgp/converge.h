// vnet/bgp/converge — when a network = "bgp" lab is ready: every node's kernel has a route to every
// other node's pod CIDR.
//
// The kernel is the judge, not BIRD: a route BIRD holds but could not install carries no packet.
// Each node's main table is read over a netlink socket opened inside its namespace (STYLE.md §4:
// opened on a short-lived thread, then used from the caller's), every few milliseconds until all
// routes are there or the deadline passes. Needs nothing but the namespaces' fds.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/net/ip.h"

namespace mkn::vnet {

struct RoutesWanted {
  std::string node;
  int netns_fd = -1;
  std::vector<net::Prefix> prefixes;  // each must have a route of its own in the main table
};

// OK once every node has its routes. DeadlineExceeded after `timeout`, naming each node with the
// prefixes it still lacks; whatever `check` returns if it is not OK (it is called every round: a
// speaker that exited ends the wait at once, with its reason); the codes of vnet/kernel/netns.h and
// netlink.h when a namespace cannot be read.
absl::Status WaitForRoutes(const std::vector<RoutesWanted>& nodes,
                           std::chrono::milliseconds timeout,
                           const std::function<absl::Status()>& check);

}  // namespace mkn::vnet
