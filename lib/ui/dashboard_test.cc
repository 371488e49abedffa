// The dashboard's decisions as tables: routing, Host/Origin checks, the trace form, SSE framing,
// the snapshot's JSON (the CLI's answers, unchanged) and a real trace's highlight on the
// quickstart lab's graph.
#include "lib/ui/dashboard.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/config/toml/load.h"
#include "lib/trace/trace.h"

namespace mkn::ui {
namespace {

namespace fs = std::filesystem;

config::ClusterSpec Quickstart() {
  const char* dir = std::getenv("MKN_SOURCE_DIR");
  const fs::path p =
      (dir != nullptr ? fs::path(dir) : fs::current_path()) / "examples/quickstart/lab.toml";
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  config::LoadResult r = config::Load(ss.str(), p.string());
  EXPECT_TRUE(r.spec.has_value()) << p;
  return r.spec ? *r.spec : config::ClusterSpec{};
}

TEST(Route, Table) {
  struct Row {
    std::string method, path;
    Target target;
    std::string allow, asset;
  };
  const std::vector<Row> rows = {
      {"GET", "/", Target::kPage, "", "index.html"},
      {"HEAD", "/", Target::kPage, "", "index.html"},
      {"GET", "/index.html", Target::kPage, "", "index.html"},
      {"GET", "/app.js", Target::kAsset, "", "app.js"},
      {"GET", "/style.css", Target::kAsset, "", "style.css"},
      {"GET", "/api/state", Target::kState, "", ""},
      {"GET", "/api/events", Target::kEvents, "", ""},
      {"POST", "/api/trace", Target::kTrace, "", ""},
      {"GET", "/api/trace", Target::kMethodNotAllowed, "POST", ""},
      {"POST", "/", Target::kMethodNotAllowed, "GET, HEAD", ""},
      {"DELETE", "/api/state", Target::kMethodNotAllowed, "GET, HEAD", ""},
      {"get", "/", Target::kMethodNotAllowed, "GET, HEAD", ""},  // methods are case-sensitive
      {"GET", "/api/state/", Target::kNotFound, "", ""},
      {"GET", "/../etc/passwd", Target::kNotFound, "", ""},
      {"GET", "/APP.JS", Target::kNotFound, "", ""},
  };
  for (const Row& r : rows) {
    Routed got = Route(r.method, r.path);
    EXPECT_EQ(got.target, r.target) << r.method << " " << r.path;
    EXPECT_EQ(got.allow, r.allow) << r.method << " " << r.path;
    EXPECT_EQ(got.asset, r.asset) << r.method << " " << r.path;
  }
}

TEST(Loopback, HostAndOrigin) {
  EXPECT_TRUE(Loopback("127.0.0.1:8088", 8088));
  EXPECT_TRUE(Loopback("localhost:8088", 8088));
  EXPECT_TRUE(Loopback("[::1]:8088", 8088));
  EXPECT_TRUE(Loopback("127.0.0.1", 80));
  EXPECT_FALSE(Loopback("127.0.0.1", 8088));
  EXPECT_FALSE(Loopback("127.0.0.1:8089", 8088));
  EXPECT_FALSE(Loopback("evil.example:8088", 8088));  // DNS rebinding: another name
  EXPECT_FALSE(Loopback("127.0.0.1.evil:8088", 8088));
  EXPECT_FALSE(Loopback("[::1", 8088));
  EXPECT_FALSE(Loopback("", 8088));
  EXPECT_TRUE(SameOrigin("http://127.0.0.1:8088", 8088));
  EXPECT_TRUE(SameOrigin("http://localhost:8088", 8088));
  EXPECT_FALSE(SameOrigin("https://127.0.0.1:8088", 8088));
  EXPECT_FALSE(SameOrigin("http://evil.example", 8088));
  EXPECT_FALSE(SameOrigin("null", 8088));
}

TEST(TraceForm, Table) {
  struct Row {
    std::string body;
    std::optional<TraceForm> want;  // nullopt: InvalidArgument
  };
  const std::vector<Row> rows = {
      {"src=client&dst=web-1", TraceForm{"client", "web-1", ""}},
      {"src=client&dst=svc%2Fweb%3A80&proto=tcp", TraceForm{"client", "svc/web:80", "tcp"}},
      {"dst=10.96.0.10:80&src=client&proto=udp&extra=1",
       TraceForm{"client", "10.96.0.10:80", "udp"}},
      {"src=a+b&dst=c", TraceForm{"a b", "c", ""}},
      {"&&src=a&&dst=b&", TraceForm{"a", "b", ""}},
      {"src=client", std::nullopt},
      {"dst=web-1", std::nullopt},
      {"src=&dst=web-1", std::nullopt},
      {"src=client&dst=web-1&proto=sctp", std::nullopt},
      {"src=client&src=web-0&dst=web-1", std::nullopt},  // ambiguous: refused
      {"src=client&dst=web-1%", std::nullopt},
      {"src=client&dst=web-1%4", std::nullopt},
      {"src=client&dst=%zz", std::nullopt},
      {"src=client&dst=" + std::string(257, 'a'), std::nullopt},
      {"", std::nullopt},
      // Words the page's JSON can carry: UTF-8 text, no control characters. Bytes that are not
      // UTF-8 made the snapshot's dump() throw, which ended the cluster's owner (`up --ui`).
      {"src=client&dst=%E2%98%83", TraceForm{"client", "\u2603", ""}},
      {"src=%ff%fe&dst=web-1", std::nullopt},
      {"src=client&dst=%c0%ae", std::nullopt},     // overlong '.'
      {"src=client&dst=%ed%a0%80", std::nullopt},  // a UTF-16 surrogate
      {"src=client&dst=%e2%98", std::nullopt},     // cut short
      {"src=client&dst=web-1%00x", std::nullopt},  // NUL
      {"src=client&dst=web-1%0d%0aevent:x", std::nullopt},
  };
  for (const Row& r : rows) {
    absl::StatusOr<TraceForm> got = ParseTraceForm(r.body);
    if (r.want) {
      ASSERT_TRUE(got.ok()) << r.body << ": " << got.status();
      EXPECT_EQ(*got, *r.want) << r.body;
    } else {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << r.body;
    }
  }
}

// `ui --port 8088` while `up --ui` serves 8088 said only "Address already in use".
TEST(PortTaken, SaysWhoHoldsItAndTheWayOut) {
  EXPECT_EQ(PortTakenHint(8088, "--port", "svc"),
            "the dashboard of cluster svc (its up --ui) serves that port: open "
            "http://127.0.0.1:8088/, or pick another port (--port 8089) or --port 0 for any free "
            "one");
  EXPECT_EQ(PortTakenHint(9000, "--ui", ""),
            "another process listens there (ss -ltnp 'sport = :9000' names it); pick another port "
            "(--ui 9001) or --ui 0 for any free one");
}

TEST(Sse, Framing) {
  EXPECT_EQ(SseEvent("state", "{\"a\":1}"), "event: state\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseEvent("state", ""), "event: state\ndata: \n\n");
  // Every line end becomes its own data field: no line of the payload can end the event early or
  // forge a field ("\n\nevent: x" stays data).
  EXPECT_EQ(SseEvent("m", "a\nb"), "event: m\ndata: a\ndata: b\n\n");
  EXPECT_EQ(SseEvent("m", "a\r\nb\rc"), "event: m\ndata: a\ndata: b\ndata: c\n\n");
  EXPECT_EQ(SseEvent("m", "a\n\nevent: x"), "event: m\ndata: a\ndata: \ndata: event: x\n\n");
  EXPECT_EQ(SseEvent("m", "a\n"), "event: m\ndata: a\ndata: \n\n");
}

TEST(Snapshot, CarriesTheCliAnswersUnchanged) {
  const config::ClusterSpec spec = Quickstart();
  Inputs in;
  in.cluster = "quickstart";
  in.graph = graph::BuildGraph(spec);
  in.svg = "<svg/>";
  control::ServicesAnswer svc = control::ServicesFromSpec(spec);
  in.services = svc;
  in.errors = {"routes: the lab has no edge"};
  std::deque<TraceEntry> traces;
  traces.push_back({2, "client", "nope", "", nullptr, "trace: unknown pod \"nope\"", nullptr});
  const nlohmann::json j = Snapshot(in, traces);
  EXPECT_EQ(j["cluster"], "quickstart");
  EXPECT_EQ(j["services"], control::ToJson(svc));  // what `get svc -o json` prints
  EXPECT_TRUE(j["routes"].is_null());
  EXPECT_TRUE(j["conntrack"].is_null());
  EXPECT_EQ(j["graph"]["svg"], "<svg/>");
  EXPECT_EQ(j["errors"][0], "routes: the lab has no edge");
  ASSERT_EQ(j["traces"].size(), 1u);
  EXPECT_EQ(j["traces"][0]["error"], "trace: unknown pod \"nope\"");
  EXPECT_EQ(j["traces"][0]["id"], 2);
  // Vertices by id, with their kinds: what the page's lists and the e2e test look for.
  bool pod = false, node = false;
  for (const nlohmann::json& v : j["graph"]["vertices"]) {
    pod |= v["id"] == "pod/web-0" && v["kind"] == "pod";
    node |= v["id"] == "node/node2" && v["kind"] == "node";
  }
  EXPECT_TRUE(pod);
  EXPECT_TRUE(node);
  EXPECT_EQ(Snapshot(in, traces).dump(), j.dump());  // deterministic: equal text, no change
}

// A cross-node trace on the quickstart lab, every hop seen: the highlight walks pod, bridge, VXLAN
// device, underlay, the peer's VXLAN device, bridge, pod, each consecutive pair an edge the graph
// draws.
TEST(Highlight, CrossNodePodToPod) {
  const config::ClusterSpec spec = Quickstart();
  absl::StatusOr<trace::Request> r = trace::ParseRequest(spec, "client", "web-1", "");
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<trace::Path> p = trace::PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<trace::Observation> seen(p->hops.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    seen[i].seen = true;
    seen[i].flow = p->hops[i].flow;
  }
  const trace::Verdict v = trace::Judge(*p, seen);
  const nlohmann::json result = nlohmann::json::parse(trace::RenderJson(*p, seen, v));
  const graph::Graph g = graph::BuildGraph(spec);
  const nlohmann::json h = Highlight(result, g);
  const std::string node_of_web1 = spec.nodes[spec.FindPod("web-1")->node].name;
  ASSERT_NE(node_of_web1, "node1") << "the quickstart's web-1 is on node2";
  const std::vector<std::string> want = {"pod/client",  "bridge/node1", "vxlan/node1",
                                         "node/node1",  "underlay",     "node/node2",
                                         "vxlan/node2", "bridge/node2", "pod/web-1"};
  std::vector<std::string> got;
  for (const nlohmann::json& x : h["vertices"]) got.push_back(x.get<std::string>());
  EXPECT_EQ(got, want);
  EXPECT_GE(h["edges"].size(), 4u);
  EXPECT_TRUE(h["missing"].is_null());

  // The probe lost after the underlay: the highlight stops there and names the first hop that
  // did not see it.
  for (size_t i = 0; i < seen.size(); ++i) {
    if (p->hops[i].object == "node2" && p->hops[i].leg == trace::Leg::kRequest) {
      for (size_t k = i; k < seen.size(); ++k) seen[k].seen = false;
      break;
    }
  }
  const trace::Verdict lost = trace::Judge(*p, seen);
  const nlohmann::json h2 = Highlight(nlohmann::json::parse(trace::RenderJson(*p, seen, lost)), g);
  EXPECT_EQ(h2["missing"], "node/node2");
  EXPECT_EQ(h2["vertices"].back(), "underlay");
}

// To the world: the highlight leaves the cluster through the underlay to the world's vertex. A
// probe that never left its node (its send failed): that node is where it died, nothing drawn.
TEST(Highlight, TheWorldAndAProbeThatNeverLeft) {
  const config::ClusterSpec spec = Quickstart();
  const graph::Graph g = graph::BuildGraph(spec);
  absl::StatusOr<trace::Request> r = trace::ParseRequest(spec, "client", "world", "");
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<trace::Path> p = trace::PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<trace::Observation> seen(p->hops.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    seen[i].seen = true;
    seen[i].flow = p->hops[i].flow;
  }
  nlohmann::json h =
      Highlight(nlohmann::json::parse(trace::RenderJson(*p, seen, trace::Judge(*p, seen))), g);
  std::vector<std::string> got;
  for (const nlohmann::json& x : h["vertices"]) got.push_back(x.get<std::string>());
  EXPECT_EQ(got, (std::vector<std::string>{"pod/client", "bridge/node1", "node/node1", "underlay",
                                           "world"}));
  EXPECT_TRUE(h["missing"].is_null());

  r = trace::ParseRequest(spec, "node1", "web-1", "");
  ASSERT_TRUE(r.ok()) << r.status();
  p = trace::PredictPath(spec, *r);
  ASSERT_TRUE(p.ok()) << p.status();
  seen.assign(p->hops.size(), {});
  trace::DiedAtSource(*p, seen, "route get 10.244.1.3: no route to 10.244.1.3");
  h = Highlight(nlohmann::json::parse(trace::RenderJson(*p, seen, trace::Judge(*p, seen))), g);
  EXPECT_EQ(h["missing"], "node/node1");
  EXPECT_EQ(h["vertices"].size(), 0u);
}

TEST(Highlight, NotATrace) {
  const graph::Graph g;
  EXPECT_EQ(Highlight(nullptr, g)["vertices"].size(), 0u);
  EXPECT_EQ(Highlight(nlohmann::json{{"hops", 3}}, g)["edges"].size(), 0u);
}

}  // namespace
}  // namespace mkn::ui
