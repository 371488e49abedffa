#include "lib/cni/result.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/cni/testing.h"

namespace mkn::cni {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Testdata;

TEST(ValidateResult, RealDebianPluginResultsAreValid) {
  for (const char* plugin : {"bridge", "ptp"}) {
    for (const char* version : {"0.3.1", "0.4.0", "1.0.0"}) {
      std::string file = std::string(plugin) + "_" + version + ".json";
      json result = json::parse(Testdata(file));
      EXPECT_THAT(ValidateResult(result, version), IsEmpty()) << file;
    }
  }
  EXPECT_THAT(ValidateResult(json::parse(Testdata("host-local_0.3.1.json")), "0.3.1"), IsEmpty());
  EXPECT_THAT(ValidateResult(json::parse(Testdata("host-local_1.0.0.json")), "1.0.0"), IsEmpty());
  EXPECT_THAT(ValidateResult(json::parse(Testdata("host-local_0.2.0.json")), "0.2.0"), IsEmpty());
}

TEST(ParseResult, BridgeAt100) {
  auto r = ParseResult(Testdata("bridge_1.0.0.json"), "1.0.0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cni_version, "1.0.0");
  ASSERT_EQ(r->interfaces.size(), 3u);
  EXPECT_EQ(r->interfaces[0].name, "cni0");
  EXPECT_EQ(r->interfaces[2].name, "eth0");
  EXPECT_EQ(r->interfaces[2].mac, "36:a3:6f:a5:b2:08");
  EXPECT_EQ(r->interfaces[2].sandbox, "/run/netns/p3");
  EXPECT_EQ(r->interfaces[2].mtu, std::nullopt);
  ASSERT_EQ(r->ips.size(), 1u);
  EXPECT_EQ(r->ips[0].address, "10.244.1.4/24");
  EXPECT_EQ(r->ips[0].gateway, "10.244.1.1");
  EXPECT_EQ(r->ips[0].interface, 2);
  ASSERT_EQ(r->routes.size(), 1u);
  EXPECT_EQ(r->routes[0].dst, "0.0.0.0/0");
  EXPECT_EQ(r->routes[0].gw, "");
  EXPECT_EQ(r->raw, json::parse(Testdata("bridge_1.0.0.json")));
}

TEST(ParseResult, PtpAt031AndLegacy020) {
  auto r = ParseResult(Testdata("ptp_0.3.1.json"), "0.3.1");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->interfaces.size(), 2u);
  EXPECT_EQ(r->ips[0].interface, 1);
  auto legacy = ParseResult(Testdata("host-local_0.2.0.json"), "0.2.0");
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_TRUE(legacy->interfaces.empty());
  ASSERT_EQ(legacy->ips.size(), 2u);
  EXPECT_EQ(legacy->ips[0].address, "10.244.1.5/24");
  EXPECT_EQ(legacy->ips[1].address, "fd00:10:244:1::5/64");
  EXPECT_EQ(legacy->ips[1].gateway, "fd00:10:244:1::1");
  ASSERT_EQ(legacy->routes.size(), 1u);
  EXPECT_EQ(legacy->routes[0].dst, "0.0.0.0/0");
}

TEST(ParseResult, MissingVersionIsTheRequestsAndDns) {
  // SPEC.md Appendix: the bridge result of the Add example carries no cniVersion.
  auto r = ParseResult(R"({"ips":[{"address":"10.1.0.5/16","gateway":"10.1.0.1","interface":2}],
      "routes":[{"dst":"0.0.0.0/0"}],"interfaces":[{"name":"cni0","mac":"00:11:22:33:44:55"},
      {"name":"veth3243","mac":"55:44:33:22:11:11"},
      {"name":"eth0","mac":"99:88:77:66:55:44","sandbox":"/var/run/netns/blue","mtu":1450}],
      "dns":{"nameservers":["10.1.0.1"],"domain":"cluster.local","search":["a","b"],"options":["ndots:5"]}})",
                       "1.1.0");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cni_version, "1.1.0");
  EXPECT_EQ(r->raw["cniVersion"], "1.1.0");
  EXPECT_EQ(r->interfaces[2].mtu, 1450);
  EXPECT_THAT(r->dns.nameservers, ElementsAre("10.1.0.1"));
  EXPECT_EQ(r->dns.domain, "cluster.local");
  EXPECT_THAT(r->dns.search, ElementsAre("a", "b"));
  EXPECT_THAT(r->dns.options, ElementsAre("ndots:5"));
}

TEST(ParseResult, Garbage) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"", "JSON parse error"},
      {"Error: something broke\n", "JSON parse error"},
      {"[1]", "expected a JSON object, got array"},
      {R"({"cniVersion":2})", "cniVersion: expected a string, got number"},
      {R"({"cniVersion":"7.0.0"})", "unsupported cniVersion \"7.0.0\""},
      {R"({"cniVersion":"1.0.0","ips":{}})", "ips: expected an array, got object"},
      {R"({"cniVersion":"1.0.0","ips":[{"address":5}]})", "ips[0].address: expected a string"},
      {R"({"cniVersion":"1.0.0","interfaces":[{"name":"a","mtu":"big"}]})",
       "interfaces[0].mtu: expected a non-negative integer"},
  };
  for (const auto& c : cases) {
    auto r = ParseResult(c.text, "1.0.0");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.want)) << c.text;
  }
}

// Each broken result: the bridge 0.4.0 result with one edit, and the sentences expected.
TEST(ValidateResult, BrokenResults) {
  const json base04 = json::parse(Testdata("bridge_0.4.0.json"));
  const json base10 = json::parse(Testdata("bridge_1.0.0.json"));
  struct Case {
    const char* name;
    json result;
    const char* version;
    std::vector<std::string> want;
  };
  auto edit = [](json j, auto f) {
    f(j);
    return j;
  };
  std::vector<Case> cases = {
      {"missing cniVersion",
       edit(base04, [](json& j) { j.erase("cniVersion"); }),
       "0.4.0",
       {"cniVersion: missing (must be \"0.4.0\", the request's version)"}},
      {"other cniVersion",
       base04,
       "1.0.0",
       {"cniVersion: \"0.4.0\" differs from the request's \"1.0.0\""}},
      {"wrong family for version",
       edit(base04, [](json& j) { j["ips"][0]["version"] = "6"; }),
       "0.4.0",
       {"ips[0].version: \"6\" but address \"10.244.1.3/24\" is IPv4"}},
      {"missing version in 0.4.0",
       edit(base04, [](json& j) { j["ips"][0].erase("version"); }),
       "0.4.0",
       {"ips[0].version: missing"}},
      {"version in 1.0.0",
       edit(base10, [](json& j) { j["ips"][0]["version"] = "4"; }),
       "1.0.0",
       {"ips[0].version: not part of a 1.0.0 result (removed in 1.0.0)"}},
      {"interface out of range",
       edit(base10, [](json& j) { j["ips"][0]["interface"] = 3; }),
       "1.0.0",
       {"ips[0].interface: 3 is out of range: the result has 3 interfaces"}},
      {"negative interface",
       edit(base10, [](json& j) { j["ips"][0]["interface"] = -1; }),
       "1.0.0",
       {"ips[0].interface: expected a non-negative integer, got number"}},
      {"bad mac",
       edit(base10, [](json& j) { j["interfaces"][2]["mac"] = "ae:79:7d:62:95"; }),
       "1.0.0",
       {"interfaces[2].mac: \"ae:79:7d:62:95\" is not a MAC address"}},
      {"no interface name",
       edit(base10, [](json& j) { j["interfaces"][1].erase("name"); }),
       "1.0.0",
       {"interfaces[1].name: missing"}},
      {"address not CIDR",
       edit(base10, [](json& j) { j["ips"][0]["address"] = "10.244.1.4"; }),
       "1.0.0",
       {"ips[0].address: \"10.244.1.4\" is not a CIDR (address/prefix-length)"}},
      {"gateway family",
       edit(base10, [](json& j) { j["ips"][0]["gateway"] = "fd00::1"; }),
       "1.0.0",
       {"ips[0].gateway: \"fd00::1\" is IPv6 but address \"10.244.1.4/24\" is IPv4"}},
      {"bad route",
       edit(base10,
            [](json& j) {
              j["routes"] = json::parse(R"([{"dst":"default"},{"dst":"::/0","gw":"10.0.0.1"},{}])");
            }),
       "1.0.0",
       {"routes[0].dst: \"default\" is not a CIDR (address/prefix-length)",
        "routes[1].gw: \"10.0.0.1\" is IPv4 but dst \"::/0\" is IPv6", "routes[2].dst: missing"}},
      {"bad dns",
       edit(base10,
            [](json& j) {
              j["dns"] = json::parse(R"({"nameservers":["10.96.0.10","kube-dns"],"search":"x"})");
            }),
       "1.0.0",
       {"dns.nameservers[1]: \"kube-dns\" is not an IP address",
        "dns.search: expected an array, got string"}},
      {"legacy keys in 1.0.0",
       edit(base10, [](json& j) { j["ip4"] = json::object(); }),
       "1.0.0",
       {"ip4: not part of a 1.0.0 result (use \"ips\")"}},
      {"not an object", json::array(), "1.0.0", {"result: expected a JSON object, got array"}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ValidateResult(c.result, c.version), c.want) << c.name;
  }
}

TEST(ValidateResult, Legacy020) {
  json r = json::parse(R"({"cniVersion":"0.2.0","ip4":{"ip":"fd00::5/64","gateway":"fd00::1",
      "routes":[{"dst":"::/0"}]},"ips":[]})");
  EXPECT_THAT(ValidateResult(r, "0.2.0"),
              ElementsAre("ips: not part of a 0.2.0 result (0.2.0 results carry ip4/ip6)",
                          "ip4.ip: \"fd00::5/64\" is IPv6, not IPv4",
                          "ip4.gateway: \"fd00::1\" is IPv6 but ip4 is IPv4",
                          "ip4.routes[0].dst: \"::/0\" is IPv6 in ip4"));
}

TEST(PluginError, RealDebianErrors) {
  // host-local 1.1.1, ADD with a /31: no cniVersion, code 999 (libcni ErrInternal).
  auto e = ParsePluginError(R"({
    "code": 999,
    "msg": "invalid range set 0: Network 10.0.0.0/31 too small to allocate from"
})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->code, 999);
  EXPECT_THAT(ValidateError(json::parse(R"({"code":999,"msg":"x"})")), IsEmpty());
  EXPECT_EQ(FormatPluginError(*e, "host-local", ""),
            "plugin \"host-local\" failed: code 999 (plugin-specific): invalid range set 0: "
            "Network 10.0.0.0/31 too small to allocate from");
  // bridge 1.1.1, ADD at cniVersion 9.9.9.
  auto v = ParsePluginError(R"({"code":1,"msg":"incompatible CNI versions",
      "details":"config is \"9.9.9\", plugin supports [\"0.1.0\"]"})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(FormatPluginError(*v, "bridge", "log line 1\nlog line 2\n\n"),
            "plugin \"bridge\" failed: code 1 (incompatible CNI version): incompatible CNI "
            "versions: config is \"9.9.9\", plugin supports [\"0.1.0\"]\n"
            "  stderr:\n    log line 1\n    log line 2");
  PluginError spec{7, "Invalid Configuration", "Network 192.168.0.0/31 too small to allocate from",
                   "1.1.0"};
  EXPECT_EQ(FormatPluginError(spec, "bridge", ""),
            "plugin \"bridge\" failed: code 7 (invalid network config): Invalid Configuration: "
            "Network 192.168.0.0/31 too small to allocate from");
}

TEST(PluginError, LongStderrKeepsTheTail) {
  std::string err;
  for (int i = 1; i <= 30; ++i) err += "line " + std::to_string(i) + "\n";
  std::string got = FormatPluginError({3, "m", "", ""}, "p", err);
  EXPECT_THAT(got, HasSubstr("stderr: (last 20 of 30 lines)\n    line 11\n"));
  EXPECT_THAT(got, ::testing::EndsWith("    line 30"));
  EXPECT_THAT(got, ::testing::Not(HasSubstr("line 10\n")));
}

TEST(PluginError, AVeryLongStderrLineIsCut) {
  // 64 KiB without a newline (a plugin printing a buffer to stderr): the message stays readable.
  std::string got = FormatPluginError({7, "m", "", ""}, "p", std::string(64 << 10, 'x'));
  EXPECT_THAT(got, HasSubstr("\n    " + std::string(300, 'x') + "..."));
  EXPECT_LT(got.size(), 400u);
}

TEST(PluginError, AnErrorObjectPrintedWithExitZeroIsRecognised) {
  // The attack's liar-errjson: an error object, exit 0. Read as a result it gave "no IPv4
  // address on eth0"; the plugin's own words are what a user needs.
  std::optional<PluginError> e =
      ErrorOnSuccess(R"({"cniVersion":"1.0.0","code":7,"msg":"I failed but exit 0"})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, 7);
  EXPECT_EQ(e->msg, "I failed but exit 0");
  EXPECT_TRUE(ErrorOnSuccess(R"({"code":11,"msg":"try again","details":"d"})").has_value());
  absl::StatusOr<Result> r =
      ParseResult(R"({"cniVersion":"1.0.0","code":7,"msg":"I failed but exit 0"})", "1.0.0");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("a CNI error object (code 7: I failed but exit 0), not a result"));
  // Not error objects: results (an empty one too), a code that is not an integer, garbage.
  for (const char* text :
       {R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]})", R"({"cniVersion":"1.0.0"})",
        R"({"code":7,"ips":[]})", R"({"code":"7","msg":"x"})", "{}", "garbage", "[]", ""}) {
    EXPECT_FALSE(ErrorOnSuccess(text).has_value()) << text;
  }
}

TEST(PluginError, NotAnError) {
  for (const char* text : {"garbage", "{}", R"({"code":"7","msg":"x"})", R"({"code":-1})", "[]"}) {
    EXPECT_FALSE(ParsePluginError(text).ok()) << text;
  }
}

TEST(ValidateError, Violations) {
  EXPECT_THAT(
      ValidateError(json::parse(
          R"({"cniVersion":"1.1.0","code":7,"msg":"Invalid Configuration","details":"d"})")),
      IsEmpty());
  EXPECT_THAT(ValidateError(json::parse(R"({"code":50,"msg":"not ready"})")), IsEmpty());
  EXPECT_THAT(
      ValidateError(json::parse(R"({"code":0,"msg":""})")),
      ElementsAre("code: 0 is not an error code (codes start at 1)", "msg: must not be empty"));
  EXPECT_THAT(ValidateError(json::parse(R"({"code":42,"details":3})")),
              ElementsAre("code: 42 is in the reserved range 0-99 but not a well-known code (1-8, "
                          "11, 50, 51; use 100+ for plugin-specific errors)",
                          "msg: missing", "details: expected a string, got number"));
  EXPECT_THAT(ValidateError(json::parse(R"({"code":1.5,"msg":"x"})")),
              ElementsAre("code: expected a non-negative integer, got number"));
  EXPECT_THAT(ValidateError(json::parse(R"({"msg":"x"})")), ElementsAre("code: missing"));
}

TEST(ErrorCodeName, WellKnown) {
  EXPECT_EQ(ErrorCodeName(1), "incompatible CNI version");
  EXPECT_EQ(ErrorCodeName(7), "invalid network config");
  EXPECT_EQ(ErrorCodeName(11), "try again later");
  EXPECT_EQ(ErrorCodeName(100), "plugin-specific");
  EXPECT_EQ(ErrorCodeName(9), "");
}

}  // namespace
}  // namespace mkn::cni

namespace mkn::cni {
namespace {

// A plugin's output is untrusted: a value of the wrong JSON type anywhere is that plugin's error
// (a violation naming the field, or a Status), never an exception out of lib/cni. One row per kind
// of field the validator and the parser read.
TEST(ValidateResult, EveryFieldOfTheWrongTypeIsAViolationNotAnException) {
  struct Row {
    const char* version;
    const char* result;
    const char* expect;  // a substring of one violation
  };
  const Row rows[] = {
      {"1.0.0", R"({"cniVersion":"1.0.0","routes":[{"dst":5}]})", "routes[0].dst"},
      {"1.0.0", R"({"cniVersion":"1.0.0","routes":[{"dst":"10.0.0.0/8","gw":7}]})", "routes[0].gw"},
      {"1.0.0", R"({"cniVersion":"1.0.0","routes":[{"dst":"10.0.0.0/8","mtu":"x"}]})",
       "routes[0].mtu"},
      {"1.0.0", R"({"cniVersion":"1.0.0","routes":{"dst":"10.0.0.0/8"}})", "routes"},
      {"1.0.0", R"({"cniVersion":"1.0.0","routes":[3]})", "routes[0]"},
      {"1.0.0", R"({"cniVersion":"1.0.0","ips":[{"address":5}]})", "ips[0].address"},
      {"1.0.0", R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","gateway":[]}]})",
       "ips[0].gateway"},
      {"1.0.0", R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","interface":"0"}]})",
       "ips[0].interface"},
      {"1.0.0", R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","interface":-1}]})",
       "ips[0].interface"},
      {"1.0.0", R"({"cniVersion":"1.0.0","ips":"10.0.0.2/24"})", "ips"},
      {"1.0.0", R"({"cniVersion":"1.0.0","interfaces":[{"name":1}]})", "interfaces[0].name"},
      {"1.0.0", R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":{}}]})",
       "interfaces[0].mac"},
      {"1.0.0", R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mtu":1.5}]})",
       "interfaces[0].mtu"},
      {"1.0.0", R"({"cniVersion":"1.0.0","interfaces":[null]})", "interfaces[0]"},
      {"1.0.0", R"({"cniVersion":"1.0.0","dns":{"nameservers":[1]}})", "dns.nameservers[0]"},
      {"1.0.0", R"({"cniVersion":"1.0.0","dns":{"domain":2}})", "dns.domain"},
      {"1.0.0", R"({"cniVersion":"1.0.0","dns":[]})", "dns"},
      {"1.0.0", R"({"cniVersion":5})", "cniVersion"},
      {"0.4.0", R"({"cniVersion":"0.4.0","ips":[{"version":4,"address":"10.0.0.2/24"}]})",
       "ips[0].version"},
      {"0.2.0", R"({"cniVersion":"0.2.0","ip4":{"ip":5}})", "ip4.ip"},
      {"0.2.0", R"({"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24","routes":[{"dst":false}]}})",
       "ip4.routes[0].dst"},
      {"0.2.0", R"({"cniVersion":"0.2.0","ip4":"10.0.0.2/24"})", "ip4"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.result);
    std::vector<std::string> v;
    ASSERT_NO_THROW(v = ValidateResult(json::parse(r.result), r.version));
    EXPECT_THAT(v, ::testing::Contains(HasSubstr(r.expect)));
    absl::StatusOr<Result> parsed;
    ASSERT_NO_THROW(parsed = ParseResult(r.result, r.version));
  }
}

TEST(ParsePluginError, FieldsOfTheWrongTypeAreAStatusNotAnException) {
  for (const char* text : {R"({"code":"7","msg":"x"})", R"({"code":7,"msg":5})",
                           R"({"code":7,"msg":"x","details":[]})", R"({"code":1e100})", "[]"}) {
    SCOPED_TRACE(text);
    ASSERT_NO_THROW((void)ParsePluginError(text));
    std::vector<std::string> v;
    ASSERT_NO_THROW(v = ValidateError(json::parse(text)));
  }
}

}  // namespace
}  // namespace mkn::cni
