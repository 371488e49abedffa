// trace's predictions against their goldens (testdata/trace/<network>-<proxy>-<case>.txt, from
// testdata/trace/lab.toml run in every network x proxy mode: `MKN_UPDATE_GOLDEN=1 ctest -R Trace`
// rewrites them), the request's words and their errors, and the verdict as a table of
// {what was seen, expected verdict}.
#include "lib/trace/trace.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/config/toml/load.h"

namespace mkn::trace {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
  const char* dir = std::getenv("MKN_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::current_path();
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

config::ClusterSpec Lab(config::NetworkMode n, config::ProxyMode m) {
  const fs::path p = SourceDir() / "testdata" / "trace" / "lab.toml";
  config::LoadResult r = config::Load(ReadFile(p), p.string());
  EXPECT_TRUE(r.spec.has_value()) << r.diags.ToStatus();
  config::ClusterSpec s = r.spec ? *r.spec : config::ClusterSpec{};
  s.network = n;
  s.proxy_mode = m;
  return s;
}

void CheckGolden(const std::string& got, const fs::path& golden) {
  if (std::getenv("MKN_UPDATE_GOLDEN") != nullptr) std::ofstream(golden) << got;
  EXPECT_EQ(got, ReadFile(golden)) << golden << " (MKN_UPDATE_GOLDEN=1 rewrites it)";
}

struct Case {
  std::string name, src, dst, proto;
};

// Every kind of DST a pod can trace to.
const std::vector<Case> kCases = {
    {"pod-same-node", "client", "web-0", ""},
    {"pod-cross-node", "client", "web-1", ""},
    {"pod-ip-tcp", "client", "10.244.1.3:8080", ""},
    {"clusterip-svc", "client", "svc/web", ""},
    {"clusterip-ip-udp", "client", "10.96.0.53:53", ""},
};

TEST(Trace, PredictionsMatchGoldensInEveryNetworkAndProxyMode) {
  int n = 0;
  for (config::NetworkMode net :
       {config::NetworkMode::kVxlan, config::NetworkMode::kHostGw, config::NetworkMode::kGeneve}) {
    for (config::ProxyMode proxy : {config::ProxyMode::kUserspace, config::ProxyMode::kNftables}) {
      const config::ClusterSpec spec = Lab(net, proxy);
      for (const Case& c : kCases) {
        SCOPED_TRACE(c.name);
        absl::StatusOr<Request> r = ParseRequest(spec, c.src, c.dst, c.proto);
        ASSERT_TRUE(r.ok()) << r.status();
        r->id = 4242;
        absl::StatusOr<Path> p = PredictPath(spec, *r);
        ASSERT_TRUE(p.ok()) << p.status();
        CheckGolden(RenderPrediction(*p),
                    SourceDir() / "testdata" / "trace" /
                        (std::string(config::ToString(net)) + "-" +
                         std::string(config::ToString(proxy)) + "-" + c.name + ".txt"));
        ++n;
      }
    }
  }
  EXPECT_EQ(n, 30);
}

TEST(Trace, RequestWordsAndTheirErrors) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kUserspace);
  struct Row {
    std::string src, dst, proto;
    absl::StatusCode code;
    std::string text;  // in the message
  };
  const std::vector<Row> rows = {
      {"client", "web-0", "", absl::StatusCode::kOk, ""},
      {"clinet", "web-0", "", absl::StatusCode::kInvalidArgument, "did you mean \"client\"?"},
      {"client", "web-9", "", absl::StatusCode::kInvalidArgument, "did you mean \"web-0\"?"},
      {"client", "svc/wbe", "", absl::StatusCode::kInvalidArgument, "did you mean \"svc/web\"?"},
      {"client", "svc/web:81", "", absl::StatusCode::kInvalidArgument,
       "has no port 81 (it has 80)"},
      {"client", "svc/web", "icmp", absl::StatusCode::kInvalidArgument, "not ICMP"},
      {"client", "web-0:8080", "icmp", absl::StatusCode::kInvalidArgument, "ICMP has no port"},
      {"client", "web-0", "tcp", absl::StatusCode::kInvalidArgument, "needs a port"},
      {"client", "web-0:70000", "", absl::StatusCode::kInvalidArgument, "1..65535"},
      {"client", "10.1.2.3", "", absl::StatusCode::kInvalidArgument, "neither a pod's address"},
      {"node1", "web-0", "", absl::StatusCode::kUnimplemented, "only a pod can be the source"},
      {"underlay", "web-0", "", absl::StatusCode::kUnimplemented, "only a pod"},
      {"client", "node2", "", absl::StatusCode::kUnimplemented, "a node"},
      {"client", "http://127.0.0.1:8080/", "", absl::StatusCode::kUnimplemented, "the edge"},
  };
  for (const Row& row : rows) {
    absl::StatusOr<Request> r = ParseRequest(spec, row.src, row.dst, row.proto);
    EXPECT_EQ(r.status().code(), row.code) << row.src << " -> " << row.dst << ": " << r.status();
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(row.text), std::string_view::npos) << r.status();
    }
  }
  absl::StatusOr<Request> svc = ParseRequest(spec, "client", "svc/dns", "");
  ASSERT_TRUE(svc.ok());
  EXPECT_EQ(svc->proto, Proto::kUdp);
  EXPECT_EQ(svc->dst.port, 53);
}

// The verdict: what was seen at each hop -> whole or where it died.
TEST(Trace, VerdictNamesTheLastHopThatSawTheProbe) {
  const config::ClusterSpec spec = Lab(config::NetworkMode::kVxlan, config::ProxyMode::kNftables);
  absl::StatusOr<Request> r = ParseRequest(spec, "client", "svc/web", "");
  ASSERT_TRUE(r.ok());
  r->id = 40000;
  absl::StatusOr<Path> p = PredictPath(spec, *r);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->endpoints.size(), 2u);
  // Everything of branch 1 (web-1, across nodes) and the common hops seen: whole, endpoint web-1.
  std::vector<Observation> seen(p->hops.size());
  for (size_t i = 0; i < p->hops.size(); ++i) {
    const Hop& h = p->hops[i];
    seen[i].seen = h.Sniffed() && (h.branch == -1 || h.branch == 1);
    seen[i].offset_ns = static_cast<int64_t>(i) * 1000;
    seen[i].flow = h.flow;
  }
  Verdict v = Judge(*p, seen);
  EXPECT_TRUE(v.ok) << v.summary;
  EXPECT_EQ(v.branch, 1);
  EXPECT_NE(v.summary.find("endpoint web-1"), std::string::npos) << v.summary;
  // Lost after node1's vxlan0: the first hop not seen is node1:eth0, the last seen node1:vxlan0.
  bool cut = false;
  for (size_t i = 0; i < p->hops.size(); ++i) {
    if (p->hops[i].object == "node1" && p->hops[i].ifname == "eth0" && p->hops[i].branch == 1)
      cut = true;
    if (cut) seen[i].seen = false;
  }
  seen[4].why = "route 10.244.2.0/24 via 10.244.2.0 dev vxlan0";
  v = Judge(*p, seen);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(p->hops[v.first_missing].object + ":" + p->hops[v.first_missing].ifname, "node1:eth0");
  EXPECT_EQ(p->hops[v.last_seen].object + ":" + p->hops[v.last_seen].ifname, "node1:vxlan0");
  EXPECT_NE(v.summary.find("last seen at node1:vxlan0"), std::string::npos) << v.summary;
  const std::string table = RenderTable(*p, seen, v);
  EXPECT_NE(table.find("MISSING"), std::string::npos) << table;
  const std::string json = RenderJson(*p, seen, v);
  EXPECT_NE(json.find("\"first_missing\": \"node1:eth0\""), std::string::npos) << json;
  // Nothing seen: never seen.
  v = Judge(*p, std::vector<Observation>(p->hops.size()));
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.summary.find("never seen"), std::string::npos) << v.summary;
}

}  // namespace
}  // namespace mkn::trace
