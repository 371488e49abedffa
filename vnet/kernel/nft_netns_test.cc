// The nftables proxy mode's ruleset against the real nft: `nft -c` (check mode) accepts it, and
// libnftables loads it, twice (a reload replaces the table in one transaction), in a throw-away
// netns.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "lib/proxy/nft_ruleset.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/nft.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using testing::Sh;

constexpr char kNs[] = "mkn-nfttest";

// testdata's nftables lab, with every algorithm, affinity and a NodePort without endpoints, so each
// kind of rule the renderer writes goes through nft's parser and the kernel.
config::ClusterSpec Lab() {
  const char* src = std::getenv("MKN_SOURCE_DIR");
  std::ifstream in(std::filesystem::path(src ? src : ".") / "testdata/config/services-nft.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  config::LoadResult r = config::Load(ss.str(), "services-nft.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  config::ClusterSpec spec = *r.spec;
  bool sh = false, np = false;
  for (config::ServiceSpec& s : spec.services) {
    if (s.name == "web-lc") continue;
    if (!sh && s.algorithm == config::Algorithm::kRandom && !s.endpoints.empty() &&
        !s.affinity_client_ip) {
      s.algorithm = config::Algorithm::kSourceHash;
      sh = true;
    }
    if (!np && s.endpoints.empty()) {
      s.type = config::ServiceType::kNodePort;
      s.ports[0].node_port = 30099;
      np = true;
    }
  }
  EXPECT_TRUE(sh && np);
  return spec;
}

class NftRulesetNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    MKN_REQUIRE_NETNS();
    ASSERT_EQ(Sh(std::string("ip netns add ") + kNs).exit_code, 0);
    text_ = proxy::RenderNftRuleset(Lab(), 0);
    file_ = std::filesystem::temp_directory_path() / "mkn-nft-ruleset.nft";
    std::ofstream(file_) << text_;
  }
  void TearDown() override {
    Sh(std::string("ip netns del ") + kNs + " 2>/dev/null");
    std::error_code ec;
    std::filesystem::remove(file_, ec);
  }
  absl::Status InNetns(const std::function<absl::Status()>& fn) {
    auto fd = OpenNetns(kNs);
    if (!fd.ok()) return fd.status();
    return RunInNetns(fd->get(), fn);
  }
  std::string text_;
  std::filesystem::path file_;
};

TEST_F(NftRulesetNetns, NftCheckModeAcceptsIt) {
  testing::CmdResult r = Sh(std::string("ip netns exec ") + kNs + " nft -c -f " + file_.string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The check can fail: a rule naming a chain that does not exist is refused.
  std::ofstream(file_, std::ios::app) << "add rule ip kube-proxy no-such-chain accept\n";
  r = Sh(std::string("ip netns exec ") + kNs + " nft -c -f " + file_.string());
  EXPECT_NE(r.exit_code, 0) << r.output;
}

TEST_F(NftRulesetNetns, LoadsAndReloadsThroughLibnftables) {
  ASSERT_TRUE(InNetns([&] { return RunNft(text_); }).ok());
  // Again: the transaction starts by deleting the table it then rebuilds.
  absl::Status again = InNetns([&] { return RunNft(text_); });
  ASSERT_TRUE(again.ok()) << again;
  std::string listing;
  ASSERT_TRUE(InNetns([&]() -> absl::Status {
                auto out = NftOutput("list table ip kube-proxy");
                if (!out.ok()) return out.status();
                listing = *out;
                return absl::OkStatus();
              }).ok());
  EXPECT_NE(listing.find("chain nat-prerouting"), std::string::npos) << listing;
  EXPECT_NE(listing.find("numgen inc mod 3 vmap"), std::string::npos) << listing;
  EXPECT_NE(listing.find("jhash ip saddr mod 3 seed 0x6d6b6e31"), std::string::npos) << listing;
  EXPECT_NE(listing.find("update @affinity-"), std::string::npos) << listing;
  EXPECT_NE(listing.find("tcp . 30099"), std::string::npos) << listing;
  // Exactly one table: the reload replaced, not duplicated.
  testing::CmdResult tables = Sh(std::string("ip netns exec ") + kNs + " nft list tables");
  EXPECT_EQ(tables.output, "table ip kube-proxy\n");
}

}  // namespace
}  // namespace mkn::vnet
