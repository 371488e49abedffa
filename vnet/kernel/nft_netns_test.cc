// The nftables proxy mode's ruleset against the real nft: `nft -c` (check mode) accepts it,
// libnftables loads it, twice (a reload replaces the table in one transaction), and a long run of
// deltas leaves the kernel's table exactly as a full sync of the final spec writes it, in
// throw-away namespaces.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

#include "absl/strings/str_join.h"
#include "lib/config/mutate.h"
#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "lib/proxy/nft_listing.h"
#include "lib/proxy/nft_ruleset.h"
#include "lib/proxy/nft_table.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
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
  EXPECT_NE(listing.find("numgen inc mod 3 offset 1"), std::string::npos) << listing;
  EXPECT_NE(listing.find("jhash ip saddr mod 3 seed 0x6d6b6e31 offset 1"), std::string::npos)
      << listing;
  EXPECT_NE(listing.find("dnat ip to ip daddr . meta l4proto . th dport . ct mark map "
                         "@service-endpoints"),
            std::string::npos)
      << listing;
  EXPECT_NE(listing.find("update @affinity-"), std::string::npos) << listing;
  EXPECT_NE(listing.find("tcp . 30099"), std::string::npos) << listing;
  // Exactly one table: the reload replaced, not duplicated.
  testing::CmdResult tables = Sh(std::string("ip netns exec ") + kNs + " nft list tables");
  EXPECT_EQ(tables.output, "table ip kube-proxy\n");
}

config::ClusterSpec SyncLab() {
  const char* src = std::getenv("MKN_SOURCE_DIR");
  std::ifstream in(std::filesystem::path(src ? src : ".") / "testdata/nft/sync/lab.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  config::LoadResult r = config::Load(ss.str(), "lab.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return r.spec ? *r.spec : config::ClusterSpec{};
}

class NftSyncNetns : public ::testing::Test {
 protected:
  static constexpr char kDeltas[] = "mkn-nftdelta";  // the table the deltas wrote
  static constexpr char kFull[] = "mkn-nftfull";     // a full sync of the same spec
  void SetUp() override {
    MKN_REQUIRE_NETNS();
    for (const char* ns : {kDeltas, kFull})
      ASSERT_EQ(Sh(std::string("ip netns add ") + ns).exit_code, 0);
  }
  void TearDown() override {
    for (const char* ns : {kDeltas, kFull}) Sh(std::string("ip netns del ") + ns + " 2>/dev/null");
  }
  static absl::Status In(const char* ns, const std::function<absl::Status()>& fn) {
    auto fd = OpenNetns(ns);
    if (!fd.ok()) return fd.status();
    return RunInNetns(fd->get(), fn);
  }
  static std::string List(const char* ns, const std::string& what = "list table ip kube-proxy") {
    std::string out;
    absl::Status s = In(ns, [&]() -> absl::Status {
      MKN_ASSIGN_OR_RETURN(out, NftOutput(what));
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
};

TEST_F(NftSyncNetns, ManyDeltasLeaveWhatAFullSyncWrites) {
  config::ClusterSpec spec = SyncLab();
  proxy::NftTable table = proxy::NftTable::Build(spec);
  ASSERT_TRUE(In(kDeltas, [&] { return RunNft(table.RenderFull()); }).ok());
  const std::string handle =
      Sh(std::string("ip netns exec ") + kDeltas + " nft -a list tables | head -1; ip netns exec " +
         kDeltas + " nft -a list table ip kube-proxy | head -1")
          .output;
  std::mt19937 rng(1206);
  int deltas = 0;
  for (int step = 0; step < 40; ++step) {
    config::ClusterSpec next = spec;
    std::string what;
    if (rng() % 2 == 0) {
      const char* d = rng() % 2 == 0 ? "web" : "dns";
      const int n = static_cast<int>(rng() % 6);
      what = StrCat("scale ", d, " ", n);
      ASSERT_TRUE(config::ScaleDeployment(next, d, n).ok()) << what;
    } else {
      std::vector<std::string> pods;
      for (const config::PodSpec& p : spec.pods) {
        if (p.name != "client") pods.push_back(p.name);
      }
      const std::string pod = pods[rng() % pods.size()];
      what = "kill " + pod;
      // As the cluster does it: the endpoints go first, then the pod comes back.
      config::ClusterSpec gone = config::WithoutEndpoints(next, {pod});
      proxy::NftUpdate u = table.Plan(gone);
      absl::Status s = In(kDeltas, [&] { return RunNft(u.text); });
      ASSERT_TRUE(s.ok()) << what << ": " << s << "\n" << u.text;
      table.Commit(std::move(u));
      ASSERT_TRUE(config::RecreatePod(next, pod).ok()) << what;
    }
    proxy::NftUpdate u = table.Plan(next);
    ASSERT_FALSE(u.full_sync) << what;
    if (!u.text.empty()) {
      absl::Status s = In(kDeltas, [&] { return RunNft(u.text); });
      ASSERT_TRUE(s.ok()) << what << ": " << s << "\n" << u.text;
      ++deltas;
    }
    table.Commit(std::move(u));
    spec = std::move(next);
  }
  EXPECT_GE(deltas, 30);
  ASSERT_TRUE(In(kFull, [&] { return RunNft(proxy::NftTable::Build(spec).RenderFull()); }).ok());
  const std::string have = List(kDeltas), want = List(kFull);
  std::vector<std::string> diff =
      proxy::NftListingDiff(proxy::NormalizeNftListing(have), proxy::NormalizeNftListing(want));
  EXPECT_TRUE(diff.empty()) << absl::StrJoin(diff, "\n") << "\n--- deltas:\n" << have;
  // The deltas never replaced the table (its handle is the one the first load got).
  EXPECT_EQ(
      Sh(std::string("ip netns exec ") + kDeltas + " nft -a list tables | head -1; ip netns exec " +
         kDeltas + " nft -a list table ip kube-proxy | head -1")
          .output,
      handle);
}

// A context made inside a namespace stays bound to it: used from this thread (in the test's own
// namespace), it changes that namespace's tables, not this one's.
TEST_F(NftSyncNetns, AContextStaysInTheNamespaceItWasMadeIn) {
  std::optional<NftContext> ctx;
  ASSERT_TRUE(In(kDeltas, [&]() -> absl::Status {
                MKN_ASSIGN_OR_RETURN(NftContext c, NftContext::Create());
                ctx.emplace(std::move(c));
                return absl::OkStatus();
              }).ok());
  ASSERT_TRUE(ctx->Run("table ip mkn-ctx-test {}\n").ok());
  EXPECT_EQ(Sh(std::string("ip netns exec ") + kDeltas + " nft list tables").output,
            "table ip mkn-ctx-test\n");
  EXPECT_EQ(Sh("nft list tables").output, "");
  absl::StatusOr<std::string> json = ctx->Output("list tables", /*json=*/true);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("\"mkn-ctx-test\""), std::string::npos) << *json;
  // The JSON flag was for that command only.
  EXPECT_EQ(ctx->Output("list tables").value(), "table ip mkn-ctx-test\n");
}

// libnftables waits for a commit's answer with select(): a context whose socket is descriptor 1024
// or more would abort the process (a 1000-pod lab holds that many). With 1100 descriptors open, a
// context made now still commits, kept (NftContext) or made per call (RunNft).
TEST_F(NftSyncNetns, CommitsWithMoreDescriptorsOpenThanSelectTakes) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 1400) {
    lim.rlim_cur = std::min<rlim_t>(1400, lim.rlim_max);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  std::vector<int> held;
  while (held.size() < 1100) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    held.push_back(fd);
  }
  ASSERT_GE(held.back(), FD_SETSIZE);  // the lowest free descriptors are all past select's
  std::optional<NftContext> ctx;
  absl::Status s = In(kDeltas, [&]() -> absl::Status {
    MKN_ASSIGN_OR_RETURN(NftContext c, NftContext::Create());
    ctx.emplace(std::move(c));
    return RunNft("table ip mkn-fd-test-1 {}\n");
  });
  EXPECT_TRUE(s.ok()) << s;
  ASSERT_TRUE(ctx.has_value());
  EXPECT_TRUE(ctx->Run("table ip mkn-fd-test-2 {}\n").ok());
  EXPECT_EQ(Sh(std::string("ip netns exec ") + kDeltas + " nft list tables").output,
            "table ip mkn-fd-test-1\ntable ip mkn-fd-test-2\n");
  ctx.reset();
  for (int fd : held) ::close(fd);
}

// A full sync of the lab, loaded in a scratch namespace of its own, lists as the same text loaded
// in a named one; and the scratch namespace is gone afterwards (no table is left anywhere).
TEST_F(NftSyncNetns, ListingAfterLoadInAScratchNamespace) {
  const std::string full = proxy::NftTable::Build(SyncLab()).RenderFull();
  absl::StatusOr<std::string> scratch = NftOutputAfterLoad(full, "list table ip kube-proxy");
  ASSERT_TRUE(scratch.ok()) << scratch.status();
  ASSERT_TRUE(In(kFull, [&] { return RunNft(full); }).ok());
  EXPECT_TRUE(proxy::NftListingDiff(proxy::NormalizeNftListing(*scratch),
                                    proxy::NormalizeNftListing(List(kFull)))
                  .empty());
  EXPECT_EQ(Sh("nft list tables").output, "");
  EXPECT_FALSE(NftOutputAfterLoad("add rule ip nope nope accept\n", "list ruleset").ok());
}

// A delta names what it deletes: if someone deleted it by hand, the whole transaction is refused
// and nothing of it applies (the caller then writes the table whole).
TEST_F(NftSyncNetns, ADeltaOnAHandEditedTableIsRefusedWhole) {
  config::ClusterSpec spec = SyncLab();
  proxy::NftTable table = proxy::NftTable::Build(spec);
  ASSERT_TRUE(In(kDeltas, [&] { return RunNft(table.RenderFull()); }).ok());
  config::ClusterSpec next = spec;
  ASSERT_TRUE(config::RecreatePod(next, "dns-0").ok());
  proxy::NftUpdate u = table.Plan(next);
  ASSERT_NE(u.text.find("delete element ip kube-proxy service-endpoints"), std::string::npos)
      << u.text;
  const std::string ip = spec.FindPod("dns-0")->ip.ToString();
  ASSERT_EQ(Sh(StrCat("ip netns exec ", kDeltas, " nft delete element ip kube-proxy hairpin '{ ",
                      ip, " . ", ip, " }'"))
                .exit_code,
            0);
  const std::string before = List(kDeltas);
  absl::Status s = In(kDeltas, [&] { return RunNft(u.text); });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(List(kDeltas), before);  // all or nothing
}

}  // namespace
}  // namespace mkn::vnet
