#include "vnet/kernel/netlink_msg.h"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/neighbour.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/veth.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

namespace mkn::vnet {
namespace {

constexpr size_t Align(size_t n) { return (n + 3) & ~size_t{3}; }

// Writes one message. Every append is padded with zeros to 4 bytes, as NLMSG_ALIGN/NLA_ALIGN want;
// the growable buffer means no name or alias can overrun it. (libmnl writes into a caller's fixed
// buffer and checks nothing.)
class Writer {
 public:
  Writer(uint16_t type, uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    Append(&h, sizeof(h));
  }

  // The family header (ifinfomsg, rtmsg, ...), or a struct attribute's payload.
  template <typename T>
  void Put(const T& fixed) {
    Append(&fixed, sizeof(T));
  }

  void Attr(uint16_t type, const void* data, size_t len) {
    nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
    Append(&a, sizeof(a));
    Append(data, len);
  }
  void U8(uint16_t type, uint8_t v) { Attr(type, &v, sizeof(v)); }
  void U16(uint16_t type, uint16_t v) { Attr(type, &v, sizeof(v)); }
  void U32(uint16_t type, uint32_t v) { Attr(type, &v, sizeof(v)); }
  // An IPv4 address, in network order.
  void Ip(uint16_t type, net::Ipv4 ip) { U32(type, htonl(ip.value)); }
  void MacAttr(uint16_t type, const net::Mac& mac) { Attr(type, mac.bytes.data(), 6); }
  // A NUL-terminated string, as the kernel's NLA_STRING/NLA_NUL_STRING policies accept.
  void Str(uint16_t type, std::string_view s) {
    nlattr a{static_cast<uint16_t>(NLA_HDRLEN + s.size() + 1), type};
    Append(&a, sizeof(a));
    buf_.insert(buf_.end(), s.begin(), s.end());
    buf_.push_back(0);
    buf_.resize(Align(buf_.size()), 0);
  }

  // A nest: its header now, its length at EndNest (padding of what it holds included).
  size_t BeginNest(uint16_t type) {
    size_t at = buf_.size();
    nlattr a{NLA_HDRLEN, static_cast<uint16_t>(type | NLA_F_NESTED)};
    Append(&a, sizeof(a));
    return at;
  }
  void EndNest(size_t at) {
    auto len = static_cast<uint16_t>(buf_.size() - at);
    std::memcpy(buf_.data() + at, &len, sizeof(len));
  }

  NlBytes Finish() && {
    auto len = static_cast<uint32_t>(buf_.size());
    std::memcpy(buf_.data(), &len, sizeof(len));
    return std::move(buf_);
  }

 private:
  void Append(const void* data, size_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    buf_.insert(buf_.end(), p, p + len);
    buf_.resize(Align(buf_.size()), 0);
  }

  NlBytes buf_;
};

constexpr uint16_t kCreate = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

ifinfomsg Ifinfo(int ifindex = 0, uint8_t family = AF_UNSPEC) {
  ifinfomsg ifm{};
  ifm.ifi_family = family;
  ifm.ifi_index = ifindex;
  return ifm;
}

ndmsg Nd(uint8_t family, int ifindex, uint8_t flags) {
  ndmsg nd{};
  nd.ndm_family = family;
  nd.ndm_ifindex = ifindex;
  nd.ndm_state = NUD_PERMANENT;
  nd.ndm_flags = flags;
  return nd;
}

// The part of an ip rule that both `add` and `del` carry: family, action, table, priority.
Writer RuleMessage(uint16_t type, uint16_t flags, int pref, int table,
                   std::optional<net::Prefix> dst) {
  Writer w(type, flags);
  fib_rule_hdr frh{};
  frh.family = AF_INET;
  frh.action = FR_ACT_TO_TBL;
  frh.table = static_cast<uint8_t>(table < 256 ? table : int{RT_TABLE_UNSPEC});
  if (dst) frh.dst_len = static_cast<uint8_t>(dst->len);
  w.Put(frh);
  w.U32(FRA_PRIORITY, static_cast<uint32_t>(pref));
  w.U32(FRA_TABLE, static_cast<uint32_t>(table));
  return w;
}

}  // namespace

NlBytes BuildNewVeth(const VethSpec& v) {
  Writer w(RTM_NEWLINK, kCreate);
  w.Put(Ifinfo());
  w.Str(IFLA_IFNAME, v.name);
  if (v.mtu > 0) w.U32(IFLA_MTU, static_cast<uint32_t>(v.mtu));
  if (v.master > 0) w.U32(IFLA_MASTER, static_cast<uint32_t>(v.master));
  size_t linkinfo = w.BeginNest(IFLA_LINKINFO);
  w.Str(IFLA_INFO_KIND, "veth");
  size_t data = w.BeginNest(IFLA_INFO_DATA);
  size_t peer = w.BeginNest(VETH_INFO_PEER);
  w.Put(Ifinfo());
  w.Str(IFLA_IFNAME, v.peer_name);
  if (v.mtu > 0) w.U32(IFLA_MTU, static_cast<uint32_t>(v.mtu));
  if (v.peer_mac) w.MacAttr(IFLA_ADDRESS, *v.peer_mac);
  if (v.peer_netns_fd >= 0) w.U32(IFLA_NET_NS_FD, static_cast<uint32_t>(v.peer_netns_fd));
  w.EndNest(peer);
  w.EndNest(data);
  w.EndNest(linkinfo);
  return std::move(w).Finish();
}

NlBytes BuildNewBridge(std::string_view name, int mtu, const net::Mac& mac) {
  Writer w(RTM_NEWLINK, kCreate);
  w.Put(Ifinfo());
  w.Str(IFLA_IFNAME, name);
  w.U32(IFLA_MTU, static_cast<uint32_t>(mtu));
  w.MacAttr(IFLA_ADDRESS, mac);
  size_t linkinfo = w.BeginNest(IFLA_LINKINFO);
  w.Str(IFLA_INFO_KIND, "bridge");
  w.EndNest(linkinfo);
  return std::move(w).Finish();
}

NlBytes BuildNewVxlan(const VxlanSpec& v) {
  Writer w(RTM_NEWLINK, kCreate);
  w.Put(Ifinfo());
  w.Str(IFLA_IFNAME, v.name);
  if (v.mtu > 0) w.U32(IFLA_MTU, static_cast<uint32_t>(v.mtu));
  w.MacAttr(IFLA_ADDRESS, v.mac);
  size_t linkinfo = w.BeginNest(IFLA_LINKINFO);
  w.Str(IFLA_INFO_KIND, "vxlan");
  size_t data = w.BeginNest(IFLA_INFO_DATA);
  w.U32(IFLA_VXLAN_ID, v.vni);
  w.Ip(IFLA_VXLAN_LOCAL, v.local);
  if (v.link > 0) w.U32(IFLA_VXLAN_LINK, static_cast<uint32_t>(v.link));
  w.U16(IFLA_VXLAN_PORT, htons(v.port));
  w.U8(IFLA_VXLAN_LEARNING, 0);  // the FDB is programmed, as flannel does
  w.EndNest(data);
  w.EndNest(linkinfo);
  return std::move(w).Finish();
}

NlBytes BuildSetUpWithAlias(std::string_view name, std::string_view alias) {
  Writer w(RTM_NEWLINK, NLM_F_ACK);
  ifinfomsg ifm = Ifinfo();
  ifm.ifi_flags = IFF_UP;
  ifm.ifi_change = IFF_UP;
  w.Put(ifm);
  w.Str(IFLA_IFNAME, name);
  w.Str(IFLA_IFALIAS, alias);
  return std::move(w).Finish();
}

NlBytes BuildSetHairpin(int ifindex) {
  Writer w(RTM_SETLINK, NLM_F_ACK);
  w.Put(Ifinfo(ifindex, AF_BRIDGE));  // the bridge's own attributes of the port `ifindex`
  // NLA_F_NESTED matters here: without it the bridge reads IFLA_PROTINFO as the old flat format.
  size_t protinfo = w.BeginNest(IFLA_PROTINFO);
  w.U8(IFLA_BRPORT_MODE, 1);
  w.EndNest(protinfo);
  return std::move(w).Finish();
}

NlBytes BuildDelLink(int ifindex) {
  Writer w(RTM_DELLINK, NLM_F_ACK);
  w.Put(Ifinfo(ifindex));
  return std::move(w).Finish();
}

NlBytes BuildNewAddr(int ifindex, const net::Prefix& addr) {
  Writer w(RTM_NEWADDR, kCreate);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<uint8_t>(addr.len);
  ifa.ifa_index = static_cast<uint32_t>(ifindex);
  w.Put(ifa);
  w.Ip(IFA_LOCAL, addr.addr);
  w.Ip(IFA_ADDRESS, addr.addr);
  return std::move(w).Finish();
}

NlBytes BuildNewRoute(const net::Prefix& dst, std::optional<net::Ipv4> via, int oif, bool onlink,
                      int table) {
  Writer w(RTM_NEWROUTE, kCreate);
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = static_cast<uint8_t>(dst.len);
  // rtm_table is 8 bits: a larger table goes in RTA_TABLE, with RT_TABLE_UNSPEC here.
  rtm.rtm_table = static_cast<uint8_t>(table == 0 ? int{RT_TABLE_MAIN}
                                                  : (table < 256 ? table : int{RT_TABLE_UNSPEC}));
  rtm.rtm_protocol = RTPROT_BOOT;
  rtm.rtm_scope = via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm.rtm_type = RTN_UNICAST;
  if (onlink) rtm.rtm_flags |= RTNH_F_ONLINK;
  w.Put(rtm);
  if (dst.len > 0) w.Ip(RTA_DST, dst.addr);
  if (via) w.Ip(RTA_GATEWAY, *via);
  if (oif > 0) w.U32(RTA_OIF, static_cast<uint32_t>(oif));
  if (table >= 256) w.U32(RTA_TABLE, static_cast<uint32_t>(table));
  return std::move(w).Finish();
}

NlBytes BuildNewNeigh(int ifindex, net::Ipv4 ip, const net::Mac& mac) {
  Writer w(RTM_NEWNEIGH, kCreate);
  w.Put(Nd(AF_INET, ifindex, 0));
  w.Ip(NDA_DST, ip);
  w.MacAttr(NDA_LLADDR, mac);
  return std::move(w).Finish();
}

NlBytes BuildNewProxyNeigh(int ifindex, net::Ipv4 ip) {
  Writer w(RTM_NEWNEIGH, kCreate);
  w.Put(Nd(AF_INET, ifindex, NTF_PROXY));
  w.Ip(NDA_DST, ip);
  return std::move(w).Finish();
}

NlBytes BuildNewFdb(int ifindex, const net::Mac& mac, net::Ipv4 dst) {
  Writer w(RTM_NEWNEIGH, kCreate);
  w.Put(Nd(AF_BRIDGE, ifindex, NTF_SELF));
  w.MacAttr(NDA_LLADDR, mac);
  w.Ip(NDA_DST, dst);
  return std::move(w).Finish();
}

NlBytes BuildNewRule(int pref, std::optional<net::Prefix> dst, int ipproto, int dport_min,
                     int dport_max, int table) {
  Writer w = RuleMessage(RTM_NEWRULE, kCreate, pref, table, dst);
  if (dst) w.Ip(FRA_DST, dst->addr);
  if (ipproto != 0) {
    w.U8(FRA_IP_PROTO, static_cast<uint8_t>(ipproto));
    fib_rule_port_range r{static_cast<uint16_t>(dport_min), static_cast<uint16_t>(dport_max)};
    w.Attr(FRA_DPORT_RANGE, &r, sizeof(r));
  }
  return std::move(w).Finish();
}

NlBytes BuildDelRule(int pref, int table) {
  return RuleMessage(RTM_DELRULE, NLM_F_ACK, pref, table, std::nullopt).Finish();
}

NlBytes BuildCtDelete(const CtTuple& t) {
  Writer w(static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE), NLM_F_ACK);
  nfgenmsg nfg{};
  nfg.nfgen_family = AF_INET;
  nfg.version = NFNETLINK_V0;
  nfg.res_id = 0;
  w.Put(nfg);
  size_t tuple = w.BeginNest(CTA_TUPLE_ORIG);
  size_t ip = w.BeginNest(CTA_TUPLE_IP);
  w.Ip(CTA_IP_V4_SRC, t.src);
  w.Ip(CTA_IP_V4_DST, t.dst);
  w.EndNest(ip);
  size_t proto = w.BeginNest(CTA_TUPLE_PROTO);
  w.U8(CTA_PROTO_NUM, t.protocol);
  w.U16(CTA_PROTO_SRC_PORT, htons(t.sport));
  w.U16(CTA_PROTO_DST_PORT, htons(t.dport));
  w.EndNest(proto);
  w.EndNest(tuple);
  return std::move(w).Finish();
}

namespace {

inet_diag_req_v2 InetDiagReq(uint8_t protocol) {
  inet_diag_req_v2 r{};
  r.sdiag_family = AF_INET;
  r.sdiag_protocol = protocol;
  r.idiag_states = ~0u;  // every state: a connected UDP socket is TCP_ESTABLISHED, others CLOSE
  return r;
}

}  // namespace

NlBytes BuildDumpInetSocks(uint8_t protocol) {
  Writer w(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP);
  w.Put(InetDiagReq(protocol));
  return std::move(w).Finish();
}

NlBytes BuildDestroyInetSock(const InetSock& s) {
  Writer w(SOCK_DESTROY, NLM_F_ACK);
  inet_diag_req_v2 r = InetDiagReq(s.protocol);
  r.id.idiag_sport = htons(s.sport);
  r.id.idiag_dport = htons(s.dport);
  r.id.idiag_src[0] = htonl(s.src.value);
  r.id.idiag_dst[0] = htonl(s.dst.value);
  r.id.idiag_if = s.ifindex;
  r.id.idiag_cookie[0] = s.cookie[0];
  r.id.idiag_cookie[1] = s.cookie[1];
  w.Put(r);
  return std::move(w).Finish();
}

NlBytes BuildGetLink(std::string_view name) {
  Writer w(RTM_GETLINK, 0);
  w.Put(Ifinfo());
  w.Str(IFLA_IFNAME, name);
  return std::move(w).Finish();
}

NlBytes BuildGetLink(int ifindex) {
  Writer w(RTM_GETLINK, 0);
  w.Put(Ifinfo(ifindex));
  return std::move(w).Finish();
}

NlBytes BuildDumpLinks() {
  Writer w(RTM_GETLINK, NLM_F_DUMP);
  w.Put(Ifinfo());
  return std::move(w).Finish();
}

NlBytes BuildDumpRoutes() {
  Writer w(RTM_GETROUTE, NLM_F_DUMP);
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  w.Put(rtm);
  return std::move(w).Finish();
}

NlBytes BuildGetRoute(net::Ipv4 dst, bool fib_match) {
  RouteGet q;
  q.dst = dst;
  q.fib_match = fib_match;
  return BuildGetRoute(q);
}

NlBytes BuildGetRoute(const RouteGet& q) {
  Writer w(RTM_GETROUTE, 0);
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = 32;
  rtm.rtm_src_len = q.src ? 32 : 0;
  // RTM_F_LOOKUP_TABLE: the answer names the table the lookup ended in, as `ip route get` asks
  // (without it the kernel reports the cached route's, main for a route of a rule's table).
  rtm.rtm_flags = RTM_F_LOOKUP_TABLE | (q.fib_match ? RTM_F_FIB_MATCH : 0);
  w.Put(rtm);
  w.Ip(RTA_DST, q.dst);
  // In iproute2's order (ip/iproute.c iproute_get): from, iif, then the rule selectors.
  if (q.src) w.Ip(RTA_SRC, *q.src);
  if (q.iif > 0) w.U32(RTA_IIF, static_cast<uint32_t>(q.iif));
  if (q.ipproto != 0) w.U8(RTA_IP_PROTO, q.ipproto);
  // The kernel reads the ports as big-endian (nla_get_be16) and only for TCP and UDP.
  const bool ports = q.ipproto == IPPROTO_TCP || q.ipproto == IPPROTO_UDP;
  if (ports && q.sport != 0) w.U16(RTA_SPORT, htons(q.sport));
  if (ports && q.dport != 0) w.U16(RTA_DPORT, htons(q.dport));
  return std::move(w).Finish();
}

NlBytes BuildDumpNeighbors(uint8_t family) {
  Writer w(RTM_GETNEIGH, NLM_F_DUMP);
  ndmsg nd{};
  nd.ndm_family = family;
  w.Put(nd);
  return std::move(w).Finish();
}

void SetSequence(NlBytes& msg, uint32_t seq) {
  if (msg.size() >= sizeof(nlmsghdr))
    std::memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof(seq));
}

// --- answers -----------------------------------------------------------------------------------

namespace {

absl::Status Malformed(std::string_view what) {
  return absl::InternalError(StrCat("malformed netlink message: ", what));
}

// The attributes in `bytes`, in order. Every one is checked before it is handed out.
class Attrs {
 public:
  struct Attr {
    uint16_t type;  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
    std::span<const uint8_t> payload;
  };

  static absl::StatusOr<std::vector<Attr>> Parse(std::span<const uint8_t> bytes) {
    std::vector<Attr> out;
    size_t off = 0;
    while (off < bytes.size()) {
      if (bytes.size() - off < NLA_HDRLEN) return Malformed("attribute header cut short");
      nlattr a;
      std::memcpy(&a, bytes.data() + off, sizeof(a));
      if (a.nla_len < NLA_HDRLEN || a.nla_len > bytes.size() - off)
        return Malformed(StrCat("attribute ", a.nla_type & NLA_TYPE_MASK, " of length ", a.nla_len,
                                " in ", bytes.size() - off, " bytes"));
      out.push_back({static_cast<uint16_t>(a.nla_type & NLA_TYPE_MASK),
                     bytes.subspan(off + NLA_HDRLEN, a.nla_len - NLA_HDRLEN)});
      off += std::min<size_t>(Align(a.nla_len), bytes.size() - off);
    }
    return out;
  }
};

absl::StatusOr<uint32_t> AttrU32(const Attrs::Attr& a) {
  if (a.payload.size() != sizeof(uint32_t))
    return Malformed(StrCat("attribute ", a.type, ": ", a.payload.size(), " bytes, want 4"));
  uint32_t v;
  std::memcpy(&v, a.payload.data(), sizeof(v));
  return v;
}

// A string attribute up to its first NUL, or all of it if the kernel left the NUL out.
std::string AttrStr(const Attrs::Attr& a) {
  const char* p = reinterpret_cast<const char*>(a.payload.data());
  return std::string(p, strnlen(p, a.payload.size()));
}

}  // namespace

absl::StatusOr<std::vector<NlMessage>> SplitDatagram(std::span<const uint8_t> datagram) {
  std::vector<NlMessage> out;
  size_t off = 0;
  while (off < datagram.size()) {
    if (datagram.size() - off < sizeof(nlmsghdr)) return Malformed("header cut short");
    nlmsghdr h;
    std::memcpy(&h, datagram.data() + off, sizeof(h));
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > datagram.size() - off)
      return Malformed(
          StrCat("message of length ", h.nlmsg_len, " in ", datagram.size() - off, " bytes"));
    out.push_back({h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq, h.nlmsg_pid,
                   datagram.subspan(off + sizeof(nlmsghdr), h.nlmsg_len - sizeof(nlmsghdr)),
                   datagram.subspan(off, h.nlmsg_len)});
    off += std::min<size_t>(Align(h.nlmsg_len), datagram.size() - off);
  }
  return out;
}

absl::StatusOr<NlMessage> ViewMessage(std::span<const uint8_t> msg) {
  absl::StatusOr<std::vector<NlMessage>> all = SplitDatagram(msg);
  if (!all.ok()) return all.status();
  if (all->size() != 1) return Malformed(StrCat(all->size(), " messages where one was expected"));
  return all->front();
}

absl::StatusOr<NlAck> ParseAck(const NlMessage& m) {
  if (m.type != NLMSG_ERROR) return Malformed(StrCat("type ", m.type, " is not NLMSG_ERROR"));
  if (m.payload.size() < sizeof(nlmsgerr)) return Malformed("NLMSG_ERROR cut short");
  nlmsgerr err;
  std::memcpy(&err, m.payload.data(), sizeof(err));
  NlAck ack{-err.error, ""};
  if (!(m.flags & NLM_F_ACK_TLVS)) return ack;
  // The TLVs follow our request as echoed: its header only when the ack is capped.
  size_t off = sizeof(nlmsgerr);
  if (!(m.flags & NLM_F_CAPPED)) {
    if (err.msg.nlmsg_len < sizeof(nlmsghdr)) return Malformed("NLMSG_ERROR echoes a bad header");
    off += Align(err.msg.nlmsg_len - sizeof(nlmsghdr));
  }
  if (off > m.payload.size()) return Malformed("NLMSG_ERROR echo runs past the message");
  absl::StatusOr<std::vector<Attrs::Attr>> tlvs = Attrs::Parse(m.payload.subspan(off));
  if (!tlvs.ok()) return tlvs.status();
  for (const Attrs::Attr& a : *tlvs) {
    if (a.type == NLMSGERR_ATTR_MSG) ack.extack = AttrStr(a);
  }
  return ack;
}

absl::StatusOr<InetSock> ParseInetSock(const NlMessage& m, uint8_t protocol) {
  if (m.type != SOCK_DIAG_BY_FAMILY) {
    return absl::InvalidArgumentError(StrCat("not a sock_diag answer (type ", m.type, ")"));
  }
  inet_diag_msg d;
  if (m.payload.size() < sizeof(d)) return absl::InternalError("inet_diag_msg cut short");
  std::memcpy(&d, m.payload.data(), sizeof(d));
  if (d.idiag_family != AF_INET) {
    return absl::InvalidArgumentError(
        StrCat("not an AF_INET socket (family ", d.idiag_family, ")"));
  }
  InetSock s;
  s.protocol = protocol;
  s.src = net::Ipv4{ntohl(d.id.idiag_src[0])};
  s.dst = net::Ipv4{ntohl(d.id.idiag_dst[0])};
  s.sport = ntohs(d.id.idiag_sport);
  s.dport = ntohs(d.id.idiag_dport);
  s.ifindex = d.id.idiag_if;
  s.cookie[0] = d.id.idiag_cookie[0];
  s.cookie[1] = d.id.idiag_cookie[1];
  s.state = d.idiag_state;
  s.inode = d.idiag_inode;
  return s;
}

absl::StatusOr<LinkInfo> ParseLink(const NlMessage& m) {
  if (m.type != RTM_NEWLINK)
    return absl::InvalidArgumentError(StrCat("netlink message type ", m.type, " is not a link"));
  if (m.payload.size() < sizeof(ifinfomsg)) return Malformed("RTM_NEWLINK cut short");
  ifinfomsg ifm;
  std::memcpy(&ifm, m.payload.data(), sizeof(ifm));
  LinkInfo li;
  li.index = ifm.ifi_index;
  li.up = (ifm.ifi_flags & IFF_UP) != 0;
  absl::StatusOr<std::vector<Attrs::Attr>> attrs =
      Attrs::Parse(m.payload.subspan(Align(sizeof(ifinfomsg))));
  if (!attrs.ok()) return attrs.status();
  for (const Attrs::Attr& a : *attrs) {
    switch (a.type) {
      case IFLA_IFNAME:
        li.name = AttrStr(a);
        break;
      case IFLA_IFALIAS:
        li.alias = AttrStr(a);
        break;
      case IFLA_MASTER: {
        absl::StatusOr<uint32_t> v = AttrU32(a);
        if (!v.ok()) return v.status();
        li.master = static_cast<int>(*v);
        break;
      }
      case IFLA_MTU: {
        absl::StatusOr<uint32_t> v = AttrU32(a);
        if (!v.ok()) return v.status();
        li.mtu = static_cast<int>(*v);
        break;
      }
      case IFLA_ADDRESS:
        // Only an Ethernet address is one of ours (lo's is 6 zero bytes; a tunnel's may be 4).
        if (a.payload.size() == 6) std::memcpy(li.mac.bytes.data(), a.payload.data(), 6);
        break;
      case IFLA_LINKINFO: {
        absl::StatusOr<std::vector<Attrs::Attr>> info = Attrs::Parse(a.payload);
        if (!info.ok()) return info.status();
        for (const Attrs::Attr& i : *info) {
          if (i.type == IFLA_INFO_KIND) li.kind = AttrStr(i);
        }
        break;
      }
      default:
        break;
    }
  }
  return li;
}

absl::StatusOr<RouteInfo> ParseRoute(const NlMessage& m) {
  if (m.type != RTM_NEWROUTE)
    return absl::InvalidArgumentError(StrCat("netlink message type ", m.type, " is not a route"));
  if (m.payload.size() < sizeof(rtmsg)) return Malformed("RTM_NEWROUTE cut short");
  rtmsg rtm;
  std::memcpy(&rtm, m.payload.data(), sizeof(rtm));
  if (rtm.rtm_family != AF_INET)
    return absl::InvalidArgumentError(
        StrCat("route of family ", int{rtm.rtm_family}, ", not IPv4"));
  RouteInfo r;
  r.dst.len = rtm.rtm_dst_len;
  r.table = rtm.rtm_table;
  r.protocol = rtm.rtm_protocol;
  switch (rtm.rtm_type) {
    case RTN_UNICAST:
      r.type = "unicast";
      break;
    case RTN_LOCAL:
      r.type = "local";
      break;
    case RTN_BLACKHOLE:
      r.type = "blackhole";
      break;
    case RTN_UNREACHABLE:
      r.type = "unreachable";
      break;
    case RTN_PROHIBIT:
      r.type = "prohibit";
      break;
    default:
      r.type = StrCat(static_cast<int>(rtm.rtm_type));
  }
  absl::StatusOr<std::vector<Attrs::Attr>> attrs =
      Attrs::Parse(m.payload.subspan(std::min(m.payload.size(), Align(sizeof(rtmsg)))));
  if (!attrs.ok()) return attrs.status();
  for (const Attrs::Attr& a : *attrs) {
    if (a.type != RTA_DST && a.type != RTA_GATEWAY && a.type != RTA_OIF && a.type != RTA_TABLE &&
        a.type != RTA_PREFSRC)
      continue;
    absl::StatusOr<uint32_t> v = AttrU32(a);
    if (!v.ok()) return v.status();
    switch (a.type) {
      case RTA_DST:
        r.dst.addr = net::Ipv4{ntohl(*v)};
        break;
      case RTA_GATEWAY:
        r.gateway = net::Ipv4{ntohl(*v)};
        break;
      case RTA_PREFSRC:
        r.prefsrc = net::Ipv4{ntohl(*v)};
        break;
      case RTA_OIF:
        r.oif = static_cast<int>(*v);
        break;
      case RTA_TABLE:
        r.table = static_cast<int>(*v);
        break;
    }
  }
  return r;
}

absl::StatusOr<NeighInfo> ParseNeigh(const NlMessage& m) {
  if (m.type != RTM_NEWNEIGH)
    return absl::InvalidArgumentError(StrCat("netlink message type ", m.type, " is no neighbour"));
  if (m.payload.size() < sizeof(ndmsg)) return Malformed("RTM_NEWNEIGH cut short");
  ndmsg nd;
  std::memcpy(&nd, m.payload.data(), sizeof(nd));
  NeighInfo n;
  n.family = nd.ndm_family;
  n.ifindex = nd.ndm_ifindex;
  n.state = nd.ndm_state;
  n.flags = nd.ndm_flags;
  absl::StatusOr<std::vector<Attrs::Attr>> attrs =
      Attrs::Parse(m.payload.subspan(std::min(m.payload.size(), Align(sizeof(ndmsg)))));
  if (!attrs.ok()) return attrs.status();
  for (const Attrs::Attr& a : *attrs) {
    switch (a.type) {
      case NDA_DST:
        if (a.payload.size() == 4) {
          uint32_t v;
          std::memcpy(&v, a.payload.data(), 4);
          n.ip = net::Ipv4{ntohl(v)};
        }
        break;
      case NDA_LLADDR:
        if (a.payload.size() == 6) {
          net::Mac mac;
          std::memcpy(mac.bytes.data(), a.payload.data(), 6);
          n.mac = mac;
        }
        break;
      case NDA_MASTER: {
        absl::StatusOr<uint32_t> v = AttrU32(a);
        if (!v.ok()) return v.status();
        n.master = static_cast<int>(*v);
        break;
      }
      default:
        break;
    }
  }
  return n;
}

absl::Status NlReplies::Feed(std::span<const uint8_t> datagram) {
  absl::StatusOr<std::vector<NlMessage>> msgs = SplitDatagram(datagram);
  if (!msgs.ok()) return msgs.status();
  for (const NlMessage& m : *msgs) {
    if (done_) break;
    // Another request's answer (a late one, or another socket's): not ours to read.
    if (m.seq != seq_ || (m.pid != 0 && m.pid != portid_)) continue;
    if (m.flags & NLM_F_DUMP_INTR) interrupted_ = true;
    switch (m.type) {
      case NLMSG_NOOP:
        break;
      case NLMSG_ERROR: {
        absl::StatusOr<NlAck> ack = ParseAck(m);
        if (!ack.ok()) return ack.status();
        error_ = ack->error;
        extack_ = std::move(ack->extack);
        done_ = true;
        break;
      }
      case NLMSG_DONE: {
        // A dump's end carries an int: 0 (a length on old kernels), or minus the errno that cut
        // the dump short.
        if (m.payload.size() >= sizeof(int)) {
          int err;
          std::memcpy(&err, m.payload.data(), sizeof(err));
          if (err < 0) error_ = -err;
        }
        done_ = true;
        break;
      }
      default:
        messages_.emplace_back(m.bytes.begin(), m.bytes.end());
        if (!dump_) done_ = true;
        break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NlBytes>> RetryInterruptedDump(
    const std::function<absl::StatusOr<DumpResult>()>& dump_once, std::string_view what,
    int tries) {
  for (int i = 0; i < tries; ++i) {
    absl::StatusOr<DumpResult> r = dump_once();
    if (!r.ok()) return r.status();
    if (!r->interrupted) return std::move(r->messages);
  }
  return absl::UnavailableError(
      StrCat(what, ": dump interrupted ", tries, " times in a row (the table kept changing)"));
}

// --- errors ------------------------------------------------------------------------------------

absl::Status NetlinkError(int err, std::string_view what, std::string_view extack) {
  absl::Status st = KernelError(err, what);
  if (st.ok()) return st;
  std::string text(st.message());
  if (!extack.empty()) StrAppend(&text, " (kernel: ", extack, ")");
  if (st.code() == absl::StatusCode::kPermissionDenied)
    StrAppend(&text, "; need CAP_NET_ADMIN: run as root or with sudo");
  return absl::Status(st.code(), text);
}

}  // namespace mkn::vnet
