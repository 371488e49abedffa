#include "lib/cni/json_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mkn::cni {
namespace {

TEST(JsonText, ParseErrorNamesOriginLineAndColumn) {
  auto r = ParseJson("{\n  \"a\": 1,\n  x\n}", "k.conflist");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(r.status().message()).rfind("k.conflist:3:3: JSON parse error: ", 0), 0u)
      << r.status();
  auto empty = ParseJson("", "e.conf");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(std::string(empty.status().message()).rfind("e.conf:1:1: JSON parse error: ", 0), 0u)
      << empty.status();
}

TEST(JsonText, PositionsOfValuesByPath) {
  std::string text =
      "{\n  \"name\": \"k\",\n  \"plugins\": [\n    {\"type\": \"bridge\"},\n"
      "    {\"ipam\": {\"subnet\": \"x\"}}\n  ]\n}\n";
  JsonPositions p = JsonPositions::Index(text);
  EXPECT_EQ(p.Where("f", ""), "f:1:1");
  EXPECT_EQ(p.Where("f", "name"), "f:2:11");
  EXPECT_EQ(p.Where("f", "plugins[0]"), "f:4:5");
  EXPECT_EQ(p.Where("f", "plugins[0].type"), "f:4:14");
  EXPECT_EQ(p.Where("f", "plugins[1].ipam.subnet"), "f:5:25");
  // A missing key points at its object.
  EXPECT_EQ(p.Where("f", "plugins[1].type"), "f:5:5");
  EXPECT_EQ(p.Where("f", "plugins[7]"), "f:3:14");
}

TEST(JsonText, GoMarshalMatchesEncodingJson) {
  // Expected bytes are what Go's json.Marshal prints for the same map[string]interface{}.
  nlohmann::json j = nlohmann::json::parse(
      R"({"z":1,"a":"<b>&</b>","n":null,"t":true,"f":1.5,"i":8080.0,"u":"é\u2028\n\t\u0001","e":[],"o":{}})");
  EXPECT_EQ(GoMarshal(j),
            "{\"a\":\"\\u003cb\\u003e\\u0026\\u003c/b\\u003e\",\"e\":[],\"f\":1.5,\"i\":8080,"
            "\"n\":null,\"o\":{},\"t\":true,\"u\":\"é\\u2028\\n\\t\\u0001\",\"z\":1}");
  nlohmann::ordered_json o;
  o["kind"] = "x";
  o["b"] = 1;
  EXPECT_EQ(GoMarshal(o), "{\"kind\":\"x\",\"b\":1}");
  EXPECT_EQ(GoMarshal(nlohmann::json(std::string("a\xff"
                                                 "b"))),
            "\"a\\ufffdb\"");
}

TEST(JsonText, SanitizeUtf8) {
  EXPECT_EQ(SanitizeUtf8("ok é"), "ok é");
  EXPECT_EQ(SanitizeUtf8("a\xff"
                         "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

}  // namespace

TEST(ParseJson, NestingIsBoundedBeforeAnythingRecurses) {
  // 64 levels parse; the 65th bracket is named by line and column; 50 000 levels (which crashed
  // the ${...} renderer with a stack overflow) are refused the same way, fast.
  auto nest = [](size_t n, std::string_view open, std::string_view close) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += open;
    s += "1";
    for (size_t i = 0; i < n; ++i) s += close;
    return s;
  };
  EXPECT_TRUE(ParseJson(nest(kMaxJsonDepth, "[", "]"), "x").ok());
  auto deep = ParseJson(nest(kMaxJsonDepth + 1, "[", "]"), "x.conflist");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().message(),
            "x.conflist:1:65: JSON nested deeper than 64 levels (a conflist needs a handful)");
  auto objects = ParseOrderedJson("{\"a\":\n" + nest(50000, "{\"k\":", "}") + "}", "c");
  ASSERT_FALSE(objects.ok());
  EXPECT_THAT(std::string(objects.status().message()), ::testing::HasSubstr("c:2:"));
  // Brackets inside strings do not count, escaped quotes included.
  EXPECT_TRUE(
      ParseJson(R"({"s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"[[["})",
                "x")
          .ok());
}

}  // namespace mkn::cni
