#include "vnet/capture/sockets.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <system_error>
#include <thread>
#include <utility>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {
namespace {

constexpr std::string_view kRawHint =
    "need CAP_NET_RAW and CAP_SYS_ADMIN: run as root or with sudo";
// recvmmsg batch: enough to amortize the syscall, small enough that 16 x snaplen stays a few MB.
constexpr int kBatch = 16;
// Batches one socket may take per wake-up before the others get their turn.
constexpr int kBatchesPerWake = 8;
constexpr uint32_t kStopTag = UINT32_MAX;

// The link type a pcapng file gives what a SOCK_RAW packet socket reads on this hardware type;
// 0 = none we can name.
uint16_t LinkTypeOf(int arphrd) {
  switch (arphrd) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK:  // a zeroed Ethernet header
      return capture::kLinkTypeEthernet;
    case ARPHRD_NONE:  // a TUN (the userspace proxy's mkn-proxy): raw IP
      return capture::kLinkTypeRaw;
    default:
      return 0;
  }
}

// libpcap's compiler, without a live handle: the same code tcpdump would attach.
absl::StatusOr<std::vector<sock_filter>> CompileFilter(const std::string& filter, int link_type,
                                                       uint32_t snaplen) {
  // pcap_open_dead takes a DLT_ value; a file's LINKTYPE_RAW (101) is DLT_RAW (12) on Linux.
  const int dlt = link_type == capture::kLinkTypeRaw ? DLT_RAW : link_type;
  pcap_t* p = pcap_open_dead(dlt, static_cast<int>(snaplen));
  if (p == nullptr) return absl::ResourceExhaustedError("compile capture filter: out of memory");
  bpf_program prog{};
  if (pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    std::string err = pcap_geterr(p);
    pcap_close(p);
    return absl::InvalidArgumentError(StrCat("capture filter \"", filter, "\": ", err));
  }
  std::vector<sock_filter> code(prog.bf_len);
  for (u_int i = 0; i < prog.bf_len; ++i) {
    code[i] = sock_filter{prog.bf_insns[i].code, prog.bf_insns[i].jt, prog.bf_insns[i].jf,
                          prog.bf_insns[i].k};
  }
  pcap_freecode(&prog);
  pcap_close(p);
  return code;
}

std::string AddressText(const sockaddr* sa, const sockaddr* mask) {
  char buf[INET6_ADDRSTRLEN] = {};
  int len = 0;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    if (mask) len = __builtin_popcount(reinterpret_cast<const sockaddr_in*>(mask)->sin_addr.s_addr);
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    if (mask) {
      const auto* m = reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr.s6_addr;
      for (int i = 0; i < 16; ++i) len += __builtin_popcount(m[i]);
    }
  }
  return StrCat(buf, "/", len);
}

// The addresses of each interface of the calling thread's netns, "a.b.c.d/n".
std::map<std::string, std::vector<std::string>> Addresses() {
  std::map<std::string, std::vector<std::string>> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;  // a description without addresses is still right
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    if (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6) continue;
    out[a->ifa_name].push_back(AddressText(a->ifa_addr, a->ifa_netmask));
  }
  freeifaddrs(list);
  return out;
}

struct IfEntry {
  unsigned index;
  std::string name;
};

std::vector<IfEntry> ListInterfaces() {
  std::vector<IfEntry> out;
  struct if_nameindex* ifs = if_nameindex();
  if (ifs == nullptr) return out;
  for (struct if_nameindex* i = ifs; i->if_index != 0; ++i)
    out.push_back({i->if_index, i->if_name});
  if_freenameindex(ifs);
  std::sort(out.begin(), out.end(),
            [](const IfEntry& a, const IfEntry& b) { return a.index < b.index; });
  return out;
}

}  // namespace

struct PacketSockets::Impl {
  // Closing a packet socket waits for an RCU grace period (packet_release's synchronize_net(),
  // 10-16 ms each on the CI machine): one after another, trace's 17 sockets took 0.23 s to close,
  // most of a trace. Closed from several threads at once, the waits overlap into about one.
  ~Impl() {
    const size_t workers = std::min<size_t>(fds.size(), 16);
    if (workers < 2) return;
    std::vector<std::thread> threads;
    try {
      for (size_t w = 0; w < workers; ++w) {
        threads.emplace_back([this, w, workers] {
          for (size_t i = w; i < fds.size(); i += workers) fds[i] = Fd();
        });
      }
    } catch (const std::system_error&) {
      // No thread to be had: the ones that started close their share, the rest close serially.
    }
    for (std::thread& t : threads) t.join();
  }

  std::vector<OpenInterface> interfaces;
  std::vector<Fd> fds;
  std::vector<bool> loopback;
  std::vector<InterfaceCounters> counters;
  std::vector<std::string> skipped;
  Fd epoll;
  uint32_t snaplen = 0;
  int stop_fd_added = -1;
  // recvmmsg's buffers, made once.
  std::vector<uint8_t> data;
  std::vector<mmsghdr> msgs;
  std::vector<iovec> iovs;
  std::vector<sockaddr_ll> names;
  std::vector<std::array<char, CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(tpacket_auxdata))>>
      controls;

  // Opens `name` (index `index`) in the calling thread's netns.
  absl::Status OpenOne(const capture::Target& t, const IfEntry& e,
                       const std::vector<std::string>& addresses, const std::string& filter,
                       std::map<int, std::vector<sock_filter>>& compiled, int rcvbuf,
                       capture::Promiscuity promiscuity) {
    const std::string label = capture::InterfaceName(t.object, e.name);
    // Protocol 0: nothing is queued until bind() names ETH_P_ALL, after the filter is attached.
    Fd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
      return KernelError(errno, StrCat("open a packet socket on ", label), kRawHint);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, e.name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd.get(), SIOCGIFHWADDR, &ifr) < 0)
      return KernelError(errno, StrCat("read the link type of ", label));
    const uint16_t link_type = LinkTypeOf(ifr.ifr_hwaddr.sa_family);
    if (link_type == 0) {
      skipped.push_back(
          StrCat(label, " (link type ", ifr.ifr_hwaddr.sa_family, ": no pcapng name for it)"));
      return absl::OkStatus();
    }
    auto it = compiled.find(link_type);
    if (it == compiled.end()) {
      MKN_ASSIGN_OR_RETURN(std::vector<sock_filter> code,
                           CompileFilter(filter, link_type, snaplen));
      it = compiled.emplace(link_type, std::move(code)).first;
    }
    sock_fprog prog{static_cast<unsigned short>(it->second.size()), it->second.data()};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
      return KernelError(errno, StrCat("attach the capture filter on ", label));
    // FORCE goes past net.core.rmem_max (root); without it the kernel caps the buffer there.
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    const int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0 ||
        ::setsockopt(fd.get(), SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0)
      return KernelError(errno, StrCat("set up the packet socket on ", label));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(e.index);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0)
      return KernelError(errno, StrCat("bind a packet socket to ", label));
    // A bridge whose ports are all captured is spared (lib/capture/promisc.h): promiscuous, it
    // would hand its node's stack a second copy of each frame br_netfilter translates.
    if (promiscuity == capture::Promiscuity::kOn ||
        promiscuity == capture::Promiscuity::kBridgeAlone) {
      packet_mreq mr{};
      mr.mr_ifindex = static_cast<int>(e.index);
      mr.mr_type = PACKET_MR_PROMISC;
      if (::setsockopt(fd.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
        return KernelError(errno, StrCat("put ", label, " in promiscuous mode"), kRawHint);
    }
    OpenInterface oi;
    oi.idb.name = label;
    oi.idb.description = capture::DescribeInterface(t.object, e.name, addresses);
    oi.idb.link_type = link_type;
    oi.idb.snaplen = snaplen;
    oi.idb.filter = filter;
    oi.netns = t.object.netns;
    oi.ifname = e.name;
    oi.promiscuity = promiscuity;
    interfaces.push_back(std::move(oi));
    fds.push_back(std::move(fd));
    loopback.push_back(ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK);
    counters.emplace_back();
    return absl::OkStatus();
  }

  void PrepareBuffers() {
    data.assign(static_cast<size_t>(kBatch) * snaplen, 0);
    msgs.assign(kBatch, mmsghdr{});
    iovs.assign(kBatch, iovec{});
    names.assign(kBatch, sockaddr_ll{});
    controls.resize(kBatch);
    for (int k = 0; k < kBatch; ++k) {
      iovs[k] = iovec{data.data() + static_cast<size_t>(k) * snaplen, snaplen};
      msgs[k].msg_hdr.msg_iov = &iovs[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
  }

  // Reads up to kBatchesPerWake batches of socket i. False if the sink said stop.
  bool Drain(size_t i, const Sink& sink) {
    for (int b = 0; b < kBatchesPerWake; ++b) {
      for (int k = 0; k < kBatch; ++k) {
        msgs[k].msg_hdr.msg_name = &names[k];
        msgs[k].msg_hdr.msg_namelen = sizeof(sockaddr_ll);
        msgs[k].msg_hdr.msg_control = controls[k].data();
        msgs[k].msg_hdr.msg_controllen = controls[k].size();
        msgs[k].msg_hdr.msg_flags = 0;
      }
      const int n = ::recvmmsg(fds[i].get(), msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return true;  // EAGAIN: drained (other errors: the next wake-up says again)
      for (int k = 0; k < n; ++k) {
        const sockaddr_ll& from = names[k];
        // As libpcap does on lo: each packet is seen leaving and arriving; keep one copy.
        if (loopback[i] && from.sll_pkttype == PACKET_OUTGOING) continue;
        capture::EnhancedPacket p;
        p.interface_id = static_cast<uint32_t>(i);
        p.data = std::span<const uint8_t>(static_cast<const uint8_t*>(iovs[k].iov_base),
                                          std::min<size_t>(msgs[k].msg_len, snaplen));
        p.original_length = msgs[k].msg_len;
        bool have_ts = false;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[k].msg_hdr); c != nullptr;
             c = CMSG_NXTHDR(&msgs[k].msg_hdr, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            p.timestamp_ns =
                static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
            have_ts = true;
          } else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
            tpacket_auxdata aux;
            std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
            p.original_length = aux.tp_len;  // before the filter cut it to snaplen
          }
        }
        if (!have_ts) {
          timespec now;
          clock_gettime(CLOCK_REALTIME, &now);
          p.timestamp_ns =
              static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
        }
        switch (from.sll_pkttype) {
          case PACKET_OUTGOING:
            p.direction = capture::Direction::kOutbound;
            break;
          case PACKET_HOST:
            p.direction = capture::Direction::kInbound;
            p.reception = capture::Reception::kUnicast;
            break;
          case PACKET_BROADCAST:
            p.direction = capture::Direction::kInbound;
            p.reception = capture::Reception::kBroadcast;
            break;
          case PACKET_MULTICAST:
            p.direction = capture::Direction::kInbound;
            p.reception = capture::Reception::kMulticast;
            break;
          case PACKET_OTHERHOST:
            p.direction = capture::Direction::kInbound;
            p.reception = capture::Reception::kPromiscuous;
            break;
          default:
            break;
        }
        ++counters[i].captured;
        if (!sink(p)) return false;
      }
      if (n < kBatch) return true;
    }
    return true;
  }
};

PacketSockets::PacketSockets(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PacketSockets::PacketSockets(PacketSockets&&) noexcept = default;
PacketSockets& PacketSockets::operator=(PacketSockets&&) noexcept = default;
PacketSockets::~PacketSockets() = default;

const std::vector<OpenInterface>& PacketSockets::interfaces() const { return impl_->interfaces; }
const std::vector<std::string>& PacketSockets::skipped() const { return impl_->skipped; }

absl::StatusOr<PacketSockets> PacketSockets::Open(const std::vector<capture::Target>& targets,
                                                  const PacketSocketOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->snaplen = std::clamp<uint32_t>(options.snaplen, 64, capture::kDefaultSnaplen);
  // A filter that does not compile is the user's error: say so before any namespace is entered.
  // Kept for the Ethernet sockets: libpcap's optimizer is superlinear, and trace's union of a
  // big Service's hops takes seconds to compile (60 endpoints: over one).
  std::map<int, std::vector<sock_filter>> compiled;
  MKN_ASSIGN_OR_RETURN(compiled[capture::kLinkTypeEthernet],
                       CompileFilter(options.filter, capture::kLinkTypeEthernet, impl->snaplen));
  for (const capture::Target& t : targets) {
    // No netns name: the caller's own (trace's `host`, where the edge listens on lo).
    absl::StatusOr<Fd> ns = t.object.netns.empty() ? OpenCurrentNetns() : OpenNetns(t.object.netns);
    if (absl::IsNotFound(ns.status()) && options.skip_missing_netns) {
      impl->skipped.push_back(
          StrCat(t.object.name, " (its namespace ", t.object.netns, " is gone)"));
      continue;
    }
    if (!ns.ok()) {
      return absl::Status(ns.status().code(),
                          StrCat("capture on ", t.object.name, ": ", ns.status().message()));
    }
    MKN_RETURN_IF_ERROR(RunInNetns(ns->get(), [&]() -> absl::Status {
      const std::vector<IfEntry> all = ListInterfaces();
      const std::map<std::string, std::vector<std::string>> addrs = Addresses();
      std::vector<IfEntry> chosen;
      if (t.interfaces.empty()) {
        for (const IfEntry& e : all)
          if (e.name != "lo") chosen.push_back(e);
      } else {
        for (const std::string& want : t.interfaces) {
          auto it = std::find_if(all.begin(), all.end(),
                                 [&](const IfEntry& e) { return e.name == want; });
          if (it == all.end()) {
            std::string have;
            for (const IfEntry& e : all) StrAppend(&have, have.empty() ? "" : ", ", e.name);
            return absl::InvalidArgumentError(StrCat(
                "capture target ", t.object.name, ":", want, ": ", capture::ToString(t.object.kind),
                " ", t.object.name, " has no interface ", want, " (it has ", have, ")"));
          }
          chosen.push_back(*it);
        }
      }
      // Which of them are made promiscuous is decided over every link of the namespace: a
      // bridge's ports, captured or not, are where the bridge is.
      std::map<unsigned, capture::Promiscuity> promiscuity;
      if (options.promiscuous) {
        MKN_ASSIGN_OR_RETURN(NlSocket nl, NlSocket::Open());
        absl::StatusOr<std::vector<LinkInfo>> links = nl.ListLinks();
        if (!links.ok()) {
          return absl::Status(
              links.status().code(),
              StrCat("capture on ", t.object.name, ": list its links: ", links.status().message()));
        }
        std::vector<capture::NsLink> ns_links;
        for (const LinkInfo& l : *links) {
          const bool captured = std::any_of(chosen.begin(), chosen.end(), [&](const IfEntry& e) {
            return static_cast<int>(e.index) == l.index;
          });
          ns_links.push_back({l.name, l.index, l.kind == "bridge", l.master, captured});
        }
        const std::vector<capture::Promiscuity> decided =
            capture::DecidePromiscuity(ns_links, true);
        for (size_t i = 0; i < ns_links.size(); ++i)
          promiscuity[static_cast<unsigned>(ns_links[i].index)] = decided[i];
      }
      for (const IfEntry& e : chosen) {
        auto a = addrs.find(e.name);
        // A link that came after the dump (none in a lab at rest) is promiscuous as tcpdump's.
        capture::Promiscuity p = capture::Promiscuity::kOff;
        if (options.promiscuous) {
          auto d = promiscuity.find(e.index);
          p = d == promiscuity.end() ? capture::Promiscuity::kOn : d->second;
        }
        MKN_RETURN_IF_ERROR(impl->OpenOne(t, e,
                                          a == addrs.end() ? std::vector<std::string>{} : a->second,
                                          options.filter, compiled, options.rcvbuf_bytes, p));
      }
      return absl::OkStatus();
    }));
  }
  impl->epoll = Fd(::epoll_create1(EPOLL_CLOEXEC));
  if (impl->epoll.get() < 0) return KernelError(errno, "create the capture's epoll");
  for (size_t i = 0; i < impl->fds.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    if (::epoll_ctl(impl->epoll.get(), EPOLL_CTL_ADD, impl->fds[i].get(), &ev) < 0)
      return KernelError(errno, "watch a packet socket");
  }
  impl->PrepareBuffers();
  return PacketSockets(std::move(impl));
}

absl::StatusOr<PollEnd> PacketSockets::Poll(absl::Time deadline, int stop_fd, const Sink& sink,
                                            const std::function<void()>& after_batch) {
  Impl& m = *impl_;
  if (stop_fd >= 0 && m.stop_fd_added != stop_fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = kStopTag;
    if (::epoll_ctl(m.epoll.get(), EPOLL_CTL_ADD, stop_fd, &ev) < 0)
      return KernelError(errno, "watch the stop signal");
    m.stop_fd_added = stop_fd;
  }
  std::vector<epoll_event> evs(std::max<size_t>(m.fds.size(), 1) + 1);
  for (;;) {
    int timeout = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return PollEnd::kDeadline;
      timeout = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), INT_MAX));
    }
    const int n = ::epoll_wait(m.epoll.get(), evs.data(), static_cast<int>(evs.size()), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return KernelError(errno, "wait for packets");
    }
    bool stop = false;
    for (int k = 0; k < n; ++k) {
      if (evs[k].data.u32 == kStopTag) {
        stop = true;
        continue;
      }
      if (!m.Drain(evs[k].data.u32, sink)) {
        if (after_batch) after_batch();
        return PollEnd::kSinkStopped;
      }
    }
    if (after_batch) after_batch();
    if (stop) return PollEnd::kStopFd;
  }
}

size_t PacketSockets::CloseNetns(const std::string& netns) {
  size_t closed = 0;
  for (size_t i = 0; i < impl_->fds.size(); ++i) {
    if (impl_->interfaces[i].netns != netns || impl_->fds[i].get() < 0) continue;
    tpacket_stats st{};
    socklen_t len = sizeof st;
    if (::getsockopt(impl_->fds[i].get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      impl_->counters[i].received += st.tp_packets;
      impl_->counters[i].dropped += st.tp_drops;
    }
    impl_->fds[i] = Fd();  // leaves the epoll set with its last fd
    ++closed;
  }
  return closed;
}

std::vector<InterfaceCounters> PacketSockets::Counters() {
  for (size_t i = 0; i < impl_->fds.size(); ++i) {
    tpacket_stats st{};
    socklen_t len = sizeof st;
    if (impl_->fds[i].get() >= 0 &&
        ::getsockopt(impl_->fds[i].get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      impl_->counters[i].received += st.tp_packets;  // the kernel counts its drops in too
      impl_->counters[i].dropped += st.tp_drops;
    }
  }
  return impl_->counters;
}

absl::StatusOr<Fd> StopSignalFd() {
  const sigset_t set = BlockStopSignals();
  Fd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (fd.get() < 0) return KernelError(errno, "watch for Ctrl-C (signalfd)");
  return fd;
}

}  // namespace mkn::vnet
