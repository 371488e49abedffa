// vnet/trace/copy — a captured copy of trace's probe, parsed with libtins: the (inner) flow, which
// leg it is (an echo request or a SYN the request; an echo reply, a SYN-ACK, a RST or an ICMP
// unreachable quoting the probe the reply), the VXLAN or Geneve outer addresses, and the frame's
// destination MAC. A data-plane copy is untrusted input: anything malformed is no copy.
// Internal to vnet/trace (RunTrace matches these to the predicted hops).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "lib/capture/pcapng.h"
#include "lib/net/ip.h"
#include "lib/trace/trace.h"

namespace mkn::vnet {

// The probe as a captured copy shows it: the (inner) flow, which leg it is (an echo request or a
// SYN is the request; an echo reply or a SYN-ACK the reply), and the VXLAN outer addresses.
struct Parsed {
  trace::Flow flow;
  std::optional<trace::Leg> leg;
  std::optional<std::pair<net::Ipv4, net::Ipv4>> outer;
  // The (outer) frame's destination MAC, which a bridge's FDB entry forwards by.
  std::optional<net::Mac> dst_mac;
  // A refusal instead of an answer (Observation::refused, icmp_code).
  std::string refused;
  int icmp_code = -1;
  // TCP: the segment's data as captured (the edge leg matches its marker in it).
  std::string payload;
};

// The copy `pkt` of an interface of `link_type` (Ethernet, or raw IP on a TUN); nullopt for
// anything that is not a whole IPv4 packet of ICMP, TCP or UDP (libtins throws on a malformed
// one: a data-plane packet is untrusted input, STYLE.md §5).
std::optional<Parsed> ParseCopy(const capture::EnhancedPacket& pkt, uint16_t link_type);

}  // namespace mkn::vnet
