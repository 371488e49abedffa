// vnet/trace/reasons — why the probe went on from each hop of a trace, read from the kernel of the
// namespace where the hop saw it: a route lookup (a router's marked as one, BIRD's as proto bird),
// the bridge FDB and neighbour entries, the VXLAN FDB, the conntrack entry of a DNAT or of the
// world's masquerade (with the masquerade rule's counter), and SRC's own route when the probe never
// left it; and a CNI lab's routes, which its plugins made (AskRoute). Internal to vnet/trace. Runs
// on short-lived threads inside each namespace (RunInNetns); needs CAP_SYS_ADMIN (setns) and
// CAP_NET_ADMIN (conntrack, nft): without them a reason is left out, never an error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/net/ip.h"
#include "lib/trace/trace.h"

namespace mkn::vnet {

// Fills seen[i].why for each hop of `p` that saw the probe (and each no interface shows), from
// the hop's Hop::why; `macs[i]` is the destination MAC of the copy hop i saw (a bridge's FDB
// entry is looked up by it). A reason that cannot be read is left out or says so.
void ReadReasons(const trace::Path& p, std::vector<trace::Observation>& seen,
                 const std::vector<std::optional<net::Mac>>& macs);

// SRC's own route to DST, as `ip route get` says it ("route 0.0.0.0/0 via 172.18.0.1 dev eth0",
// or "route get 10.244.1.3: no route to 10.244.1.3"); "" for `host` or when it cannot be read.
std::string SourceRoute(const trace::Request& r);

// `ip -n NETNS route get DST` over netlink: a CNI lab's route, which its plugins made (lib/trace's
// CniRouteQueries asks, ApplyCniRoutes uses the answers). A lookup that fails is an answer too,
// its error the kernel's (ENETUNREACH's text, as `ip` prints it).
trace::RouteAnswer AskRoute(const trace::RouteQuery& q);

}  // namespace mkn::vnet
