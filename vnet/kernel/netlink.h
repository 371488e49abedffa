// vnet/kernel/netlink — rtnetlink requests over libmnl, from a socket bound to one network
// namespace.
//
// A NETLINK_ROUTE socket stays in the netns it was created in (vishvananda's NewHandleAt): open it
// once on a thread that is in that netns, then use it from any one thread at a time. Requests can
// be queued and sent in one sendmsg (Flush), each acknowledged; the first failure is returned with
// the kernel's extack text. Every call needs CAP_NET_ADMIN in the socket's netns.
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

namespace mkn::vnet {

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // "veth", "bridge", "vxlan", "" for lo
  std::string alias;
  int master = 0;
  int mtu = 0;
  bool up = false;
  net::Mac mac;
};

struct VethSpec {
  std::string name;
  int mtu = 0;
  int master = 0;  // ifindex of the bridge, 0 = none
  std::string peer_name;
  int peer_netns_fd = -1;  // -1 = same netns
  std::optional<net::Mac> peer_mac;
};

struct VxlanSpec {
  std::string name;
  uint32_t vni = 1;
  net::Ipv4 local;
  int link = 0;  // ifindex of the underlay device
  uint16_t port = 4789;
  int mtu = 0;
  net::Mac mac;
};

class NlSocket {
 public:
  // Opens a NETLINK_ROUTE socket in the calling thread's current netns.
  static absl::StatusOr<NlSocket> Open();

  NlSocket(NlSocket&&) noexcept = default;
  NlSocket& operator=(NlSocket&&) noexcept = default;

  // Each of these sends one request and waits for its acknowledgement.
  absl::Status CreateVeth(const VethSpec& v);
  absl::Status CreateBridge(std::string_view name, int mtu, const net::Mac& mac);
  absl::Status CreateVxlan(const VxlanSpec& v);
  // Sets IFF_UP and the ifalias (ownership marker) of the link called `name`.
  absl::Status SetUpWithAlias(std::string_view name, std::string_view alias);
  absl::Status AddAddress(int ifindex, const net::Prefix& addr);
  // table 0 = main.
  absl::Status AddRoute(const net::Prefix& dst, std::optional<net::Ipv4> via, int oif, bool onlink,
                        int table = 0);
  absl::Status AddNeighbor(int ifindex, net::Ipv4 ip, const net::Mac& mac);
  // A proxy neighbour entry: the kernel answers ARP for `ip` on the link (NTF_PROXY).
  absl::Status AddProxyNeighbor(int ifindex, net::Ipv4 ip);
  // Hairpin mode on a bridge port (IFLA_BRPORT_MODE), as `bridge link set dev X hairpin on`.
  absl::Status SetHairpin(int ifindex);
  // A policy routing rule (FIB rule): [to dst] [ipproto P dport lo-hi] lookup table, at pref.
  absl::Status AddRule(int pref, std::optional<net::Prefix> dst, int ipproto, int dport_min,
                       int dport_max, int table);
  absl::Status DeleteRule(int pref, int table);
  absl::Status AddFdb(int ifindex, const net::Mac& mac, net::Ipv4 dst);
  absl::Status DeleteLink(int ifindex);

  // NotFound if there is no such link.
  absl::StatusOr<LinkInfo> GetLink(std::string_view name);
  absl::StatusOr<LinkInfo> GetLink(int ifindex);
  absl::StatusOr<std::vector<LinkInfo>> ListLinks();

 private:
  explicit NlSocket(Fd fd, uint32_t portid) : fd_(std::move(fd)), portid_(portid) {}
  // Sends one message built in buf and waits for its ACK. `what` names it in errors.
  absl::Status Roundtrip(void* buf, std::string_view what);
  absl::StatusOr<std::vector<LinkInfo>> DumpLinks(void* buf);

  Fd fd_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1;
};

}  // namespace mkn::vnet
