#include "lib/net/ip_addr.h"

#include <gtest/gtest.h>

namespace mkn::net {
namespace {

TEST(IpAddr, ParsesBothFamiliesAndFormatsThemCanonically) {
  struct Case {
    const char* in;
    Family family;
    const char* out;
  } cases[] = {
      {"172.18.1.2", Family::kIpv4, "172.18.1.2"},
      {"fd00::1", Family::kIpv6, "fd00::1"},
      {"FD00:0:0:0:0:0:0:1", Family::kIpv6, "fd00::1"},
      {"2001:db8:0:0:1:0:0:1", Family::kIpv6, "2001:db8::1:0:0:1"},     // first longest run
      {"2001:db8:0:1:1:1:1:1", Family::kIpv6, "2001:db8:0:1:1:1:1:1"},  // one zero group stays
      {"::", Family::kIpv6, "::"},
      {"::ffff:10.0.0.1", Family::kIpv6, "::ffff:a00:1"},
      {"1::", Family::kIpv6, "1::"},
  };
  for (const Case& c : cases) {
    std::optional<IpAddr> a = IpAddr::Parse(c.in);
    ASSERT_TRUE(a) << c.in;
    EXPECT_EQ(a->family, c.family) << c.in;
    EXPECT_EQ(a->ToString(), c.out) << c.in;
  }
  EXPECT_EQ(IpAddr::Parse("10.0.0.1")->V4(), Ipv4::Parse("10.0.0.1"));
  EXPECT_FALSE(IpAddr::Parse("fd00::1")->V4());
}

TEST(IpAddr, RejectsMalformed) {
  for (const char* bad : {"", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "g::1",
                          ":1", "1:", "10.0.0.256", "::10.0.0", "1:2:3:4:5:6:7::8"}) {
    EXPECT_FALSE(IpAddr::Parse(bad)) << bad;
  }
}

TEST(IpPrefix, ContainsOverlapsAndKeepsFamiliesApart) {
  IpPrefix v4 = *IpPrefix::Parse("172.18.0.0/16");
  IpPrefix rack = *IpPrefix::Parse("172.18.1.0/24");
  IpPrefix v6 = *IpPrefix::Parse("fd00:18::/64");
  EXPECT_EQ(v4.family(), Family::kIpv4);
  EXPECT_EQ(v6.family(), Family::kIpv6);
  EXPECT_TRUE(v4.Contains(rack));
  EXPECT_TRUE(rack.Overlaps(v4));
  EXPECT_FALSE(v4.Overlaps(v6));
  EXPECT_FALSE(v6.Contains(*IpAddr::Parse("172.18.0.1")));
  EXPECT_TRUE(v6.Contains(*IpAddr::Parse("fd00:18::5")));
  EXPECT_FALSE(IpPrefix::Parse("172.18.1.1/24")->IsNetwork());
  EXPECT_EQ(IpPrefix::Parse("fd00:18::1/64")->Network().ToString(), "fd00:18::/64");
  EXPECT_EQ(v4.V4(), Prefix::Parse("172.18.0.0/16"));
  EXPECT_FALSE(v6.V4());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/33"));
  EXPECT_FALSE(IpPrefix::Parse("fd00::/129"));
  EXPECT_TRUE(IpPrefix::Parse("fd00::/128"));
  EXPECT_EQ(IpPrefix::FromV4(*Prefix::Parse("10.1.0.0/16")).ToString(), "10.1.0.0/16");
}

}  // namespace
}  // namespace mkn::net
