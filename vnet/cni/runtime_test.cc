// vnet/cni/runtime without root: checking a lab's conflists before anything exists (files in a temp
// directory, fake plugin binaries), the runtime conf a pod's chain gets, and the pod's address read
// from an ADD result.
#include "vnet/cni/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"

namespace mkn::vnet {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

class CniConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mkn-cni-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "bin");
    for (const char* p : {"bridge", "host-local", "portmap"})
      Write("bin/" + std::string(p), "#!/bin/sh\n", 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& text, mode_t mode = 0644) {
    std::ofstream(dir_ / rel) << text;
    ::chmod((dir_ / rel).c_str(), mode);
  }
  // Loads a lab written to the temp dir (so relative paths resolve against it).
  config::ClusterSpec Lab(const std::string& toml) {
    Write("lab.toml", toml);
    config::LoadResult r = config::Load(toml, (dir_ / "lab.toml").string());
    EXPECT_TRUE(r.spec.has_value()) << r.diags.FormatAll();
    return r.spec.value_or(config::ClusterSpec{});
  }
  std::string LabText(const std::string& conflist, const std::string& extra = "") {
    return "[cluster]\nname = \"t\"\nnetwork = \"cni\"\nnodes = 2\n[cni]\nconflist = \"" +
           conflist + "\"\nbin_dir = \"bin\"\n" + extra;
  }

  fs::path dir_;
};

constexpr const char* kBridge = R"({
  "cniVersion": "1.0.0", "name": "kubenet",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "ranges": [[{"subnet": "${node.pod_cidr}"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
})";

TEST_F(CniConfigTest, RendersEachNodesConflistAndFindsItsPlugins) {
  Write("k.conflist", kBridge);
  config::ClusterSpec spec = Lab(LabText("k.conflist"));
  absl::StatusOr<std::vector<CniNodeConfig>> c = LoadCniConfigs(spec, (dir_ / "lab.toml").string());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_THAT((*c)[0].conf_text, HasSubstr("\"subnet\": \"10.244.0.0/24\""));
  EXPECT_THAT((*c)[1].conf_text, HasSubstr("\"subnet\": \"10.244.1.0/24\""));
  EXPECT_THAT((*c)[1].binaries,
              ElementsAre((dir_ / "bin/bridge").string(), (dir_ / "bin/portmap").string()));
  EXPECT_THAT((*c)[0].bin_dirs, ElementsAre((dir_ / "bin").string()));  // absolute: CNI_PATH
  EXPECT_EQ((*c)[0].list.name, "kubenet");
  EXPECT_EQ((*c)[1].state_dir, "/run/minikube-net/t/nodes/node2");
}

TEST_F(CniConfigTest, AMissingPluginIsNamedOnceWithWhereItWasLookedFor) {
  Write("k.conflist", std::string(kBridge).replace(
                          std::string(kBridge).find("\"bridge\", \"bridge\""), 8, "\"brigde\""));
  config::ClusterSpec spec = Lab(LabText("k.conflist"));
  absl::StatusOr<std::vector<CniNodeConfig>> c = LoadCniConfigs(spec, (dir_ / "lab.toml").string());
  ASSERT_FALSE(c.ok());
  std::string msg(c.status().message());
  EXPECT_EQ(msg, (dir_ / "k.conflist").string() + ": plugins[0]: plugin \"brigde\" not found in " +
                     (dir_ / "bin").string() + " (bin_dir)");  // two nodes, one message
}

TEST_F(CniConfigTest, AnUnreadableConflistPointsAtTheLabLine) {
  config::ClusterSpec spec = Lab(LabText("nope.conflist"));
  absl::StatusOr<std::vector<CniNodeConfig>> c = LoadCniConfigs(spec, (dir_ / "lab.toml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr((dir_ / "lab.toml").string() + ":6:12: conflist: cannot read " +
                        (dir_ / "nope.conflist").string()));
}

// Until dual-stack lands, a range the nodes cannot carry is refused before anything exists, at the
// range's line (the bridge plugin would otherwise fail with "permission denied" on every ADD).
TEST_F(CniConfigTest, AnIpv6RangeIsRefusedWithTheReason) {
  Write("ds.conflist", R"({
  "cniVersion": "1.0.0", "name": "ds",
  "plugins": [
    {"type": "bridge", "ipam": {"type": "host-local", "ranges": [
      [{"subnet": "${node.pod_cidr}"}],
      [{"subnet": "fd00:10:244::/64"}]]}}
  ]
})");
  config::ClusterSpec spec = Lab(LabText("ds.conflist"));
  absl::StatusOr<std::vector<CniNodeConfig>> c = LoadCniConfigs(spec, (dir_ / "lab.toml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr((dir_ / "ds.conflist").string() +
                        ":6:19: plugins[0].ipam.ranges[1][0].subnet: \"fd00:10:244::/64\" is IPv6: "
                        "minikube-net's nodes and pods are IPv4-only"));
}

TEST_F(CniConfigTest, AConflistThatIsNotARegularFileIsRefused) {
  ASSERT_EQ(::mkfifo((dir_ / "fifo.conflist").c_str(), 0600), 0);
  config::ClusterSpec spec = Lab(LabText("fifo.conflist"));
  absl::StatusOr<std::vector<CniNodeConfig>> c = LoadCniConfigs(spec, (dir_ / "lab.toml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("not a regular file (a FIFO)"));
}

TEST_F(CniConfigTest, ANodeOverrideAndAnInlineConflist) {
  Write("k.conflist", kBridge);
  std::string inline_list =
      R"({"cniVersion": "0.4.0", "name": "p2p", "plugins": [{"type": "host-local"}]})";
  config::ClusterSpec spec =
      Lab("[cluster]\nname = \"t\"\nnetwork = \"cni\"\n[cni]\nconflist = \"k.conflist\"\nbin_dir = "
          "\"bin\"\n"
          "[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\ncni = { conflist = '" +
          inline_list + "', ifname = \"net0\" }\n");
  absl::StatusOr<std::vector<CniNodeConfig>> c = LoadCniConfigs(spec, (dir_ / "lab.toml").string());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)[0].list.name, "kubenet");
  EXPECT_EQ((*c)[1].list.name, "p2p");
  EXPECT_THAT((*c)[1].origin, HasSubstr("(inline conflist)"));
  EXPECT_EQ(spec.nodes[1].cni.ifname, "net0");
  EXPECT_EQ(spec.nodes[0].cni.ifname, "eth0");
}

TEST_F(CniConfigTest, PodRuntimeConfIsWhatContainerdPasses) {
  Write("k.conflist", kBridge);
  config::ClusterSpec spec = Lab(LabText(
      "k.conflist",
      "[[pod]]\nname = \"web\"\ncni_args = { FOO = \"bar\" }\n"
      "port_mappings = [{ host_port = 8080, container_port = 80 }]\n"
      "bandwidth = { egress_rate = 1000, egress_burst = 100 }\nmac = \"0a:58:0a:f4:01:05\"\n"
      "[[pod.container]]\napp = \"http-echo\"\n"));
  cni::RuntimeConf rt = PodRuntimeConf(spec, spec.pods[0]);
  EXPECT_EQ(rt.container_id, "mkn-t-web");
  EXPECT_EQ(rt.netns, "/run/netns/mkn-t-web");
  EXPECT_EQ(rt.ifname, "eth0");
  ASSERT_GE(rt.args.size(), 5u);
  EXPECT_EQ(rt.args[0], std::make_pair(std::string("IgnoreUnknown"), std::string("1")));
  EXPECT_EQ(rt.args[2], std::make_pair(std::string("K8S_POD_NAME"), std::string("web")));
  EXPECT_EQ(rt.args.back(), std::make_pair(std::string("FOO"), std::string("bar")));
  EXPECT_EQ(
      rt.capability_args,
      json::parse(R"({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
                            "bandwidth": {"egressRate": 1000, "egressBurst": 100}, "mac": "0a:58:0a:f4:01:05"})"));
  // Spec and pod ip are unknown until ADD.
  EXPECT_EQ(spec.pods[0].ip, net::Ipv4{});
}

TEST(PodAddressTest, TheSandboxInterfacesIpv4Address) {
  json r = json::parse(R"({"cniVersion": "1.0.0",
    "interfaces": [{"name": "cni0", "mac": "aa:aa:aa:aa:aa:aa"}, {"name": "veth1", "mac": "bb:bb:bb:bb:bb:bb"},
                   {"name": "eth0", "mac": "0a:58:0a:f4:00:02", "sandbox": "/run/netns/p"}],
    "ips": [{"address": "fd00::2/64", "interface": 2}, {"address": "10.244.0.2/24", "gateway": "10.244.0.1", "interface": 2}]})");
  absl::StatusOr<PodAddress> a = PodAddressFromResult(r, "eth0");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ip, "10.244.0.2");
  EXPECT_EQ(a->prefix_len, 24);
  EXPECT_EQ(a->mac, "0a:58:0a:f4:00:02");
  // An address on a host-side interface is not the pod's; nothing else is NotFound.
  json host_only = json::parse(R"({"cniVersion": "1.0.0", "interfaces": [{"name": "cni0"}],
    "ips": [{"address": "10.244.0.1/24", "interface": 0}]})");
  EXPECT_TRUE(absl::IsNotFound(PodAddressFromResult(host_only, "eth0").status()));
}

}  // namespace
}  // namespace mkn::vnet
