// Packet sockets and `capture` against the real kernel, in the test's own sandbox: two namespaces
// joined by a veth, a real ping between them, and the file read back by tshark.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "vnet/capture/capture.h"
#include "vnet/kernel/netns.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using testing::Sh;

class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MKN_REQUIRE_NETNS();
    ASSERT_TRUE(PrepareNetnsDir().ok());
    absl::StatusOr<NamedNetns> a = NamedNetns::Create("mkn-ct-a");
    absl::StatusOr<NamedNetns> b = NamedNetns::Create("mkn-ct-b");
    ASSERT_TRUE(a.ok() && b.ok());
    a_ = std::move(*a);
    b_ = std::move(*b);
    ASSERT_EQ(Sh("ip -n mkn-ct-a link add eth0 type veth peer name eth0 netns mkn-ct-b && "
                 "ip -n mkn-ct-a addr add 10.9.0.1/24 dev eth0 && "
                 "ip -n mkn-ct-b addr add 10.9.0.2/24 dev eth0 && "
                 "ip -n mkn-ct-a link set eth0 up && ip -n mkn-ct-b link set eth0 up && "
                 "ip -n mkn-ct-a link set lo up")
                  .exit_code,
              0);
    state_.cluster = "ct";
    for (const char* name : {"a", "b"}) {
      PodState p;
      p.name = name;
      p.node = "n";
      p.netns = std::string("mkn-ct-") + name;
      state_.pods.push_back(std::move(p));
    }
    file_ = std::filesystem::temp_directory_path() /
            ("capture-test-" + std::to_string(getpid()) + ".pcapng");
  }
  void TearDown() override { std::filesystem::remove(file_); }

  NamedNetns a_, b_;
  ClusterState state_;
  std::string file_;
};

// Three marked echo requests leave a:eth0 and arrive on b:eth0: six packets, each with its
// interface's name, direction and kernel timestamp, and nothing the filter refuses.
TEST_F(CaptureTest, SeesAPingLeaveOneNamespaceAndArriveInTheOther) {
  CaptureOptions o;
  o.output = file_;
  o.filter = "icmp[icmptype] == icmp-echo";
  o.count = 6;
  o.duration = absl::Seconds(20);  // a bound, not a wait: the count ends it
  std::thread ping;
  o.on_open = [&](const std::vector<OpenInterface>& ifs, const std::vector<std::string>&) {
    EXPECT_EQ(ifs.size(), 2u);  // every interface but lo
    ping = std::thread(
        [] { Sh("ip netns exec mkn-ct-a ping -c 3 -i 0.2 -W 1 -p 6d6b6e21 10.9.0.2"); });
  };
  absl::StatusOr<CaptureSummary> sum = RunCapture(state_, o);
  ping.join();
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->packets, 6u);
  EXPECT_EQ(sum->ended_by, "count");
  ASSERT_EQ(sum->interfaces.size(), 2u);
  EXPECT_EQ(sum->interfaces[0].name, "a:eth0");
  EXPECT_EQ(sum->interfaces[1].name, "b:eth0");
  EXPECT_EQ(sum->interfaces[0].counters.dropped, 0u);

  testing::CmdResult r =
      Sh("tshark -r " + file_ +
         " -T fields -e frame.interface_name -e frame.p2p_dir -e icmp.type -e data.data");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  int out_a = 0, in_b = 0;
  for (size_t pos = 0; pos < r.output.size();) {
    const size_t nl = r.output.find('\n', pos);
    const std::string line = r.output.substr(pos, nl - pos);
    pos = nl == std::string::npos ? r.output.size() : nl + 1;
    if (line.find('\t') == std::string::npos) continue;           // tshark's own notes (stderr)
    EXPECT_NE(line.find("6d6b6e21"), std::string::npos) << line;  // the marked payload
    if (line.rfind("a:eth0\t0\t8", 0) == 0) ++out_a;              // 0 = sent
    if (line.rfind("b:eth0\t1\t8", 0) == 0) ++in_b;               // 1 = received
  }
  EXPECT_EQ(out_a, 3) << r.output;
  EXPECT_EQ(in_b, 3) << r.output;
  // Every interface's description and the kernel's counters are in the file.
  r = Sh("tshark -r " + file_ + " -q -z io,stat,0 >/dev/null && capinfos -I " + file_ + " ; " +
         "tshark -r " + file_ + " -T fields -e frame.interface_description -c 1");
  EXPECT_NE(r.output.find("pod a on n, netns mkn-ct-a, eth0 10.9.0.1/24"), std::string::npos)
      << r.output;
}

// The underlay's shape: a and b are ports of a bridge br0 in a third namespace. The frames br0
// forwards between them reach a packet socket on br0 only when br0 is promiscuous, which capture
// makes it (as tcpdump -i br0 does) for exactly as long as the capture runs; -p does not.
class BridgeCaptureTest : public CaptureTest {
 protected:
  void SetUp() override {
    CaptureTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    absl::StatusOr<NamedNetns> u = NamedNetns::Create("mkn-ct-u");
    ASSERT_TRUE(u.ok()) << u.status();
    u_ = std::move(*u);
    const testing::CmdResult r =
        Sh("ip -n mkn-ct-u link add br0 type bridge && ip -n mkn-ct-u link set br0 up && "
           "for x in a b; do "
           "  ip -n mkn-ct-u link add name port-$x type veth peer name u0 netns mkn-ct-$x && "
           "  ip -n mkn-ct-u link set port-$x master br0 up && ip -n mkn-ct-$x link set u0 up; "
           "done && "
           "ip -n mkn-ct-a addr add 10.9.1.1/24 dev u0 && "
           "ip -n mkn-ct-b addr add 10.9.1.2/24 dev u0");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    state_.underlay = "mkn-ct-u";
  }
  // br0's promiscuity count (ip -d link: "promiscuity N").
  static std::string Promiscuity() {
    const std::string out = Sh("ip -n mkn-ct-u -d link show br0").output;
    const size_t at = out.find("promiscuity ");
    return at == std::string::npos ? out : out.substr(at, out.find(' ', at + 12) - at);
  }
  NamedNetns u_;
};

TEST_F(BridgeCaptureTest, APingBetweenTwoPortsIsSeenOnThePromiscuousBridge) {
  CaptureOptions o;
  o.output = file_;
  o.targets = {"underlay:br0"};
  o.filter = "icmp";
  o.count = 6;                     // 3 requests and 3 replies, forwarded by br0
  o.duration = absl::Seconds(20);  // a bound: the count ends it
  std::string during;
  std::thread ping;
  o.on_open = [&](const std::vector<OpenInterface>&, const std::vector<std::string>&) {
    during = Promiscuity();
    ping = std::thread([] { Sh("ip netns exec mkn-ct-a ping -c 3 -i 0.2 -W 1 10.9.1.2"); });
  };
  absl::StatusOr<CaptureSummary> sum = RunCapture(state_, o);
  ping.join();
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(during, "promiscuity 1");
  EXPECT_EQ(Promiscuity(), "promiscuity 0");  // the socket's membership went with it
  EXPECT_EQ(sum->ended_by, "count");
  ASSERT_EQ(sum->interfaces.size(), 1u);
  EXPECT_EQ(sum->interfaces[0].name, "underlay:br0");
  EXPECT_EQ(sum->interfaces[0].counters.captured, 6u);
  testing::CmdResult r = Sh("tshark -r " + file_ + " -T fields -e ip.src -e ip.dst -e icmp.type");
  EXPECT_NE(r.output.find("10.9.1.1\t10.9.1.2\t8"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("10.9.1.2\t10.9.1.1\t0"), std::string::npos) << r.output;
}

// The whole underlay (br0 and both its ports): br0 is left as it is, since its ports' copies show
// every frame it forwards; made promiscuous, a bridge where br_netfilter translates would hand the
// translated frames to its stack too, and a same-node backend would receive them twice.
TEST_F(BridgeCaptureTest, EveryPortCapturedTheBridgeIsSpared) {
  CaptureOptions o;
  o.output = file_;
  o.targets = {"underlay"};
  o.filter = "icmp";
  o.count = 12;  // 3 requests and 3 replies on each port
  o.duration = absl::Seconds(20);
  std::string during;
  std::vector<OpenInterface> opened;
  std::thread ping;
  o.on_open = [&](const std::vector<OpenInterface>& ifs, const std::vector<std::string>&) {
    during = Promiscuity();
    opened = ifs;
    ping = std::thread([] { Sh("ip netns exec mkn-ct-a ping -c 3 -i 0.2 -W 1 10.9.1.2"); });
  };
  absl::StatusOr<CaptureSummary> sum = RunCapture(state_, o);
  ping.join();
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(during, "promiscuity 0");
  ASSERT_EQ(sum->interfaces.size(), 3u);
  EXPECT_EQ(sum->interfaces[0].name, "underlay:br0");
  EXPECT_EQ(opened[0].promiscuity, capture::Promiscuity::kBridgeSpared);
  EXPECT_EQ(sum->interfaces[0].counters.captured, 0u);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(opened[i].promiscuity, capture::Promiscuity::kOn) << opened[i].idb.name;
    EXPECT_EQ(sum->interfaces[i].counters.captured, 6u) << sum->interfaces[i].name;
  }
}

// With -p the bridge is left as it is, and sees none of the forwarded ping that a:u0 sees whole.
TEST_F(BridgeCaptureTest, NotPromiscuousTheBridgeSeesOnlyItsOwn) {
  CaptureOptions o;
  o.output = file_;
  o.targets = {"underlay:br0", "a:u0"};
  o.filter = "icmp";
  o.promiscuous = false;
  o.count = 6;  // a:u0's 3 requests and 3 replies; br0 would have had each before a:u0's reply
  o.duration = absl::Seconds(20);
  std::string during;
  std::thread ping;
  o.on_open = [&](const std::vector<OpenInterface>&, const std::vector<std::string>&) {
    during = Promiscuity();
    ping = std::thread([] { Sh("ip netns exec mkn-ct-a ping -c 3 -i 0.2 -W 1 10.9.1.2"); });
  };
  absl::StatusOr<CaptureSummary> sum = RunCapture(state_, o);
  ping.join();
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(during, "promiscuity 0");
  ASSERT_EQ(sum->interfaces.size(), 2u);
  EXPECT_EQ(sum->interfaces[0].name, "underlay:br0");
  EXPECT_EQ(sum->interfaces[0].counters.captured, 0u);
  EXPECT_EQ(sum->interfaces[1].name, "a:u0");
  EXPECT_EQ(sum->interfaces[1].counters.captured, 6u);
}

// A stop (Ctrl-C's signalfd in the CLI; an eventfd here) ends the capture with a whole file.
TEST_F(CaptureTest, AStopLeavesAValidFile) {
  Fd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_GE(stop.get(), 0);
  CaptureOptions o;
  o.output = file_;
  o.targets = {"b:eth0"};
  o.filter = "icmp";
  o.stop_fd = stop.get();
  o.duration = absl::Seconds(20);
  std::thread ping;
  o.on_open = [&](const std::vector<OpenInterface>&, const std::vector<std::string>&) {
    ping = std::thread([&] {
      Sh("ip netns exec mkn-ct-a ping -c 2 -i 0.2 -W 1 10.9.0.2");
      const uint64_t one = 1;
      EXPECT_EQ(::write(stop.get(), &one, sizeof one), 8);
    });
  };
  absl::StatusOr<CaptureSummary> sum = RunCapture(state_, o);
  ping.join();
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->ended_by, "signal");
  EXPECT_GE(sum->packets, 4u);  // 2 requests in, 2 replies out
  testing::CmdResult r = Sh("tshark -r " + file_ + " -T fields -e frame.interface_name");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("b:eth0"), std::string::npos);
}

TEST_F(CaptureTest, NamesWhatIsWrong) {
  CaptureOptions o;
  o.output = file_;
  o.targets = {"a:eth9"};
  absl::Status st = RunCapture(state_, o).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_EQ(st.message(), "capture target a:eth9: pod a has no interface eth9 (it has lo, eth0)");
  o.targets = {};
  o.filter = "icmp and and";
  st = RunCapture(state_, o).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_NE(st.message().find("capture filter \"icmp and and\": "), std::string::npos) << st;
  o.filter = "";
  o.targets = {"c"};
  st = RunCapture(state_, o).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
}

// A TUN (the userspace proxy's mkn-proxy) carries raw IP: its interface block says so, and the
// filter is compiled for raw IP (libpcap's DLT_RAW, not the file's LINKTYPE_RAW 101).
TEST_F(CaptureTest, ATunIsRawIpWithItsFilterCompiledForIt) {
  ASSERT_EQ(Sh("ip -n mkn-ct-a tuntap add dev tun0 mode tun").exit_code, 0);
  std::vector<capture::Target> targets = {
      {capture::LabObject{"a", capture::ObjectKind::kPod, "mkn-ct-a", "n", ""}, {"tun0", "eth0"}}};
  PacketSocketOptions po;
  po.filter = "tcp port 80 or icmp";
  absl::StatusOr<PacketSockets> s = PacketSockets::Open(targets, po);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->interfaces().size(), 2u);
  EXPECT_EQ(s->interfaces()[0].idb.name, "a:tun0");
  EXPECT_EQ(s->interfaces()[0].idb.link_type, capture::kLinkTypeRaw);
  EXPECT_EQ(s->interfaces()[1].idb.link_type, capture::kLinkTypeEthernet);
}

// A pod whose namespace is gone (killed as the capture starts) is skipped when capturing
// everything, and an error when named.
TEST_F(CaptureTest, AGoneNamespaceIsSkippedUnlessNamed) {
  PodState gone;
  gone.name = "gone";
  gone.netns = "mkn-ct-gone";
  state_.pods.push_back(gone);
  CaptureOptions o;
  o.output = file_;
  o.duration = absl::Milliseconds(1);
  std::vector<std::string> skipped;
  o.on_open = [&](const std::vector<OpenInterface>&, const std::vector<std::string>& s) {
    skipped = s;
  };
  absl::StatusOr<CaptureSummary> sum = RunCapture(state_, o);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->interfaces.size(), 2u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0], "gone (its namespace mkn-ct-gone is gone)");
  o.targets = {"gone"};
  EXPECT_TRUE(absl::IsNotFound(RunCapture(state_, o).status()));
}

}  // namespace
}  // namespace mkn::vnet
