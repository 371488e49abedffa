#include "vnet/kernel/conntrack.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <netinet/in.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netlink_msg.h"

namespace mkn::vnet {

std::vector<KernelFlow> ParseNfConntrack(std::string_view text) {
  std::vector<KernelFlow> out;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    std::vector<absl::string_view> w = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    // ipv4 2 tcp 6 117 TIME_WAIT src=.. dst=.. sport=.. dport=.. [packets=.. bytes=..] src=.. ...
    if (w.size() < 6 || w[0] != "ipv4") continue;
    KernelFlow f;
    f.protocol = std::string(w[2]);
    (void)absl::SimpleAtoi(w[4], &f.expires_s);
    int tuple = 0;  // 0: original, 1: reply
    int seen_src = 0;
    for (size_t i = 5; i < w.size(); ++i) {
      absl::string_view t = w[i];
      size_t eq = t.find('=');
      if (eq == absl::string_view::npos) {
        if (i == 5 && t[0] != '[') f.state = std::string(t);
        continue;
      }
      absl::string_view k = t.substr(0, eq), v = t.substr(eq + 1);
      if (k == "src") tuple = seen_src++ == 0 ? 0 : 1;
      auto ip = [&]() { return net::Ipv4::Parse(std::string(v)).value_or(net::Ipv4{}); };
      uint32_t port = 0;
      if (k == "src") (tuple ? f.reply_src : f.orig_src) = ip();
      if (k == "dst") (tuple ? f.reply_dst : f.orig_dst) = ip();
      if (k == "sport" && absl::SimpleAtoi(v, &port))
        (tuple ? f.reply_sport : f.orig_sport) = static_cast<uint16_t>(port);
      if (k == "dport" && absl::SimpleAtoi(v, &port))
        (tuple ? f.reply_dport : f.orig_dport) = static_cast<uint16_t>(port);
      uint64_t n = 0;
      if (k == "packets" && absl::SimpleAtoi(v, &n)) f.packets += n;
      if (k == "bytes" && absl::SimpleAtoi(v, &n)) f.bytes += n;
    }
    out.push_back(std::move(f));
  }
  return out;
}

absl::StatusOr<std::vector<KernelFlow>> ListKernelFlows() {
  std::ifstream in("/proc/thread-self/net/nf_conntrack");
  if (!in)
    return absl::UnavailableError(
        "no /proc/net/nf_conntrack in this netns (is nf_conntrack loaded?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseNfConntrack(ss.str());
}

absl::StatusOr<int> DeleteKernelFlowsTo(net::Ipv4 endpoint) {
  absl::StatusOr<std::vector<KernelFlow>> flows = ListKernelFlows();
  if (!flows.ok()) return flows.status();
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr) return KernelError(errno, "open NETLINK_NETFILTER");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    mnl_socket_close(nl);
    return KernelError(e, "bind NETLINK_NETFILTER");
  }
  const uint32_t portid = mnl_socket_get_portid(nl);
  int deleted = 0;
  uint32_t seq = 1;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  for (const KernelFlow& f : *flows) {
    if (f.reply_src != endpoint) continue;
    uint8_t proto = f.protocol == "tcp" ? IPPROTO_TCP : f.protocol == "udp" ? IPPROTO_UDP : 0;
    if (proto == 0) continue;  // ICMP and others expire on their own within seconds
    NlBytes msg = BuildCtDelete({proto, f.orig_src, f.orig_dst, f.orig_sport, f.orig_dport});
    const uint32_t sent_seq = seq++;
    SetSequence(msg, sent_seq);
    absl::Status failed;
    if (mnl_socket_sendto(nl, msg.data(), msg.size()) < 0) {
      failed = KernelError(errno, "conntrack delete: send",
                           "need CAP_NET_ADMIN: run as root or with sudo");
    } else {
      int n = static_cast<int>(mnl_socket_recvfrom(nl, buf, sizeof(buf)));
      if (n < 0) {
        failed = KernelError(errno, "conntrack delete: receive");
      } else if (mnl_cb_run(buf, n, sent_seq, portid, nullptr, nullptr) >= 0) {
        ++deleted;
      } else if (errno != ENOENT) {  // ENOENT: it expired meanwhile, which is as good
        failed = KernelError(errno,
                             StrCat("conntrack delete ", f.orig_src.ToString(), ":", f.orig_sport,
                                    " -> ", f.orig_dst.ToString(), ":", f.orig_dport),
                             "need CAP_NET_ADMIN: run as root or with sudo");
      }
    }
    if (!failed.ok()) {
      mnl_socket_close(nl);
      return failed;
    }
  }
  mnl_socket_close(nl);
  return deleted;
}

}  // namespace mkn::vnet
