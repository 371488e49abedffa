#include "lib/cni/suite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mkn::cni {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(ParseRunTimeout, Durations) {
  struct Case {
    const char* text;
    std::chrono::milliseconds want;
  } cases[] = {
      {"45", 45s},       {"45s", 45s},     {"90s", 90s},     {"2m", 2min},
      {"1m30s", 90s},    {"1.5m", 90s},    {"500ms", 500ms}, {"1h", 1h},
      {"1h2m3s", 3723s}, {"0.25s", 250ms}, {"24h", 24h},     {"10m", 10min},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::chrono::milliseconds> got = ParseRunTimeout(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseRunTimeout, RefusedWithTheReason) {
  struct Case {
    const char* text;
    const char* why;
  } cases[] = {
      {"", "empty"},
      {"0", "must be more than zero"},
      {"0s", "must be more than zero"},
      {"0.1ms", "must be more than zero"},
      {"25h", "more than 24h"},
      {"-5s", "expected a number"},
      {"5x", "unknown unit \"x\""},
      {"5 s", "a number needs a unit"},
      {"1m30", "a number needs a unit"},
      {"s", "expected a number"},
      {"1.2.3s", "a number needs a unit"},
      {"1d", "unknown unit \"d\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::chrono::milliseconds> got = ParseRunTimeout(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr(c.why)) << c.text;
    EXPECT_THAT(got.status().message(), HasSubstr("such as 90s, 2m, 1m30s or 500ms")) << c.text;
  }
}

TEST(FormatRunTimeout, AsTyped) {
  EXPECT_EQ(FormatRunTimeout(10min), "10m");
  EXPECT_EQ(FormatRunTimeout(90s), "1m30s");
  EXPECT_EQ(FormatRunTimeout(45s), "45s");
  EXPECT_EQ(FormatRunTimeout(3723s), "1h2m3s");
  EXPECT_EQ(FormatRunTimeout(1h), "1h");
  EXPECT_EQ(FormatRunTimeout(1500ms), "1.5s");
  EXPECT_EQ(FormatRunTimeout(250ms), "250ms");
  EXPECT_EQ(FormatRunTimeout(0ms), "0s");
  for (const char* typed : {"10m", "1m30s", "45s", "250ms", "1h2m3s"}) {
    EXPECT_EQ(FormatRunTimeout(*ParseRunTimeout(typed)), typed);
  }
}

TEST(ProbeWait, ASixtiethOfTheBudgetBetweenHalfASecondAndTwo) {
  EXPECT_EQ(ProbeWait(kDefaultRunTimeout), 2s);
  EXPECT_EQ(ProbeWait(2min), 2s);
  EXPECT_EQ(ProbeWait(90s), 1500ms);
  EXPECT_EQ(ProbeWait(60s), 1s);
  EXPECT_EQ(ProbeWait(30s), 500ms);
  EXPECT_EQ(ProbeWait(1s), 500ms);
}

TEST(DefaultChurnPods, TwiceTheLabBetweenFourAndTwoHundred) {
  struct Case {
    int lab_pods, want;
  } cases[] = {{0, 4}, {1, 4}, {2, 4}, {3, 6}, {5, 10}, {50, 100}, {100, 200}, {1000, 200}};
  for (const Case& c : cases) EXPECT_EQ(DefaultChurnPods(c.lab_pods), c.want) << c.lab_pods;
}

TEST(PlanWaves, SharedRunsTogetherAloneByItself) {
  using Waves = std::vector<std::vector<size_t>>;
  struct Case {
    const char* name;
    std::vector<bool> alone;
    Waves want;
  } cases[] = {
      {"none", {}, {}},
      {"all shared", {false, false, false}, {{0, 1, 2}}},
      {"all alone", {true, true}, {{0}, {1}}},
      {"alone splits a run", {false, false, true, false}, {{0, 1}, {2}, {3}}},
      {"alone first and last", {true, false, false, true}, {{0}, {1, 2}, {3}}},
      {"two alone in a row", {false, true, true, false}, {{0}, {1}, {2}, {3}}},
  };
  for (const Case& c : cases) EXPECT_EQ(PlanWaves(c.alone), c.want) << c.name;
}

}  // namespace
}  // namespace mkn::cni
