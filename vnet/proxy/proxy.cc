#include "vnet/proxy/proxy.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "lib/packet/packet.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/tun.h"

namespace mkn::vnet {

namespace {

// Frames read per TUN before the next one gets its turn.
constexpr int kBatch = 64;
// The largest frame a TSO4 TUN hands over: a 64 KiB IP packet.
constexpr size_t kMaxFrame = 65535;
constexpr int kExpireEveryMs = 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Endpoint(net::Ipv4 ip, uint16_t port) { return StrCat(ip.ToString(), ":", port); }

}  // namespace

struct UserspaceProxy::Impl {
  struct Node {
    std::string name;
    Fd tun;
    mutable std::mutex mu;  // guards nat and the error counts
    std::unique_ptr<nat::Nat> nat;
    uint64_t read_errors = 0, write_errors = 0;
  };
  std::vector<std::unique_ptr<Node>> nodes;
  Fd epoll, wake;
  std::thread pump;
  std::atomic<bool> stop{false};
  // Why the pump stopped before Stop() asked it to ("" while it runs): Services in userspace mode
  // are dead then, and `get svc` must say so rather than show counters that no longer move.
  mutable std::mutex error_mu;
  std::string pump_error;

  void Run();
  // Reads, translates and writes back up to kBatch frames of one node.
  void Drain(Node& n, std::vector<uint8_t>& buf);
};

void UserspaceProxy::Impl::Drain(Node& n, std::vector<uint8_t>& buf) {
  constexpr size_t kHdr = sizeof(VnetHdr);
  std::lock_guard<std::mutex> l(n.mu);
  int64_t now = NowMs();
  for (int i = 0; i < kBatch; ++i) {
    ssize_t got = ::read(n.tun.get(), buf.data(), buf.size());
    if (got < 0) {
      if (errno != EAGAIN && errno != EINTR) ++n.read_errors;
      return;
    }
    if (static_cast<size_t>(got) <= kHdr) continue;
    VnetHdr hdr;
    std::memcpy(&hdr, buf.data(), kHdr);
    std::span<uint8_t> frame(buf.data() + kHdr, static_cast<size_t>(got) - kHdr);
    nat::Verdict v = n.nat->Process(frame, now, (hdr.flags & kVnetNeedsCsum) != 0);
    ssize_t put = 0;
    switch (v.action) {
      case nat::Verdict::Action::kForward:
        // Same length, same header: offsets and GSO segment size still hold.
        put = ::write(n.tun.get(), buf.data(), static_cast<size_t>(got));
        break;
      case nat::Verdict::Action::kReply:
      case nat::Verdict::Action::kForwardFrame: {
        // A frame of the NAT's own (a reset, or a reassembled datagram, which the node's kernel
        // fragments again on its way out): no offloads to describe.
        VnetHdr none;
        iovec iov[2] = {{&none, kHdr}, {v.reply.data(), v.reply.size()}};
        put = ::writev(n.tun.get(), iov, 2);
        break;
      }
      case nat::Verdict::Action::kDrop:
      case nat::Verdict::Action::kHeld:
        break;
    }
    if (put < 0) ++n.write_errors;
  }
}

void UserspaceProxy::Impl::Run() {
  std::vector<uint8_t> buf(sizeof(VnetHdr) + kMaxFrame);
  std::vector<epoll_event> events(nodes.size() + 1);
  int64_t next_expire = NowMs() + kExpireEveryMs;
  while (!stop.load(std::memory_order_relaxed)) {
    int timeout = static_cast<int>(std::max<int64_t>(0, next_expire - NowMs()));
    int n = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::lock_guard<std::mutex> l(error_mu);
      pump_error = StrCat("epoll_wait: ", std::strerror(errno));
      return;
    }
    // Level-triggered: a TUN with more than kBatch frames waiting is simply reported again.
    for (int i = 0; i < n; ++i) {
      uint32_t idx = events[i].data.u32;
      if (idx == nodes.size()) continue;  // wake-up: the loop condition decides
      Drain(*nodes[idx], buf);
    }
    int64_t now = NowMs();
    if (now >= next_expire) {
      for (auto& node : nodes) {
        std::lock_guard<std::mutex> l(node->mu);
        node->nat->Expire(now);
      }
      next_expire = now + kExpireEveryMs;
    }
  }
}

UserspaceProxy::UserspaceProxy() : impl_(std::make_unique<Impl>()) {}

UserspaceProxy::~UserspaceProxy() { Stop(); }

absl::StatusOr<std::unique_ptr<UserspaceProxy>> UserspaceProxy::Create(
    const config::ClusterSpec& spec, std::map<std::string, Fd> tuns) {
  std::unique_ptr<UserspaceProxy> p(new UserspaceProxy());
  Impl& impl = *p->impl_;
  for (const config::NodeSpec& node : spec.nodes) {
    auto it = tuns.find(node.netns);
    if (it == tuns.end()) {
      return absl::InvalidArgumentError(StrCat("node ", node.name, ": no proxy TUN"));
    }
    auto n = std::make_unique<Impl::Node>();
    n->name = node.name;
    n->tun = std::move(it->second);
    absl::StatusOr<nat::ServiceTable> table = nat::ServiceTable::Build(spec);
    if (!table.ok()) return table.status();
    nat::NatOptions o;
    o.proxy_ip = node.proxy_ip;
    o.node_ips = {node.underlay_ip};
    o.seed = 0x6d6b6e00u + static_cast<uint64_t>(node.index);
    absl::StatusOr<std::unique_ptr<nat::Nat>> nat = nat::Nat::Create(std::move(*table), o);
    if (!nat.ok()) {
      return absl::Status(nat.status().code(),
                          StrCat("node ", node.name, ": ", nat.status().message()));
    }
    n->nat = std::move(*nat);
    impl.nodes.push_back(std::move(n));
  }
  p->SetPolicy(spec);
  return p;
}

void UserspaceProxy::SetPolicy(const config::ClusterSpec& spec) {
  auto policy = std::make_shared<const netpol::FlowPolicy>(netpol::FlowPolicy::Build(spec));
  for (auto& n : impl_->nodes) {
    std::lock_guard<std::mutex> l(n->mu);
    n->nat->SetPolicy(policy);
  }
}

absl::Status UserspaceProxy::Start() {
  Impl& impl = *impl_;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return KernelError(errno, "epoll_create1");
  impl.epoll.Reset(ep);
  int ev = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ev < 0) return KernelError(errno, "eventfd");
  impl.wake.Reset(ev);
  for (size_t i = 0; i <= impl.nodes.size(); ++i) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u32 = static_cast<uint32_t>(i);
    int fd = i < impl.nodes.size() ? impl.nodes[i]->tun.get() : impl.wake.get();
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) return KernelError(errno, "epoll_ctl");
  }
  impl.pump = std::thread([&impl] { impl.Run(); });
  return absl::OkStatus();
}

void UserspaceProxy::Stop() {
  Impl& impl = *impl_;
  if (impl.pump.joinable()) {
    impl.stop = true;
    uint64_t one = 1;
    (void)!::write(impl.wake.get(), &one, sizeof(one));
    impl.pump.join();
  }
  for (auto& n : impl.nodes) n->tun.Reset();  // the TUN devices go with their last fd
}

absl::Status UserspaceProxy::ReplaceEndpoints(std::string_view service,
                                              const std::vector<config::PodSpec>& pods) {
  for (auto& n : impl_->nodes) {
    std::lock_guard<std::mutex> l(n->mu);
    if (absl::Status s = n->nat->ReplaceEndpoints(service, pods); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<ProxyFlow> UserspaceProxy::Flows(std::string_view node) const {
  std::vector<ProxyFlow> out;
  int64_t now = NowMs();
  for (const auto& n : impl_->nodes) {
    if (!node.empty() && n->name != node) continue;
    std::lock_guard<std::mutex> l(n->mu);
    const nat::ServiceTable& table = n->nat->table();
    n->nat->conntrack().ForEach([&](const nat::Flow& f) {
      ProxyFlow pf;
      pf.node = n->name;
      pf.protocol = f.original.protocol == packet::kProtoTcp ? "TCP" : "UDP";
      pf.state = std::string(nat::ToString(f.state));
      if (const nat::ServicePort* sp = table.Get(f.service_port_id)) {
        pf.service = sp->Label();
        for (const nat::Endpoint& e : sp->endpoints) {
          if (e.ip == f.endpoint_ip() && e.port == f.endpoint_port()) pf.endpoint = e.pod;
        }
      }
      pf.original = StrCat(Endpoint(f.original.src, f.original.src_port), " -> ",
                           Endpoint(f.original.dst, f.original.dst_port));
      pf.reply = StrCat(Endpoint(f.reply.src, f.reply.src_port), " -> ",
                        Endpoint(f.reply.dst, f.reply.dst_port));
      pf.expires_in_ms = std::max<int64_t>(0, f.expires_ms - now);
      pf.packets = f.packets[0] + f.packets[1];
      pf.bytes = f.bytes[0] + f.bytes[1];
      out.push_back(std::move(pf));
    });
  }
  return out;
}

ProxyStats UserspaceProxy::Stats() const {
  ProxyStats st;
  {
    std::lock_guard<std::mutex> l(impl_->error_mu);
    st.pump_error = impl_->pump_error;
  }
  for (const auto& n : impl_->nodes) {
    std::lock_guard<std::mutex> l(n->mu);
    const nat::Nat& nat = *n->nat;
    const auto& ports = nat.table().ports();
    if (st.services.empty()) {
      for (const nat::ServicePort& sp : ports) {
        st.services.push_back(ProxyServiceStats{
            sp.service, StrCat(sp.port, "/", config::ToString(sp.protocol)), {}, 0});
      }
    }
    std::vector<size_t> flows(ports.size(), 0);
    nat.conntrack().ForEach([&](const nat::Flow& f) {
      if (f.service_port_id >= 0 && static_cast<size_t>(f.service_port_id) < flows.size()) {
        ++flows[f.service_port_id];
      }
    });
    for (size_t i = 0; i < ports.size() && i < st.services.size(); ++i) {
      nat::ServiceCounters c = nat.service_counters(static_cast<int>(i));
      nat::ServiceCounters& s = st.services[i].counters;
      s.packets += c.packets;
      s.bytes += c.bytes;
      s.new_flows += c.new_flows;
      s.icmp_errors += c.icmp_errors;
      for (size_t d = 0; d < s.drops.size(); ++d) s.drops[d] += c.drops[d];
      st.services[i].flows += flows[i];
    }
    st.nodes.push_back(ProxyNodeStats{
        n->name, nat.counters(), nat.conntrack().size(), nat.conntrack().capacity(),
        nat.conntrack().counters().evictions, nat.conntrack().counters().refused, n->read_errors,
        n->write_errors,
        std::map<std::string, uint64_t>(nat.netpol_drops().begin(), nat.netpol_drops().end())});
  }
  return st;
}

}  // namespace mkn::vnet
