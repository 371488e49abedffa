// Who speaks BGP with whom in each mode, and the BIRD configuration of every speaker of the
// testdata/bird/ labs against its golden, testdata/bird/<lab>/<speaker>.conf (MKN_UPDATE_GOLDEN=1
// rewrites them: review the diff). That the files are valid BIRD is examples/bgp's e2e test (and
// vnet/bgp's netns test, which starts BIRD on one).
#include "lib/bgp/bird_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/config/toml/load.h"
#include "lib/testing/testing.h"

namespace mkn::bgp {
namespace {

namespace fs = std::filesystem;

using testdata::ReadFile;
using testdata::SourceDir;

config::ClusterSpec Lab(const std::string& text) {
  config::LoadResult r = config::Load(text, "lab.toml");
  EXPECT_TRUE(r.spec) << r.diags.FormatAll();
  return r.spec ? *r.spec : config::ClusterSpec{};
}

std::vector<std::string> PeerNames(const Speaker& s) {
  std::vector<std::string> out;
  for (const Peer& p : s.peers) out.push_back(p.object);
  return out;
}

TEST(Speakers, NoneWithoutBgp) {
  EXPECT_TRUE(Speakers(Lab("[cluster]\nname = \"x\"\nracks = 2\nnodes = 2\n")).empty());
}

TEST(Speakers, EbgpTwoRacks) {
  std::vector<Speaker> s =
      Speakers(Lab("[cluster]\nname = \"x\"\nnetwork = \"bgp\"\nracks = 2\nnodes = 4\n"));
  ASSERT_EQ(s.size(), 7u);  // spine, 2 ToRs, 4 nodes
  EXPECT_EQ(s[0].object, "spine");
  EXPECT_EQ(s[0].asn, 64512u);
  EXPECT_EQ(s[0].router_id.ToString(), "172.18.0.1");
  EXPECT_EQ(PeerNames(s[0]), (std::vector<std::string>{"tor-r1", "tor-r2"}));
  EXPECT_EQ(s[0].peers[1].address.ToString(), "172.18.0.6");
  EXPECT_EQ(s[1].object, "tor-r1");
  EXPECT_EQ(s[1].netns, "mkn-x-tor-r1");
  EXPECT_EQ(s[1].asn, 64513u);
  EXPECT_EQ(PeerNames(s[1]), (std::vector<std::string>{"node1", "node2", "spine"}));
  EXPECT_EQ(s[1].peers[2].address.ToString(), "172.18.0.1");
  EXPECT_EQ(s[3].object, "node1");
  EXPECT_EQ(s[3].asn, 4200000001u);
  EXPECT_EQ(PeerNames(s[3]), (std::vector<std::string>{"tor-r1"}));
  EXPECT_EQ(s[3].peers[0].address.ToString(), "172.18.1.1");
  ASSERT_EQ(s[3].announce.size(), 1u);
  EXPECT_EQ(s[3].announce[0].ToString(), "10.244.0.0/24");
  EXPECT_EQ(s[6].object, "node4");
  EXPECT_EQ(PeerNames(s[6]), (std::vector<std::string>{"tor-r2"}));
}

TEST(Speakers, FullMeshAndRouteReflector) {
  std::vector<Speaker> mesh = Speakers(Lab(
      "[cluster]\nname = \"x\"\nnetwork = \"bgp\"\nbgp = { mode = \"full-mesh\" }\nnodes = 3\n"));
  ASSERT_EQ(mesh.size(), 4u);  // one ToR, no spine
  EXPECT_EQ(PeerNames(mesh[0]), (std::vector<std::string>{"node1", "node2", "node3"}));
  EXPECT_EQ(PeerNames(mesh[2]), (std::vector<std::string>{"tor-r1", "node1", "node3"}));
  for (const Speaker& sp : mesh) EXPECT_EQ(sp.asn, 64513u) << sp.object;
  std::vector<Speaker> rr = Speakers(
      Lab("[cluster]\nname = \"x\"\nnetwork = \"bgp\"\nbgp = { mode = \"route-reflector\" }\n"
          "racks = 2\nnodes = 2\n"));
  ASSERT_EQ(rr.size(), 5u);
  EXPECT_TRUE(rr[1].peers[0].rr_client);   // tor-r1 -> node1
  EXPECT_FALSE(rr[1].peers[1].rr_client);  // tor-r1 -> spine
  EXPECT_FALSE(rr[3].peers[0].rr_client);  // node1 -> tor-r1
  EXPECT_EQ(rr[3].asn, rr[1].asn);
}

std::vector<std::string> Accepts(const Peer& p) {
  std::vector<std::string> out;
  for (const net::IpPrefix& x : p.accept) out.push_back(x.ToString());
  return out;
}
using Strs = std::vector<std::string>;

// Issue 15's hijack: a node that runs its own BIRD announced another node's pod (/32) and a /25 of
// a third's CIDR, and every table took them. Each session now imports exactly what its peer may
// originate or pass on, nothing more specific, and keeps the rest visible as filtered.
TEST(BirdConfig, EachSessionImportsExactlyItsPeersPodCidrs) {
  config::ClusterSpec ebgp =
      Lab("[cluster]\nname = \"x\"\nnetwork = \"bgp\"\nracks = 2\nnodes = 4\n");
  std::vector<Speaker> s = Speakers(ebgp);
  ASSERT_EQ(s.size(), 7u);
  EXPECT_EQ(Accepts(s[0].peers[0]), (Strs{"10.244.0.0/24", "10.244.1.0/24"}));  // spine <- tor-r1
  EXPECT_EQ(Accepts(s[0].peers[1]), (Strs{"10.244.2.0/24", "10.244.3.0/24"}));  // spine <- tor-r2
  EXPECT_EQ(Accepts(s[1].peers[0]), (Strs{"10.244.0.0/24"}));                   // tor-r1 <- node1
  EXPECT_EQ(Accepts(s[1].peers[2]), (Strs{"10.244.2.0/24", "10.244.3.0/24"}));  // tor-r1 <- spine
  // node4 <- tor-r2: every other node's pod CIDR, never its own.
  EXPECT_EQ(Accepts(s[6].peers[0]), (Strs{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"}));
  const std::string node1 = RenderBirdConfig(ebgp, s[3]);
  EXPECT_NE(node1.find("import where net ~ [ 10.244.1.0/24, 10.244.2.0/24, 10.244.3.0/24 ];"),
            std::string::npos)
      << node1;
  EXPECT_NE(node1.find("import keep filtered on;"), std::string::npos) << node1;
  for (const Speaker& sp : s) {
    const std::string conf = RenderBirdConfig(ebgp, sp);
    EXPECT_EQ(conf.find("import where net ~ [ 10.244.0.0/16+ ]"), std::string::npos)
        << sp.object << " still imports any part of the pod range:\n"
        << conf;
  }
  std::vector<Speaker> mesh = Speakers(Lab(
      "[cluster]\nname = \"x\"\nnetwork = \"bgp\"\nbgp = { mode = \"full-mesh\" }\nnodes = 3\n"));
  EXPECT_EQ(Accepts(mesh[0].peers[1]), (Strs{"10.244.1.0/24"}));  // tor <- node2
  EXPECT_TRUE(mesh[2].peers[0].accept.empty());                   // node2 <- the listening ToR
  EXPECT_EQ(Accepts(mesh[2].peers[2]), (Strs{"10.244.2.0/24"}));  // node2 <- node3
  std::vector<Speaker> rr = Speakers(
      Lab("[cluster]\nname = \"x\"\nnetwork = \"bgp\"\nbgp = { mode = \"route-reflector\" }\n"
          "racks = 2\nnodes = 2\n"));
  EXPECT_EQ(Accepts(rr[1].peers[0]), (Strs{"10.244.0.0/24"}));  // tor-r1 <- node1 (client)
  EXPECT_EQ(Accepts(rr[3].peers[0]), (Strs{"10.244.1.0/24"}));  // node1 <- tor-r1
}

TEST(BirdConfig, SessionsOfNodesNamedLikeBirdKeywords) {
  EXPECT_TRUE(IsBirdKeyword("kernel"));
  EXPECT_TRUE(IsBirdKeyword("static"));
  EXPECT_FALSE(IsBirdKeyword("node1"));
  EXPECT_FALSE(IsBirdKeyword("spine"));
  EXPECT_EQ(ProtocolName("kernel"), "kernel_peer");
  EXPECT_EQ(ProtocolName("tor-r1"), "tor_r1");
  EXPECT_EQ(ProtocolName("node1"), "node1");
  EXPECT_EQ(ProtocolName("1st"), "p_1st");
}

TEST(BirdConfig, GoldensPerMode) {
  const bool update = std::getenv("MKN_UPDATE_GOLDEN") != nullptr;
  std::vector<fs::path> labs;
  for (const auto& e : fs::directory_iterator(SourceDir() / "testdata" / "bird")) {
    if (e.path().extension() == ".toml") labs.push_back(e.path());
  }
  std::sort(labs.begin(), labs.end());
  EXPECT_EQ(labs.size(), 3u);  // ebgp, full-mesh, route-reflector
  for (const fs::path& lab : labs) {
    config::LoadResult r = config::Load(ReadFile(lab), lab.filename().string());
    ASSERT_TRUE(r.spec) << r.diags.FormatAll();
    const fs::path dir = lab.parent_path() / lab.stem();
    for (const Speaker& s : Speakers(*r.spec)) {
      const std::string got = RenderBirdConfig(*r.spec, s);
      const fs::path golden = dir / (s.object + ".conf");
      if (update) {
        fs::create_directories(dir);
        std::ofstream(golden) << got;
        continue;
      }
      ASSERT_TRUE(fs::exists(golden)) << golden << " missing; run with MKN_UPDATE_GOLDEN=1";
      EXPECT_EQ(got, ReadFile(golden)) << lab << ": " << s.object << " differs from " << golden;
    }
  }
}

}  // namespace
}  // namespace mkn::bgp
