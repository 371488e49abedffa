#include "lib/bgp/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mkn::bgp {
namespace {

std::vector<SpeakerStatus> Sample() {
  SpeakerStatus node;
  node.speaker = "node1";
  node.role = "node";
  node.netns = "mkn-bgp-node1";
  node.asn = 4200000001;
  node.socket = "/run/minikube-net/bgp/bird/node1.ctl";
  Session s;
  s.protocol = "tor_r1";
  s.peer = "tor-r1";
  s.state = "Established";
  s.neighbor = "172.18.1.1";
  s.neighbor_as = 64513;
  s.local_as = 4200000001;
  s.imported = 3;
  s.exported = 1;
  s.since = "2026-12-06 03:39:53";
  node.sessions.push_back({s, 75});
  node.with_routes = true;
  node.routes = {{"10.244.0.0/24", "blackhole", "POD_CIDR", true, "", "", ""},
                 {"10.244.2.0/24", "unicast", "tor_r1", true, "172.18.1.1", "eth0",
                  "64513 64512 64514 4200000003"}};
  SpeakerStatus down;
  down.speaker = "node4";
  down.role = "node";
  down.error = "ask bird at /x.ctl: Connection refused (not running)";
  return {node, down};
}

TEST(Report, Uptime) {
  EXPECT_EQ(Uptime(-1), "-");
  EXPECT_EQ(Uptime(5), "5s");
  EXPECT_EQ(Uptime(192), "3m12s");
  EXPECT_EQ(Uptime(7380), "2h03m");
  EXPECT_EQ(Uptime(352800), "4d02h");
}

TEST(Report, Table) {
  EXPECT_EQ(BgpTable(Sample()),
            "SPEAKER  PEER    ADDRESS     AS     STATE        UPTIME  RECEIVED  EXPORTED\n"
            "node1    tor-r1  172.18.1.1  64513  Established  1m15s   3         1\n"
            "node4    -       -           -      no answer    -       -         -\n"
            "node4: ask bird at /x.ctl: Connection refused (not running)\n"
            "\n"
            "routes of node1 (BIRD's table; `ip -n mkn-bgp-node1 route` shows the kernel's):\n"
            "PREFIX         VIA         DEV   FROM    AS PATH\n"
            "10.244.0.0/24  blackhole         (own)   \n"
            "10.244.2.0/24  172.18.1.1  eth0  tor-r1  64513 64512 64514 4200000003\n");
}

TEST(Report, JsonHasEverySessionFieldAndTheRoutesWhenAsked) {
  nlohmann::json j = nlohmann::json::parse(BgpJson(Sample()));
  ASSERT_EQ(j["speakers"].size(), 2u);
  const nlohmann::json& n = j["speakers"][0];
  EXPECT_EQ(n["speaker"], "node1");
  EXPECT_EQ(n["asn"], 4200000001);
  EXPECT_EQ(n["sessions"][0]["peer"], "tor-r1");
  EXPECT_EQ(n["sessions"][0]["state"], "Established");
  EXPECT_EQ(n["sessions"][0]["uptime_s"], 75);
  EXPECT_EQ(n["sessions"][0]["received"], 3);
  EXPECT_EQ(n["sessions"][0]["exported"], 1);
  EXPECT_EQ(n["routes"][1]["from"], "tor-r1");
  EXPECT_EQ(n["routes"][1]["as_path"], "64513 64512 64514 4200000003");
  EXPECT_FALSE(n.contains("error"));
  EXPECT_EQ(j["speakers"][1]["error"], "ask bird at /x.ctl: Connection refused (not running)");
  EXPECT_FALSE(j["speakers"][1].contains("routes"));
}

}  // namespace
}  // namespace mkn::bgp
