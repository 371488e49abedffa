// lib/geneve/header — the Geneve header (RFC 8926) over byte spans: encode, decode, and why a
// datagram is dropped.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//   |        Virtual Network Identifier (VNI)       |    Reserved   |
//   |                    Variable-Length Options                    |
//
// Each option: Option Class (16 bits), Type (8; its high bit marks it critical), 3 reserved bits
// and Length (5 bits, in 4-byte words, not counting its own 4-byte header), then the data. Opt Len
// counts the options in 4-byte words (at most 63, 252 bytes).
//
// minikube-net carries one option, in the Experimental Use range of option classes (0xFFF0-0xFFFF,
// RFC 8926 §8: no registration needed): class 0xFFF0, type 0x01 "source node", non-critical, 4
// bytes: the sending node's number in the lab (1 for the first node), big-endian. It shows what
// options are for: metadata the encapsulating endpoint knows and the receiver can use and check
// (Cilium and OVN carry a security identity or a logical port this way). The receiver checks it
// against the address the datagram came from (DropReason::kSourceMismatch) and counts traffic by
// it; a receiver that did not know the option would skip it, as it is not critical.
//
// Decode() follows RFC 8926 §3.4-3.5 for a tunnel endpoint: version 0 only; an OAM (O bit)
// message is not forwarded; every option is parsed and one this endpoint does not understand that
// is marked critical drops the datagram, whatever the C bit says; reserved fields are ignored. The
// first check that fails is the verdict, in this order: base header length, version, options
// length, O bit, each option, protocol type, VNI, inner Ethernet header length. Pure: no I/O, no
// allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace mkn::geneve {

inline constexpr uint16_t kPort = 6081;             // IANA
inline constexpr uint16_t kProtoEthernet = 0x6558;  // Transparent Ethernet Bridging: an L2 frame
inline constexpr size_t kBaseHeader = 8;
inline constexpr size_t kMaxOptions = 63 * 4;  // Opt Len is 6 bits of 4-byte words
inline constexpr size_t kOptionHeader = 4;
inline constexpr size_t kEthernetHeader = 14;
inline constexpr uint32_t kMaxVni = 0xffffff;

inline constexpr uint16_t kClassExperimental = 0xfff0;  // RFC 8926 §8: Experimental Use
inline constexpr uint8_t kTypeSourceNode = 0x01;
inline constexpr uint8_t kTypeCritical = 0x80;  // the high bit of an option's type
inline constexpr size_t kSourceNodeData = 4;
// How the plan and the docs name it.
inline constexpr std::string_view kSourceNodeOptionName = "class 0xfff0 type 0x01 (source node)";
// What minikube-net's header is on the wire: the base header and the source-node option.
inline constexpr size_t kHeaderWithOption = kBaseHeader + kOptionHeader + kSourceNodeData;

// Why a datagram (or, on the way out, a frame) is dropped. Receive-side checks first, in the order
// Decode() and the pump apply them; then the send side's. The names (ToString) are what `get
// overlay` and the control protocol show.
enum class DropReason : uint8_t {
  kNone,
  // Decode():
  kTruncated,       // shorter than the base header, its options, or an Ethernet header after them
  kBadVersion,      // version is not 0
  kOam,             // the O bit: a control message, never forwarded as data (RFC 8926 §3.4)
  kBadOption,       // an option runs past Opt Len, or ours has the wrong length
  kCriticalOption,  // an option this endpoint does not understand, marked critical (§3.5)
  kNotEthernet,     // protocol type is not 0x6558
  kWrongVni,        // not this cluster's VNI
  // The receiving pump:
  kUnknownPeer,     // the source address is no node of this cluster
  kSourceMismatch,  // the source-node option names another node than the sender's address
  kNotForThisNode,  // the inner destination MAC is not this node's gnv0
  kTooBig,          // the inner frame is longer than gnv0's MTU + an Ethernet header
  kForeignSource,   // the inner source address is neither the sender's pod CIDR nor its address
  // The sending pump (frames read from gnv0):
  kNoPeer,      // the frame's destination MAC is no other node's gnv0 (e.g. a broadcast)
  kBadFrame,    // too short, or offload metadata the pump cannot honour
  kSendFailed,  // the underlay socket refused the datagram (buffer full, no route)
};
inline constexpr int kDropReasonCount = 16;
std::string_view ToString(DropReason r);

// A decoded header. `inner` is the encapsulated Ethernet frame (at least kEthernetHeader bytes).
struct Decoded {
  DropReason drop = DropReason::kNone;
  uint32_t vni = 0;
  uint16_t protocol = 0;
  bool critical_flag = false;           // the C bit as sent (informational)
  size_t header_length = 0;             // base header + options
  std::optional<uint32_t> source_node;  // from minikube-net's option, when present
  std::span<const uint8_t> inner;
};

// Decodes the UDP payload `datagram` of a Geneve packet sent to this endpoint, whose VNI is
// `vni`. On a drop, `drop` says why and the other fields are as far as decoding got.
Decoded Decode(std::span<const uint8_t> datagram, uint32_t vni);

// Writes minikube-net's header (version 0, no flags, Ethernet, `vni`, the source-node option with
// `source_node`) into `out`; returns kHeaderWithOption, or 0 if `out` is shorter or vni >
// kMaxVni.
size_t EncodeHeader(std::span<uint8_t> out, uint32_t vni, uint32_t source_node);

// The general encoder, for tests and tools: the base header with the given fields and the raw
// option bytes `options` (a multiple of 4, at most kMaxOptions). Returns the bytes written, or 0 if
// a field is out of range or `out` is too short.
struct HeaderFields {
  uint8_t version = 0;
  bool oam = false;
  bool critical = false;
  uint16_t protocol = kProtoEthernet;
  uint32_t vni = 0;
};
size_t Encode(std::span<uint8_t> out, const HeaderFields& h, std::span<const uint8_t> options);

}  // namespace mkn::geneve
