#include "lib/cni/conflist.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mkn::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// The SPEC.md §1 example (dbnet), with comments removed.
constexpr char kDbnet[] = R"({
  "cniVersion": "1.1.0",
  "cniVersions": ["0.3.1", "0.4.0", "1.0.0", "1.1.0"],
  "name": "dbnet",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "keyA": ["some more", "plugin specific", "configuration"],
      "ipam": {
        "type": "host-local",
        "subnet": "10.1.0.0/16",
        "gateway": "10.1.0.1",
        "routes": [{"dst": "0.0.0.0/0"}]
      },
      "dns": {"nameservers": ["10.1.0.1"]}
    },
    {
      "type": "tuning",
      "capabilities": {"mac": true},
      "sysctl": {"net.core.somaxconn": "500"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true, "ips": false}}
  ]
})";

TEST(ParseConfList, SpecExample) {
  auto list = ParseConfList(kDbnet, "dbnet.conflist");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "dbnet");
  EXPECT_EQ(list->cni_version, "1.1.0");
  EXPECT_THAT(list->cni_versions, ElementsAre("0.3.1", "0.4.0", "1.0.0", "1.1.0"));
  EXPECT_FALSE(list->disable_check);
  EXPECT_FALSE(list->disable_gc);
  ASSERT_EQ(list->plugins.size(), 3u);
  EXPECT_EQ(list->plugins[0].type, "bridge");
  EXPECT_EQ(list->plugins[0].conf["ipam"]["subnet"], "10.1.0.0/16");
  EXPECT_TRUE(list->plugins[0].capabilities.empty());
  EXPECT_THAT(list->plugins[1].capabilities, ElementsAre("mac"));
  EXPECT_THAT(list->plugins[2].capabilities, ElementsAre("portMappings"));  // "ips": false
  EXPECT_EQ(list->raw["plugins"].size(), 3u);
}

TEST(ParseConfList, SingleConfBecomesAOnePluginList) {
  // A kubenet-style .conf, as libcni's ConfListFromConf upconverts it.
  auto list = ParseConfList(R"({"cniVersion": "0.3.1", "name": "kubenet", "type": "bridge",
      "bridge": "cbr0", "ipam": {"type": "host-local", "subnet": "10.244.1.0/24"}})",
                            "10-kubenet.conf");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "kubenet");
  EXPECT_EQ(list->cni_version, "0.3.1");
  ASSERT_EQ(list->plugins.size(), 1u);
  EXPECT_EQ(list->plugins[0].type, "bridge");
  EXPECT_EQ(list->plugins[0].conf["bridge"], "cbr0");
  EXPECT_EQ(list->raw["plugins"][0]["type"], "bridge");
  EXPECT_EQ(list->raw["name"], "kubenet");
}

TEST(ParseConfList, DisableFlagsAsBooleansOrStrings) {
  auto list = ParseConfList(R"({"cniVersion":"1.1.0","name":"n","disableCheck":"True",
      "disableGC":true,"plugins":[{"type":"ptp"}]})",
                            "x");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->disable_check);
  EXPECT_TRUE(list->disable_gc);
  auto bad = ParseConfList(R"({"cniVersion":"1.1.0","name":"n","disableCheck":"yes",
      "disableGC":1,"plugins":[{"type":"ptp"}]})",
                           "x");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Msg(bad.status()), HasSubstr("disableCheck: expected true or false, got \"yes\""));
  EXPECT_THAT(Msg(bad.status()), HasSubstr("disableGC: expected a boolean, got number"));
}

TEST(ParseConfList, VersionSelection) {
  struct Case {
    const char* versions;  // the cniVersion / cniVersions members
    const char* want;
  } cases[] = {
      {R"("cniVersion":"0.4.0")", "0.4.0"},
      {R"("cniVersion":"1.0.0","cniVersions":["0.4.0","1.1.0"])", "1.1.0"},
      {R"("cniVersions":["0.3.1","1.0.0"])", "1.0.0"},
      // A version newer than this runtime is skipped, as libcni does.
      {R"("cniVersion":"1.2.0","cniVersions":["1.0.0","1.2.0"])", "1.0.0"},
  };
  for (const auto& c : cases) {
    std::string text = std::string("{") + c.versions + R"(,"name":"n","plugins":[{"type":"p"}]})";
    auto list = ParseConfList(text, "v");
    ASSERT_TRUE(list.ok()) << text << ": " << list.status();
    EXPECT_EQ(list->cni_version, c.want) << text;
  }
}

TEST(ParseConfList, ReportsEveryProblemWithItsPosition) {
  constexpr char kBroken[] = R"({
  "cniVersion": "9.9.9",
  "name": "bad name!",
  "plugins": [
    {"type": "bridge"},
    {"ipam": {}},
    {"type": "../evil", "capabilities": {"portMappings": "yes"}},
    42
  ]
})";
  auto list = ParseConfList(kBroken, "k.conflist");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Msg(list.status()),
      "k.conflist:2:17: cniVersion: unsupported version \"9.9.9\" (supported: 0.1.0 0.2.0 "
      "0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)\n"
      "k.conflist:3:11: name: \"bad name!\" must start with a letter or digit and hold only "
      "letters, digits, '_', '.' and '-'\n"
      "k.conflist:6:5: plugins[1]: missing \"type\"\n"
      "k.conflist:7:14: plugins[2].type: \"../evil\" must be a binary name, without '/' or "
      "'\\'\n"
      "k.conflist:7:58: plugins[2].capabilities.portMappings: expected a boolean, got string\n"
      "k.conflist:8:5: plugins[3]: expected a plugin object, got number");
}

TEST(ParseConfList, MissingMembers) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {R"({"name":"n","plugins":[{"type":"p"}]})", "x:1:1: missing \"cniVersion\""},
      {R"({"cniVersion":"1.0.0","plugins":[{"type":"p"}]})", "x:1:1: missing \"name\""},
      {R"({"cniVersion":"1.0.0","name":"n"})", "x:1:1: missing \"plugins\""},
      {R"({"cniVersion":"1.0.0","name":"n","plugins":[]})",
       "x:1:44: plugins: empty: a list needs at least one plugin"},
      {R"({"cniVersion":"1.0.0","name":"n","plugins":{}})",
       "x:1:44: plugins: expected an array of plugin objects, got object"},
      {R"({"cniVersion":1,"name":"n","plugins":[{"type":"p"}]})",
       "x:1:15: cniVersion: expected a version string, got number"},
      {R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":""}]})",
       "x:1:53: plugins[0].type: must not be empty"},
      {R"({"cniVersion":"1.0.0","cniVersions":["1.x"],"name":"n","plugins":[{"type":"p"}]})",
       "x:1:38: cniVersions[0]: \"1.x\" is not a version (MAJOR.MINOR.PATCH)"},
      {R"([1,2])", "x:1:1: expected a JSON object (a network configuration list), got array"},
  };
  for (const auto& c : cases) {
    auto list = ParseConfList(c.text, "x");
    ASSERT_FALSE(list.ok()) << c.text;
    EXPECT_THAT(Msg(list.status()), HasSubstr(c.want)) << c.text;
  }
}

TEST(ParseConfList, JsonSyntaxError) {
  auto list = ParseConfList(
      "{\n  \"cniVersion\": \"1.0.0\",\n  \"name\": \"k\"\n  \"plugins\": []\n}", "k.conflist");
  ASSERT_FALSE(list.ok());
  // Where nlohmann noticed: the end of the unexpected token "plugins".
  EXPECT_EQ(Msg(list.status()),
            "k.conflist:4:11: JSON parse error: syntax error while parsing object - unexpected "
            "string literal; expected '}'");
}

const absl::flat_hash_map<std::string, std::string> kVars = {
    {"node.name", "n1"},
    {"node.ip", "172.18.0.2"},
    {"node.pod_cidr", "10.244.1.0/24"},
    {"cluster.pod_cidr", "10.244.0.0/16"},
    {"cluster.service_cidr", "10.96.0.0/12"},
};

TEST(RenderConfList, FillsStringValuesKeepsOrderAndEscapes) {
  constexpr char kTemplate[] = R"({
    "name": "kindnet", "cniVersion": "0.3.1",
    "plugins": [{"type": "ptp", "ipam": {"type": "host-local",
      "ranges": [[{"subnet": "${node.pod_cidr}"}]],
      "routes": [{"dst": "${cluster.pod_cidr}"}]},
      "note": "node ${node.name} at ${node.ip}, literal $${node.name}, cost $5",
      "${node.name}": "keys are not templates", "count": 3}]})";
  auto out = RenderConfList(kTemplate, kVars, "kindnet.conflist");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, R"({
  "name": "kindnet",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "ptp",
      "ipam": {
        "type": "host-local",
        "ranges": [
          [
            {
              "subnet": "10.244.1.0/24"
            }
          ]
        ],
        "routes": [
          {
            "dst": "10.244.0.0/16"
          }
        ]
      },
      "note": "node n1 at 172.18.0.2, literal ${node.name}, cost $5",
      "${node.name}": "keys are not templates",
      "count": 3
    }
  ]
}
)");
  // The rendered text is a valid conflist.
  auto list = ParseConfList(*out, "rendered");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->plugins[0].conf["ipam"]["ranges"][0][0]["subnet"], "10.244.1.0/24");
}

TEST(RenderConfList, UnknownAndUnterminatedVariables) {
  auto out = RenderConfList(
      "{\"name\": \"n\",\n \"plugins\": [{\"ipam\": {\"subnet\": \"${node.cidr}\"}},\n"
      "  {\"x\": \"${node.name\"}]}",
      kVars, "t.conflist");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(Msg(out.status()),
            "t.conflist:2:34: plugins[0].ipam.subnet: unknown variable ${node.cidr} (known: "
            "cluster.pod_cidr, cluster.service_cidr, node.ip, node.name, node.pod_cidr)\n"
            "t.conflist:3:9: plugins[1].x: unterminated \"${\" in \"${node.name\" (write $${ "
            "for a literal ${)");
}

TEST(RenderConfList, BadJson) {
  auto out = RenderConfList("{\"a\": ", kVars, "t.conflist");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(Msg(out.status()), ::testing::StartsWith("t.conflist:1:7: JSON parse error: "));
}

}  // namespace
TEST(Ipv6InIpam, FindsEveryIpv6SubnetAndAddressUnderIpam) {
  auto list = ParseConfList(R"({"cniVersion": "1.0.0", "name": "n", "plugins": [
    {"type": "bridge", "ipam": {"type": "host-local",
      "ranges": [[{"subnet": "10.244.0.0/24"}], [{"subnet": "fd00::/64", "gateway": "fd00::1"}]],
      "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}},
    {"type": "static", "ipam": {"addresses": [{"address": "2001:db8::5/64"}]}},
    {"type": "portmap", "note": "fd00::/64 outside ipam is not an address request"}]})",
                            "x");
  ASSERT_TRUE(list.ok()) << list.status();
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(Ipv6InIpam(*list),
            (std::vector<P>{{"plugins[0].ipam.ranges[1][0].gateway", "fd00::1"},
                            {"plugins[0].ipam.ranges[1][0].subnet", "fd00::/64"},
                            {"plugins[0].ipam.routes[1].dst", "::/0"},
                            {"plugins[1].ipam.addresses[0].address", "2001:db8::5/64"}}));
  auto v4 = ParseConfList(
      R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "bridge", "ipam": {"subnet": "10.0.0.0/8"}}]})",
      "x");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(Ipv6InIpam(*v4).empty());
}

}  // namespace mkn::cni
