// vnet/kernel/netlink_msg — rtnetlink messages as bytes: the requests NlSocket sends, what it makes
// of the kernel's answers, and how a netlink errno becomes a Status.
//
// Pure: no socket, no syscall, no state. NlSocket (netlink.h) only sends what a Build* function
// returns and feeds what it receives to NlReplies, so every message and every decision about a
// reply is tested byte for byte without root (netlink_msg_test.cc).
//
// Builders return one whole message: a struct nlmsghdr with nlmsg_len set and nlmsg_seq and
// nlmsg_pid 0 (NlSocket stamps the sequence number when it sends), the family header, then the
// attributes, each 4-byte aligned with zero padding, nests marked NLA_F_NESTED as libmnl marks
// them. Netlink's own integers are in host order; addresses and the VXLAN port in network order, as
// the kernel wants them.
//
// Parsers take bytes as received and never read past them: a truncated message, an attribute whose
// length runs past its parent, or an integer attribute of the wrong size is Internal (the kernel
// never sends one, so it means a bug here or there), never a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/net/ip.h"

namespace mkn::vnet {

// One netlink message (or a datagram of several), as sent or received.
using NlBytes = std::vector<uint8_t>;

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

// One IPv4 route of a dump (RTM_NEWROUTE), what readiness checks read: where it goes and who put
// it.
struct RouteInfo {
  net::Prefix dst;  // 0.0.0.0/0: a default route
  std::optional<net::Ipv4> gateway;
  // RTA_PREFSRC: the source the kernel picks; a `route get` answer carries it (`ip route get`'s
  // "src"), which is how trace learns a CNI node's source toward a destination the plugins routed.
  std::optional<net::Ipv4> prefsrc;
  int oif = 0;
  int table = 0;     // RT_TABLE_MAIN (254) for the main table
  int protocol = 0;  // RTPROT_*: 2 kernel, 3 boot (ip route add), 12 bird
  // rtm_type: "unicast", "local", "blackhole", "unreachable", "prohibit" or the number (`trace`
  // names a route that drops).
  std::string type;
};

// One entry of a neighbour dump (RTM_NEWNEIGH): an ARP entry (`ip neigh`, family AF_INET) or a
// bridge's or VXLAN device's forwarding entry (`bridge fdb`, AF_BRIDGE), what `trace` reads as
// the reason a frame went where it went.
struct NeighInfo {
  int family = 0;      // AF_INET, or AF_BRIDGE (7)
  int ifindex = 0;     // the device; for a bridge's FDB entry, the port
  uint16_t state = 0;  // NUD_* (NUD_PERMANENT 0x80, NUD_REACHABLE 0x02, NUD_STALE 0x04, ...)
  uint8_t flags = 0;   // NTF_* (NTF_SELF 0x02, NTF_MASTER 0x04, ...)
  std::optional<net::Ipv4> ip;  // NDA_DST: the neighbour; in a VXLAN FDB entry, the remote VTEP
  std::optional<net::Mac> mac;  // NDA_LLADDR
  int master = 0;               // NDA_MASTER: the bridge an FDB entry is in
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

// --- requests ----------------------------------------------------------------------------------
// Each carries NLM_F_REQUEST | NLM_F_ACK (the kernel answers NLMSG_ERROR, error 0 when it is done)
// and, where it makes an object, NLM_F_CREATE | NLM_F_EXCL (EEXIST if it is there already). The
// comment gives the ip(8) command the kernel reads it as.

// RTM_NEWLINK: ip link add NAME [mtu M] [master B] type veth peer name PEER [mtu M] [address MAC]
// [netns FD]. The peer's attributes follow its own ifinfomsg inside VETH_INFO_PEER.
NlBytes BuildNewVeth(const VethSpec& v);
// RTM_NEWLINK: ip link add NAME mtu M address MAC type bridge
NlBytes BuildNewBridge(std::string_view name, int mtu, const net::Mac& mac);
// RTM_NEWLINK: ip link add NAME [mtu M] address MAC type vxlan id VNI local IP [dev LINK] dstport P
// nolearning
NlBytes BuildNewVxlan(const VxlanSpec& v);
// RTM_NEWLINK without NLM_F_CREATE: ip link set NAME up alias ALIAS
NlBytes BuildSetUpWithAlias(std::string_view name, std::string_view alias);
// RTM_SETLINK, family AF_BRIDGE, IFLA_PROTINFO { IFLA_BRPORT_MODE 1 }:
// bridge link set dev IFINDEX hairpin on
NlBytes BuildSetHairpin(int ifindex);
// RTM_DELLINK: ip link del IFINDEX
NlBytes BuildDelLink(int ifindex);
// RTM_NEWADDR: ip addr add ADDR/LEN dev IFINDEX (IFA_LOCAL and IFA_ADDRESS, as ip sends them)
NlBytes BuildNewAddr(int ifindex, const net::Prefix& addr);
// RTM_NEWROUTE: ip route add DST [via GW] [dev OIF] [onlink] [table T], proto boot; scope link
// without a gateway. Tables 1-255 go in rtm_table, larger ones in RTA_TABLE; 0 = main.
NlBytes BuildNewRoute(const net::Prefix& dst, std::optional<net::Ipv4> via, int oif, bool onlink,
                      int table);
// RTM_NEWNEIGH: ip neigh add IP lladdr MAC dev IFINDEX nud permanent
NlBytes BuildNewNeigh(int ifindex, net::Ipv4 ip, const net::Mac& mac);
// RTM_NEWNEIGH with NTF_PROXY: ip neigh add proxy IP dev IFINDEX
NlBytes BuildNewProxyNeigh(int ifindex, net::Ipv4 ip);
// RTM_NEWNEIGH, family AF_BRIDGE, NTF_SELF: bridge fdb add MAC dev IFINDEX dst IP self permanent
NlBytes BuildNewFdb(int ifindex, const net::Mac& mac, net::Ipv4 dst);
// RTM_NEWRULE: ip rule add pref P [to DST] [ipproto PROTO dport LO-HI] lookup TABLE
// (ipproto 0 = any protocol, no port range).
NlBytes BuildNewRule(int pref, std::optional<net::Prefix> dst, int ipproto, int dport_min,
                     int dport_max, int table);
// RTM_DELRULE: ip rule del pref P lookup TABLE
NlBytes BuildDelRule(int pref, int table);

// The original tuple of one TCP or UDP flow in the kernel's conntrack table.
struct CtTuple {
  uint8_t protocol = 0;  // IPPROTO_TCP or IPPROTO_UDP
  net::Ipv4 src, dst;
  uint16_t sport = 0, dport = 0;
};
// NETLINK_NETFILTER, IPCTNL_MSG_CT_DELETE: conntrack -D -p PROTO -s SRC -d DST --sport S --dport D
// (CTA_TUPLE_ORIG { CTA_TUPLE_IP { SRC, DST }, CTA_TUPLE_PROTO { PROTO, SPORT, DPORT } }, ports in
// network order).
NlBytes BuildCtDelete(const CtTuple& t);

// One IPv4 TCP or UDP socket as NETLINK_SOCK_DIAG names it (struct inet_diag_sockid): its local
// (src) and remote (dst) ends, the device it is bound to, and the kernel's cookie, which
// SOCK_DESTROY checks so that a socket made since under the same addresses is never the one
// destroyed.
struct InetSock {
  uint8_t protocol = 0;  // IPPROTO_TCP or IPPROTO_UDP
  net::Ipv4 src, dst;
  uint16_t sport = 0, dport = 0;
  uint32_t ifindex = 0;
  uint32_t cookie[2] = {0, 0};  // as the kernel gave it (idiag_cookie), handed back unchanged
  uint8_t state = 0;            // TCP_ESTABLISHED... (idiag_state; UDP sockets report 7 or 1)
  uint32_t inode = 0;  // the socket file's inode; 0 once no file is left (an orphan, e.g. FIN-WAIT)
};
// NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY with NLM_F_DUMP (ss -a -4 -t|-u): every AF_INET socket of
// `protocol` in the netns, in every state; the answer is inet_diag_msg each (ParseInetSock).
NlBytes BuildDumpInetSocks(uint8_t protocol);
// NETLINK_SOCK_DIAG, SOCK_DESTROY with NLM_F_ACK (ss -K, as Cilium's socket LB destroys the sockets
// of a backend that goes): the socket `s` names is aborted (ECONNABORTED to its owner; TCP sends a
// reset; UDP is disconnected). The kernel needs CONFIG_INET_DIAG_DESTROY (else EOPNOTSUPP).
NlBytes BuildDestroyInetSock(const InetSock& s);

// RTM_GETLINK for one link, NLM_F_REQUEST only: the kernel answers with one RTM_NEWLINK, or an
// NLMSG_ERROR (ENODEV) if there is no such link.
NlBytes BuildGetLink(std::string_view name);
NlBytes BuildGetLink(int ifindex);
// RTM_GETLINK with NLM_F_DUMP: every link, in as many datagrams as it takes, then NLMSG_DONE.
NlBytes BuildDumpLinks();

// RTM_GETROUTE with NLM_F_DUMP, family AF_INET: every IPv4 route of every table, then NLMSG_DONE.
NlBytes BuildDumpRoutes();

// A route lookup (`ip route get DST fibmatch`): RTM_GETROUTE with RTM_F_FIB_MATCH, so the kernel
// answers with the route that matched (its prefix, gateway, device, table), not a /32 clone.
// `fib_match` false: `ip route get DST`, the resolved /32 with the source the kernel picks
// (RTA_PREFSRC), which a matched route carries only when it was given one.
NlBytes BuildGetRoute(net::Ipv4 dst, bool fib_match = true);

// A route lookup with the fields FIB rules select on, as `ip route get DST [from SRC] [iif DEV]
// [ipproto P] [sport S] [dport D] [fibmatch]` asks it: a rule such as `ipproto tcp dport
// 30000-32767 lookup 100` (the userspace proxy's NodePorts) sends the packet to another table,
// which a lookup of DST alone never sees. With `iif` the kernel simulates the packet's input on
// that device (its source must then be given: an input lookup from 0.0.0.0 is a martian).
// Zero, empty: not given (ports only for TCP and UDP, as the kernel reads them).
struct RouteGet {
  net::Ipv4 dst;
  std::optional<net::Ipv4> src;
  int iif = 0;
  uint8_t ipproto = 0;  // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP; 0: any
  uint16_t sport = 0, dport = 0;
  bool fib_match = true;
};
NlBytes BuildGetRoute(const RouteGet& q);

// RTM_GETNEIGH with NLM_F_DUMP of `family`: AF_INET is `ip neigh show`, AF_BRIDGE `bridge fdb
// show` (every bridge's and VXLAN device's forwarding entries), then NLMSG_DONE.
NlBytes BuildDumpNeighbors(uint8_t family);

// Writes `seq` into a built message's nlmsghdr (NlSocket numbers its requests).
void SetSequence(NlBytes& msg, uint32_t seq);

// --- answers -----------------------------------------------------------------------------------

// The header of one received message, its payload (what follows the nlmsghdr) and its bytes.
struct NlMessage {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  uint32_t pid = 0;
  std::span<const uint8_t> payload;
  std::span<const uint8_t> bytes;  // the whole message, header included
};

// Splits a datagram into its messages. Internal if a header is cut short or a message's length is
// smaller than its header or runs past the datagram. The spans point into `datagram`.
absl::StatusOr<std::vector<NlMessage>> SplitDatagram(std::span<const uint8_t> datagram);

// What an NLMSG_ERROR says: error 0 is an acknowledgement, otherwise the kernel's (positive) errno;
// `extack` is its explanation (NLMSGERR_ATTR_MSG), if any. Internal if `m` is not a well-formed
// NLMSG_ERROR.
struct NlAck {
  int error = 0;
  std::string extack;
};
absl::StatusOr<NlAck> ParseAck(const NlMessage& m);

// A SOCK_DIAG_BY_FAMILY answer (struct inet_diag_msg, attributes ignored) as InetSock of
// `protocol`. InvalidArgument if `m` is another type or family; Internal if it is cut short.
absl::StatusOr<InetSock> ParseInetSock(const NlMessage& m, uint8_t protocol);

// An RTM_NEWLINK as LinkInfo. InvalidArgument if `m` is another type; Internal if it is malformed.
absl::StatusOr<LinkInfo> ParseLink(const NlMessage& m);

// An RTM_NEWROUTE of family AF_INET as RouteInfo (its table from RTA_TABLE when the kernel sends
// it, else rtm_table). InvalidArgument if `m` is another type or family; Internal if malformed.
absl::StatusOr<RouteInfo> ParseRoute(const NlMessage& m);

// An RTM_NEWNEIGH as NeighInfo (an NDA_DST that is not 4 bytes, an IPv6 neighbour's, is left
// out). InvalidArgument if `m` is another type; Internal if malformed.
absl::StatusOr<NeighInfo> ParseNeigh(const NlMessage& m);

// The answers to one request, fed datagram by datagram as NlSocket receives them. It keeps the
// messages of this request (its seq, and our portid or the kernel's 0) and skips the rest, and
// knows when the answer is complete: at an NLMSG_ERROR (an acknowledgement or an error), at
// NLMSG_DONE of a dump (which may carry an error too), or at the first message of a non-dump GET's
// answer.
class NlReplies {
 public:
  NlReplies(uint32_t seq, uint32_t portid, bool dump) : seq_(seq), portid_(portid), dump_(dump) {}

  // Takes one datagram. Internal if it is malformed (SplitDatagram, ParseAck). Messages after the
  // one that completes the answer are ignored.
  absl::Status Feed(std::span<const uint8_t> datagram);

  bool done() const { return done_; }
  // The kernel's errno if it refused the request (positive), 0 if it did not.
  int error() const { return error_; }
  const std::string& extack() const { return extack_; }
  // True if any message of a dump carried NLM_F_DUMP_INTR: the table changed while the kernel was
  // dumping it, so what was read may be inconsistent (RetryInterruptedDump).
  bool interrupted() const { return interrupted_; }
  // The data messages (neither NLMSG_ERROR nor NLMSG_DONE), each a whole message, header included.
  const std::vector<NlBytes>& messages() const { return messages_; }
  std::vector<NlBytes> TakeMessages() { return std::move(messages_); }

 private:
  uint32_t seq_;
  uint32_t portid_;
  bool dump_;
  bool done_ = false;
  bool interrupted_ = false;
  int error_ = 0;
  std::string extack_;
  std::vector<NlBytes> messages_;
};

// Views a whole message kept by NlReplies (header included) as an NlMessage. Internal if malformed.
absl::StatusOr<NlMessage> ViewMessage(std::span<const uint8_t> msg);

// How often a dump is tried before NLM_F_DUMP_INTR is taken for an answer.
inline constexpr int kDumpTries = 10;

// One complete dump: its data messages, and whether the kernel flagged it interrupted.
struct DumpResult {
  std::vector<NlBytes> messages;
  bool interrupted = false;
};

// Runs `dump_once` until it returns a dump that was not interrupted, at most `tries` times, and
// returns that dump's messages. Unavailable "WHAT: dump interrupted ..." when every try was
// interrupted; any error of `dump_once` is returned at once, untouched.
absl::StatusOr<std::vector<NlBytes>> RetryInterruptedDump(
    const std::function<absl::StatusOr<DumpResult>()>& dump_once, std::string_view what,
    int tries = kDumpTries);

// --- errors ------------------------------------------------------------------------------------

// An errno of netlink (a kernel's NLMSG_ERROR, or a failed socket call) as a Status:
// "WHAT: strerror(err)[ (kernel: EXTACK)]" with the code from KernelErrnoCode (errors.h), and on
// PermissionDenied the hint "need CAP_NET_ADMIN: run as root or with sudo". OK if err is 0.
absl::Status NetlinkError(int err, std::string_view what, std::string_view extack = {});

}  // namespace mkn::vnet
