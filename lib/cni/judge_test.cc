#include "lib/cni/judge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/cni/testing.h"

namespace mkn::cni {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Testdata;

// `ip -j addr show dev eth0` in a pod: the eth0 entry of the real fixture (10.244.1.2/24, MAC
// a2:7c:40:fa:b6:ec, its fe80:: address), with `addrs` as its addr_info when given.
std::string IpAddrShowEth0(std::optional<json> addrs = std::nullopt) {
  json eth0 = json::parse(Testdata("ip_addr_pod.json"))[1];
  if (addrs) eth0["addr_info"] = *addrs;
  return json::array({eth0}).dump();
}
json Inet(const std::string& local, int len) {
  return {{"family", "inet"}, {"local", local}, {"prefixlen", len}, {"scope", "global"}};
}
json Inet6(const std::string& local, int len) {
  return {{"family", "inet6"}, {"local", local}, {"prefixlen", len}};
}

TEST(ParseIpAddrShow, RealPodInterface) {
  absl::StatusOr<ObservedInterface> seen = ParseIpAddrShow(IpAddrShowEth0(), "eth0");
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->mac, "a2:7c:40:fa:b6:ec");
  EXPECT_EQ(seen->mtu, 1500);
  // The kernel's fe80:: address is not listed: no result names it.
  EXPECT_THAT(seen->addrs, ElementsAre("10.244.1.2/24"));
}

TEST(ParseIpAddrShow, Table) {
  struct Case {
    const char* name;
    std::string text;
    std::vector<std::string> want;  // addrs
  } cases[] = {
      {"dual stack, ip's order, link-local left out",
       IpAddrShowEth0(json::array(
           {Inet6("fd00:10:244:1::5", 64), Inet("10.244.1.5", 24), Inet6("fe80::1", 64)})),
       {"fd00:10:244:1::5/64", "10.244.1.5/24"}},
      {"several IPv4 addresses",
       IpAddrShowEth0(json::array({Inet("10.0.0.1", 8), Inet("10.0.0.2", 32)})),
       {"10.0.0.1/8", "10.0.0.2/32"}},
      {"no addresses", IpAddrShowEth0(json::array()), {}},
      {"no addr_info at all",
       R"([{"ifname":"eth0","address":"0a:58:0a:f4:01:05","mtu":1450}])",
       {}},
      // Only what ip prints for the kernel's own link-local addresses is dropped.
      {"other fe80::/10 addresses kept",
       IpAddrShowEth0(json::array({Inet6("fe90::1", 64)})),
       {"fe90::1/64"}},
      {"families other than inet/inet6 skipped",
       IpAddrShowEth0(json::array({{{"family", "mpls"}, {"local", "x"}}, Inet("10.1.1.1", 24)})),
       {"10.1.1.1/24"}},
      {"fields of the wrong type read as empty",
       R"([{"address":5,"mtu":"big","addr_info":[{"family":"inet","local":"10.0.0.9","prefixlen":"24"}]}])",
       {"10.0.0.9/0"}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ObservedInterface> seen = ParseIpAddrShow(c.text, "eth0");
    ASSERT_TRUE(seen.ok()) << c.name << ": " << seen.status();
    EXPECT_EQ(seen->addrs, c.want) << c.name;
  }
}

TEST(ParseIpAddrShow, NoInterfaceIsNotFound) {
  for (const char* text : {"", "[]", "not json", "{}", "[1]", R"({"ifname":"eth0"})"}) {
    absl::StatusOr<ObservedInterface> seen = ParseIpAddrShow(text, "eth0");
    EXPECT_EQ(seen.status().code(), absl::StatusCode::kNotFound) << text;
    EXPECT_EQ(seen.status().message(), "no eth0 in `ip -j addr`") << text;
  }
}

TEST(ExpectedOnInterface, RealResults) {
  absl::StatusOr<Result> ptp = ParseResult(Testdata("ptp_0.3.1.json"), "0.3.1");
  ASSERT_TRUE(ptp.ok()) << ptp.status();
  ExpectedInterface want = ExpectedOnInterface(*ptp, "eth0");
  EXPECT_TRUE(want.listed);
  EXPECT_EQ(want.mac, "92:35:5e:05:d7:70");
  EXPECT_THAT(want.addrs, ElementsAre("10.244.1.2/24"));
  // The host-side veth is not "in the pod" even when asked for by its name.
  ExpectedInterface host = ExpectedOnInterface(*ptp, "veth8dfd9997");
  EXPECT_FALSE(host.listed);
  EXPECT_EQ(host.mac, "");
  EXPECT_THAT(host.addrs, IsEmpty());
  // 0.2.0: no interfaces; both addresses can only be the container's.
  absl::StatusOr<Result> legacy = ParseResult(Testdata("host-local_0.2.0.json"), "0.2.0");
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  ExpectedInterface old = ExpectedOnInterface(*legacy, "eth0");
  EXPECT_FALSE(old.listed);
  EXPECT_THAT(old.addrs, ElementsAre("10.244.1.5/24", "fd00:10:244:1::5/64"));
}

// The 1.0.0 result of the bridge fixture with its eth0 (MAC 36:a3:6f:a5:b2:08, 10.244.1.4/24)
// changed by `edit`.
std::string Bridge100(const std::function<void(json&)>& edit = [](json&) {}) {
  json j = json::parse(Testdata("bridge_1.0.0.json"));
  edit(j);
  return j.dump();
}

TEST(JudgeInterface, Table) {
  const ObservedInterface match{"36:a3:6f:a5:b2:08", 1500, {"10.244.1.4/24"}};
  struct Case {
    const char* name;
    std::string result;
    std::string version;
    ObservedInterface seen;
    std::vector<std::string> want;  // findings, in order
  } cases[] = {
      {"as reported", Bridge100(), "1.0.0", match, {}},
      {"MAC in another case",
       Bridge100(),
       "1.0.0",
       {"36:A3:6F:A5:B2:08", 1500, {"10.244.1.4/24"}},
       {}},
      {"MAC differs",
       Bridge100(),
       "1.0.0",
       {"0a:58:0a:f4:01:04", 1500, {"10.244.1.4/24"}},
       {"result says eth0 has MAC 36:a3:6f:a5:b2:08, the pod's eth0 has 0a:58:0a:f4:01:04"}},
      {"address missing",
       Bridge100(),
       "1.0.0",
       {"36:a3:6f:a5:b2:08", 1500, {}},
       {"result says eth0 has 10.244.1.4/24, the pod's eth0 has []"}},
      {"address with another prefix length",
       Bridge100(),
       "1.0.0",
       {"36:a3:6f:a5:b2:08", 1500, {"10.244.1.4/16"}},
       {"result says eth0 has 10.244.1.4/24, the pod's eth0 has [10.244.1.4/16]"}},
      {"another address (the wrong-ip plugin)",
       Bridge100([](json& j) { j["ips"][0]["address"] = "10.244.0.254/24"; }),
       "1.0.0",
       match,
       {"result says eth0 has 10.244.0.254/24, the pod's eth0 has [10.244.1.4/24]"}},
      {"an extra address on the interface is not judged",
       Bridge100(),
       "1.0.0",
       {"36:a3:6f:a5:b2:08", 1500, {"10.244.1.4/24", "10.244.1.99/24", "fd00::4/64"}},
       {}},
      {"MTU not judged", Bridge100(), "1.0.0", {"36:a3:6f:a5:b2:08", 9000, {"10.244.1.4/24"}}, {}},
      {"no MAC in the result: not judged",
       Bridge100([](json& j) { j["interfaces"][2].erase("mac"); }),
       "1.0.0",
       {"0a:58:0a:f4:01:04", 1500, {"10.244.1.4/24"}},
       {}},
      {"MAC and address both wrong, in that order",
       Bridge100(),
       "1.0.0",
       {"0a:58:0a:f4:01:04", 1500, {"10.244.1.5/24"}},
       {"result says eth0 has MAC 36:a3:6f:a5:b2:08, the pod's eth0 has 0a:58:0a:f4:01:04",
        "result says eth0 has 10.244.1.4/24, the pod's eth0 has [10.244.1.5/24]"}},
      {"eth0 listed without a sandbox (host side)",
       Bridge100([](json& j) {
         j["interfaces"][2].erase("sandbox");
         j["ips"][0].erase("interface");
       }),
       "1.0.0",
       match,
       {"the result's interfaces list no eth0 with a sandbox"}},
      {"an address of another interface is not expected here",
       Bridge100([](json& j) {
         j["ips"].push_back({{"interface", 0}, {"address", "10.244.1.1/24"}});
       }),
       "1.0.0",
       match,
       {}},
      {"an address without an interface index is the container's",
       Bridge100([](json& j) {
         j["ips"].push_back({{"address", "fd00::4/64"}});
       }),
       "1.0.0",
       match,
       {"result says eth0 has fd00::4/64, the pod's eth0 has [10.244.1.4/24]"}},
      {"an out-of-range interface index counts as the container's",
       Bridge100([](json& j) { j["ips"][0]["interface"] = 7; }),
       "1.0.0",
       {"36:a3:6f:a5:b2:08", 1500, {}},
       {"result says eth0 has 10.244.1.4/24, the pod's eth0 has []"}},
      {"0.2.0 has no interfaces list: only the addresses",
       Testdata("host-local_0.2.0.json"),
       "0.2.0",
       {"0a:58:0a:f4:01:05", 1500, {"10.244.1.5/24", "fd00:10:244:1::5/64"}},
       {}},
      {"0.2.0, the IPv6 address missing",
       Testdata("host-local_0.2.0.json"),
       "0.2.0",
       {"0a:58:0a:f4:01:05", 1500, {"10.244.1.5/24"}},
       {"result says eth0 has fd00:10:244:1::5/64, the pod's eth0 has [10.244.1.5/24]"}},
      {"0.3.1 host-local alone lists no interface",
       Testdata("host-local_0.3.1.json"),
       "0.3.1",
       {"0a:58:0a:f4:01:02", 1500, {"10.244.1.2/24", "fd00:10:244:1::2/64"}},
       {"the result's interfaces list no eth0 with a sandbox"}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Result> result = ParseResult(c.result, c.version);
    ASSERT_TRUE(result.ok()) << c.name << ": " << result.status();
    EXPECT_EQ(JudgeInterface(*result, c.version, "eth0", c.seen), c.want) << c.name;
  }
}

TEST(JudgeInterface, ObservedThroughIp) {
  // The whole path spec.add.interface takes: ip's text, then the verdict. The pod's fe80::
  // address shows neither as a mismatch nor in the evidence.
  absl::StatusOr<ObservedInterface> seen = ParseIpAddrShow(IpAddrShowEth0(), "eth0");
  ASSERT_TRUE(seen.ok()) << seen.status();
  absl::StatusOr<Result> ptp = ParseResult(Testdata("ptp_0.3.1.json"), "0.3.1");
  ASSERT_TRUE(ptp.ok()) << ptp.status();
  EXPECT_THAT(JudgeInterface(*ptp, "0.3.1", "eth0", *seen),
              ElementsAre("result says eth0 has MAC 92:35:5e:05:d7:70, the pod's eth0 has "
                          "a2:7c:40:fa:b6:ec"));
}

TEST(HasIp, AnyPrefixLength) {
  const ObservedInterface seen{"", 0, {"10.244.1.5/24", "fd00::5/64"}};
  EXPECT_TRUE(HasIp(seen, "10.244.1.5"));
  EXPECT_TRUE(HasIp(seen, "fd00::5"));
  EXPECT_FALSE(HasIp(seen, "10.244.1.50"));
  EXPECT_FALSE(HasIp(seen, "10.244.1"));
  EXPECT_FALSE(HasIp({}, "10.244.1.5"));
}

TEST(SupportedVersions, Table) {
  struct Case {
    const char* name;
    std::string reply;
    std::string want;     // the cniVersion of the conflist
    std::string verdict;  // "" pass, else the finding (or the parse error)
  } cases[] = {
      {"Debian 1.1.1",
       R"({"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]})",
       "1.0.0", ""},
      {"not listed", R"({"cniVersion":"0.4.0","supportedVersions":["0.3.1","0.4.0"]})", "1.0.0",
       R"(supportedVersions ["0.3.1","0.4.0"] does not list the conflist's cniVersion 1.0.0)"},
      {"empty list", R"({"supportedVersions":[]})", "0.4.0",
       "supportedVersions [] does not list the conflist's cniVersion 0.4.0"},
      {"a number is not the version string", R"({"supportedVersions":[1.0]})", "1.0",
       "supportedVersions [1.0] does not list the conflist's cniVersion 1.0"},
      {"no list", R"({"cniVersion":"1.0.0"})", "1.0.0", "VERSION gave no supportedVersions list"},
      {"list of the wrong type", R"({"supportedVersions":"1.0.0"})", "1.0.0",
       "VERSION gave no supportedVersions list"},
      {"not an object", R"(["1.0.0"])", "1.0.0", "VERSION gave no supportedVersions list"},
      {"not JSON", "usage: bridge ...", "1.0.0", "VERSION gave no supportedVersions list"},
      {"empty", "", "1.0.0", "VERSION gave no supportedVersions list"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<json> list = SupportedVersions(c.reply);
    std::string verdict =
        list.ok() ? JudgeSupportedVersions(*list, c.want) : std::string(list.status().message());
    EXPECT_EQ(verdict, c.verdict) << c.name;
  }
}

TEST(ProcNetBound, ListeningTcpAnyUdp) {
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
      "   0: 00000000:1D2F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
      "   1: 0AF40002:1F90 0AF40003:9C40 01 00000000:00000000 00:00000000 00000000     0\n"
      "   2: 0200F40A:C350 0300F40A:1D2F 01 00000000:00000000 00:00000000 00000000     0\n";
  const std::string udp =
      "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
      "  123: 00000000:1D30 00000000:0000 07 00000000:00000000 00:00000000 00000000     0\n";
  struct Case {
    const char* name;
    const std::string& text;
    int port;
    bool tcp, want;
  } cases[] = {
      {"tcp listener", tcp, 7471, true, true},
      // Port 7471 as the remote end of a connection (row 2) is not a socket bound to it; 50000
      // is bound by a connection, not listening.
      {"tcp: only a connection to it", tcp, 50000, true, false},
      {"tcp: nothing", tcp, 7472, true, false},
      {"udp bound (state 07)", udp, 7472, false, true},
      {"udp: nothing", udp, 7471, false, false},
      {"header only", "  sl  local_address rem_address   st\n", 7471, true, false},
      {"empty", "", 7471, false, false},
  };
  for (const Case& c : cases) EXPECT_EQ(ProcNetBound(c.text, c.port, c.tcp), c.want) << c.name;
}

TEST(EchoPeer, Table) {
  struct Case {
    std::string proto, reply;
    std::optional<std::string> want;
  } cases[] = {
      {"tcp", "tcp 10.244.1.5\n", "10.244.1.5"},
      {"udp", "udp 10.244.2.7\r\n", "10.244.2.7"},
      {"tcp", "tcp 10.244.1.5", "10.244.1.5"},
      {"tcp", "tcp \n", ""},
      {"tcp", "udp 10.244.1.5\n", std::nullopt},  // another server answered
      {"tcp", "tcp10.244.1.5\n", std::nullopt},
      {"tcp", "", std::nullopt},
      {"tcp", "HTTP/1.1 400 Bad Request\r\n", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(EchoPeer(c.proto, c.reply), c.want) << c.proto << " " << c.reply;
  }
}

TEST(ParseIperf3Json, Table) {
  struct Case {
    const char* name;
    std::string output;
    double bps;
    bool not_ready;
  } cases[] = {
      {"a run",
       R"({"start":{},"end":{"sum_sent":{"bits_per_second":2e7},)"
       R"("sum_received":{"bits_per_second":9876543.5}}})",
       9876543.5, false},
      {"refused, in the JSON error",
       R"({"start":{},"end":{},)"
       R"("error":"unable to connect to server: Connection refused"})",
       0, true},
      {"busy server", R"({"error":"the server is busy running a test. try again later"})", 0,
       false},
      {"refused, as text", "iperf3: error - unable to connect: Connection refused\n", 0, true},
      {"no output", "", 0, false},
      {"rate of the wrong type", R"({"end":{"sum_received":{"bits_per_second":"fast"}}})", 0,
       false},
      {"end of the wrong type", R"({"end":[]})", 0, false},
  };
  for (const Case& c : cases) {
    Iperf3Reading r = ParseIperf3Json(c.output);
    EXPECT_EQ(r.bits_per_second, c.bps) << c.name;
    EXPECT_EQ(r.server_not_ready, c.not_ready) << c.name;
  }
}

TEST(RateWithinLimit, ThirtyPercentEitherWay) {
  struct Case {
    double measured;
    int64_t limit;
    bool want;
  } cases[] = {
      {10'000'000, 10'000'000, true},  {7'000'000, 10'000'000, true},
      {6'999'999, 10'000'000, false},  {13'000'000, 10'000'000, true},
      {13'000'001, 10'000'000, false}, {0, 10'000'000, false},
      {1e9, 10'000'000, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RateWithinLimit(c.measured, c.limit), c.want) << c.measured << " / " << c.limit;
  }
}

TEST(JudgeLeftProcesses, Table) {
  const SeenProcess agent{100, 5000, "flanneld", "node node1"};    // the lab's node daemon
  const SeenProcess warmup{200, 6000, "sleep", "node node1"};      // left before the snapshot
  const SeenProcess daemon{300, 7000, "sleep", "node node1"};      // left by the measured ADD
  const SeenProcess in_pod{301, 7001, "dnsmasq", "the test pod"};  // one in the pod
  const SeenProcess reused{200, 7100, "sleep", "node node1"};      // warmup's pid, another process
  // A child the lab's node daemon started meanwhile (in the daemon's session): not the plugin's.
  const SeenProcess agent_child{302, 7002, "iptables", "node node1", true};
  struct Case {
    const char* name;
    std::vector<SeenProcess> before, after;
    std::vector<std::string> want;
  } cases[] = {
      {"nothing new", {agent, warmup}, {agent, warmup}, {}},
      {"one gone is fine", {agent, warmup}, {agent}, {}},
      {"a node daemon's child is not the plugin's", {agent, warmup}, {agent, agent_child}, {}},
      {"a daemon left by the plugin",
       {agent, warmup},
       {agent, warmup, daemon, in_pod},
       {"pid 300 (sleep) still runs in node node1",
        "pid 301 (dnsmasq) still runs in the test pod"}},
      {"a pid reused by a new process",
       {agent, warmup},
       {agent, reused},
       {"pid 200 (sleep) still runs in node node1"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(JudgeLeftProcesses(c.before, c.after), c.want) << c.name;
  }
}

}  // namespace
}  // namespace mkn::cni
