#include "lib/cni/cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/cni/testing.h"

namespace mkn::cni {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Testdata;

CacheEntry Kubenet() {
  RuntimeConf rt;
  rt.container_id = "c1";
  rt.ifname = "eth0";
  rt.netns = "/run/netns/p1";
  rt.args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "web<1>&co"}};
  rt.capability_args =
      json::parse(R"({"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]})");
  // bridge_0.3.1.json's attachment at 1.0.0, as libcni re-marshals it (types100 drops an empty
  // "dns").
  json result = json::parse(R"({"cniVersion":"1.0.0","interfaces":[
      {"name":"cni0","mac":"42:02:f9:84:9e:bb"},{"name":"vetha5ab4783","mac":"c6:d0:b9:ed:3c:87"},
      {"name":"eth0","mac":"de:3f:9f:b1:81:a5","sandbox":"/run/netns/p1"}],
      "ips":[{"interface":2,"address":"10.244.1.2/24","gateway":"10.244.1.1"}],
      "routes":[{"dst":"0.0.0.0/0"}]})");
  return NewCacheEntry("kubenet", Testdata("kubenet.conflist"), rt, result);
}

TEST(CniCache, FileName) { EXPECT_EQ(CacheFileName("kubenet", "c1", "eth0"), "kubenet-c1-eth0"); }

TEST(CniCache, ByteCompatibleWithLibcni) {
  EXPECT_EQ(SerializeCache(Kubenet()), Testdata("libcni_cache_kubenet-c1-eth0"));
}

TEST(CniCache, ReadsALibcniFile) {
  auto e = ParseCache(Testdata("libcni_cache_kubenet-c1-eth0"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->container_id, "c1");
  EXPECT_EQ(e->ifname, "eth0");
  EXPECT_EQ(e->network_name, "kubenet");
  EXPECT_EQ(e->netns, "/run/netns/p1");
  EXPECT_EQ(e->config, Testdata("kubenet.conflist"));
  EXPECT_THAT(e->cni_args,
              ElementsAre(std::pair<std::string, std::string>{"IgnoreUnknown", "1"},
                          std::pair<std::string, std::string>{"K8S_POD_NAME", "web<1>&co"}));
  EXPECT_EQ(e->capability_args["portMappings"][0]["hostPort"], 8080);
  EXPECT_EQ(e->result["ips"][0]["address"], "10.244.1.2/24");
  RuntimeConf rt = RuntimeConfFromCache(*e);
  EXPECT_EQ(rt.container_id, "c1");
  EXPECT_EQ(rt.netns, "/run/netns/p1");
  EXPECT_EQ(rt.args.size(), 2u);
  EXPECT_EQ(rt.capability_args, e->capability_args);
}

TEST(CniCache, RoundTrip) {
  CacheEntry want = Kubenet();
  auto got = ParseCache(SerializeCache(want));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->container_id, want.container_id);
  EXPECT_EQ(got->ifname, want.ifname);
  EXPECT_EQ(got->network_name, want.network_name);
  EXPECT_EQ(got->netns, want.netns);
  EXPECT_EQ(got->config, want.config);
  EXPECT_EQ(got->cni_args, want.cni_args);
  EXPECT_EQ(got->capability_args, want.capability_args);
  EXPECT_EQ(got->result, want.result);
  EXPECT_EQ(SerializeCache(*got), SerializeCache(want));
}

TEST(CniCache, EmptyFieldsAreOmittedLikeGo) {
  CacheEntry e;
  e.container_id = "c2";
  e.ifname = "eth0";
  e.network_name = "n";
  e.config = "";
  e.capability_args = json::object();
  EXPECT_EQ(
      SerializeCache(e),
      R"({"kind":"cniCacheV1","containerId":"c2","config":"","ifName":"eth0","networkName":"n"})");
  auto back = ParseCache(SerializeCache(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->cni_args.empty());
  EXPECT_TRUE(back->result.is_null());
  EXPECT_EQ(back->capability_args, json::object());
}

TEST(CniCache, Rejects) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"", "JSON parse error"},
      {R"({"cniVersion":"0.3.1","ips":[]})", "kind \"\" is not \"cniCacheV1\""},  // legacy cache
      {R"({"kind":"cniCacheV2"})", "kind \"cniCacheV2\" is not \"cniCacheV1\""},
      {R"({"kind":"cniCacheV1","config":"!!"})", "config: not base64"},
      {R"({"kind":"cniCacheV1","cniArgs":[["a"]]})", "cniArgs: expected an array of [key, value]"},
      {R"({"kind":"cniCacheV1","result":[]})", "result: expected an object, got array"},
      {R"({"kind":"cniCacheV1","ifName":3})", "ifName: expected a string, got number"},
  };
  for (const auto& c : cases) {
    auto e = ParseCache(c.text);
    ASSERT_FALSE(e.ok()) << c.text;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(e.status().message()), HasSubstr(c.want)) << c.text;
  }
}

}  // namespace
}  // namespace mkn::cni
