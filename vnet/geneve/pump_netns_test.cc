// The Geneve pump against the real kernel, inside the test's own sandbox: two node namespaces on a
// veth "underlay", each with gnv0 and a Geneve socket made by vnet/kernel as the applier makes
// them, routed as the plan routes them. Packets cross (ping, a DF ping of the MTU, a TCP stream
// that the kernel hands over in super-frames and gets back joined), bad datagrams are counted by
// reason without stopping it, and Stop() leaves no gnv0.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "lib/config/toml/load.h"
#include "lib/geneve/header.h"
#include "vnet/geneve/pump.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/tun.h"
#include "vnet/kernel/udp.h"
#include "vnet/testing/sandbox.h"
#include "vnet/testing/shell.h"

namespace mkn::vnet {
namespace {

using testing::Sh;

constexpr const char* kLab = R"(
[cluster]
name = "t"
network = "geneve"
vni = 5
nodes = 2
)";

class GenevePumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MKN_REQUIRE_NETNS();
    ASSERT_TRUE(PrepareNetnsDir().ok());
    config::LoadResult lab = config::Load(kLab, "t.toml");
    ASSERT_TRUE(lab.spec.has_value()) << lab.diags.FormatAll();
    spec_ = *lab.spec;
    ASSERT_EQ(spec_.pod_mtu, 1442);
    for (const config::NodeSpec& n : spec_.nodes) {
      absl::StatusOr<NamedNetns> ns = NamedNetns::Create(n.netns, spec_.marker);
      ASSERT_TRUE(ns.ok()) << ns.status();
      netns_.push_back(std::move(*ns));
    }
    // The underlay: one veth between the two nodes (the real lab has a bridge between them).
    const std::string a = spec_.nodes[0].netns, b = spec_.nodes[1].netns;
    ASSERT_EQ(Sh("ip -n " + a + " link add eth0 type veth peer name eth0 netns " + b).exit_code, 0);
    for (const config::NodeSpec& n : spec_.nodes) {
      const std::string ip = "ip -n " + n.netns + " ";
      // IPv6 off, as the plan has it: no router solicitation or MLD report goes into gnv0 (a
      // multicast frame is no node's: the pump would count it as no_peer).
      ASSERT_EQ(Sh("ip netns exec " + n.netns + " sysctl -qw net.ipv6.conf.all.disable_ipv6=1 " +
                   "net.ipv6.conf.default.disable_ipv6=1 && " + ip + "addr add " +
                   n.underlay_ip.ToString() + "/16 dev eth0 && " + ip + "link set eth0 up && " +
                   ip + "link set lo up")
                    .exit_code,
                0);
      Fd tap, sock;
      absl::Status s = RunInNetns(netns_[n.index].fd(), [&]() -> absl::Status {
        absl::StatusOr<Fd> t = OpenTap("gnv0", spec_.pod_mtu, n.vtep_mac);
        if (!t.ok()) return t.status();
        tap = std::move(*t);
        absl::StatusOr<Fd> u = OpenUdpTunnelSocket(n.underlay_ip, geneve::kPort);
        if (!u.ok()) return u.status();
        sock = std::move(*u);
        return absl::OkStatus();
      });
      ASSERT_TRUE(s.ok()) << s;
      taps_.emplace(n.netns, std::move(tap));
      sockets_.emplace(n.netns, std::move(sock));
      // As the plan does: gnv0 holds the .0 of the node's pod CIDR; the other node's pod CIDR goes
      // via that node's .0, onlink, with a permanent neighbour entry.
      const config::NodeSpec& r = spec_.nodes[1 - n.index];
      ASSERT_EQ(Sh(ip + "addr add " + n.vtep_ip.ToString() + "/32 dev gnv0 && " + ip +
                   "link set gnv0 up && " + ip + "neigh add " + r.vtep_ip.ToString() + " lladdr " +
                   r.vtep_mac.ToString() + " dev gnv0 nud permanent && " + ip + "route add " +
                   r.pod_cidr.ToString() + " via " + r.vtep_ip.ToString() + " dev gnv0 onlink")
                    .exit_code,
                0);
    }
  }

  absl::StatusOr<std::unique_ptr<GenevePump>> Pump(int workers) {
    return GenevePump::Create(spec_, std::move(taps_), std::move(sockets_), workers);
  }

  std::string Ping(int node, const std::string& args) {
    const config::NodeSpec& r = spec_.nodes[1 - node];
    return "ip netns exec " + spec_.nodes[node].netns + " ping -c1 -W2 " + args + " " +
           r.vtep_ip.ToString();
  }

  config::ClusterSpec spec_;
  std::vector<NamedNetns> netns_;
  std::map<std::string, Fd> taps_, sockets_;
};

uint64_t Drops(const GeneveNodeStats& s, geneve::DropReason r) {
  return s.drops[static_cast<size_t>(r)];
}

TEST_F(GenevePumpTest, PingAndTheMtuCrossBothWays) {
  {
    absl::StatusOr<std::unique_ptr<GenevePump>> pump = Pump(2);
    ASSERT_TRUE(pump.ok()) << pump.status();
    ASSERT_TRUE((*pump)->Start().ok());
    testing::CmdResult r = Sh(Ping(0, ""));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = Sh(Ping(1, ""));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    // 1442 bytes with DF: 1414 of ICMP payload; one more is refused at gnv0's MTU.
    r = Sh(Ping(0, "-M do -s 1414"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    r = Sh(Ping(0, "-M do -s 1415"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("mtu=1442"), std::string::npos) << r.output;
    std::vector<GeneveNodeStats> st = (*pump)->Stats();
    ASSERT_EQ(st.size(), 2u);
    EXPECT_EQ(st[0].local, "172.18.0.2:6081");
    EXPECT_EQ(st[0].vni, 5);
    EXPECT_GE(st[0].tx_datagrams, 3u);
    EXPECT_GE(st[1].rx_frames, 3u);
    for (const GeneveNodeStats& s : st) {
      for (size_t i = 0; i < s.drops.size(); ++i)
        EXPECT_EQ(s.drops[i], 0u) << s.node << " " << geneve::ToString(geneve::DropReason(i));
    }
    (*pump)->Stop();
    EXPECT_NE(Sh("ip -n " + spec_.nodes[0].netns + " link show gnv0").exit_code, 0)
        << "gnv0 outlived its fd";
  }
}

// A TCP stream through gnv0: the kernel hands over super-frames (TSO), the pump cuts them and the
// receiving side joins them again (GRO), and iperf3 sees its bytes arrive.
TEST_F(GenevePumpTest, ATcpStreamIsCutAndJoined) {
  absl::StatusOr<std::unique_ptr<GenevePump>> pump = Pump(2);
  ASSERT_TRUE(pump.ok()) << pump.status();
  ASSERT_TRUE((*pump)->Start().ok());
  const std::string server = spec_.nodes[1].vtep_ip.ToString();
  const std::string a = spec_.nodes[0].netns, b = spec_.nodes[1].netns;
  testing::CmdResult r =
      Sh("ip netns exec " + b + " iperf3 -s -1 -B " + server + " -D --pidfile /tmp/gnv-iperf.pid" +
         " && for i in $(seq 100); do ip netns exec " + b + " ss -Hltn 'sport = :5201' | grep -q " +
         "5201 && break; sleep 0.05; done && ip netns exec " + a + " iperf3 -c " + server +
         " -t 1 -f m");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("receiver"), std::string::npos) << r.output;
  std::vector<GeneveNodeStats> st = (*pump)->Stats();
  EXPECT_GT(st[0].tx_super_frames, 0u) << "no TSO super-frame came out of gnv0";
  EXPECT_GT(st[0].tx_datagrams, st[0].tx_sends) << "no UDP GSO send carried several datagrams";
  EXPECT_GT(st[1].rx_joined, 0u) << "no segment was joined on the way into gnv0";
  EXPECT_LT(st[1].rx_frames, st[1].rx_datagrams);
  for (const GeneveNodeStats& s : st) {
    for (size_t i = 0; i < s.drops.size(); ++i)
      EXPECT_EQ(s.drops[i], 0u) << s.node << " " << geneve::ToString(geneve::DropReason(i));
    EXPECT_EQ(s.read_errors + s.write_errors, 0u) << s.node;
  }
}

// Datagrams that are not the cluster's Geneve: each dropped with its reason; the overlay goes on.
TEST_F(GenevePumpTest, BadDatagramsAreCountedByReason) {
  absl::StatusOr<std::unique_ptr<GenevePump>> pump = Pump(1);
  ASSERT_TRUE(pump.ok()) << pump.status();
  ASSERT_TRUE((*pump)->Start().ok());
  const config::NodeSpec& n1 = spec_.nodes[0];
  const config::NodeSpec& n2 = spec_.nodes[1];
  ASSERT_EQ(Sh("ip -n " + n1.netns + " addr add 172.18.0.9/16 dev eth0").exit_code, 0);
  auto datagram = [&](uint32_t vni, uint32_t source, net::Mac dst) {
    std::vector<uint8_t> d(geneve::kHeaderWithOption);
    geneve::EncodeHeader(d, vni, source);
    d.insert(d.end(), dst.bytes.begin(), dst.bytes.end());
    d.resize(d.size() + 54, 0);
    return d;
  };
  struct Send {
    std::string from;
    std::vector<uint8_t> bytes;
  };
  const std::vector<Send> sends = {
      {"172.18.0.2", {0x00, 0x00, 0x65}},                                   // truncated
      {"172.18.0.2", {0xc0, 0, 0x65, 0x58, 0, 0, 5, 0}},                    // bad_version
      {"172.18.0.2", datagram(6, 1, n2.vtep_mac)},                          // wrong_vni
      {"172.18.0.2", datagram(5, 2, n2.vtep_mac)},                          // source_mismatch
      {"172.18.0.2", datagram(5, 1, n1.vtep_mac)},                          // not_for_this_node
      {"172.18.0.9", datagram(5, 1, n2.vtep_mac)},                          // unknown_peer
      {"172.18.0.2", {0x00, 0x80, 0x65, 0x58, 0, 0, 5, 0, 1, 2, 3, 4, 5}},  // oam
  };
  absl::Status s = RunInNetns(netns_[0].fd(), [&]() -> absl::Status {
    for (const Send& x : sends) {
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return absl::InternalError("socket");
      Fd owned(fd);
      sockaddr_in from{}, to{};
      from.sin_family = to.sin_family = AF_INET;
      from.sin_addr.s_addr = inet_addr(x.from.c_str());
      to.sin_addr.s_addr = htonl(n2.underlay_ip.value);
      to.sin_port = htons(geneve::kPort);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) < 0)
        return absl::InternalError("bind");
      if (::sendto(fd, x.bytes.data(), x.bytes.size(), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof(to)) < 0)
        return absl::InternalError("sendto");
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  // Still working: a ping crosses after them (and its reply proves they were all read).
  testing::CmdResult r = Sh(Ping(0, ""));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const GeneveNodeStats st = (*pump)->Stats()[1];
  using geneve::DropReason;
  EXPECT_EQ(Drops(st, DropReason::kTruncated), 1u);
  EXPECT_EQ(Drops(st, DropReason::kBadVersion), 1u);
  EXPECT_EQ(Drops(st, DropReason::kWrongVni), 1u);
  EXPECT_EQ(Drops(st, DropReason::kSourceMismatch), 1u);
  EXPECT_EQ(Drops(st, DropReason::kNotForThisNode), 1u);
  EXPECT_EQ(Drops(st, DropReason::kUnknownPeer), 1u);
  EXPECT_EQ(Drops(st, DropReason::kOam), 1u);
}

}  // namespace
}  // namespace mkn::vnet
