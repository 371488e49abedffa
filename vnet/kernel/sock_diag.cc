#include "vnet/kernel/sock_diag.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <span>
#include <string>
#include <vector>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netlink_msg.h"

namespace mkn::vnet {
namespace {

constexpr char kNeedAdmin[] = "need CAP_NET_ADMIN: run as root or with sudo";

// One NETLINK_SOCK_DIAG socket (libmnl), closed when it goes.
class DiagSocket {
 public:
  ~DiagSocket() {
    if (nl_ != nullptr) mnl_socket_close(nl_);
  }
  absl::Status Open() {
    nl_ = mnl_socket_open(NETLINK_SOCK_DIAG);
    if (nl_ == nullptr) return KernelError(errno, "open NETLINK_SOCK_DIAG");
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0)
      return KernelError(errno, "bind NETLINK_SOCK_DIAG");
    return absl::OkStatus();
  }

  // Sends `msg` and feeds every answer to it to an NlReplies until it is complete.
  absl::StatusOr<NlReplies> Ask(NlBytes msg, bool dump, std::string_view what) {
    const uint32_t seq = seq_++;
    SetSequence(msg, seq);
    if (mnl_socket_sendto(nl_, msg.data(), msg.size()) < 0)
      return KernelError(errno, StrCat(what, ": send"), kNeedAdmin);
    NlReplies r(seq, mnl_socket_get_portid(nl_), dump);
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
    while (!r.done()) {
      const ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) return KernelError(errno, StrCat(what, ": receive"));
      MKN_RETURN_IF_ERROR(r.Feed(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n))));
    }
    return r;
  }

 private:
  mnl_socket* nl_ = nullptr;
  uint32_t seq_ = 1;
};

// Destroys `s`: true if it went (or had gone), false on EOPNOTSUPP as Unimplemented, else the
// error.
absl::StatusOr<bool> Destroy(DiagSocket& nl, const InetSock& s, std::string_view name) {
  const std::string what = StrCat("destroy ", name, " socket ", s.src.ToString(), ":", s.sport,
                                  " -> ", s.dst.ToString(), ":", s.dport);
  MKN_ASSIGN_OR_RETURN(NlReplies ack, nl.Ask(BuildDestroyInetSock(s), false, what));
  if (ack.error() == 0) return true;
  if (ack.error() == EOPNOTSUPP) {
    return absl::UnimplementedError(
        StrCat(what, ": this kernel cannot destroy sockets (it lacks CONFIG_INET_DIAG_DESTROY)"));
  }
  if (ack.error() == ENOENT) return false;  // closed meanwhile, which is as good
  return KernelError(ack.error(), what, kNeedAdmin);
}

// Every AF_INET socket of `protocol` in the calling thread's netns.
absl::StatusOr<std::vector<InetSock>> List(DiagSocket& nl, uint8_t protocol,
                                           std::string_view name) {
  MKN_ASSIGN_OR_RETURN(NlReplies dump, nl.Ask(BuildDumpInetSocks(protocol), true,
                                              StrCat("list ", name, " sockets")));
  if (dump.error() != 0)
    return KernelError(dump.error(), StrCat("list ", name, " sockets"), kNeedAdmin);
  std::vector<InetSock> out;
  for (const NlBytes& bytes : dump.messages()) {
    MKN_ASSIGN_OR_RETURN(NlMessage m, ViewMessage(bytes));
    absl::StatusOr<InetSock> s = ParseInetSock(m, protocol);
    if (s.ok()) out.push_back(*s);  // another type or family: not ours to judge
  }
  return out;
}

}  // namespace

absl::StatusOr<int> DestroySocketsTo(const std::vector<net::Ipv4>& dsts) {
  if (dsts.empty()) return 0;
  DiagSocket nl;
  MKN_RETURN_IF_ERROR(nl.Open());
  int destroyed = 0;
  for (uint8_t protocol : {uint8_t{IPPROTO_TCP}, uint8_t{IPPROTO_UDP}}) {
    const char* name = protocol == IPPROTO_TCP ? "tcp" : "udp";
    MKN_ASSIGN_OR_RETURN(std::vector<InetSock> socks, List(nl, protocol, name));
    for (const InetSock& s : socks) {
      if (std::find(dsts.begin(), dsts.end(), s.dst) == dsts.end()) continue;
      MKN_ASSIGN_OR_RETURN(bool gone, Destroy(nl, s, name));
      destroyed += gone ? 1 : 0;
    }
  }
  return destroyed;
}

absl::StatusOr<int> DestroyOrphanedTcpSockets() {
  DiagSocket nl;
  MKN_RETURN_IF_ERROR(nl.Open());
  MKN_ASSIGN_OR_RETURN(std::vector<InetSock> socks, List(nl, IPPROTO_TCP, "tcp"));
  int destroyed = 0;
  for (const InetSock& s : socks) {
    // A listener or a request (state 12, NEW_SYN_RECV) has no close to finish; TIME-WAIT holds
    // nothing.
    constexpr uint8_t kNewSynRecv = 12;
    if (s.inode != 0 || s.state == TCP_TIME_WAIT || s.state == TCP_CLOSE || s.state == TCP_LISTEN ||
        s.state == kNewSynRecv)
      continue;
    MKN_ASSIGN_OR_RETURN(bool gone, Destroy(nl, s, "tcp"));
    destroyed += gone ? 1 : 0;
  }
  return destroyed;
}

}  // namespace mkn::vnet
