// vnet/kernel/netlink — rtnetlink requests from a socket bound to one network namespace.
//
// A NETLINK_ROUTE socket stays in the netns it was created in (vishvananda's NewHandleAt): open it
// once on a thread that is in that netns, then use it from any one thread at a time. Each request
// is sent and its answer read before the call returns; a refusal comes back with the kernel's
// extack text. NlSocket only sends and receives: the messages are built and the answers read by
// the pure functions of netlink_msg.h, tested byte for byte there.
//
// Status codes: every errno, the kernel's or a socket call's, goes through KernelErrnoCode
// (errors.h), so each method below returns only these, with the object named in the message:
//   AlreadyExists     the object is there already (EEXIST)
//   NotFound          a link, address or rule the request names is not there (ENODEV, ENOENT)
//   PermissionDenied  no CAP_NET_ADMIN in the socket's netns (EPERM), with a hint
//   InvalidArgument   the kernel refused an attribute (EINVAL, EBADF, ERANGE, ...: a bad MTU, a
//                     gateway it cannot reach, a master ifindex or netns fd that names nothing)
//   Unimplemented     the kernel lacks the link kind or feature (EOPNOTSUPP: a module not loaded)
//   Unavailable       a transient shortage (ENOBUFS, ENOMEM, EBUSY, out of fds), or a dump that was
//                     interrupted kDumpTries times in a row
//   Internal          anything else, and a malformed answer
// Requests that change something need CAP_NET_ADMIN in the socket's netns; reading (GetLink,
// ListLinks, ListRoutes, ListNeighbors) needs nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/net/ip.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netlink_msg.h"

namespace mkn::vnet {

class NlSocket {
 public:
  // Opens a NETLINK_ROUTE socket in the calling thread's current netns. Unavailable when out of fds
  // or memory; Internal otherwise.
  static absl::StatusOr<NlSocket> Open();

  NlSocket(NlSocket&&) noexcept = default;
  NlSocket& operator=(NlSocket&&) noexcept = default;

  // Creation: AlreadyExists if a link of that name is there; NotFound if a vxlan's `link` names
  // nothing (ENODEV); InvalidArgument if `master` or the peer's netns fd names nothing (the kernel
  // answers those with EINVAL and EBADF, not ENODEV); Unimplemented, PermissionDenied as above.
  absl::Status CreateVeth(const VethSpec& v);
  absl::Status CreateBridge(std::string_view name, int mtu, const net::Mac& mac);
  absl::Status CreateVxlan(const VxlanSpec& v);
  // Sets IFF_UP and the ifalias (ownership marker) of the link called `name`. NotFound if there is
  // no such link.
  absl::Status SetUpWithAlias(std::string_view name, std::string_view alias);
  // AlreadyExists if the link has the address; NotFound if there is no link `ifindex`.
  absl::Status AddAddress(int ifindex, const net::Prefix& addr);
  // table 0 = main. AlreadyExists if the route is there; NotFound if there is no link `oif`;
  // InvalidArgument if the gateway is not reachable (ENETUNREACH) without `onlink`.
  absl::Status AddRoute(const net::Prefix& dst, std::optional<net::Ipv4> via, int oif, bool onlink,
                        int table = 0);
  // AlreadyExists if there is an entry for `ip`; NotFound if there is no link `ifindex`.
  absl::Status AddNeighbor(int ifindex, net::Ipv4 ip, const net::Mac& mac);
  // A proxy neighbour entry: the kernel answers ARP for `ip` on the link (NTF_PROXY). As
  // AddNeighbor.
  absl::Status AddProxyNeighbor(int ifindex, net::Ipv4 ip);
  // Hairpin mode on a bridge port (IFLA_BRPORT_MODE), as `bridge link set dev X hairpin on`.
  // NotFound if there is no link `ifindex`; Unimplemented or InvalidArgument if it is no bridge
  // port.
  absl::Status SetHairpin(int ifindex);
  // A policy routing rule (FIB rule): [to dst] [ipproto P dport lo-hi] lookup table, at pref.
  // AlreadyExists if the same rule is there.
  absl::Status AddRule(int pref, std::optional<net::Prefix> dst, int ipproto, int dport_min,
                       int dport_max, int table);
  // NotFound if there is no rule at `pref` for `table`.
  absl::Status DeleteRule(int pref, int table);
  // A static FDB entry of a VXLAN device: frames for `mac` go to `dst`. AlreadyExists if the
  // entry is there; NotFound if there is no link `ifindex`.
  absl::Status AddFdb(int ifindex, const net::Mac& mac, net::Ipv4 dst);
  // NotFound if there is no link `ifindex`. Deleting one end of a veth deletes both.
  absl::Status DeleteLink(int ifindex);

  // NotFound if there is no such link.
  absl::StatusOr<LinkInfo> GetLink(std::string_view name);
  absl::StatusOr<LinkInfo> GetLink(int ifindex);
  // Every link of the netns. A dump the kernel flags NLM_F_DUMP_INTR (a link came or went while it
  // was dumping) is read to its end and run again, up to kDumpTries times; then Unavailable.
  absl::StatusOr<std::vector<LinkInfo>> ListLinks();
  // Every IPv4 route of every table of the netns (a dump, retried as ListLinks's).
  absl::StatusOr<std::vector<RouteInfo>> ListRoutes();
  // The route `dst` matches in this netns (`ip route get DST fibmatch`; `fib_match` false: `ip
  // route get DST`, the resolved route with its source, RouteInfo::prefsrc). NotFound "no route to
  // DST" when none does (ENETUNREACH); the codes of errors.h otherwise.
  absl::StatusOr<RouteInfo> GetRoute(net::Ipv4 dst, bool fib_match = true);
  // The same for one packet (RouteGet: its source, input device, protocol and ports), so that FIB
  // rules selecting on them apply. Errors as above; an input lookup (`iif`) adds the kernel's own
  // refusals of the packet (a martian or reverse-path-filtered source), in errors.h's codes.
  absl::StatusOr<RouteInfo> GetRoute(const RouteGet& q);
  // Every neighbour entry of `family` in the netns: AF_INET the ARP table (`ip neigh`), AF_BRIDGE
  // every bridge's and VXLAN device's FDB (`bridge fdb`). A dump, retried as ListLinks's.
  absl::StatusOr<std::vector<NeighInfo>> ListNeighbors(uint8_t family);

 private:
  explicit NlSocket(Fd fd, uint32_t portid) : fd_(std::move(fd)), portid_(portid) {}
  // Sends `msg` under the next sequence number and reads datagrams until its answer is complete.
  // Errors of send/recv and malformed answers only; the kernel's verdict is in the NlReplies.
  absl::StatusOr<NlReplies> Exchange(NlBytes msg, bool dump, std::string_view what);
  // Exchange for a request the kernel acknowledges: its errno becomes the Status.
  absl::Status Request(NlBytes msg, std::string_view what);
  // Exchange for a GET of one link: the RTM_NEWLINK of the answer.
  absl::StatusOr<LinkInfo> GetOneLink(NlBytes msg, std::string_view what);

  Fd fd_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1;
};

}  // namespace mkn::vnet
