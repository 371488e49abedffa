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
  net::Mac mac;          // its gnv0's
  net::Prefix pod_cidr;  // its slice of the cluster's: the inner sources only it may send
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
  // (kSourceMismatch), the inner frame is addressed to this node's gnv0 (kNotForThisNode), fits
  // gnv0's MTU (kTooBig: a sender's frames never exceed it, the pump cuts TCP super-frames into
  // MSS-sized segments; the receiving pump's own joined frames are built after this check), and
  // does not claim another node's address (kForeignSource: see InnerSourceBelongs).
  //
  // The outer source alone is only as trustworthy as the underlay: each node filters its pods'
  // reverse paths (cbr0 rp_filter = 1, lib/plan), so a pod cannot forge another node's address;
  // the inner source check is the depth behind it, so that a datagram that does pass as node N
  // can only speak for N's addresses.
  RxVerdict Check(net::Ipv4 source, std::span<const uint8_t> datagram) const;

  // Whether the inner Ethernet frame's source address may come from `from`: for IPv4 (and ARP, the
  // sender's protocol address) anything but what belongs to another node: another node's pod CIDR
  // (this node's included) or underlay address. The sender's own pod CIDR covers its pods, its
  // gnv0's .0 address, the userspace proxy's address and what it masquerades to (NodePort and
  // other Services' traffic leaves a node SNATed to one of those); its underlay address is its
  // own. An address outside the cluster passes: a node forwards traffic from its underlay as a
  // router would (the MTU e2e routes the underlay's gateway through node1). Other EtherTypes carry
  // no address the node routes (IPv6 is off in the lab's namespaces) and pass: dual-stack adds IPv6
  // here. A frame too short to hold the address passes too: the kernel drops it as malformed.
  bool InnerSourceBelongs(const Peer& from, std::span<const uint8_t> frame) const;

 private:
  std::vector<Peer> peers_;
  int self_ = 0;
  uint32_t vni_ = 0;
  size_t max_inner_ = 0;  // gnv0's MTU + the Ethernet header
  absl::flat_hash_map<uint64_t, int> by_mac_;
  absl::flat_hash_map<uint32_t, int> by_address_;
};

}  // namespace mkn::geneve
