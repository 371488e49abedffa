#include "vnet/geneve/pump.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "lib/geneve/coalesce.h"
#include "lib/geneve/encap.h"
#include "lib/geneve/peers.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/tun.h"

namespace mkn::vnet {
namespace {

using geneve::DropReason;

constexpr size_t kVnetHdr = sizeof(VnetHdr);
// A frame gnv0 hands over: a 64 KiB IP packet, its Ethernet header and the virtio-net header (and
// room to spare: a frame longer than the buffer would be cut short by read()).
constexpr size_t kTxSlot = kVnetHdr + geneve::kEthernetHeader + 65535 + 256;
constexpr size_t kTxFrames = 8;  // frames read from one gnv0 before they are sent in one sendmmsg
constexpr size_t kTxDatagrams = kTxFrames * geneve::kMaxSegments;
// A UDP GRO buffer holds at most 64 KiB of payload.
constexpr size_t kRxSlot = 65536;
constexpr size_t kRxMessages = 8;  // per recvmmsg
constexpr int kRxRounds = 4;       // recvmmsg calls per turn before the next node's
// The kernel's UDP_MAX_SEGMENTS (64 on Linux 6.1; later kernels allow more).
constexpr size_t kUdpMaxSegments = 64;
constexpr size_t kCmsgSpace = CMSG_SPACE(sizeof(int));

struct Counters {
  std::atomic<uint64_t> tx_frames{0}, tx_super_frames{0}, tx_datagrams{0}, tx_sends{0}, tx_bytes{0};
  std::atomic<uint64_t> rx_datagrams{0}, rx_frames{0}, rx_joined{0}, rx_bytes{0};
  std::array<std::atomic<uint64_t>, geneve::kDropReasonCount> drops{};
  std::atomic<uint64_t> read_errors{0}, write_errors{0};
  void Drop(DropReason r, uint64_t n = 1) {
    drops[static_cast<size_t>(r)].fetch_add(n, std::memory_order_relaxed);
  }
};

void Add(std::atomic<uint64_t>& c, uint64_t n) {
  if (n != 0) c.fetch_add(n, std::memory_order_relaxed);
}

// One node's endpoint: its fds, its peer table and header, its counters.
struct Endpoint {
  std::string name, local;
  Fd tap, sock;
  geneve::Peers peers;
  std::vector<sockaddr_in> peer_addr;  // by index in peers.all()
  uint8_t header[geneve::kHeaderWithOption] = {};
  Counters counters;
};

// A worker thread's loop and buffers: every allocation happens once, in the constructor.
class Worker {
 public:
  explicit Worker(std::vector<Endpoint*> endpoints)
      : endpoints_(std::move(endpoints)),
        tx_slots_(kTxFrames * kTxSlot),
        arena_(kTxDatagrams * geneve::kMaxSegmentHead),
        datagrams_(kTxDatagrams),
        tx_iov_(2 * kTxDatagrams),
        tx_msgs_(kTxDatagrams),
        tx_msg_datagrams_(kTxDatagrams),
        tx_cmsg_(kTxDatagrams * kCmsgSpace),
        rx_slots_(kRxMessages * kRxSlot),
        rx_iov_(kRxMessages),
        rx_msgs_(kRxMessages),
        rx_addr_(kRxMessages),
        rx_cmsg_(kRxMessages * kCmsgSpace) {}

  absl::Status Open() {
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return KernelError(errno, "geneve: epoll_create1");
    epoll_.Reset(ep);
    int ev = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev < 0) return KernelError(errno, "geneve: eventfd");
    wake_.Reset(ev);
    // data.u64: endpoint index * 2 (+1 for its socket); ~0 for the wake-up.
    auto add = [&](int fd, uint64_t tag) -> absl::Status {
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.u64 = tag;
      if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
        return KernelError(errno, "geneve: epoll_ctl");
      return absl::OkStatus();
    };
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      if (absl::Status s = add(endpoints_[i]->tap.get(), 2 * i); !s.ok()) return s;
      if (absl::Status s = add(endpoints_[i]->sock.get(), 2 * i + 1); !s.ok()) return s;
    }
    return add(wake_.get(), ~uint64_t{0});
  }

  void Start(std::atomic<bool>& stop, std::mutex& error_mu, std::string& error) {
    thread_ = std::thread([this, &stop, &error_mu, &error] {
      std::string why = Run(stop);
      if (!why.empty()) {
        std::lock_guard<std::mutex> l(error_mu);
        if (error.empty()) error = why;
      }
    });
  }

  void Wake() {
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  // The loop: "" when asked to stop, else why it stopped.
  std::string Run(std::atomic<bool>& stop) {
    epoll_event events[32];
    while (!stop.load(std::memory_order_relaxed)) {
      int n = ::epoll_wait(epoll_.get(), events, 32, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return StrCat("geneve: epoll_wait: ", std::strerror(errno));
      }
      // Level-triggered: an fd with more waiting than one turn takes is reported again.
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == ~uint64_t{0}) continue;  // the wake-up: the loop condition decides
        Endpoint& e = *endpoints_[tag / 2];
        if (tag % 2 == 0) {
          Transmit(e);
        } else {
          Receive(e);
        }
      }
    }
    return "";
  }

  // gnv0 -> socket: up to kTxFrames frames, sent with as few sendmmsg calls as the kernel takes.
  void Transmit(Endpoint& e) {
    size_t frames = 0, datagrams = 0, arena_used = 0, msgs = 0, iovs = 0;
    uint64_t supers = 0, bytes = 0;
    for (; frames < kTxFrames; ++frames) {
      uint8_t* slot = &tx_slots_[frames * kTxSlot];
      ssize_t got = ::read(e.tap.get(), slot, kTxSlot);
      if (got < 0) {
        if (errno != EAGAIN && errno != EINTR) Add(e.counters.read_errors, 1);
        break;
      }
      Add(e.counters.tx_frames, 1);
      if (static_cast<size_t>(got) <= kVnetHdr) {
        e.counters.Drop(DropReason::kBadFrame);
        continue;
      }
      VnetHdr h;
      std::memcpy(&h, slot, kVnetHdr);
      std::span<uint8_t> frame(slot + kVnetHdr, static_cast<size_t>(got) - kVnetHdr);
      const geneve::Peer* peer = e.peers.Route(frame);
      if (peer == nullptr) {
        e.counters.Drop(DropReason::kNoPeer);
        continue;
      }
      const geneve::Offload o{(h.flags & kVnetNeedsCsum) != 0,
                              h.gso_type,
                              h.hdr_len,
                              h.gso_size,
                              h.csum_start,
                              h.csum_offset};
      geneve::EncapResult r =
          geneve::Encapsulate(frame, o, e.header, std::span<uint8_t>(arena_).subspan(arena_used),
                              std::span<geneve::Datagram>(datagrams_).subspan(datagrams));
      if (r.drop != DropReason::kNone) {
        e.counters.Drop(r.drop);
        continue;
      }
      if (o.gso_type != geneve::kGsoNone) ++supers;
      bytes += frame.size();
      sockaddr_in* to = &e.peer_addr[static_cast<size_t>(peer - e.peers.all().data())];
      // Runs of same-size datagrams: one message each, with UDP_SEGMENT when more than one.
      for (size_t i = datagrams, end = datagrams + r.datagrams; i < end;) {
        const size_t run = geneve::GsoRun(
            std::span<const geneve::Datagram>(datagrams_).subspan(i, end - i), kUdpMaxSegments);
        msghdr& m = tx_msgs_[msgs].msg_hdr;
        m = msghdr{};
        m.msg_name = to;
        m.msg_namelen = sizeof(*to);
        m.msg_iov = &tx_iov_[iovs];
        for (size_t k = i; k < i + run; ++k) {
          const geneve::Datagram& d = datagrams_[k];
          tx_iov_[iovs++] = iovec{const_cast<uint8_t*>(d.head.data()), d.head.size()};
          tx_iov_[iovs++] = iovec{const_cast<uint8_t*>(d.body.data()), d.body.size()};
        }
        m.msg_iovlen = 2 * run;
        if (run > 1) {
          uint8_t* c = &tx_cmsg_[msgs * kCmsgSpace];
          std::memset(c, 0, kCmsgSpace);
          m.msg_control = c;
          m.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
          cmsghdr* cm = CMSG_FIRSTHDR(&m);
          cm->cmsg_level = SOL_UDP;
          cm->cmsg_type = UDP_SEGMENT;
          cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          const uint16_t seg = static_cast<uint16_t>(datagrams_[i].size());
          std::memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
        }
        tx_msg_datagrams_[msgs++] = run;
        i += run;
      }
      datagrams += r.datagrams;
      arena_used += r.arena_used;
    }
    Add(e.counters.tx_super_frames, supers);
    Add(e.counters.tx_bytes, bytes);
    Send(e, msgs);
  }

  void Send(Endpoint& e, size_t msgs) {
    size_t sent = 0;
    uint64_t calls = 0, datagrams = 0;
    while (sent < msgs) {
      ++calls;
      int n = ::sendmmsg(e.sock.get(), &tx_msgs_[sent], static_cast<unsigned>(msgs - sent), 0);
      if (n > 0) {
        for (size_t k = sent; k < sent + static_cast<size_t>(n); ++k)
          datagrams += tx_msg_datagrams_[k];
        sent += static_cast<size_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      // The message at `sent` was refused. A full buffer refuses the rest too; anything else
      // (EMSGSIZE, an unreachable peer) is that message's alone.
      const bool full = errno == EAGAIN || errno == ENOBUFS;
      const size_t upto = full ? msgs : sent + 1;
      uint64_t lost = 0;
      for (size_t k = sent; k < upto; ++k) lost += tx_msg_datagrams_[k];
      e.counters.Drop(DropReason::kSendFailed, lost);
      sent = upto;
    }
    Add(e.counters.tx_sends, calls);
    Add(e.counters.tx_datagrams, datagrams);
  }

  // socket -> gnv0: a few recvmmsg batches, every frame checked, TCP segments joined.
  void Receive(Endpoint& e) {
    for (int round = 0; round < kRxRounds; ++round) {
      for (size_t j = 0; j < kRxMessages; ++j) {
        rx_iov_[j] = iovec{&rx_slots_[j * kRxSlot], kRxSlot};
        msghdr& m = rx_msgs_[j].msg_hdr;
        m = msghdr{};
        m.msg_name = &rx_addr_[j];
        m.msg_namelen = sizeof(sockaddr_in);
        m.msg_iov = &rx_iov_[j];
        m.msg_iovlen = 1;
        m.msg_control = &rx_cmsg_[j * kCmsgSpace];
        m.msg_controllen = kCmsgSpace;
      }
      int n = ::recvmmsg(e.sock.get(), rx_msgs_.data(), kRxMessages, MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EINTR) Add(e.counters.read_errors, 1);
        return;
      }
      uint64_t datagrams = 0;
      for (int j = 0; j < n; ++j) {
        msghdr& m = rx_msgs_[j].msg_hdr;
        const size_t len = rx_msgs_[j].msg_len;
        if ((m.msg_flags & MSG_TRUNC) != 0) {  // longer than any sender of ours makes: cut short
          ++datagrams;
          e.counters.Drop(DropReason::kTruncated);
          continue;
        }
        size_t seg = len;
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
          if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int v = 0;
            std::memcpy(&v, CMSG_DATA(c), sizeof(v));
            if (v > 0) seg = static_cast<size_t>(v);
          }
        }
        const net::Ipv4 from{ntohl(rx_addr_[j].sin_addr.s_addr)};
        uint8_t* buf = &rx_slots_[static_cast<size_t>(j) * kRxSlot];
        for (size_t off = 0; off < len; off += seg) {
          ++datagrams;
          const size_t size = std::min(seg, len - off);
          geneve::RxVerdict v = e.peers.Check(from, {buf + off, size});
          if (v.drop != DropReason::kNone) {
            e.counters.Drop(v.drop);
            continue;
          }
          std::span<uint8_t> inner(buf + (v.inner.data() - buf), v.inner.size());
          coalescer_.Add(inner, [&](const geneve::OutFrame& f) { Write(e, f); });
        }
      }
      coalescer_.Flush([&](const geneve::OutFrame& f) { Write(e, f); });
      Add(e.counters.rx_datagrams, datagrams);
      if (static_cast<size_t>(n) < kRxMessages) return;  // drained
    }
  }

  void Write(Endpoint& e, const geneve::OutFrame& f) {
    VnetHdr h;
    h.flags = f.offload.needs_csum ? kVnetNeedsCsum : 0;
    h.gso_type = f.offload.gso_type;
    h.hdr_len = f.offload.hdr_len;
    h.gso_size = f.offload.gso_size;
    h.csum_start = f.offload.csum_start;
    h.csum_offset = f.offload.csum_offset;
    iovec iov[geneve::Coalescer::kMaxSegments + 1];
    iov[0] = iovec{&h, kVnetHdr};
    size_t n = 1, bytes = 0;
    for (const auto& p : f.parts) {
      iov[n++] = iovec{const_cast<uint8_t*>(p.data()), p.size()};
      bytes += p.size();
    }
    if (::writev(e.tap.get(), iov, static_cast<int>(n)) < 0) {
      Add(e.counters.write_errors, 1);
      return;
    }
    Add(e.counters.rx_frames, 1);
    Add(e.counters.rx_joined, f.parts.size() - 1);
    Add(e.counters.rx_bytes, bytes);
  }

  std::vector<Endpoint*> endpoints_;
  Fd epoll_, wake_;
  std::thread thread_;
  geneve::Coalescer coalescer_;
  std::vector<uint8_t> tx_slots_, arena_;
  std::vector<geneve::Datagram> datagrams_;
  std::vector<iovec> tx_iov_;
  std::vector<mmsghdr> tx_msgs_;
  std::vector<size_t> tx_msg_datagrams_;
  std::vector<uint8_t> tx_cmsg_;
  std::vector<uint8_t> rx_slots_;
  std::vector<iovec> rx_iov_;
  std::vector<mmsghdr> rx_msgs_;
  std::vector<sockaddr_in> rx_addr_;
  std::vector<uint8_t> rx_cmsg_;
};

}  // namespace

struct GenevePump::Impl {
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  std::vector<std::unique_ptr<Worker>> workers;
  int worker_count = 1;
  std::atomic<bool> stop{false};
  bool started = false;
  mutable std::mutex error_mu;
  std::string error;
};

GenevePump::GenevePump() : impl_(std::make_unique<Impl>()) {}
GenevePump::~GenevePump() { Stop(); }

absl::StatusOr<std::unique_ptr<GenevePump>> GenevePump::Create(const config::ClusterSpec& spec,
                                                               std::map<std::string, Fd> taps,
                                                               std::map<std::string, Fd> sockets,
                                                               int workers) {
  std::unique_ptr<GenevePump> p(new GenevePump());
  Impl& impl = *p->impl_;
  for (const config::NodeSpec& node : spec.nodes) {
    auto t = taps.find(node.netns);
    auto s = sockets.find(node.netns);
    if (t == taps.end() || s == sockets.end()) {
      return absl::InvalidArgumentError(
          StrCat("node ", node.name, ": no ", net::kNodeGeneve, " or Geneve socket"));
    }
    auto e = std::make_unique<Endpoint>();
    e->name = node.name;
    e->local = StrCat(node.underlay_ip.ToString(), ":", geneve::kPort);
    e->tap = std::move(t->second);
    e->sock = std::move(s->second);
    e->peers = geneve::Peers::Build(spec, node.index);
    for (const geneve::Peer& peer : e->peers.all()) {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(geneve::kPort);
      sa.sin_addr.s_addr = htonl(peer.underlay.value);
      e->peer_addr.push_back(sa);
    }
    geneve::EncodeHeader(e->header, static_cast<uint32_t>(spec.vni),
                         static_cast<uint32_t>(node.index) + 1);
    impl.endpoints.push_back(std::move(e));
  }
  if (workers <= 0) {
    workers = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    if (const char* env = std::getenv("MKN_GENEVE_WORKERS"); env != nullptr && *env != '\0')
      workers = std::atoi(env);
  }
  impl.worker_count = std::clamp(workers, 1, std::max(1, static_cast<int>(impl.endpoints.size())));
  return p;
}

absl::Status GenevePump::Start() {
  Impl& impl = *impl_;
  if (impl.started) return absl::OkStatus();
  std::vector<std::vector<Endpoint*>> share(static_cast<size_t>(impl.worker_count));
  for (size_t i = 0; i < impl.endpoints.size(); ++i)
    share[i % share.size()].push_back(impl.endpoints[i].get());
  for (auto& s : share) {
    auto w = std::make_unique<Worker>(std::move(s));
    if (absl::Status st = w->Open(); !st.ok()) return st;
    impl.workers.push_back(std::move(w));
  }
  for (auto& w : impl.workers) w->Start(impl.stop, impl.error_mu, impl.error);
  impl.started = true;
  return absl::OkStatus();
}

void GenevePump::Stop() {
  Impl& impl = *impl_;
  impl.stop = true;
  for (auto& w : impl.workers) w->Wake();
  for (auto& w : impl.workers) w->Join();
  impl.workers.clear();
  for (auto& e : impl.endpoints) {
    e->tap.Reset();  // gnv0 goes with its last fd
    e->sock.Reset();
  }
}

std::vector<GeneveNodeStats> GenevePump::Stats() const {
  std::vector<GeneveNodeStats> out;
  for (const auto& e : impl_->endpoints) {
    const Counters& c = e->counters;
    auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    GeneveNodeStats s;
    s.node = e->name;
    s.device = std::string(net::kNodeGeneve);
    s.local = e->local;
    s.vni = static_cast<int>(e->peers.vni());
    s.tx_frames = get(c.tx_frames);
    s.tx_super_frames = get(c.tx_super_frames);
    s.tx_datagrams = get(c.tx_datagrams);
    s.tx_sends = get(c.tx_sends);
    s.tx_bytes = get(c.tx_bytes);
    s.rx_datagrams = get(c.rx_datagrams);
    s.rx_frames = get(c.rx_frames);
    s.rx_joined = get(c.rx_joined);
    s.rx_bytes = get(c.rx_bytes);
    for (size_t i = 0; i < s.drops.size(); ++i) s.drops[i] = get(c.drops[i]);
    s.read_errors = get(c.read_errors);
    s.write_errors = get(c.write_errors);
    out.push_back(std::move(s));
  }
  return out;
}

std::string GenevePump::Error() const {
  std::lock_guard<std::mutex> l(impl_->error_mu);
  return impl_->error;
}

}  // namespace mkn::vnet
