#include "vnet/kernel/netlink.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"

namespace mkn::vnet {
namespace {

// The kernel never puts more than 32 KiB in one datagram (netlink_recvmsg caps the dump size it
// learns from our reads there), so one buffer of that size holds any datagram whole.
constexpr size_t kRecvSize = 32768;

}  // namespace

absl::StatusOr<NlSocket> NlSocket::Open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return NetlinkError(errno, "open netlink socket");
  Fd owned(fd);
  int one = 1;
  // Ask for the kernel's explanation with every error, and for capped acks (no echo of our
  // request). Both are best effort: an old kernel without them still answers.
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    return NetlinkError(errno, "bind netlink socket");
  }
  socklen_t len = sizeof(sa);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
    return NetlinkError(errno, "read netlink socket's port id");
  }
  return NlSocket(std::move(owned), sa.nl_pid);
}

absl::StatusOr<NlReplies> NlSocket::Exchange(NlBytes msg, bool dump, std::string_view what) {
  const uint32_t seq = ++seq_;
  SetSequence(msg, seq);
  ssize_t sent;
  do {
    sent = ::send(fd_.get(), msg.data(), msg.size(), 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return NetlinkError(errno, StrCat(what, ": send"));
  NlReplies replies(seq, portid_, dump);
  alignas(nlmsghdr) uint8_t buf[kRecvSize];
  while (!replies.done()) {
    // MSG_TRUNC: the datagram's real length, so a cut one is seen rather than misparsed.
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NetlinkError(errno, StrCat(what, ": recv"));
    }
    if (static_cast<size_t>(n) > sizeof(buf)) {
      return absl::InternalError(
          StrCat(what, ": an answer of ", n, " bytes was cut to ", sizeof(buf)));
    }
    absl::Status st = replies.Feed({buf, static_cast<size_t>(n)});
    if (!st.ok()) return absl::Status(st.code(), StrCat(what, ": ", st.message()));
  }
  return replies;
}

absl::Status NlSocket::Request(NlBytes msg, std::string_view what) {
  MKN_ASSIGN_OR_RETURN(NlReplies r, Exchange(std::move(msg), false, what));
  return NetlinkError(r.error(), what, r.extack());
}

absl::StatusOr<LinkInfo> NlSocket::GetOneLink(NlBytes msg, std::string_view what) {
  MKN_ASSIGN_OR_RETURN(NlReplies r, Exchange(std::move(msg), false, what));
  if (r.error() != 0) return NetlinkError(r.error(), what, r.extack());
  for (const NlBytes& bytes : r.messages()) {
    MKN_ASSIGN_OR_RETURN(NlMessage m, ViewMessage(bytes));
    if (m.type == RTM_NEWLINK) return ParseLink(m);
  }
  return absl::NotFoundError(StrCat(what, ": no link in the answer"));
}

absl::Status NlSocket::CreateVeth(const VethSpec& v) {
  return Request(BuildNewVeth(v), StrCat("create veth ", v.name, "<->", v.peer_name));
}

absl::Status NlSocket::CreateBridge(std::string_view name, int mtu, const net::Mac& mac) {
  return Request(BuildNewBridge(name, mtu, mac), StrCat("create bridge ", name));
}

absl::Status NlSocket::CreateVxlan(const VxlanSpec& v) {
  return Request(BuildNewVxlan(v), StrCat("create vxlan ", v.name));
}

absl::Status NlSocket::SetUpWithAlias(std::string_view name, std::string_view alias) {
  return Request(BuildSetUpWithAlias(name, alias), StrCat("set ", name, " up"));
}

absl::Status NlSocket::AddAddress(int ifindex, const net::Prefix& addr) {
  return Request(BuildNewAddr(ifindex, addr), StrCat("add address ", addr.ToString()));
}

absl::Status NlSocket::AddRoute(const net::Prefix& dst, std::optional<net::Ipv4> via, int oif,
                                bool onlink, int table) {
  return Request(BuildNewRoute(dst, via, oif, onlink, table),
                 StrCat("add route ", dst.len == 0 ? "default" : dst.ToString(),
                        table != 0 ? StrCat(" table ", table) : ""));
}

absl::Status NlSocket::AddNeighbor(int ifindex, net::Ipv4 ip, const net::Mac& mac) {
  return Request(BuildNewNeigh(ifindex, ip, mac), StrCat("add neighbour ", ip.ToString()));
}

absl::Status NlSocket::AddProxyNeighbor(int ifindex, net::Ipv4 ip) {
  return Request(BuildNewProxyNeigh(ifindex, ip), StrCat("add proxy neighbour ", ip.ToString()));
}

absl::Status NlSocket::SetHairpin(int ifindex) {
  return Request(BuildSetHairpin(ifindex), StrCat("set hairpin on port ", ifindex));
}

absl::Status NlSocket::AddRule(int pref, std::optional<net::Prefix> dst, int ipproto, int dport_min,
                               int dport_max, int table) {
  return Request(BuildNewRule(pref, dst, ipproto, dport_min, dport_max, table),
                 StrCat("add rule pref ", pref));
}

absl::Status NlSocket::DeleteRule(int pref, int table) {
  return Request(BuildDelRule(pref, table), StrCat("delete rule pref ", pref));
}

absl::Status NlSocket::AddFdb(int ifindex, const net::Mac& mac, net::Ipv4 dst) {
  return Request(BuildNewFdb(ifindex, mac, dst),
                 StrCat("add fdb ", mac.ToString(), " dst ", dst.ToString()));
}

absl::Status NlSocket::DeleteLink(int ifindex) {
  return Request(BuildDelLink(ifindex), StrCat("delete link ", ifindex));
}

absl::StatusOr<LinkInfo> NlSocket::GetLink(std::string_view name) {
  absl::StatusOr<LinkInfo> link = GetOneLink(BuildGetLink(name), StrCat("look up link ", name));
  if (absl::IsNotFound(link.status())) return absl::NotFoundError(StrCat("no link named ", name));
  return link;
}

absl::StatusOr<LinkInfo> NlSocket::GetLink(int ifindex) {
  absl::StatusOr<LinkInfo> link =
      GetOneLink(BuildGetLink(ifindex), StrCat("look up link ", ifindex));
  if (absl::IsNotFound(link.status()))
    return absl::NotFoundError(StrCat("no link with index ", ifindex));
  return link;
}

absl::StatusOr<RouteInfo> NlSocket::GetRoute(net::Ipv4 dst, bool fib_match) {
  RouteGet q;
  q.dst = dst;
  q.fib_match = fib_match;
  return GetRoute(q);
}

absl::StatusOr<RouteInfo> NlSocket::GetRoute(const RouteGet& q) {
  const net::Ipv4 dst = q.dst;
  const std::string what = StrCat("route get ", dst.ToString());
  MKN_ASSIGN_OR_RETURN(NlReplies r, Exchange(BuildGetRoute(q), false, what));
  if (r.error() == ENETUNREACH) return absl::NotFoundError(StrCat("no route to ", dst.ToString()));
  if (r.error() != 0) return NetlinkError(r.error(), what, r.extack());
  for (const NlBytes& bytes : r.messages()) {
    MKN_ASSIGN_OR_RETURN(NlMessage m, ViewMessage(bytes));
    if (m.type == RTM_NEWROUTE) return ParseRoute(m);
  }
  return absl::NotFoundError(StrCat(what, ": no route in the answer"));
}

absl::StatusOr<std::vector<LinkInfo>> NlSocket::ListLinks() {
  MKN_ASSIGN_OR_RETURN(std::vector<NlBytes> msgs,
                       RetryInterruptedDump(
                           [&]() -> absl::StatusOr<DumpResult> {
                             MKN_ASSIGN_OR_RETURN(NlReplies r,
                                                  Exchange(BuildDumpLinks(), true, "list links"));
                             if (r.error() != 0)
                               return NetlinkError(r.error(), "list links", r.extack());
                             return DumpResult{r.TakeMessages(), r.interrupted()};
                           },
                           "list links"));
  std::vector<LinkInfo> out;
  for (const NlBytes& bytes : msgs) {
    MKN_ASSIGN_OR_RETURN(NlMessage m, ViewMessage(bytes));
    if (m.type != RTM_NEWLINK) continue;
    MKN_ASSIGN_OR_RETURN(LinkInfo li, ParseLink(m));
    out.push_back(std::move(li));
  }
  return out;
}

absl::StatusOr<std::vector<RouteInfo>> NlSocket::ListRoutes() {
  MKN_ASSIGN_OR_RETURN(std::vector<NlBytes> msgs,
                       RetryInterruptedDump(
                           [&]() -> absl::StatusOr<DumpResult> {
                             MKN_ASSIGN_OR_RETURN(NlReplies r,
                                                  Exchange(BuildDumpRoutes(), true, "list routes"));
                             if (r.error() != 0)
                               return NetlinkError(r.error(), "list routes", r.extack());
                             return DumpResult{r.TakeMessages(), r.interrupted()};
                           },
                           "list routes"));
  std::vector<RouteInfo> out;
  for (const NlBytes& bytes : msgs) {
    MKN_ASSIGN_OR_RETURN(NlMessage m, ViewMessage(bytes));
    if (m.type != RTM_NEWROUTE) continue;
    MKN_ASSIGN_OR_RETURN(RouteInfo r, ParseRoute(m));
    out.push_back(r);
  }
  return out;
}

absl::StatusOr<std::vector<NeighInfo>> NlSocket::ListNeighbors(uint8_t family) {
  const std::string what = family == AF_BRIDGE ? "list fdb entries" : "list neighbours";
  MKN_ASSIGN_OR_RETURN(std::vector<NlBytes> msgs,
                       RetryInterruptedDump(
                           [&]() -> absl::StatusOr<DumpResult> {
                             MKN_ASSIGN_OR_RETURN(NlReplies r,
                                                  Exchange(BuildDumpNeighbors(family), true, what));
                             if (r.error() != 0) return NetlinkError(r.error(), what, r.extack());
                             return DumpResult{r.TakeMessages(), r.interrupted()};
                           },
                           what));
  std::vector<NeighInfo> out;
  for (const NlBytes& bytes : msgs) {
    MKN_ASSIGN_OR_RETURN(NlMessage m, ViewMessage(bytes));
    if (m.type != RTM_NEWNEIGH) continue;
    MKN_ASSIGN_OR_RETURN(NeighInfo n, ParseNeigh(m));
    out.push_back(n);
  }
  return out;
}

}  // namespace mkn::vnet
