// lib/geneve/peers — one node's view of the overlay: which node each gnv0 MAC and each underlay
// address belongs to, and the verdicts the pump needs per frame and per datagram.
//
// network = "geneve" is programmed like the VXLAN network (flannel's layout): node N's gnv0 holds
// the .0 address of its pod CIDR and the MAC 0e:58:<that address>, and every other node routes N's
// pod CIDR via that address, onlink, with a permanent ARP entry for it. A frame the kernel sends
// into gnv0 is therefore addressed to the destination node's gnv0 MAC: that MAC picks the node, as
// the FDB entry `<MAC> dst <node>` picks it for vxlan0. The table is built once from the spec (the
// nodes of a lab never change while it runs); lookups do not allocate.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "lib/config/spec.h"
#include "lib/geneve/header.h"
#include "lib/net/ip.h"

namespace mkn::geneve {

struct Peer {
  int node = 0;         // index into ClusterSpec::nodes
  uint32_t number = 0;  // node + 1: what the source-node option carries
  std::string name;
  net::Ipv4 underlay;
  net::Mac mac;  // its gnv0's
};

// What the pump does with a datagram received on a node's Geneve socket.
struct RxVerdict {
  DropReason drop = DropReason::kNone;
  const Peer* from = nullptr;      // the sending node, once known
  std::span<const uint8_t> inner;  // the frame to write into gnv0 (when drop is kNone)
};

class Peers {
 public:
  // The table of node `self` (an index into spec.nodes) of a network = "geneve" lab (or a CNI lab
  // with node_routes = "geneve").
  static Peers Build(const config::ClusterSpec& spec, int self);

  const Peer& self() const { return peers_[self_]; }
  std::span<const Peer> all() const { return peers_; }
  uint32_t vni() const { return vni_; }

  // The other node whose gnv0 has the destination MAC of `frame` (an Ethernet frame); null for
  // this node's own MAC, a broadcast or multicast, an unknown MAC or a frame shorter than 6 bytes
  // (DropReason::kNoPeer).
  const Peer* Route(std::span<const uint8_t> frame) const;

  // The checks a received datagram passes before its inner frame reaches gnv0, in this order: the
  // source address is another node's (kUnknownPeer), the Geneve header is valid for this VNI
  // (Decode()'s reasons), the source-node option, when present, names that same node
  // (kSourceMismatch), and the inner frame is addressed to this node's gnv0 (kNotForThisNode).
  RxVerdict Check(net::Ipv4 source, std::span<const uint8_t> datagram) const;

 private:
  std::vector<Peer> peers_;
  int self_ = 0;
  uint32_t vni_ = 0;
  absl::flat_hash_map<uint64_t, int> by_mac_;
  absl::flat_hash_map<uint32_t, int> by_address_;
};

}  // namespace mkn::geneve
