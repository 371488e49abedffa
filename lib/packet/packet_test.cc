#include "lib/packet/packet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <vector>

#include "lib/packet/checksum.h"
#include "lib/packet/packet_builder.h"
#include "lib/packet/testing.h"

namespace mkn::packet {
namespace {

net::Ipv4 Ip(const char* s) { return *net::Ipv4::Parse(s); }

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2, so the checksum is its complement.
  std::vector<uint8_t> b = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(InternetChecksum(b), 0x220d);
  // An odd length is padded with a zero byte.
  EXPECT_EQ(FoldChecksum(PartialChecksum(std::span<const uint8_t>(b).first(7))),
            static_cast<uint16_t>(~testing::RefSum(b, 0, 7)));
}

TEST(Checksum, WordAtATimeSumMatchesTheReferenceForEveryLengthAndStart) {
  // PartialChecksum adds 8 bytes at a time in native order: every length (tails of 0-7 bytes, odd
  // ones), unaligned starts, chained sums and the all-ones and all-zero corners against RefSum.
  std::mt19937 rng(7);
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> data(rng() % 200);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    if (round % 13 == 0) std::fill(data.begin(), data.end(), 0xff);
    if (round % 17 == 0) std::fill(data.begin(), data.end(), 0);
    const size_t from = data.empty() ? 0 : rng() % (data.size() + 1);
    const uint32_t seed = round % 3 == 0 ? 0 : static_cast<uint32_t>(rng() % 0x40000);
    std::vector<uint8_t> part(data.begin() + static_cast<std::ptrdiff_t>(from), data.end());
    const uint16_t want = testing::RefSum(part, 0, part.size(), seed);
    uint32_t got = PartialChecksum(part, seed);
    while (got >> 16) got = (got & 0xffff) + (got >> 16);
    EXPECT_EQ(got, want) << "round " << round;
  }
  // Sums near 2^32 chained with more data lose no carry.
  std::vector<uint8_t> ones(64, 0xff);
  uint32_t s = PartialChecksum(ones, 0xfffffff0u);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  EXPECT_EQ(s, testing::RefSum(ones, 0, ones.size(), 0xfffffff0u));
}

TEST(Checksum, IncrementalMatchesFullRecomputation) {
  // RFC 1624: updating one 16- or 32-bit field incrementally must give a checksum that verifies,
  // for random data and random changes, including the all-ones and zero corner values.
  std::mt19937 rng(42);
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> data(2 + 2 * (rng() % 20));
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    if (round % 7 == 0) std::fill(data.begin(), data.end(), 0xff);
    if (round % 11 == 0) std::fill(data.begin(), data.end(), 0);
    // Word 1 is never changed and never zero: real headers always have such a field (version,
    // protocol), and only all-zero data needs the +0 checksum that eqn. 3 cannot produce.
    data.resize(std::max<size_t>(data.size(), 6));
    Store16(&data[2], 0x4500);
    Store16(&data[0], 0);
    uint16_t check = InternetChecksum(data);
    Store16(&data[0], check);
    size_t at = 2 * (rng() % (data.size() / 2));
    if (at < 4) continue;
    if (at + 4 <= data.size() && rng() % 2) {
      uint32_t old_v = Load32(&data[at]);
      uint32_t new_v = round % 5 == 0 ? 0 : static_cast<uint32_t>(rng());
      Store32(&data[at], new_v);
      Store16(&data[0], UpdateChecksum32(check, old_v, new_v));
    } else {
      uint16_t old_v = Load16(&data[at]);
      uint16_t new_v = round % 3 == 0 ? 0xffff : static_cast<uint16_t>(rng());
      Store16(&data[at], new_v);
      Store16(&data[0], UpdateChecksum16(check, old_v, new_v));
    }
    ASSERT_TRUE(VerifyChecksum(data)) << "round " << round;
    ASSERT_EQ(testing::RefSum(data, 0, data.size()), 0xffff) << "round " << round;
  }
}

TEST(PacketBuilder, BuildsFramesWhoseChecksumsVerifyIndependently) {
  std::vector<std::vector<uint8_t>> frames = {
      PacketBuilder::Tcp(Ip("10.244.1.2"), 40000, Ip("10.96.0.10"), 80)
          .Flags(kTcpSyn)
          .Seq(1000)
          .Build(),
      PacketBuilder::Tcp(Ip("10.244.1.2"), 40000, Ip("10.96.0.10"), 80)
          .Flags(kTcpAck | kTcpPsh)
          .Payload("GET / HTTP/1.1\r\n\r\n")
          .Build(),
      PacketBuilder::Udp(Ip("10.244.1.2"), 5353, Ip("10.96.0.53"), 53).Payload("odd").Build(),
      PacketBuilder::IcmpEcho(Ip("10.244.1.2"), Ip("10.244.2.3"), kIcmpEchoRequest, 7, 1).Build(),
  };
  frames.push_back(PacketBuilder::IcmpError(Ip("10.244.2.1"), Ip("10.244.1.2"),
                                            kIcmpDestUnreachable, kIcmpPortUnreachable, frames[2])
                       .Build());
  for (const auto& f : frames) EXPECT_EQ(testing::ChecksumErrors(f), "") << testing::Hex(f);
  EXPECT_NE(testing::ChecksumErrors(
                PacketBuilder::Udp(Ip("1.2.3.4"), 1, Ip("5.6.7.8"), 2).BadIpChecksum().Build()),
            "");
}

TEST(PacketBuilder, IcmpErrorQuoteIsCutAt576Bytes) {
  auto big = PacketBuilder::Udp(Ip("10.0.0.1"), 1, Ip("10.0.0.2"), 2)
                 .Payload(std::string(1400, 'x'))
                 .Build();
  auto err = PacketBuilder::IcmpError(Ip("10.0.0.2"), Ip("10.0.0.1"), kIcmpDestUnreachable,
                                      kIcmpFragNeeded, big)
                 .RestOfHeader(1450)
                 .Build();
  EXPECT_EQ(err.size(), kIcmpErrorMaxLen);
  EXPECT_EQ(testing::ChecksumErrors(err), "");
}

TEST(Ipv4View, ParsesFields) {
  auto f = PacketBuilder::Tcp(Ip("10.244.1.2"), 40000, Ip("10.96.0.10"), 80)
               .Flags(kTcpSyn)
               .Seq(7)
               .Ttl(63)
               .Id(99)
               .Payload("hi")
               .Build();
  auto ip = Ipv4View::Parse(f);
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(ip->src(), Ip("10.244.1.2"));
  EXPECT_EQ(ip->dst(), Ip("10.96.0.10"));
  EXPECT_EQ(ip->ttl(), 63);
  EXPECT_EQ(ip->id(), 99);
  EXPECT_EQ(ip->protocol(), kProtoTcp);
  EXPECT_FALSE(ip->is_fragment());
  auto tcp = TcpView::Parse(ip->payload());
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->src_port(), 40000);
  EXPECT_EQ(tcp->dst_port(), 80);
  EXPECT_EQ(tcp->seq(), 7u);
  EXPECT_EQ(tcp->flags(), kTcpSyn);
  EXPECT_EQ(tcp->payload_length(), 2u);
}

TEST(Ipv4View, SetAddressKeepsHeaderChecksumValid) {
  auto f = PacketBuilder::Udp(Ip("10.244.1.2"), 1, Ip("10.96.0.10"), 2).NoUdpChecksum().Build();
  auto ip = *Ipv4View::Parse(f);
  ip.SetSrc(Ip("172.18.0.2"));
  ip.SetDst(Ip("255.255.255.255"));
  EXPECT_EQ(testing::ChecksumErrors(f), "");
  EXPECT_EQ(
      f, PacketBuilder::Udp(Ip("172.18.0.2"), 1, Ip("255.255.255.255"), 2).NoUdpChecksum().Build());
}

TEST(Ipv4View, EveryTruncationIsAnErrorNeverACrash) {
  auto full =
      PacketBuilder::Tcp(Ip("10.244.1.2"), 40000, Ip("10.96.0.10"), 80).Payload("payload").Build();
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    auto ip = Ipv4View::Parse(cut);
    ASSERT_FALSE(ip.ok()) << n;
    EXPECT_EQ(ip.status().code(), absl::StatusCode::kOutOfRange) << n;
  }
}

TEST(Ipv4View, RejectsImpossibleHeaders) {
  auto base = PacketBuilder::Udp(Ip("10.0.0.1"), 1, Ip("10.0.0.2"), 2).Payload("x").Build();
  struct Case {
    const char* description;
    std::function<void(std::vector<uint8_t>&)> mutate;
    absl::StatusCode code;
  };
  std::vector<Case> cases = {
      {"version 6", [](auto& f) { f[0] = 0x65; }, absl::StatusCode::kInvalidArgument},
      {"ihl 4", [](auto& f) { f[0] = 0x44; }, absl::StatusCode::kInvalidArgument},
      {"ihl 15 past the end", [](auto& f) { f[0] = 0x4f; }, absl::StatusCode::kOutOfRange},
      {"total length 10", [](auto& f) { Store16(&f[2], 10); }, absl::StatusCode::kInvalidArgument},
      {"total length past the end", [](auto& f) { Store16(&f[2], 200); },
       absl::StatusCode::kOutOfRange},
      {"header checksum", [](auto& f) { f[10] ^= 1; }, absl::StatusCode::kDataLoss},
  };
  for (const Case& c : cases) {
    auto f = base;
    c.mutate(f);
    auto ip = Ipv4View::Parse(f);
    ASSERT_FALSE(ip.ok()) << c.description;
    EXPECT_EQ(ip.status().code(), c.code) << c.description << ": " << ip.status();
  }
}

TEST(L4Views, RejectBadLengths) {
  std::vector<uint8_t> udp(8, 0);
  Store16(&udp[4], 7);
  EXPECT_EQ(UdpView::Parse(udp).status().code(), absl::StatusCode::kInvalidArgument);
  Store16(&udp[4], 9);
  EXPECT_EQ(UdpView::Parse(udp).status().code(), absl::StatusCode::kOutOfRange);
  std::vector<uint8_t> tcp(20, 0);
  tcp[12] = 4 << 4;
  EXPECT_EQ(TcpView::Parse(tcp).status().code(), absl::StatusCode::kInvalidArgument);
  tcp[12] = 6 << 4;
  EXPECT_EQ(TcpView::Parse(tcp).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_FALSE(IcmpView::Parse(std::span<uint8_t>(tcp).first(7)).ok());
}

TEST(Ipv4View, ParseQuotedNeedsHeaderAndEightBytes) {
  auto inner = PacketBuilder::Tcp(Ip("10.0.0.1"), 1, Ip("10.0.0.2"), 2).Payload("abc").Build();
  std::vector<uint8_t> quote(inner.begin(), inner.begin() + 28);
  auto ip = Ipv4View::ParseQuoted(quote);
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(ip->payload().size(), 8u);
  std::vector<uint8_t> short_quote(inner.begin(), inner.begin() + 27);
  EXPECT_EQ(Ipv4View::ParseQuoted(short_quote).status().code(), absl::StatusCode::kOutOfRange);
  // Eight bytes are quoted but the quoted header's total length stops short of them: the view
  // would end before the ports.
  Store16(&quote[2], 24);
  EXPECT_EQ(Ipv4View::ParseQuoted(quote).status().code(), absl::StatusCode::kInvalidArgument);
  Store16(&quote[2], 28);
  EXPECT_TRUE(Ipv4View::ParseQuoted(quote).ok());
}

TEST(Ipv4View, FragmentsAreRecognised) {
  auto f = PacketBuilder::Udp(Ip("10.0.0.1"), 1, Ip("10.0.0.2"), 2).Fragment(true, 0).Build();
  EXPECT_TRUE(Ipv4View::Parse(f)->is_fragment());
  f = PacketBuilder::Udp(Ip("10.0.0.1"), 1, Ip("10.0.0.2"), 2).Fragment(false, 100).Build();
  EXPECT_TRUE(Ipv4View::Parse(f)->is_fragment());
}

}  // namespace
}  // namespace mkn::packet
