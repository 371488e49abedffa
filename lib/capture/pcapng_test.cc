// Each block against bytes written out by hand from draft-ietf-opsawg-pcapng (§4.1 SHB, §4.2 IDB,
// §4.3 EPB, §4.6 ISB); the e2e test reads a whole file back with tshark.
#include "lib/capture/pcapng.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mkn::capture {
namespace {

// "0a 0d ..." -> bytes.
std::string Bytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i < hex.size();) {
    if (hex[i] == ' ' || hex[i] == '\n' || hex[i] == '|') {
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

std::string Hex(const std::string& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < b.size(); ++i) {
    const auto c = static_cast<uint8_t>(b[i]);
    if (i) out.push_back(i % 4 == 0 ? '|' : ' ');
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

TEST(Pcapng, SectionHeader) {
  std::string out;
  AppendSectionHeader(out, "mkn");
  EXPECT_EQ(Hex(out), Hex(Bytes("0a 0d 0d 0a | 28 00 00 00 | 4d 3c 2b 1a | 01 00 00 00"
                                "ff ff ff ff ff ff ff ff"        // section length: unknown
                                "04 00 03 00 6d 6b 6e 00"        // shb_userappl "mkn", padded
                                "00 00 00 00 | 28 00 00 00")));  // end of options, length
}

TEST(Pcapng, SectionHeaderWithoutOptions) {
  std::string out;
  AppendSectionHeader(out, "");
  EXPECT_EQ(Hex(out), Hex(Bytes("0a 0d 0d 0a | 1c 00 00 00 | 4d 3c 2b 1a | 01 00 00 00"
                                "ff ff ff ff ff ff ff ff | 1c 00 00 00")));
}

TEST(Pcapng, InterfaceDescription) {
  std::string out;
  InterfaceDescription idb;
  idb.name = "n1:eth0";
  idb.snaplen = 65535;
  AppendInterfaceDescription(out, idb);
  EXPECT_EQ(Hex(out), Hex(Bytes("01 00 00 00 | 2c 00 00 00 | 01 00 00 00 | ff ff 00 00"
                                "02 00 07 00 6e 31 3a 65 74 68 30 00"  // if_name "n1:eth0"
                                "09 00 01 00 09 00 00 00"              // if_tsresol 9: ns
                                "00 00 00 00 | 2c 00 00 00")));
}

TEST(Pcapng, InterfaceDescriptionWithDescriptionAndFilter) {
  std::string out;
  InterfaceDescription idb;
  idb.name = "t:mkn-proxy";
  idb.description = "ab";
  idb.link_type = kLinkTypeRaw;
  idb.filter = "icmp";
  AppendInterfaceDescription(out, idb);
  EXPECT_EQ(Hex(out),
            Hex(Bytes("01 00 00 00 | 44 00 00 00 | 65 00 00 00 | 00 00 04 00"
                      "02 00 0b 00 74 3a 6d 6b 6e 2d 70 72 6f 78 79 00"  // if_name, 11 bytes
                      "03 00 02 00 61 62 00 00"                          // if_description
                      "09 00 01 00 09 00 00 00"                          // if_tsresol
                      "0b 00 05 00 00 69 63 6d 70 00 00 00"  // if_filter: 0 = libpcap, "icmp"
                      "00 00 00 00 | 44 00 00 00")));
}

TEST(Pcapng, EnhancedPacketWithCommentAndDirection) {
  const std::vector<uint8_t> data = {0xaa, 0xbb, 0xcc};
  std::string out;
  EnhancedPacket epb;
  epb.interface_id = 1;
  epb.timestamp_ns = (uint64_t{1} << 32) | 2;
  epb.original_length = 60;
  epb.data = data;
  epb.direction = Direction::kOutbound;
  epb.comment = "hop 1";
  AppendEnhancedPacket(out, epb);
  EXPECT_EQ(Hex(out), Hex(Bytes("06 00 00 00 | 3c 00 00 00 | 01 00 00 00"
                                "01 00 00 00 | 02 00 00 00"            // timestamp: high, low
                                "03 00 00 00 | 3c 00 00 00"            // captured 3 of 60
                                "aa bb cc 00"                          // data, padded to 32 bits
                                "01 00 05 00 68 6f 70 20 31 00 00 00"  // opt_comment "hop 1"
                                "02 00 04 00 02 00 00 00"              // epb_flags: outbound
                                "00 00 00 00 | 3c 00 00 00")));
}

TEST(Pcapng, EnhancedPacketFlagsCarryReceptionType) {
  const std::vector<uint8_t> data = {1, 2, 3, 4};
  std::string out;
  EnhancedPacket epb;
  epb.timestamp_ns = 7;
  epb.original_length = 4;
  epb.data = data;
  epb.direction = Direction::kInbound;
  epb.reception = Reception::kBroadcast;
  AppendEnhancedPacket(out, epb);
  EXPECT_EQ(Hex(out), Hex(Bytes("06 00 00 00 | 30 00 00 00 | 00 00 00 00 | 00 00 00 00"
                                "07 00 00 00 | 04 00 00 00 | 04 00 00 00 | 01 02 03 04"
                                "02 00 04 00 0d 00 00 00"  // inbound (01) | broadcast (011 << 2)
                                "00 00 00 00 | 30 00 00 00")));
}

TEST(Pcapng, EnhancedPacketWithoutOptions) {
  const std::vector<uint8_t> data = {9};
  std::string out;
  EnhancedPacket epb;
  epb.interface_id = 2;
  epb.original_length = 1;
  epb.data = data;
  AppendEnhancedPacket(out, epb);
  EXPECT_EQ(Hex(out), Hex(Bytes("06 00 00 00 | 24 00 00 00 | 02 00 00 00 | 00 00 00 00"
                                "00 00 00 00 | 01 00 00 00 | 01 00 00 00 | 09 00 00 00"
                                "24 00 00 00")));
}

TEST(Pcapng, InterfaceStatistics) {
  std::string out;
  InterfaceStatistics isb;
  isb.timestamp_ns = 5;
  isb.received = 10;
  isb.dropped = 2;
  AppendInterfaceStatistics(out, isb);
  EXPECT_EQ(Hex(out), Hex(Bytes("05 00 00 00 | 34 00 00 00 | 00 00 00 00"
                                "00 00 00 00 | 05 00 00 00"
                                "04 00 08 00 0a 00 00 00 00 00 00 00"  // isb_ifrecv 10
                                "05 00 08 00 02 00 00 00 00 00 00 00"  // isb_ifdrop 2
                                "00 00 00 00 | 34 00 00 00")));
}

TEST(Pcapng, EveryBlockIsAMultipleOfFourBytes) {
  for (size_t n = 0; n < 9; ++n) {
    const std::vector<uint8_t> data(n, 0x55);
    std::string out;
    EnhancedPacket epb;
    epb.original_length = static_cast<uint32_t>(n);
    epb.data = data;
    epb.comment = std::string_view("xyz").substr(0, n % 4);
    AppendEnhancedPacket(out, epb);
    EXPECT_EQ(out.size() % 4, 0u) << n;
    // Both length fields say the block's size.
    const auto len =
        static_cast<uint32_t>(static_cast<uint8_t>(out[4]) | static_cast<uint8_t>(out[5]) << 8);
    EXPECT_EQ(len, out.size());
    EXPECT_EQ(out.substr(4, 4), out.substr(out.size() - 4));
  }
}

}  // namespace
}  // namespace mkn::capture
