// lib/geneve/header as tables: every verdict of Decode() with the bytes that cause it, the
// encoder's exact bytes (from RFC 8926's diagram), and a cross-check with libtins: whole underlay
// packets it builds around our header are decoded to the inner frame it built, byte for byte.
#include "lib/geneve/header.h"

#include <gtest/gtest.h>
#include <tins/ethernetII.h>
#include <tins/ip.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>
#include <tins/udp.h>

#include <string>
#include <vector>

namespace mkn::geneve {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A minimal inner Ethernet frame: to 0e:58:0a:f4:01:00 from 0e:58:0a:f4:00:00, IPv4, 4 bytes.
const Bytes kInner = {0x0e, 0x58, 0x0a, 0xf4, 0x01, 0x00, 0x0e, 0x58, 0x0a,
                      0xf4, 0x00, 0x00, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef};

// Base header: version/optlen byte, flags byte, protocol, VNI 1, reserved.
Bytes Base(uint8_t ver_opt, uint8_t flags = 0, uint16_t proto = 0x6558, uint32_t vni = 1) {
  return {ver_opt,
          flags,
          static_cast<uint8_t>(proto >> 8),
          static_cast<uint8_t>(proto),
          static_cast<uint8_t>(vni >> 16),
          static_cast<uint8_t>(vni >> 8),
          static_cast<uint8_t>(vni),
          0};
}

const Bytes kOurOption = {0xff, 0xf0, 0x01, 0x01, 0x00, 0x00, 0x00, 0x02};  // source node 2

TEST(GeneveHeader, EncodesMinikubeNetsHeaderAsTheRfcDiagramSays) {
  uint8_t out[kHeaderWithOption + 4] = {};
  ASSERT_EQ(EncodeHeader(out, 0x123456, 2), kHeaderWithOption);
  // Ver 0, Opt Len 2 words | O=0 C=0 | 0x6558 | VNI 0x123456 | reserved, then the option: class
  // 0xfff0, type 0x01 (non-critical), length 1 word, data 2.
  const Bytes want = {0x02, 0x00, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00,
                      0xff, 0xf0, 0x01, 0x01, 0x00, 0x00, 0x00, 0x02};
  EXPECT_EQ(Bytes(out, out + kHeaderWithOption), want);
  EXPECT_EQ(EncodeHeader(std::span<uint8_t>(out, kHeaderWithOption - 1), 1, 1), 0u);
  EXPECT_EQ(EncodeHeader(out, kMaxVni + 1, 1), 0u);
}

TEST(GeneveHeader, EncoderRefusesWhatTheFormatCannotSay) {
  uint8_t out[300] = {};
  Bytes opt3(3, 0), opt256(256, 0), opt252(252, 0);
  EXPECT_EQ(Encode(out, HeaderFields{}, opt3), 0u);    // not a multiple of 4
  EXPECT_EQ(Encode(out, HeaderFields{}, opt256), 0u);  // over 63 words
  EXPECT_EQ(Encode(out, HeaderFields{}, opt252), 260u);
  EXPECT_EQ(out[0], 63);
  EXPECT_EQ(Encode(out, HeaderFields{4, false, false, kProtoEthernet, 1}, {}), 0u);  // version
  EXPECT_EQ(Encode(out, HeaderFields{3, true, true, 0x0800, 7}, {}), 8u);
  EXPECT_EQ(Bytes(out, out + 8), Base(0xc0, 0xc0, 0x0800, 7));
}

struct DecodeCase {
  std::string name;
  Bytes datagram;
  DropReason want;
  std::optional<uint32_t> source_node = std::nullopt;
};

TEST(GeneveHeader, DecodeTable) {
  const std::vector<DecodeCase> cases = {
      {"ours, with the source-node option", Cat({Base(0x02), kOurOption, kInner}),
       DropReason::kNone, 2},
      {"no options at all", Cat({Base(0x00), kInner}), DropReason::kNone},
      {"C bit set without critical options: still parsed, accepted",
       Cat({Base(0x02, 0x40), kOurOption, kInner}), DropReason::kNone, 2},
      {"reserved bits and byte set: ignored on receipt",
       Cat({Bytes{0x00, 0x3f, 0x65, 0x58, 0, 0, 1, 0xff}, kInner}), DropReason::kNone},
      {"an unknown non-critical option and an empty one are skipped",
       Cat({Base(0x03), Bytes{0x01, 0x02, 0x33, 0x01, 9, 9, 9, 9}, Bytes{0, 0, 0, 0}, kInner}),
       DropReason::kNone},
      {"an unknown non-critical option, then ours",
       Cat({Base(0x04), Bytes{0x01, 0x02, 0x33, 0x01, 9, 9, 9, 9}, kOurOption, kInner}),
       DropReason::kNone, 2},
      {"an option with no data (length 0)",
       Cat({Base(0x01), Bytes{0x01, 0x02, 0x03, 0x00}, kInner}), DropReason::kNone},
      {"empty", {}, DropReason::kTruncated},
      {"7 bytes", Bytes{0x00, 0, 0x65, 0x58, 0, 0, 1}, DropReason::kTruncated},
      {"base header only: no inner frame", Base(0x00), DropReason::kTruncated},
      {"13 bytes of inner frame", Cat({Base(0x00), Bytes(13, 0)}), DropReason::kTruncated},
      {"Opt Len past the end", Cat({Base(0x05), kOurOption}), DropReason::kTruncated},
      {"version 1", Cat({Base(0x40), kInner}), DropReason::kBadVersion},
      {"version 3, truncated too: the version is judged first", Bytes{0xc1, 0, 0, 0, 0, 0, 0, 0},
       DropReason::kBadVersion},
      {"O bit: a control message", Cat({Base(0x00, 0x80), kInner}), DropReason::kOam},
      {"an option whose length runs past Opt Len",
       Cat({Base(0x02), Bytes{0x01, 0x02, 0x03, 0x02, 0, 0, 0, 0}, kInner}),
       DropReason::kBadOption},
      {"ours with 8 bytes of data",
       Cat({Base(0x03), Bytes{0xff, 0xf0, 0x01, 0x02}, Bytes(8, 0), kInner}),
       DropReason::kBadOption},
      {"ours with no data", Cat({Base(0x01), Bytes{0xff, 0xf0, 0x01, 0x00}, kInner}),
       DropReason::kBadOption},
      {"an unknown critical option",
       Cat({Base(0x02, 0x40), Bytes{0x01, 0x02, 0x81, 0x01, 0, 0, 0, 0}, kInner}),
       DropReason::kCriticalOption},
      {"an unknown critical option with the C bit clear: dropped all the same",
       Cat({Base(0x02), Bytes{0x01, 0x02, 0x81, 0x01, 0, 0, 0, 0}, kInner}),
       DropReason::kCriticalOption},
      {"our class, an unknown critical type",
       Cat({Base(0x02), Bytes{0xff, 0xf0, 0x82, 0x01, 0, 0, 0, 0}, kInner}),
       DropReason::kCriticalOption},
      {"IPv4 rather than Ethernet", Cat({Base(0x00, 0, 0x0800), kInner}), DropReason::kNotEthernet},
      {"VNI 2", Cat({Base(0x00, 0, 0x6558, 2), kInner}), DropReason::kWrongVni},
  };
  for (const DecodeCase& c : cases) {
    SCOPED_TRACE(c.name);
    Decoded d = Decode(c.datagram, 1);
    EXPECT_EQ(ToString(d.drop), ToString(c.want));
    EXPECT_EQ(d.source_node, c.source_node);
    if (c.want == DropReason::kNone) {
      EXPECT_EQ(Bytes(d.inner.begin(), d.inner.end()), kInner);
      EXPECT_EQ(d.header_length, c.datagram.size() - kInner.size());
    } else {
      EXPECT_TRUE(d.inner.empty());
    }
  }
}

TEST(GeneveHeader, EveryPrefixOfAValidDatagramIsTruncatedNeverACrash) {
  const Bytes whole = Cat({Base(0x02), kOurOption, kInner});
  for (size_t n = 0; n < kHeaderWithOption + kEthernetHeader; ++n) {
    Decoded d = Decode(std::span<const uint8_t>(whole).first(n), 1);
    EXPECT_EQ(d.drop, DropReason::kTruncated) << n;
  }
}

TEST(GeneveHeader, EveryReasonHasAName) {
  for (int i = 0; i < kDropReasonCount; ++i) {
    EXPECT_NE(ToString(static_cast<DropReason>(i)), "?") << i;
  }
  EXPECT_EQ(ToString(static_cast<DropReason>(kDropReasonCount)), "?");
}

// libtins builds the inner frame and the whole underlay packet (IPv4, UDP to 6081, our header as
// raw bytes in front of the frame); we decode the UDP payload it serialized, and libtins parses the
// inner frame we hand back: the same addresses, ports and payload it was built with.
TEST(GeneveHeader, CrossCheckWithLibtins) {
  Tins::EthernetII inner_eth("0e:58:0a:f4:01:00", "0e:58:0a:f4:00:00");
  Tins::IP inner_ip("10.244.1.3", "10.244.0.2");
  Tins::TCP tcp(8080, 40000);
  tcp.set_flag(Tins::TCP::SYN, 1);
  Tins::EthernetII inner = inner_eth / inner_ip / tcp / Tins::RawPDU("hello");
  const Bytes inner_bytes = inner.serialize();

  uint8_t header[kHeaderWithOption];
  ASSERT_EQ(EncodeHeader(header, 42, 3), kHeaderWithOption);
  Bytes payload(header, header + kHeaderWithOption);
  payload.insert(payload.end(), inner_bytes.begin(), inner_bytes.end());
  Tins::IP outer = Tins::IP("172.18.0.3", "172.18.0.4") / Tins::UDP(kPort, 50000) /
                   Tins::RawPDU(payload.data(), static_cast<uint32_t>(payload.size()));
  const Bytes wire = outer.serialize();

  // Parsed back by libtins: a UDP datagram to 6081 whose payload is ours.
  Tins::IP parsed(wire.data(), static_cast<uint32_t>(wire.size()));
  const Tins::UDP* udp = parsed.find_pdu<Tins::UDP>();
  ASSERT_NE(udp, nullptr);
  EXPECT_EQ(udp->dport(), kPort);
  const Tins::RawPDU* raw = parsed.find_pdu<Tins::RawPDU>();
  ASSERT_NE(raw, nullptr);
  const Bytes& udp_payload = raw->payload();

  Decoded d = Decode(udp_payload, 42);
  ASSERT_EQ(d.drop, DropReason::kNone);
  EXPECT_EQ(d.source_node, 3u);
  EXPECT_EQ(d.protocol, kProtoEthernet);
  Tins::EthernetII back(d.inner.data(), static_cast<uint32_t>(d.inner.size()));
  EXPECT_EQ(back.dst_addr().to_string(), "0e:58:0a:f4:01:00");
  const Tins::IP* ip = back.find_pdu<Tins::IP>();
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->src_addr().to_string(), "10.244.0.2");
  EXPECT_EQ(ip->dst_addr().to_string(), "10.244.1.3");
  const Tins::TCP* t = back.find_pdu<Tins::TCP>();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dport(), 8080);
  EXPECT_EQ(Bytes(d.inner.begin(), d.inner.end()), inner_bytes);
  EXPECT_EQ(Decode(udp_payload, 43).drop, DropReason::kWrongVni);
}

}  // namespace
}  // namespace mkn::geneve
