#include "lib/nat/nat.h"

#include <algorithm>
#include <utility>

#include "lib/packet/checksum.h"
#include "lib/packet/packet.h"
#include "lib/packet/packet_builder.h"
#include "lib/strings/str_cat.h"

namespace mkn::nat {
namespace {

using packet::Ipv4View;
using packet::Load16;
using packet::Store16;

// How many candidate SNAT ports one new flow may try before it is dropped: bounds the per-packet
// cost when the range towards one endpoint is nearly full.
constexpr uint32_t kMaxPortProbes = 1024;

DropReason ReasonOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOutOfRange:
      return DropReason::kTruncated;
    case absl::StatusCode::kDataLoss:
      return DropReason::kBadChecksum;
    default:
      return DropReason::kMalformed;
  }
}

std::optional<config::Protocol> ProtocolOf(uint8_t p) {
  if (p == packet::kProtoTcp) return config::Protocol::kTcp;
  if (p == packet::kProtoUdp) return config::Protocol::kUdp;
  return std::nullopt;
}

// Rewrites the addresses and ports of an IPv4 packet (whole or quoted) to `to`, updating the IP
// header checksum and the L4 checksum (pseudo-header included) incrementally. `l4` starts at the
// TCP/UDP header and holds at least the ports; the L4 checksum is updated only if the bytes reach
// it, and a UDP checksum of 0 means "none" and stays 0. A partial checksum (the folded
// pseudo-header sum F, not complemented) gets F' = F + ~m + m' for each changed address m -> m',
// which is the complement of RFC 1624's update applied to ~F; ports are not in it.
void RewriteHeaders(Ipv4View& ip, std::span<uint8_t> l4, uint8_t protocol, const Tuple& to,
                    bool partial = false) {
  const net::Ipv4 old_src = ip.src(), old_dst = ip.dst();
  const uint16_t old_sport = Load16(&l4[0]), old_dport = Load16(&l4[2]);
  size_t off = protocol == packet::kProtoTcp ? packet::TcpView::kChecksumOffset
                                             : packet::UdpView::kChecksumOffset;
  if (partial && l4.size() >= off + 2) {
    uint16_t f = static_cast<uint16_t>(~Load16(&l4[off]));
    f = packet::UpdateChecksum32(f, old_src.value, to.src.value);
    f = packet::UpdateChecksum32(f, old_dst.value, to.dst.value);
    Store16(&l4[off], static_cast<uint16_t>(~f));
  } else if (l4.size() >= off + 2) {
    uint16_t check = Load16(&l4[off]);
    if (protocol == packet::kProtoTcp || check != 0) {
      check = packet::UpdateChecksum32(check, old_src.value, to.src.value);
      check = packet::UpdateChecksum32(check, old_dst.value, to.dst.value);
      check = packet::UpdateChecksum16(check, old_sport, to.src_port);
      check = packet::UpdateChecksum16(check, old_dport, to.dst_port);
      if (protocol == packet::kProtoUdp && check == 0) check = 0xffff;  // RFC 768
      Store16(&l4[off], check);
    }
  }
  Store16(&l4[0], to.src_port);
  Store16(&l4[2], to.dst_port);
  if (old_src != to.src) ip.SetSrc(to.src);
  if (old_dst != to.dst) ip.SetDst(to.dst);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Nat>> Nat::Create(ServiceTable table, NatOptions options) {
  if (options.proxy_ip.value == 0) return absl::InvalidArgumentError("nat: proxy address is unset");
  if (options.port_min == 0 || options.port_min > options.port_max) {
    return absl::InvalidArgumentError(
        StrCat("nat: empty snat port range ", int{options.port_min}, "-", int{options.port_max}));
  }
  for (net::Ipv4 ip : options.node_ips) {
    if (ip == options.proxy_ip) {
      // Replies are told apart from new flows by their destination P; a node address would mix
      // them.
      return absl::InvalidArgumentError(
          StrCat("nat: proxy address ", ip.ToString(), " is also a node address"));
    }
  }
  return std::unique_ptr<Nat>(new Nat(std::move(table), std::move(options)));
}

Nat::Nat(ServiceTable table, NatOptions options)
    : table_(std::move(table)),
      options_(std::move(options)),
      conntrack_(options_.max_flows),
      balancer_(options_.seed),
      reassembler_(options_.reassembly),
      next_port_(options_.port_min),
      service_counters_(table_.ports().size()) {
  for (net::Ipv4 ip : options_.node_ips) node_ips_.insert(ip.value);
  conntrack_.set_observer([this](const Flow& f, FlowClass before, FlowClass after) {
    balancer_.OnFlowClassChange(f, before, after);
  });
}

ServiceCounters Nat::service_counters(int port_id) const {
  if (port_id < 0 || static_cast<size_t>(port_id) >= service_counters_.size()) return {};
  return service_counters_[port_id];
}

Verdict Nat::Drop(DropReason reason, int port_id) {
  ++counters_.dropped;
  ++counters_.drops[static_cast<int>(reason)];
  if (port_id >= 0) ++service_counters_[port_id].drops[static_cast<int>(reason)];
  return Verdict{Verdict::Action::kDrop, reason, {}, port_id};
}

Verdict Nat::Forward(int port_id, size_t bytes) {
  ++counters_.forwarded;
  ServiceCounters& c = service_counters_[port_id];
  ++c.packets;
  c.bytes += bytes;
  return Verdict{Verdict::Action::kForward, DropReason::kNone, {}, port_id};
}

Verdict Nat::Process(std::span<uint8_t> frame, int64_t now, bool l4_partial) {
  ++counters_.packets;
  auto ip = Ipv4View::Parse(frame);
  if (!ip.ok()) return Drop(ReasonOf(ip.status()));
  if (ip->is_fragment()) return ProcessFragment(*ip, now);
  switch (ip->protocol()) {
    case packet::kProtoTcp:
    case packet::kProtoUdp:
      return ProcessTransport(frame, now, l4_partial);
    case packet::kProtoIcmp: {
      auto icmp = packet::IcmpView::Parse(ip->payload());
      if (!icmp.ok()) return Drop(ReasonOf(icmp.status()));
      if (packet::IsIcmpError(icmp->type())) return ProcessIcmpError(frame, now);
      return Drop(DropReason::kUnsupportedProtocol);
    }
    default:
      return Drop(DropReason::kUnsupportedProtocol);
  }
}

void Nat::CountFragmentDrops(const std::vector<Reassembler::Dropped>& dropped) {
  for (const Reassembler::Dropped& d : dropped) {
    counters_.held -= d.fragments;
    counters_.dropped += d.fragments;
    counters_.fragments_dropped += d.fragments;
    counters_.drops[static_cast<int>(d.reason)] += d.fragments;
  }
}

Verdict Nat::ProcessFragment(const packet::Ipv4View& ip, int64_t now) {
  Reassembler::Result r = reassembler_.Add(ip, now);
  CountFragmentDrops(r.dropped);
  switch (r.fate) {
    case Reassembler::Fate::kHeld:
      ++counters_.held;
      return Verdict{Verdict::Action::kHeld, DropReason::kNone, {}, -1};
    case Reassembler::Fate::kDropped:
      ++counters_.fragments_dropped;
      return Drop(r.reason);
    case Reassembler::Fate::kComplete:
      break;
  }
  counters_.held -= r.fragments - 1;  // the others were held; this one never was
  counters_.reassembled += r.fragments;
  ++counters_.datagrams;
  // The whole datagram is a packet of its own. It is no fragment, so this does not recurse again.
  Verdict v = Process(std::span<uint8_t>(r.datagram), now, /*l4_partial=*/false);
  if (v.action == Verdict::Action::kForward) {
    v.action = Verdict::Action::kForwardFrame;
    v.reply = std::move(r.datagram);
  }
  return v;
}

Verdict Nat::ProcessTransport(std::span<uint8_t> frame, int64_t now, bool l4_partial) {
  Ipv4View ip = *Ipv4View::Parse(frame);  // checked by Process
  const uint8_t proto = ip.protocol();
  std::span<uint8_t> l4 = ip.payload();
  Tuple t{ip.src(), ip.dst(), 0, 0, proto};
  uint8_t flags = 0;
  if (proto == packet::kProtoTcp) {
    auto tcp = packet::TcpView::Parse(l4);
    if (!tcp.ok()) return Drop(ReasonOf(tcp.status()));
    t.src_port = tcp->src_port();
    t.dst_port = tcp->dst_port();
    flags = tcp->flags();
  } else {
    auto udp = packet::UdpView::Parse(l4);
    if (!udp.ok()) return Drop(ReasonOf(udp.status()));
    t.src_port = udp->src_port();
    t.dst_port = udp->dst_port();
  }
  const bool pure_syn =
      proto == packet::kProtoTcp && (flags & packet::kTcpSyn) && !(flags & packet::kTcpAck);

  auto match = conntrack_.Find(t, now);
  if (match && pure_syn && match->direction == Direction::kOriginal &&
      (match->flow->state == FlowState::kTimeWait || match->flow->state == FlowState::kClose)) {
    // The client reuses the port of a finished connection: a new connection, chosen afresh
    // (nf_conntrack's tcp_new on a SYN in TIME_WAIT/CLOSE).
    conntrack_.Remove(match->flow);
    match.reset();
  }
  if (match) {
    Flow* f = match->flow;
    const Tuple to =
        match->direction == Direction::kOriginal ? f->reply.Inverted() : f->original.Inverted();
    conntrack_.Track(f, match->direction, flags, ip.total_length(), now);
    RewriteHeaders(ip, l4, proto, to, l4_partial);
    return Forward(f->service_port_id, ip.total_length());
  }

  if (t.dst == options_.proxy_ip) return Drop(DropReason::kNoFlow);
  const config::Protocol protocol = *ProtocolOf(proto);
  const ServicePort* port = table_.Lookup(t.dst, t.dst_port, protocol);
  if (port == nullptr && node_ips_.contains(t.dst.value)) {
    port = table_.LookupNodePort(t.dst_port, protocol);
  }
  if (port == nullptr) return Drop(DropReason::kNoService);
  if (port->endpoints.empty()) return Reject(frame, *port);
  // A segment of no flow (its flow was flushed when its pod died, or expired): answered with a
  // reset, as a host without that connection would, so the client (a pooled keep-alive connection
  // of the ingress, say) learns at once instead of waiting out its timeout.
  if (proto == packet::kProtoTcp && !pure_syn) return Reject(frame, *port, DropReason::kInvalidTcp);

  std::optional<size_t> chosen = balancer_.Pick(*port, t.src, now);
  const Endpoint& e = port->endpoints[*chosen];  // endpoints is non-empty
  if (policy_ != nullptr && !policy_->empty()) {
    // After translation: the backend chosen is the pod the policy protects (nat.h's banner).
    const netpol::FlowVerdict v = policy_->Decide(
        t.src, e.ip,
        proto == packet::kProtoUdp ? config::PolicyProtocol::kUdp : config::PolicyProtocol::kTcp,
        e.port);
    if (!v.allowed) {
      // Found by a view of the name, inserted once per counter: no allocation per dropped packet.
      if (auto it = netpol_drops_.find(v.counter); it != netpol_drops_.end()) {
        ++it->second;
      } else {
        netpol_drops_.emplace(std::string(v.counter), 1);
      }
      return Drop(DropReason::kNetworkPolicy, port->id);
    }
  }
  uint16_t snat_port = AllocatePort(e.ip, e.port, proto, t.src_port);
  if (snat_port == 0) return Drop(DropReason::kPortsExhausted, port->id);
  const Tuple reply{e.ip, options_.proxy_ip, e.port, snat_port, proto};
  if (conntrack_.Insert(t, reply, port->id, ip.total_length(), now) == nullptr) {
    return Drop(DropReason::kTableFull, port->id);  // full of assured flows: the new one waits
  }
  ++service_counters_[port->id].new_flows;
  RewriteHeaders(ip, l4, proto, reply.Inverted(), l4_partial);
  return Forward(port->id, ip.total_length());
}

uint16_t Nat::AllocatePort(net::Ipv4 endpoint, uint16_t endpoint_port, uint8_t protocol,
                           uint16_t wanted) {
  auto free = [&](uint16_t p) {
    return !conntrack_.Contains(Tuple{endpoint, options_.proxy_ip, endpoint_port, p, protocol});
  };
  if (wanted >= options_.port_min && wanted <= options_.port_max && free(wanted)) return wanted;
  const uint32_t range = uint32_t{options_.port_max} - options_.port_min + 1;
  for (uint32_t n = 0; n < std::min(range, kMaxPortProbes); ++n) {
    uint16_t p =
        static_cast<uint16_t>(options_.port_min + (next_port_ - options_.port_min) % range);
    next_port_ = p + 1u;
    if (free(p)) return p;
  }
  return 0;
}

Verdict Nat::Reject(std::span<uint8_t> frame, const ServicePort& port, DropReason reason) {
  // Answered from the address the client used (ClusterIP or node address), as kube-proxy's REJECT.
  Ipv4View ip = *Ipv4View::Parse(frame);
  std::span<uint8_t> l4 = ip.payload();
  std::vector<uint8_t> reply;
  if (ip.protocol() == packet::kProtoTcp) {
    packet::TcpView tcp = *packet::TcpView::Parse(l4);
    if (tcp.flags() & packet::kTcpRst)
      return Drop(reason, port.id);  // RFC 793: never reset a reset
    auto b = packet::PacketBuilder::Tcp(ip.dst(), tcp.dst_port(), ip.src(), tcp.src_port());
    if (tcp.flags() & packet::kTcpAck) {
      b.Flags(packet::kTcpRst).Seq(tcp.ack());
    } else {
      // RFC 793 reset generation: SEG.SEQ + SEG.LEN, where SYN and FIN each count one.
      uint32_t len = static_cast<uint32_t>(tcp.payload_length()) +
                     ((tcp.flags() & packet::kTcpSyn) ? 1 : 0) +
                     ((tcp.flags() & packet::kTcpFin) ? 1 : 0);
      b.Flags(packet::kTcpRst | packet::kTcpAck).Seq(0).AckNum(tcp.seq() + len);
    }
    reply = b.Window(0).Build();
  } else {
    reply = packet::PacketBuilder::IcmpError(ip.dst(), ip.src(), packet::kIcmpDestUnreachable,
                                             packet::kIcmpPortUnreachable, ip.bytes())
                .Build();
  }
  ++counters_.replied;
  ++service_counters_[port.id].drops[static_cast<int>(reason)];
  return Verdict{Verdict::Action::kReply, reason, std::move(reply), port.id};
}

Verdict Nat::ProcessIcmpError(std::span<uint8_t> frame, int64_t now) {
  Ipv4View outer = *Ipv4View::Parse(frame);
  packet::IcmpView icmp = *packet::IcmpView::Parse(outer.payload());
  // The message is recomputed after the rewrite; verify first so a corrupt error is not blessed.
  if (!packet::VerifyChecksum(icmp.bytes())) return Drop(DropReason::kBadChecksum);
  auto inner = Ipv4View::ParseQuoted(icmp.body());
  if (!inner.ok()) return Drop(ReasonOf(inner.status()));
  const uint8_t proto = inner->protocol();
  if ((proto != packet::kProtoTcp && proto != packet::kProtoUdp) || inner->is_fragment()) {
    return Drop(DropReason::kIcmpNoFlow);
  }
  std::span<uint8_t> l4 = inner->payload();  // >= 8 bytes: ParseQuoted checked
  const Tuple quoted{inner->src(), inner->dst(), Load16(&l4[0]), Load16(&l4[2]), proto};
  // The quoted packet is one the NAT sent out; its inverse is the tuple the flow was found by.
  auto match = conntrack_.Find(quoted.Inverted(), now);
  if (!match) return Drop(DropReason::kIcmpNoFlow);
  Flow* f = match->flow;
  // Restore the quoted packet to what it was before the NAT, and readdress the error to its sender.
  const Tuple restored = match->direction == Direction::kReply ? f->original : f->reply;
  RewriteHeaders(*inner, l4, proto, restored);
  outer.SetSrc(restored.dst);
  outer.SetDst(restored.src);
  icmp.RecomputeChecksum();
  ++service_counters_[f->service_port_id].icmp_errors;
  return Forward(f->service_port_id, outer.total_length());
}

void Nat::FlushGone(const ServicePort& port, const std::vector<Endpoint>& before) {
  for (const Endpoint& e : before) {
    if (std::find(port.endpoints.begin(), port.endpoints.end(), e) == port.endpoints.end()) {
      conntrack_.FlushEndpoint(e.ip, e.port, port.id);
    }
  }
  balancer_.EndpointsChanged(port);
}

absl::Status Nat::ReplaceEndpoints(std::string_view service,
                                   const std::vector<config::PodSpec>& pods) {
  std::vector<int> ids = table_.PortsOf(service);
  std::vector<std::vector<Endpoint>> before;
  for (int id : ids) before.push_back(table_.Get(id)->endpoints);
  if (absl::Status s = table_.ReplaceEndpoints(service, pods); !s.ok()) return s;
  for (size_t i = 0; i < ids.size(); ++i) FlushGone(*table_.Get(ids[i]), before[i]);
  return absl::OkStatus();
}

absl::Status Nat::SetEndpoints(int port_id, std::vector<Endpoint> endpoints) {
  const ServicePort* p = table_.Get(port_id);
  if (p == nullptr) return absl::NotFoundError(StrCat("no service port ", port_id));
  std::vector<Endpoint> before = p->endpoints;
  if (absl::Status s = table_.SetEndpoints(port_id, std::move(endpoints)); !s.ok()) return s;
  FlushGone(*table_.Get(port_id), before);
  return absl::OkStatus();
}

void Nat::Expire(int64_t now) {
  conntrack_.Expire(now);
  CountFragmentDrops(reassembler_.Expire(now));
  balancer_.ExpireAffinity(now);
}

void Nat::SetPolicy(std::shared_ptr<const netpol::FlowPolicy> policy) {
  policy_ = std::move(policy);
  std::erase_if(netpol_drops_, [&](const auto& counter) {
    return policy_ == nullptr || !policy_->Counts(counter.first);
  });
}

}  // namespace mkn::nat
