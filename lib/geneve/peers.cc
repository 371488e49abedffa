#include "lib/geneve/peers.h"

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
  p.peers_.reserve(spec.nodes.size());
  for (const config::NodeSpec& n : spec.nodes) {
    const int i = static_cast<int>(p.peers_.size());
    p.peers_.push_back(
        Peer{n.index, static_cast<uint32_t>(n.index) + 1, n.name, n.underlay_ip, n.vtep_mac});
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
  v.inner = d.inner;
  return v;
}

}  // namespace mkn::geneve
