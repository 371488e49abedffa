// BGP speakers against the real BIRD, inside the test's own sandbox: the configurations lib/bgp
// renders for a one-rack lab (a ToR and two nodes, namespaces and links made here with ip(8)) are
// accepted by BIRD, the sessions come up, each node's kernel gets the other's pod CIDR (the
// readiness check sees it), `minikube-net bgp`'s query reads the sessions, a configuration BIRD
// refuses is reported with its log, and stopped speakers leave no socket that answers.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "lib/bgp/bird_config.h"
#include "lib/config/toml/load.h"
#include "vnet/bgp/converge.h"
#include "vnet/bgp/speaker.h"
#include "vnet/kernel/netns.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using namespace std::chrono_literals;
using testing::Sh;

class SpeakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MKN_REQUIRE_NETNS();
    if (Sh("command -v bird").exit_code != 0) {
      if (testing::InCi()) FAIL() << "CI=true but bird is not installed (ci/setup.sh: bird2)";
      GTEST_SKIP() << "needs BIRD 2 (apt-get install bird2)";
    }
    ASSERT_TRUE(PrepareNetnsDir().ok());
    dir_ = std::filesystem::temp_directory_path() / "mkn-bgp-test";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config::LoadResult r =
        config::Load("[cluster]\nname = \"t\"\nnetwork = \"bgp\"\nnodes = 2\n", "t.toml");
    ASSERT_TRUE(r.spec) << r.diags.FormatAll();
    spec_ = *r.spec;
    for (const char* ns : {"mkn-t-tor-r1", "mkn-t-node1", "mkn-t-node2"}) {
      absl::StatusOr<NamedNetns> n = NamedNetns::Create(ns, "minikube-net:t");
      ASSERT_TRUE(n.ok()) << n.status();
      ns_.push_back(std::move(*n));
    }
    // The ToR's bridge with the rack's gateway, and each node plugged into it (the plan's steps).
    ASSERT_EQ(Sh("ip -n mkn-t-tor-r1 link add br0 type bridge && "
                 "ip -n mkn-t-tor-r1 addr add 172.18.0.1/16 dev br0 && "
                 "ip -n mkn-t-tor-r1 link set br0 up && "
                 "for n in 1 2; do ip -n mkn-t-tor-r1 link add node$n master br0 type veth peer "
                 "name eth0 netns mkn-t-node$n && ip -n mkn-t-tor-r1 link set node$n up && "
                 "ip -n mkn-t-node$n addr add 172.18.0.$((n + 1))/16 dev eth0 && "
                 "ip -n mkn-t-node$n link set eth0 up; done")
                  .exit_code,
              0);
  }
  void TearDown() override {
    if (!procs_.empty()) StopProcesses(procs_);
    ns_.clear();
    std::filesystem::remove_all(dir_);
  }

  plan::StartBgpSpeaker Step(const bgp::Speaker& s, const std::string& config) {
    const std::string base = (dir_ / s.object).string();
    return {s.netns, s.object, config, base + ".conf", base + ".ctl", base + ".log"};
  }
  int Fd(const std::string& netns) {
    for (const NamedNetns& n : ns_) {
      if (n.name() == netns) return n.fd();
    }
    return -1;
  }

  std::filesystem::path dir_;
  config::ClusterSpec spec_;
  std::vector<NamedNetns> ns_;
  std::vector<ChildProcess> procs_;
};

TEST_F(SpeakerTest, RenderedConfigsConvergeIntoTheKernelAndAreAsked) {
  std::vector<bgp::Speaker> speakers = bgp::Speakers(spec_);
  ASSERT_EQ(speakers.size(), 3u);  // tor-r1, node1, node2
  std::vector<plan::StartBgpSpeaker> steps;
  for (const bgp::Speaker& s : speakers) {
    steps.push_back(Step(s, bgp::RenderBirdConfig(spec_, s)));
    absl::StatusOr<ChildProcess> p = StartSpeaker(steps.back(), Fd(s.netns));
    ASSERT_TRUE(p.ok()) << p.status();
    procs_.push_back(*p);
    // The configuration is the speaker's alone.
    struct stat st {};
    ASSERT_EQ(::stat(steps.back().config_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    absl::Status a = WaitAnswering(steps[i], procs_[i], 10s);
    ASSERT_TRUE(a.ok()) << a << "\n" << LogTail(steps[i].log_path, 20);
  }
  std::vector<RoutesWanted> want = {{"node1", Fd("mkn-t-node1"), {spec_.nodes[1].pod_cidr}},
                                    {"node2", Fd("mkn-t-node2"), {spec_.nodes[0].pod_cidr}}};
  auto t0 = std::chrono::steady_clock::now();
  absl::Status converged = WaitForRoutes(want, 10s, [] { return absl::OkStatus(); });
  ASSERT_TRUE(converged.ok()) << converged;
  // BIRD's first connect comes 0.75-1 s after start; a few hops more and it is done.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  testing::CmdResult route = Sh("ip -n mkn-t-node1 route show proto bird");
  EXPECT_NE(route.output.find("10.244.1.0/24 via 172.18.0.3 dev eth0"), std::string::npos)
      << route.output;
  bgp::SpeakerStatus tor =
      QuerySpeaker({"tor-r1", "tor", "mkn-t-tor-r1", steps[0].socket_path, 64513}, true);
  ASSERT_EQ(tor.error, "");
  ASSERT_EQ(tor.sessions.size(), 2u);
  EXPECT_EQ(tor.sessions[0].session.peer, "node1");
  EXPECT_EQ(tor.sessions[0].session.state, "Established");
  EXPECT_EQ(tor.sessions[0].session.imported, 1);
  EXPECT_GE(tor.sessions[0].uptime_s, 0);
  EXPECT_EQ(tor.routes.size(), 2u);
  // Stopped, a speaker answers no more.
  StopProcesses(procs_);
  procs_.clear();
  absl::StatusOr<bgp::Reply> r = AskBird(steps[0].socket_path, "show status", 1s);
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
}

TEST_F(SpeakerTest, AConfigurationBirdRefusesIsReportedWithItsLog) {
  bgp::Speaker s = bgp::Speakers(spec_)[1];
  plan::StartBgpSpeaker step = Step(s, "router id 1.2.3.4;\nprotocol frobnicate {}\n");
  absl::StatusOr<ChildProcess> p = StartSpeaker(step, Fd(s.netns));
  ASSERT_TRUE(p.ok()) << p.status();
  procs_.push_back(*p);
  absl::Status a = WaitAnswering(step, *p, 10s);
  EXPECT_TRUE(absl::IsFailedPrecondition(a)) << a;
  EXPECT_NE(a.message().find("bgp speaker node1 exited"), std::string::npos) << a;
  EXPECT_NE(a.message().find(".conf:2"), std::string::npos) << a;  // BIRD names the line
}

// Every golden of lib/bgp (testdata/bird/<lab>/<speaker>.conf) is a configuration BIRD itself
// accepts: `bird -p` parses it as the daemon would and exits.
TEST_F(SpeakerTest, EveryGoldenConfigurationParsesWithBird) {
  const char* src = std::getenv("MKN_SOURCE_DIR");
  std::filesystem::path dir = std::filesystem::path(src ? src : ".") / "testdata" / "bird";
  int n = 0;
  for (const auto& lab : std::filesystem::directory_iterator(dir)) {
    if (!lab.is_directory()) continue;
    for (const auto& conf : std::filesystem::directory_iterator(lab.path())) {
      testing::CmdResult r = Sh("bird -p -c " + conf.path().string());
      EXPECT_EQ(r.exit_code, 0) << conf.path() << ": " << r.output;
      ++n;
    }
  }
  EXPECT_GE(n, 15);
}

}  // namespace
}  // namespace mkn::vnet
