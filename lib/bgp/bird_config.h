// lib/bgp/bird_config — a network = "bgp" lab's BGP speakers and the BIRD 2 configuration of each.
//
// Speakers() lists who speaks BGP (the spine, every ToR, every node) and with whom, as the lab's
// mode says (config::BgpMode); RenderBirdConfig() writes one speaker's bird.conf, the text vnet/bgp
// hands to `bird -c`. Both are pure: the same spec gives the same text, golden-tested per mode
// (testdata/bird/). Calico's confd templates are the model (a node announces exactly its block,
// learned routes go to the kernel), with what a lab needs on top: fast timers and BFD so that a
// stopped speaker's routes go within a second, and import filters that take from each peer exactly
// the pod CIDRs it may originate or pass on (Peer::accept): a node that runs its own BIRD cannot
// hijack another node's pod (a /32) or a slice of a CIDR, nor make the owner route its own pods
// away.
//
// Next hops, where real deployments break, per mode (the comments in the rendered files say it
// too): ebgp: a ToR passes a route between two of its nodes with the originating node as next hop
// (both on the rack's link: BIRD keeps a "third-party" next hop on the same interface), routes from
// other racks with itself; every session is direct, so `gateway direct` resolves each next hop on
// the link. full-mesh: iBGP keeps the originator as next hop, on-link in one rack. route-reflector:
// the ToR reflects its clients' routes with their own next hop (a reflector does not change it),
// but routes it learned over eBGP from the spine would keep the spine's address, which no node has
// a route to: the ToR sets `next hop self ebgp` toward its clients. Calico's alternative is
// `gateway recursive` with the underlay's routes imported into BIRD's table. And BIRD takes an iBGP
// peer for a multihop one (gateway recursive) unless the session says `direct`, which every iBGP
// session here does: its peer is on the rack's link.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/spec.h"
#include "lib/net/ip.h"
#include "lib/net/ip_addr.h"

namespace mkn::bgp {

// The timers every session shares. BIRD's floor for the hold time is 3 s and for the delay before a
// first connect 1 s (then RFC 4271's jitter: 0.75-1 s), so a lab converges about 1 s after its
// speakers start. BFD (RFC 5880) at 100 ms x 3 notices a silent peer in 300 ms, far below the hold
// time: the withdrawal bound a lab documents and its benchmark measures.
inline constexpr int kHoldTimeS = 3;
inline constexpr int kKeepaliveS = 1;
inline constexpr int kConnectDelayS = 1;
inline constexpr int kConnectRetryS = 1;
inline constexpr int kBfdIntervalMs = 100;
inline constexpr int kBfdMultiplier = 3;

enum class Role { kNode, kTor, kSpine };
std::string_view ToString(Role r);

struct Peer {
  std::string object;  // the peer's object name: "tor-r1", "node2", "spine"
  net::IpAddr address;
  uint32_t asn = 0;
  std::string what;        // for the comment above its session: "this rack's top-of-rack router"
  bool rr_client = false;  // route-reflector mode: a ToR's node
  // Exactly the prefixes this session may import, no more-specifics (Calico's and a real fabric's
  // rule): from a node, its pod CIDR; from a ToR, to the spine, its rack's nodes' pod CIDRs; from
  // the spine, the other racks' nodes'; to a node, the other nodes' (never its own, never a
  // default). Anything else is rejected and kept visible (`birdc show route filtered`). Empty:
  // the session imports nothing (a full mesh's listening ToR).
  std::vector<net::IpPrefix> accept;
};

struct Speaker {
  std::string object;  // "node1", "tor-r1", "spine"
  Role role = Role::kNode;
  std::string netns;
  net::Ipv4 router_id;  // a BGP identifier is 32 bits in either family: an IPv4 address here
  uint32_t asn = 0;
  net::Family family = net::Family::kIpv4;  // of its sessions and routes
  std::vector<net::IpPrefix> announce;      // a node: exactly its pod CIDR
  std::vector<Peer> peers;
};

// Every speaker of a network = "bgp" lab (none otherwise): the spine (more than one rack), then
// each rack's ToR, then the nodes, in node order.
std::vector<Speaker> Speakers(const config::ClusterSpec& spec);

// The BIRD 2 configuration of `s`, a speaker of Speakers(spec).
std::string RenderBirdConfig(const config::ClusterSpec& spec, const Speaker& s);

// The name of the BGP session with `peer_object` in a speaker's config (and in `birdc show
// protocols`): the object's name as a BIRD identifier, which birdc takes unquoted: '-' becomes
// '_' ("tor_r1"), a name that does not start with a letter gets "p_" in front, and one BIRD
// reserves ("kernel", "static") "_peer" behind. Its description is the object's own name.
std::string ProtocolName(std::string_view peer_object);
// Whether BIRD's configuration language reserves `word` (bird_keywords.cc).
bool IsBirdKeyword(std::string_view word);

}  // namespace mkn::bgp
