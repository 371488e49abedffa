#include "lib/geneve/peers.h"

#include "lib/packet/packet.h"

namespace mkn::geneve {
namespace {

uint64_t MacKey(const uint8_t* m) {
  uint64_t k = 0;
  for (int i = 0; i < 6; ++i) k = (k << 8) | m[i];
  return k;
}

}  // namespace

Peers Peers::Build(const config::ClusterSpec& spec, int self) {
  Peers p;
  p.self_ = self;
  p.vni_ = static_cast<uint32_t>(spec.vni);
  p.max_inner_ = static_cast<size_t>(spec.pod_mtu) + kEthernetHeader;
  p.peers_.reserve(spec.nodes.size());
  for (const config::NodeSpec& n : spec.nodes) {
    const int i = static_cast<int>(p.peers_.size());
    p.peers_.push_back(Peer{n.index, static_cast<uint32_t>(n.index) + 1, n.name, n.underlay_ip,
                            n.vtep_mac, n.pod_cidr});
    p.by_mac_[MacKey(n.vtep_mac.bytes.data())] = i;
    p.by_address_[n.underlay_ip.value] = i;
  }
  return p;
}

const Peer* Peers::Route(std::span<const uint8_t> frame) const {
  if (frame.size() < 6) return nullptr;
  auto it = by_mac_.find(MacKey(frame.data()));
  if (it == by_mac_.end() || it->second == self_) return nullptr;
  return &peers_[it->second];
}

RxVerdict Peers::Check(net::Ipv4 source, std::span<const uint8_t> datagram) const {
  RxVerdict v;
  auto it = by_address_.find(source.value);
  if (it == by_address_.end() || it->second == self_) {
    v.drop = DropReason::kUnknownPeer;
    return v;
  }
  v.from = &peers_[it->second];
  const Decoded d = Decode(datagram, vni_);
  if (d.drop != DropReason::kNone) {
    v.drop = d.drop;
    return v;
  }
  if (d.source_node && *d.source_node != v.from->number) {
    v.drop = DropReason::kSourceMismatch;
    return v;
  }
  if (MacKey(d.inner.data()) != MacKey(self().mac.bytes.data())) {
    v.drop = DropReason::kNotForThisNode;
    return v;
  }
  if (d.inner.size() > max_inner_) {
    v.drop = DropReason::kTooBig;
    return v;
  }
  if (!InnerSourceBelongs(*v.from, d.inner)) {
    v.drop = DropReason::kForeignSource;
    return v;
  }
  v.inner = d.inner;
  return v;
}

bool Peers::InnerSourceBelongs(const Peer& from, std::span<const uint8_t> frame) const {
  constexpr size_t kIpv4Source = kEthernetHeader + 12;  // in the IPv4 header
  constexpr size_t kArpSender =
      kEthernetHeader + 14;  // sender protocol address (IPv4 over Ethernet)
  if (frame.size() < kEthernetHeader) return true;
  size_t at = 0;
  switch (packet::Load16(&frame[12])) {
    case packet::kEtherTypeIpv4:
      at = kIpv4Source;
      break;
    case packet::kEtherTypeArp:
      at = kArpSender;
      break;
    default:
      return true;
  }
  if (frame.size() < at + 4) return true;
  const net::Ipv4 src{packet::Load32(&frame[at])};
  // The common case first: one of the sender's pods. The rest is a walk over the nodes (a lab has
  // a handful), for frames a node forwards or sends from its underlay address.
  if (from.pod_cidr.Contains(src) || src == from.underlay) return true;
  for (const Peer& p : peers_) {
    if (&p != &from && (p.pod_cidr.Contains(src) || src == p.underlay)) return false;
  }
  return true;
}

}  // namespace mkn::geneve
