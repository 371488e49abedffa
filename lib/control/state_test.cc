// lib/control/state: state.json's JSON, written and read back (pure: no file, no root).
#include "lib/control/state.h"

#include <gtest/gtest.h>

#include <string>

namespace mkn::control {
namespace {

ClusterState Sample() {
  ClusterState s;
  s.cluster = "lab";
  s.lab = "/work/lab.toml";
  s.phase = "ready";
  s.network = "vxlan";
  s.marker = "minikube-net:lab";
  s.owner = {4242, 987654321};
  s.started_at = 1767225600;
  s.ready_ms = 73;
  s.underlay = "mkn-lab-underlay";
  s.nodes = {{"node1", "mkn-lab-node1", "192.168.100.11", "10.244.0.0/24", "10.244.0.1", ""},
             {"node2", "mkn-lab-node2", "192.168.100.12", "10.244.1.0/24", "10.244.1.1", ""}};
  PodState web{"web-1", "node1", "10.244.0.2", "mkn-lab-web-1", "web", {}, ""};
  web.containers.push_back({"echo", "http-echo", {}, {"TCP/8080"}, {}});
  web.containers.push_back({"tail", "command", {"sh", "-c", "sleep 1000"}, {}, {4300, 12345}});
  PodState failed{"cni-1", "node2", "", "mkn-lab-cni-1", "", {}, "ADD: bridge: no such device"};
  s.pods = {web, failed};
  return s;
}

TEST(State, RoundTrips) {
  const ClusterState s = Sample();
  absl::StatusOr<ClusterState> back = StateFromJson(StateToJson(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  // A network = "bgp" lab on a routed underlay: its racks, routers and speakers (one not started).
  ClusterState bgp = Sample();
  bgp.network = "bgp";
  bgp.underlay = "";
  bgp.nodes[0].rack = "r1";
  bgp.nodes[1].rack = "r2";
  bgp.routers = {
      {"tor-r1", "mkn-lab-tor-r1"}, {"tor-r2", "mkn-lab-tor-r2"}, {"spine", "mkn-lab-spine"}};
  bgp.speakers = {
      {"node1",
       "node",
       "mkn-lab-node1",
       "/run/minikube-net/lab/bird/node1.ctl",
       4200000001,
       {51, 52}},
      {"tor-r1", "tor", "mkn-lab-tor-r1", "/run/minikube-net/lab/bird/tor-r1.ctl", 64513, {}}};
  back = StateFromJson(StateToJson(bgp));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, bgp);
  EXPECT_EQ(back->FindPod("cni-1"), &back->pods[1]);
  EXPECT_EQ(back->FindPod("nope"), nullptr);
  EXPECT_EQ(StateFromJson(StateToJson(ClusterState{})).status().ok(), true);
  // `up --ui 0`: the dashboard's URL, the port the kernel picked, found again in status -o json.
  ClusterState served = Sample();
  served.ui = "http://127.0.0.1:41234/";
  EXPECT_NE(StateToJson(served).find("\"ui\": \"http://127.0.0.1:41234/\""), std::string::npos);
  back = StateFromJson(StateToJson(served));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ui, "http://127.0.0.1:41234/");
  EXPECT_EQ(StateToJson(Sample()).find("\"ui\""), std::string::npos);  // none without --ui
}

// The field names are an interface (`status -o json`, a state an older version wrote): this is
// the text, key by key.
TEST(State, JsonIsTheDocumentedShape) {
  ClusterState s;
  s.cluster = "c";
  s.marker = "minikube-net:c";
  s.underlay = "mkn-c-underlay";
  s.owner = {7, 8};
  s.nodes = {{"node1", "mkn-c-node1", "192.168.100.11", "10.244.0.0/24", "10.244.0.1", ""}};
  s.pods = {
      {"p", "node1", "10.244.0.2", "mkn-c-p", "", {{"c", "command", {"true"}, {}, {9, 10}}}, ""}};
  EXPECT_EQ(StateToJson(s), R"({
  "cluster": "c",
  "lab": "",
  "marker": "minikube-net:c",
  "network": "",
  "nodes": [
    {
      "gateway": "10.244.0.1",
      "name": "node1",
      "netns": "mkn-c-node1",
      "pod_cidr": "10.244.0.0/24",
      "rack": "",
      "underlay_ip": "192.168.100.11"
    }
  ],
  "phase": "",
  "pid": 7,
  "pid_start": 8,
  "pods": [
    {
      "containers": [
        {
          "app": "command",
          "command": [
            "true"
          ],
          "name": "c",
          "pid": 9,
          "pid_start": 10,
          "ports": []
        }
      ],
      "deployment": "",
      "ip": "10.244.0.2",
      "name": "p",
      "netns": "mkn-c-p",
      "node": "node1"
    }
  ],
  "ready_ms": 0,
  "routers": [],
  "speakers": [],
  "started_at": 0,
  "underlay": "mkn-c-underlay"
}
)");
  EXPECT_EQ(NodesJson(s).substr(0, 2), "[\n");
  EXPECT_NE(PodsJson(s).find("\"containers\""), std::string::npos);
}

// What an older or hand-edited state lacks takes its default; what makes it unusable is DataLoss,
// never an exception.
TEST(State, MissingOptionalFieldsDefaultAndBrokenOnesAreDataLoss) {
  absl::StatusOr<ClusterState> s = StateFromJson(
      R"({"cluster": "c", "marker": "m", "underlay": "u",
          "nodes": [{"name": "node1", "netns": "mkn-c-node1"}],
          "pods": [{"name": "p", "netns": "mkn-c-p"}]})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->owner, ProcessId{});
  EXPECT_EQ(s->nodes[0].underlay_ip, "");
  EXPECT_EQ(s->nodes[0].rack, "");
  EXPECT_TRUE(s->routers.empty());
  EXPECT_TRUE(s->speakers.empty());
  EXPECT_TRUE(s->pods[0].containers.empty());
  for (const char* bad :
       {"", "{", "[]", R"({"marker": "m", "underlay": "u", "nodes": [], "pods": []})",
        R"({"cluster": 5, "marker": "m", "underlay": "u", "nodes": [], "pods": []})",
        R"({"cluster": "c", "marker": "m", "underlay": "u", "nodes": [{}], "pods": []})",
        R"({"cluster": "c", "marker": "m", "underlay": "u", "nodes": [], "pods": 3})"}) {
    EXPECT_EQ(StateFromJson(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

}  // namespace
}  // namespace mkn::control
