// lib/capture/pcapng — the pcapng file format (draft-ietf-opsawg-pcapng) as pure byte building.
//
// One file = one Section Header Block, then one Interface Description Block per (namespace,
// interface) a capture listens on (if_name "<object>:<iface>", as a capture TARGET is typed, and
// an if_description naming the namespace and addresses), then Enhanced Packet Blocks, each with
// its direction and, for `trace`, an optional comment naming the hop; at the end, one Interface
// Statistics Block per interface carries the kernel's received and dropped counters, so a file
// says itself whether it is complete. Every block is appended whole to a byte string, so a caller
// may write (and flush) block by block: a reader on a pipe (`| tshark -r -`) sees each block as
// it is written.
//
// Bytes are written little-endian whatever the host (the byte-order magic says so), which keeps
// the output deterministic and byte-tested. Timestamps are nanoseconds since the Unix epoch
// (if_tsresol = 9 on every interface). Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mkn::capture {

// LINKTYPE_* values (tcpdump.org/linktypes.html) for what a Linux packet socket reads.
inline constexpr uint16_t kLinkTypeEthernet = 1;  // ARPHRD_ETHER, ARPHRD_LOOPBACK
inline constexpr uint16_t kLinkTypeRaw = 101;     // ARPHRD_NONE: a TUN's raw IP packets

// What tcpdump captures by default (its MAXIMUM_SNAPLEN): a whole GSO super-packet on a veth.
inline constexpr uint32_t kDefaultSnaplen = 262144;

struct InterfaceDescription {
  std::string name;         // if_name, e.g. "web-0:eth0"
  std::string description;  // if_description; empty = none
  uint16_t link_type = kLinkTypeEthernet;
  uint32_t snaplen = kDefaultSnaplen;
  std::string filter;  // if_filter (the capture filter's text); empty = none
};

enum class Direction : uint8_t { kUnknown = 0, kInbound = 1, kOutbound = 2 };
// epb_flags' reception type (bits 2-4), from a packet socket's sll_pkttype.
enum class Reception : uint8_t {
  kUnknown = 0,
  kUnicast = 1,
  kMulticast = 2,
  kBroadcast = 3,
  kPromiscuous = 4
};

struct EnhancedPacket {
  uint32_t interface_id = 0;  // index of its Interface Description Block in this section
  uint64_t timestamp_ns = 0;  // since the Unix epoch
  uint32_t original_length = 0;
  std::span<const uint8_t> data;  // the captured bytes (<= original_length)
  Direction direction = Direction::kUnknown;
  Reception reception = Reception::kUnknown;
  std::string_view comment;  // opt_comment; empty = none (trace's hop notes)
};

struct InterfaceStatistics {
  uint32_t interface_id = 0;
  uint64_t timestamp_ns = 0;  // when the counters were read
  std::optional<uint64_t> start_ns, end_ns;
  std::optional<uint64_t> received;  // isb_ifrecv: what the kernel passed the filter
  std::optional<uint64_t> dropped;   // isb_ifdrop: what it dropped for want of buffer
  std::string_view comment;
};

// Section Header Block, version 1.0, section length unknown (-1: the file is streamed).
// `application` is shb_userappl, `os` shb_os; empty ones are left out.
void AppendSectionHeader(std::string& out, std::string_view application, std::string_view os = {});
void AppendInterfaceDescription(std::string& out, const InterfaceDescription& idb);
void AppendEnhancedPacket(std::string& out, const EnhancedPacket& epb);
void AppendInterfaceStatistics(std::string& out, const InterfaceStatistics& isb);

}  // namespace mkn::capture
