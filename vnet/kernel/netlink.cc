#include "vnet/kernel/netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "lib/strings/str_cat.h"

namespace mkn::vnet {
namespace {

// Big enough for any request we build and for a dump chunk of many links.
constexpr size_t kBufSize = 32768;

struct Buffer {
  alignas(nlmsghdr) char data[kBufSize];
};

nlmsghdr* Start(Buffer& b, uint16_t type, uint16_t flags) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(b.data);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  return nlh;
}

ifinfomsg* PutIfinfo(nlmsghdr* nlh) {
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  return ifm;
}

uint32_t Be32(net::Ipv4 ip) { return htonl(ip.value); }

void PutName(nlmsghdr* nlh, uint16_t type, std::string_view s) {
  std::string z(s);
  mnl_attr_put_strz(nlh, type, z.c_str());
}

// Text of the kernel's extended ack (NLMSGERR_ATTR_MSG), if any.
std::string ExtackText(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t off = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - sizeof(nlmsghdr);
  const char* base = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + off;
  const char* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
  for (const auto* a = reinterpret_cast<const nlattr*>(base);
       reinterpret_cast<const char*>(a) + sizeof(nlattr) <= end && a->nla_len >= sizeof(nlattr);
       a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) +
                                           MNL_ALIGN(a->nla_len))) {
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      return std::string(static_cast<const char*>(mnl_attr_get_payload(a)));
    }
  }
  return "";
}

int ParseLink(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<std::vector<LinkInfo>*>(data);
  if (nlh->nlmsg_type != RTM_NEWLINK) return MNL_CB_OK;
  const auto* ifm = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  LinkInfo li;
  li.index = ifm->ifi_index;
  li.up = (ifm->ifi_flags & IFF_UP) != 0;
  auto* msg = const_cast<nlmsghdr*>(nlh);
  char* tail = static_cast<char*>(mnl_nlmsg_get_payload_tail(msg));
  for (auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(msg, sizeof(*ifm)));
       mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<char*>(attr)));
       attr = mnl_attr_next(attr)) {
    switch (mnl_attr_get_type(attr)) {
      case IFLA_IFNAME:
        li.name = mnl_attr_get_str(attr);
        break;
      case IFLA_IFALIAS:
        li.alias = mnl_attr_get_str(attr);
        break;
      case IFLA_MASTER:
        li.master = static_cast<int>(mnl_attr_get_u32(attr));
        break;
      case IFLA_MTU:
        li.mtu = static_cast<int>(mnl_attr_get_u32(attr));
        break;
      case IFLA_ADDRESS:
        if (mnl_attr_get_payload_len(attr) == 6)
          memcpy(li.mac.bytes.data(), mnl_attr_get_payload(attr), 6);
        break;
      case IFLA_LINKINFO: {
        char* end = static_cast<char*>(mnl_attr_get_payload(attr)) + mnl_attr_get_payload_len(attr);
        for (auto* info = static_cast<nlattr*>(mnl_attr_get_payload(attr));
             mnl_attr_ok(info, static_cast<int>(end - reinterpret_cast<char*>(info)));
             info = mnl_attr_next(info)) {
          if (mnl_attr_get_type(info) == IFLA_INFO_KIND) li.kind = mnl_attr_get_str(info);
        }
        break;
      }
      default:
        break;
    }
  }
  out->push_back(std::move(li));
  return MNL_CB_OK;
}

}  // namespace

absl::StatusOr<NlSocket> NlSocket::Open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return absl::ErrnoToStatus(errno, "open netlink socket");
  Fd owned(fd);
  int one = 1;
  // Ask for the kernel's explanation with every error, and for capped acks (no echo of our
  // request).
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    return absl::ErrnoToStatus(errno, "bind netlink socket");
  }
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return NlSocket(std::move(owned), sa.nl_pid);
}

absl::Status NlSocket::Roundtrip(void* buf, std::string_view what) {
  auto* nlh = static_cast<nlmsghdr*>(buf);
  nlh->nlmsg_seq = ++seq_;
  if (::send(fd_.get(), nlh, nlh->nlmsg_len, 0) < 0) {
    return absl::ErrnoToStatus(errno, StrCat(what, ": send"));
  }
  Buffer rb;
  for (;;) {
    ssize_t n = ::recv(fd_.get(), rb.data, sizeof(rb.data), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, StrCat(what, ": recv"));
    }
    for (auto* r = reinterpret_cast<nlmsghdr*>(rb.data); mnl_nlmsg_ok(r, static_cast<int>(n));
         r = mnl_nlmsg_next(r, reinterpret_cast<int*>(&n))) {
      if (r->nlmsg_seq != nlh->nlmsg_seq || r->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(r));
      if (err->error == 0) return absl::OkStatus();
      std::string text = StrCat(what, ": ", strerror(-err->error));
      std::string ext = ExtackText(r);
      if (!ext.empty()) StrAppend(&text, " (kernel: ", ext, ")");
      if (-err->error == EPERM) StrAppend(&text, "; need CAP_NET_ADMIN: run as root or with sudo");
      return absl::Status(absl::ErrnoToStatus(-err->error, "").code(), text);
    }
  }
}

absl::Status NlSocket::CreateVeth(const VethSpec& v) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  PutIfinfo(nlh);
  PutName(nlh, IFLA_IFNAME, v.name);
  if (v.mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, v.mtu);
  if (v.master > 0) mnl_attr_put_u32(nlh, IFLA_MASTER, v.master);
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  // The peer's attributes follow its own ifinfomsg inside VETH_INFO_PEER.
  auto* pifm = reinterpret_cast<ifinfomsg*>(static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh)));
  memset(pifm, 0, sizeof(*pifm));
  nlh->nlmsg_len += MNL_ALIGN(sizeof(ifinfomsg));
  PutName(nlh, IFLA_IFNAME, v.peer_name);
  if (v.mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, v.mtu);
  if (v.peer_mac) mnl_attr_put(nlh, IFLA_ADDRESS, 6, v.peer_mac->bytes.data());
  if (v.peer_netns_fd >= 0) mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, v.peer_netns_fd);
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  return Roundtrip(b.data, StrCat("create veth ", v.name, "<->", v.peer_name));
}

absl::Status NlSocket::CreateBridge(std::string_view name, int mtu, const net::Mac& mac) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  PutIfinfo(nlh);
  PutName(nlh, IFLA_IFNAME, name);
  mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac.bytes.data());
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, linkinfo);
  return Roundtrip(b.data, StrCat("create bridge ", name));
}

absl::Status NlSocket::CreateVxlan(const VxlanSpec& v) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  PutIfinfo(nlh);
  PutName(nlh, IFLA_IFNAME, v.name);
  if (v.mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, v.mtu);
  mnl_attr_put(nlh, IFLA_ADDRESS, 6, v.mac.bytes.data());
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, v.vni);
  uint32_t local = Be32(v.local);
  mnl_attr_put(nlh, IFLA_VXLAN_LOCAL, sizeof(local), &local);
  if (v.link > 0) mnl_attr_put_u32(nlh, IFLA_VXLAN_LINK, v.link);
  mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(v.port));
  mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);  // FDB is programmed, as flannel does
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  return Roundtrip(b.data, StrCat("create vxlan ", v.name));
}

absl::Status NlSocket::SetUpWithAlias(std::string_view name, std::string_view alias) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWLINK, 0);
  ifinfomsg* ifm = PutIfinfo(nlh);
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  PutName(nlh, IFLA_IFNAME, name);
  PutName(nlh, IFLA_IFALIAS, alias);
  return Roundtrip(b.data, StrCat("set ", name, " up"));
}

absl::Status NlSocket::AddAddress(int ifindex, const net::Prefix& addr) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<uint8_t>(addr.len);
  ifa->ifa_index = ifindex;
  uint32_t a = Be32(addr.addr);
  mnl_attr_put(nlh, IFA_LOCAL, sizeof(a), &a);
  mnl_attr_put(nlh, IFA_ADDRESS, sizeof(a), &a);
  return Roundtrip(b.data, StrCat("add address ", addr.ToString()));
}

absl::Status NlSocket::AddRoute(const net::Prefix& dst, std::optional<net::Ipv4> via, int oif,
                                bool onlink, int table) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<uint8_t>(dst.len);
  rtm->rtm_table = static_cast<uint8_t>(table == 0 ? int{RT_TABLE_MAIN}
                                                   : (table < 256 ? table : int{RT_TABLE_UNSPEC}));
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (onlink) rtm->rtm_flags |= RTNH_F_ONLINK;
  if (dst.len > 0) {
    uint32_t d = Be32(dst.addr);
    mnl_attr_put(nlh, RTA_DST, sizeof(d), &d);
  }
  if (via) {
    uint32_t g = Be32(*via);
    mnl_attr_put(nlh, RTA_GATEWAY, sizeof(g), &g);
  }
  if (oif > 0) mnl_attr_put_u32(nlh, RTA_OIF, oif);
  if (table >= 256) mnl_attr_put_u32(nlh, RTA_TABLE, static_cast<uint32_t>(table));
  return Roundtrip(b.data, StrCat("add route ", dst.len == 0 ? "default" : dst.ToString(),
                                  table != 0 ? StrCat(" table ", table) : ""));
}

absl::Status NlSocket::AddProxyNeighbor(int ifindex, net::Ipv4 ip) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL);
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  nd->ndm_family = AF_INET;
  nd->ndm_ifindex = ifindex;
  nd->ndm_state = NUD_PERMANENT;
  nd->ndm_flags = NTF_PROXY;
  uint32_t a = Be32(ip);
  mnl_attr_put(nlh, NDA_DST, sizeof(a), &a);
  return Roundtrip(b.data, StrCat("add proxy neighbour ", ip.ToString()));
}

absl::Status NlSocket::SetHairpin(int ifindex) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_SETLINK, 0);
  ifinfomsg* ifm = PutIfinfo(nlh);
  ifm->ifi_family = AF_BRIDGE;  // the bridge's own link attributes, of the port `ifindex`
  ifm->ifi_index = ifindex;
  nlattr* protinfo = mnl_attr_nest_start(nlh, IFLA_PROTINFO);
  mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
  mnl_attr_nest_end(nlh, protinfo);
  return Roundtrip(b.data, StrCat("set hairpin on port ", ifindex));
}

namespace {
nlmsghdr* StartRule(Buffer& b, uint16_t type, uint16_t flags, int pref, int table) {
  nlmsghdr* nlh = Start(b, type, flags);
  auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(fib_rule_hdr)));
  frh->family = AF_INET;
  frh->action = FR_ACT_TO_TBL;
  frh->table = static_cast<uint8_t>(table < 256 ? table : int{RT_TABLE_UNSPEC});
  mnl_attr_put_u32(nlh, FRA_PRIORITY, static_cast<uint32_t>(pref));
  mnl_attr_put_u32(nlh, FRA_TABLE, static_cast<uint32_t>(table));
  return nlh;
}
}  // namespace

absl::Status NlSocket::AddRule(int pref, std::optional<net::Prefix> dst, int ipproto, int dport_min,
                               int dport_max, int table) {
  Buffer b;
  nlmsghdr* nlh = StartRule(b, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, pref, table);
  auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_get_payload(nlh));
  if (dst) {
    frh->dst_len = static_cast<uint8_t>(dst->len);
    uint32_t d = Be32(dst->addr);
    mnl_attr_put(nlh, FRA_DST, sizeof(d), &d);
  }
  if (ipproto != 0) {
    mnl_attr_put_u8(nlh, FRA_IP_PROTO, static_cast<uint8_t>(ipproto));
    fib_rule_port_range r{static_cast<uint16_t>(dport_min), static_cast<uint16_t>(dport_max)};
    mnl_attr_put(nlh, FRA_DPORT_RANGE, sizeof(r), &r);
  }
  return Roundtrip(b.data, StrCat("add rule pref ", pref));
}

absl::Status NlSocket::DeleteRule(int pref, int table) {
  Buffer b;
  StartRule(b, RTM_DELRULE, 0, pref, table);
  return Roundtrip(b.data, StrCat("delete rule pref ", pref));
}

absl::Status NlSocket::AddNeighbor(int ifindex, net::Ipv4 ip, const net::Mac& mac) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL);
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  nd->ndm_family = AF_INET;
  nd->ndm_ifindex = ifindex;
  nd->ndm_state = NUD_PERMANENT;
  uint32_t a = Be32(ip);
  mnl_attr_put(nlh, NDA_DST, sizeof(a), &a);
  mnl_attr_put(nlh, NDA_LLADDR, 6, mac.bytes.data());
  return Roundtrip(b.data, StrCat("add neighbour ", ip.ToString()));
}

absl::Status NlSocket::AddFdb(int ifindex, const net::Mac& mac, net::Ipv4 dst) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL);
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  nd->ndm_family = AF_BRIDGE;
  nd->ndm_ifindex = ifindex;
  nd->ndm_state = NUD_PERMANENT;
  nd->ndm_flags = NTF_SELF;
  mnl_attr_put(nlh, NDA_LLADDR, 6, mac.bytes.data());
  uint32_t a = Be32(dst);
  mnl_attr_put(nlh, NDA_DST, sizeof(a), &a);
  return Roundtrip(b.data, StrCat("add fdb ", mac.ToString(), " dst ", dst.ToString()));
}

absl::Status NlSocket::DeleteLink(int ifindex) {
  Buffer b;
  nlmsghdr* nlh = Start(b, RTM_DELLINK, 0);
  PutIfinfo(nlh)->ifi_index = ifindex;
  return Roundtrip(b.data, StrCat("delete link ", ifindex));
}

absl::StatusOr<std::vector<LinkInfo>> NlSocket::DumpLinks(void* buf) {
  auto* nlh = static_cast<nlmsghdr*>(buf);
  nlh->nlmsg_seq = ++seq_;
  if (::send(fd_.get(), nlh, nlh->nlmsg_len, 0) < 0)
    return absl::ErrnoToStatus(errno, "list links: send");
  std::vector<LinkInfo> out;
  auto rb = std::make_unique<Buffer>();
  for (;;) {
    ssize_t n = ::recv(fd_.get(), rb->data, sizeof(rb->data), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "list links: recv");
    }
    int r = mnl_cb_run(rb->data, n, nlh->nlmsg_seq, portid_, ParseLink, &out);
    if (r == MNL_CB_STOP) return out;
    if (r < 0) {
      if (errno == ENODEV) return absl::NotFoundError("no such link");
      return absl::ErrnoToStatus(errno, "list links");
    }
    if (!(nlh->nlmsg_flags & NLM_F_DUMP)) return out;  // a single GETLINK answers in one message
  }
}

absl::StatusOr<LinkInfo> NlSocket::GetLink(std::string_view name) {
  Buffer b;
  nlmsghdr* nlh = mnl_nlmsg_put_header(b.data);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  PutIfinfo(nlh);
  PutName(nlh, IFLA_IFNAME, name);
  absl::StatusOr<std::vector<LinkInfo>> links = DumpLinks(b.data);
  if (!links.ok()) {
    if (absl::IsNotFound(links.status()))
      return absl::NotFoundError(StrCat("no link named ", name));
    return links.status();
  }
  if (links->empty()) return absl::NotFoundError(StrCat("no link named ", name));
  return links->front();
}

absl::StatusOr<LinkInfo> NlSocket::GetLink(int ifindex) {
  Buffer b;
  nlmsghdr* nlh = mnl_nlmsg_put_header(b.data);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  PutIfinfo(nlh)->ifi_index = ifindex;
  absl::StatusOr<std::vector<LinkInfo>> links = DumpLinks(b.data);
  if (!links.ok()) return links.status();
  if (links->empty()) return absl::NotFoundError(StrCat("no link with index ", ifindex));
  return links->front();
}

absl::StatusOr<std::vector<LinkInfo>> NlSocket::ListLinks() {
  Buffer b;
  nlmsghdr* nlh = mnl_nlmsg_put_header(b.data);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  PutIfinfo(nlh);
  return DumpLinks(b.data);
}

}  // namespace mkn::vnet
