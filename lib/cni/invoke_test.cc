#include "lib/cni/invoke.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/cni/json_text.h"
#include "lib/cni/version.h"

namespace mkn::cni {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

ConfList Dbnet() {
  auto list = ParseConfList(R"({
    "cniVersion": "1.1.0", "name": "dbnet",
    "plugins": [
      {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "10.1.0.0/16",
       "gateway": "10.1.0.1"}, "dns": {"nameservers": ["10.1.0.1"]}},
      {"type": "tuning", "capabilities": {"mac": true}, "sysctl": {"net.core.somaxconn": "500"}},
      {"type": "portmap", "capabilities": {"portMappings": true, "bandwidth": false},
       "runtimeConfig": {"fromFile": true}}
    ]})",
                            "dbnet.conflist");
  EXPECT_TRUE(list.ok()) << list.status();
  return *list;
}

RuntimeConf Rt() {
  RuntimeConf rt;
  rt.container_id = "c1";
  rt.netns = "/run/netns/blue";
  rt.ifname = "eth0";
  rt.args = {{"argA", "foo"}, {"K8S_POD_NAME", "p1"}};
  rt.capability_args = {
      {"mac", "00:11:22:33:44:66"},
      {"portMappings",
       json::array({{{"hostPort", 8080}, {"containerPort", 80}, {"protocol", "tcp"}}})},
      {"bandwidth", {{"ingressRate", 1000}}},
      {"ips", json::array({"10.1.0.9/16"})}};
  return rt;
}

TEST(PluginStdin, FirstPluginAsTheSpecAppendixAdd) {
  // SPEC.md Appendix "Add example", step 1: name and cniVersion injected, no prevResult, no
  // runtimeConfig (bridge declares no capabilities).
  json got = PluginStdin(Dbnet(), 0, Rt(), nullptr);
  EXPECT_EQ(got, json::parse(R"({
    "cniVersion": "1.1.0", "name": "dbnet", "type": "bridge", "bridge": "cni0",
    "ipam": {"type": "host-local", "subnet": "10.1.0.0/16", "gateway": "10.1.0.1"},
    "dns": {"nameservers": ["10.1.0.1"]}})"));
}

TEST(PluginStdin, RuntimeConfigHoldsOnlyDeclaredCapabilities) {
  json prev =
      json::parse(R"({"cniVersion":"1.1.0","ips":[{"address":"10.1.0.5/16","interface":2}]})");
  json tuning = PluginStdin(Dbnet(), 1, Rt(), &prev);
  EXPECT_EQ(tuning["runtimeConfig"], json({{"mac", "00:11:22:33:44:66"}}));
  EXPECT_EQ(tuning["prevResult"], prev);
  EXPECT_EQ(tuning["capabilities"], json({{"mac", true}}));  // kept, as libcni does

  json portmap = PluginStdin(Dbnet(), 2, Rt(), &prev);
  // bandwidth is declared false and ips is not declared: neither passes.
  EXPECT_EQ(
      portmap["runtimeConfig"],
      json::parse(R"({"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]})"));

  // No matching capability arg: libcni injects nothing, so a runtimeConfig from the file stays.
  RuntimeConf bare = Rt();
  bare.capability_args = json::object();
  json untouched = PluginStdin(Dbnet(), 2, bare, nullptr);
  EXPECT_EQ(untouched["runtimeConfig"], json({{"fromFile", true}}));
  EXPECT_FALSE(untouched.contains("prevResult"));
  json null_prev;
  EXPECT_FALSE(PluginStdin(Dbnet(), 1, bare, &null_prev).contains("prevResult"));
  EXPECT_FALSE(PluginStdin(Dbnet(), 1, bare, nullptr).contains("runtimeConfig"));
}

TEST(PluginStdin, BytesAreWhatLibcniWrites) {
  // libcni InjectConf: json.Unmarshal into a map, set keys, json.Marshal: sorted, compact.
  json got = PluginStdin(Dbnet(), 1, Rt(), nullptr);
  EXPECT_EQ(GoMarshal(got),
            "{\"capabilities\":{\"mac\":true},\"cniVersion\":\"1.1.0\",\"name\":\"dbnet\","
            "\"runtimeConfig\":{\"mac\":\"00:11:22:33:44:66\"},\"sysctl\":{\"net.core.somaxconn\":"
            "\"500\"},\"type\":\"tuning\"}");
}

TEST(PluginEnv, AsLibcniBuildsIt) {
  EXPECT_THAT(
      PluginEnv(Command::kAdd, Rt(), "/usr/lib/cni:/opt/cni/bin"),
      ElementsAre("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND=ADD", "CNI_CONTAINERID=c1",
                  "CNI_NETNS=/run/netns/blue", "CNI_ARGS=argA=foo;K8S_POD_NAME=p1",
                  "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni:/opt/cni/bin"));
  RuntimeConf no_args = Rt();
  no_args.args.clear();
  no_args.netns.clear();  // DEL after the netns is gone
  EXPECT_THAT(
      PluginEnv(Command::kDel, no_args, "/usr/lib/cni"),
      ElementsAre("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1",
                  "CNI_NETNS=", "CNI_ARGS=", "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni"));
  EXPECT_THAT(PluginEnv(Command::kCheck, Rt(), "/p"), ::testing::Contains("CNI_COMMAND=CHECK"));
  EXPECT_THAT(PluginEnv(Command::kVersion, Rt(), "/p"),
              ElementsAre("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND=VERSION"));
  EXPECT_THAT(
      PluginEnv(Command::kStatus, Rt(), "/p"),
      ElementsAre("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND=STATUS", "CNI_PATH=/p"));
  EXPECT_THAT(PluginEnv(Command::kGc, Rt(), "/p"),
              ElementsAre("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND=GC", "CNI_PATH=/p"));
}

TEST(CommandName, All) {
  EXPECT_EQ(CommandName(Command::kAdd), "ADD");
  EXPECT_EQ(CommandName(Command::kDel), "DEL");
  EXPECT_EQ(CommandName(Command::kCheck), "CHECK");
  EXPECT_EQ(CommandName(Command::kVersion), "VERSION");
  EXPECT_EQ(CommandName(Command::kStatus), "STATUS");
  EXPECT_EQ(CommandName(Command::kGc), "GC");
}

// The CLI's and the control protocol's words for the commands: one table, each word its command.
TEST(CommandOfVerb, EveryVerbAndNothingElse) {
  std::vector<std::string> names;
  for (std::string_view v : kVerbs) {
    std::optional<Command> c = CommandOfVerb(v);
    ASSERT_TRUE(c.has_value()) << v;
    std::string upper(v);
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    EXPECT_EQ(CommandName(*c), upper);
    names.push_back(upper);
  }
  EXPECT_THAT(names, ElementsAre("ADD", "CHECK", "DEL", "STATUS", "GC", "VERSION"));
  for (std::string_view bad : {"", "ADD", "render", "delete", "add "})
    EXPECT_FALSE(CommandOfVerb(bad).has_value()) << bad;
  EXPECT_TRUE(IsPodVerb("add"));
  EXPECT_TRUE(IsPodVerb("check"));
  EXPECT_TRUE(IsPodVerb("del"));
  for (std::string_view node : {"status", "gc", "version", "render", ""})
    EXPECT_FALSE(IsPodVerb(node)) << node;
}

TEST(PodRuntimeConf, AsContainerdGivesIt) {
  RuntimeConf rt = PodRuntimeConf("web-1", "mkn-lab-web-1", "eth0");
  EXPECT_EQ(rt.container_id, "mkn-lab-web-1");
  EXPECT_EQ(rt.netns, "/run/netns/mkn-lab-web-1");
  EXPECT_EQ(rt.ifname, "eth0");
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(rt.args, ElementsAre(P{"IgnoreUnknown", "1"}, P{"K8S_POD_NAMESPACE", "default"},
                                   P{"K8S_POD_NAME", "web-1"},
                                   P{"K8S_POD_INFRA_CONTAINER_ID", "mkn-lab-web-1"}));
  EXPECT_EQ(rt.capability_args, nlohmann::json::object());
  EXPECT_TRUE(ValidateRuntimeConf(rt).ok());
}

TEST(ValidateRuntimeConf, LibcniRules) {
  EXPECT_TRUE(ValidateRuntimeConf(Rt()).ok());
  struct Case {
    void (*mutate)(RuntimeConf&);
    const char* want;
  } cases[] = {
      {[](RuntimeConf& r) { r.container_id = ""; }, "container id: must not be empty"},
      {[](RuntimeConf& r) { r.container_id = "-x"; }, "container id \"-x\""},
      {[](RuntimeConf& r) { r.container_id = "a/b"; }, "container id \"a/b\""},
      {[](RuntimeConf& r) { r.ifname = ""; }, "ifname: must not be empty"},
      {[](RuntimeConf& r) { r.ifname = "a234567890123456"; }, "longer than 15 bytes"},
      {[](RuntimeConf& r) { r.ifname = ".."; }, "not a valid interface name"},
      {[](RuntimeConf& r) { r.ifname = "eth 0"; }, "must not hold '/', ':' or whitespace"},
      {[](RuntimeConf& r) {
         r.args = {{"A=B", "c"}};
       },
       "CNI_ARGS key \"A=B\""},
      {[](RuntimeConf& r) {
         r.args = {{"A", "c;d"}};
       },
       "value must not hold ';'"},
  };
  for (const auto& c : cases) {
    RuntimeConf rt = Rt();
    c.mutate(rt);
    absl::Status s = ValidateRuntimeConf(rt);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.want;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want));
  }
  RuntimeConf max = Rt();
  max.ifname = "a23456789012345";  // exactly 15 bytes
  EXPECT_TRUE(ValidateRuntimeConf(max).ok());
}

TEST(GcStdin, ValidAttachmentsUnderBothNames) {
  json got = GcStdin(Dbnet(), 0, {{"c1", "eth0"}, {"c2", "net1"}});
  json want =
      json::parse(R"([{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1"}])");
  EXPECT_EQ(got["cni.dev/valid-attachments"], want);
  EXPECT_EQ(got["cni.dev/attachments"], want);
  EXPECT_EQ(got["name"], "dbnet");
  EXPECT_EQ(got["cniVersion"], "1.1.0");
  EXPECT_EQ(got["type"], "bridge");
  EXPECT_FALSE(got.contains("runtimeConfig"));
  EXPECT_EQ(GcStdin(Dbnet(), 1, {})["cni.dev/valid-attachments"], json::array());
  json status = StatusStdin(Dbnet(), 2);
  EXPECT_EQ(status["name"], "dbnet");
  EXPECT_EQ(status["type"], "portmap");
  EXPECT_EQ(VersionStdin(), json({{"cniVersion", "1.1.0"}}));
}

TEST(ParseVersionResult, RealAndBrokenReplies) {
  // The Debian 1.1.1 bridge, host-local, ptp, portmap and loopback all print this.
  auto v = ParseVersionResult(
      R"({"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_THAT(*v, ElementsAre("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"));
  auto legacy = ParseVersionResult(R"({"cniVersion":"0.2.0"})");
  ASSERT_TRUE(legacy.ok());
  EXPECT_THAT(*legacy, ElementsAre("0.1.0", "0.2.0"));
  struct Case {
    const char* text;
    const char* want;
  } bad[] = {
      {"not json", "JSON parse error"},
      {"[]", "expected a JSON object, got array"},
      {R"({"supportedVersions":["1.0.0"]})", "missing field cniVersion"},
      {R"({"cniVersion":"1.0.0"})", "missing field supportedVersions"},
      {R"({"cniVersion":"1.0.0","supportedVersions":[]})", "missing field supportedVersions"},
      {R"({"cniVersion":"1.0.0","supportedVersions":"1.0.0"})", "expected an array, got string"},
      {R"({"cniVersion":"1.0.0","supportedVersions":[1]})",
       "supportedVersions[0]: expected a string"},
  };
  for (const auto& c : bad) {
    auto r = ParseVersionResult(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.want)) << c.text;
  }
}

TEST(CniVersions, CheckSupportedAndNegotiate) {
  std::vector<std::string> debian = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"};
  EXPECT_TRUE(CheckVersionSupported("1.0.0", debian, "bridge").ok());
  absl::Status s = CheckVersionSupported("1.1.0", debian, "bridge");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "plugin \"bridge\" does not support config version \"1.1.0\" (it supports 0.1.0 0.2.0 "
            "0.3.0 0.3.1 0.4.0 1.0.0)");
  EXPECT_TRUE(CheckVersionSupported("", {"0.1.0"}, "old").ok());  // "" means 0.1.0

  auto list = ParseConfList(R"({"cniVersion":"1.1.0","cniVersions":["0.4.0","1.0.0","1.1.0"],
      "name":"n","plugins":[{"type":"bridge"},{"type":"new"}]})",
                            "x");
  ASSERT_TRUE(list.ok());
  std::vector<std::string> all = SupportedVersions();
  EXPECT_EQ(NegotiateVersion(*list, {all, all}), "1.1.0");
  EXPECT_EQ(NegotiateVersion(*list, {debian, all}), "1.0.0");
  EXPECT_EQ(NegotiateVersion(*list, {{"0.4.0"}, all}), "0.4.0");
  // Nothing in common: the list's version, and CheckVersionSupported names the culprit.
  EXPECT_EQ(NegotiateVersion(*list, {{"0.3.1"}, all}), "1.1.0");
  auto plain = ParseConfList(R"({"cniVersion":"0.4.0","name":"n","plugins":[{"type":"p"}]})", "x");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(NegotiateVersion(*plain, {all}), "0.4.0");  // never above what the list names
}

TEST(CniVersions, CompareAndCapabilities) {
  EXPECT_LT(CompareVersions("0.3.1", "0.4.0"), 0);
  EXPECT_GT(CompareVersions("1.0.0", "0.4.0"), 0);
  EXPECT_EQ(CompareVersions("1.0", "1.0.0"), 0);
  EXPECT_EQ(CompareVersions("", "0.1.0"), 0);
  EXPECT_LT(CompareVersions("x", "0.1.0"), 0);
  EXPECT_GT(CompareVersions("0.10.0", "0.9.0"), 0);
  EXPECT_FALSE(ParseVersion("1.2.3.4").ok());
  EXPECT_FALSE(ParseVersion("1..2").ok());
  EXPECT_FALSE(SupportsCheck("0.3.1"));
  EXPECT_TRUE(SupportsCheck("0.4.0"));
  EXPECT_FALSE(DelGetsPrevResult("0.3.1"));
  EXPECT_TRUE(DelGetsPrevResult("1.0.0"));
  EXPECT_FALSE(SupportsStatusAndGc("1.0.0"));
  EXPECT_TRUE(SupportsStatusAndGc("1.1.0"));
}

}  // namespace
}  // namespace mkn::cni
