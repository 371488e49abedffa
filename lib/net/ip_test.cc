#include "lib/net/ip.h"

#include <gtest/gtest.h>

namespace mkn::net {
namespace {

TEST(Ipv4, ParsesAndFormats) {
  auto ip = Ipv4::Parse("10.244.1.2");
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->value, 0x0af40102u);
  EXPECT_EQ(ip->ToString(), "10.244.1.2");
}

TEST(Ipv4, FormatsEveryOctetWidth) {
  for (const char* text :
       {"0.0.0.0", "255.255.255.255", "100.10.1.0", "9.99.199.200", "127.0.0.1"}) {
    auto ip = Ipv4::Parse(text);
    ASSERT_TRUE(ip) << text;
    EXPECT_EQ(ip->ToString(), text);
  }
}

TEST(Ipv4, RejectsMalformed) {
  for (const char* bad : {"", "10.244.1", "10.244.1.2.3", "256.1.1.1", "1.2.3.-4", "a.b.c.d",
                          "01.2.3.4", "1..2.3", "1.2.3.4 "}) {
    EXPECT_FALSE(Ipv4::Parse(bad)) << bad;
  }
}

TEST(Prefix, ParsesAndMasks) {
  auto p = Prefix::Parse("10.244.0.0/16");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->IsNetwork());
  EXPECT_EQ(p->Size(), 65536u);
  EXPECT_EQ(p->Subnet(3, 24).ToString(), "10.244.3.0/24");
  EXPECT_EQ(p->Host(258).ToString(), "10.244.1.2");
  EXPECT_FALSE(Prefix::Parse("10.244.0.1/16")->IsNetwork());
  EXPECT_EQ(Prefix::Parse("10.244.0.1/16")->Network().ToString(), "10.244.0.0/16");
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/33"));
  EXPECT_FALSE(Prefix::Parse("10.0.0.0"));
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/"));
  EXPECT_EQ(Prefix::Parse("0.0.0.0/0")->Mask(), 0u);
}

TEST(Prefix, ContainsAndOverlaps) {
  auto a = *Prefix::Parse("10.0.0.0/8");
  auto b = *Prefix::Parse("10.96.0.0/12");
  auto c = *Prefix::Parse("172.18.0.0/16");
  EXPECT_TRUE(a.Contains(b));
  EXPECT_FALSE(b.Contains(a));
  EXPECT_TRUE(a.Overlaps(b));
  EXPECT_TRUE(b.Overlaps(a));
  EXPECT_FALSE(a.Overlaps(c));
  EXPECT_TRUE(c.Contains(*Ipv4::Parse("172.18.255.255")));
  EXPECT_FALSE(c.Contains(*Ipv4::Parse("172.19.0.0")));
}

TEST(Mac, FromIpv4FollowsCniConvention) {
  EXPECT_EQ(Mac::FromIpv4(*Ipv4::Parse("10.244.1.2")).ToString(), "0a:58:0a:f4:01:02");
}

}  // namespace
}  // namespace mkn::net
