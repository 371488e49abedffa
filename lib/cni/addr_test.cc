#include "lib/cni/addr.h"

#include <gtest/gtest.h>

namespace mkn::cni {
namespace {

TEST(CniAddr, IpFamily) {
  struct Case {
    const char* in;
    std::optional<int> want;
  } cases[] = {
      {"10.244.1.2", 4},
      {"0.0.0.0", 4},
      {"255.255.255.255", 4},
      {"fd00:10:244:1::2", 6},
      {"::", 6},
      {"::1", 6},
      {"fe80::dc3f:9fff:feb1:81a5", 6},
      {"1:2:3:4:5:6:7:8", 6},
      {"::ffff:10.0.0.1", 6},
      {"1::", 6},
      {"", std::nullopt},
      {"10.244.1", std::nullopt},
      {"10.244.1.256", std::nullopt},
      {"10.244.01.2", std::nullopt},
      {"10.244.1.2/24", std::nullopt},
      {"1:2:3:4:5:6:7:8:9", std::nullopt},
      {"1::2::3", std::nullopt},
      {":1:2", std::nullopt},
      {"1:2:", std::nullopt},
      {"12345::1", std::nullopt},
      {"fe80::1%eth0", std::nullopt},
      {"g::1", std::nullopt},
      {"1:2:3:4:5:6:7", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(IpFamily(c.in), c.want) << c.in;
}

TEST(CniAddr, CidrFamily) {
  EXPECT_EQ(CidrFamily("10.244.1.2/24"), 4);
  EXPECT_EQ(CidrFamily("0.0.0.0/0"), 4);
  EXPECT_EQ(CidrFamily("10.0.0.1/32"), 4);
  EXPECT_EQ(CidrFamily("fd00:10:244:1::2/64"), 6);
  EXPECT_EQ(CidrFamily("::/0"), 6);
  EXPECT_EQ(CidrFamily("::1/128"), 6);
  EXPECT_EQ(CidrFamily("10.0.0.1/33"), std::nullopt);
  EXPECT_EQ(CidrFamily("::1/129"), std::nullopt);
  EXPECT_EQ(CidrFamily("10.0.0.1"), std::nullopt);
  EXPECT_EQ(CidrFamily("10.0.0.1/"), std::nullopt);
  EXPECT_EQ(CidrFamily("10.0.0.1/08"), std::nullopt);
  EXPECT_EQ(CidrFamily("10.0.0.1/-1"), std::nullopt);
  EXPECT_EQ(CidrFamily("bogus/24"), std::nullopt);
}

TEST(CniAddr, Mac) {
  EXPECT_TRUE(IsValidMac("de:3f:9f:b1:81:a5"));
  EXPECT_TRUE(IsValidMac("DE-3F-9F-B1-81-A5"));
  EXPECT_TRUE(IsValidMac("00:00:00:00:00:00"));
  EXPECT_TRUE(IsValidMac("02:00:00:00:00:00:00:01"));  // EUI-64
  EXPECT_FALSE(IsValidMac(""));
  EXPECT_FALSE(IsValidMac("de:3f:9f:b1:81"));
  EXPECT_FALSE(IsValidMac("de:3f:9f:b1:81:a5:"));
  EXPECT_FALSE(IsValidMac("de:3f:9f:b1:81:zz"));
  EXPECT_FALSE(IsValidMac("de:3f-9f:b1:81:a5"));
  EXPECT_FALSE(IsValidMac("de3f.9fb1.81a5"));
  EXPECT_FALSE(IsValidMac("d:e3:f9:fb:18:1a5"));
}

}  // namespace
}  // namespace mkn::cni
