// [[expect]] rows: validated by Resolve(), expanded into cells, outcomes judged, the matrix
// printed. Tables, no root.
#include "lib/check/matrix.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/check/report.h"
#include "lib/config/toml/load.h"
#include "lib/strings/str_cat.h"

namespace mkn::check {
namespace {

using config::ExpectProto;
using config::ExpectResult;

// Two nodes, a client, three web replicas, an echo pod, two Services and an edge.
constexpr const char* kLab = R"(
[cluster]
name = "t"
nodes = 2

[[pod]]
name = "client"
node = "node1"
labels = { app = "client" }
  [[pod.container]]
  name = "shell"
  command = ["sleep", "infinity"]

[[pod]]
name = "echo"
node = "node2"
labels = { app = "echo", tier = "back" }
  [[pod.container]]
  name = "udp"
  app = "udp-echo"

[[deployment]]
name = "web"
replicas = 3
  [deployment.template]
  labels = { app = "web", tier = "back" }
  [[deployment.template.container]]
  name = "echo"
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]

[[service]]
name = "web"
cluster_ip = "10.96.0.10"
selector = { app = "web" }
  [[service.port]]
  name = "http"
  port = 80
  target_port = 8080
  [[service.port]]
  name = "alt"
  port = 81
  target_port = 8080

[[service]]
name = "dns"
cluster_ip = "10.96.0.53"
selector = { app = "echo" }
  [[service.port]]
  port = 53
  target_port = 7
  protocol = "UDP"

[[ingress]]
name = "site"
  [[ingress.rule]]
  host = "shop.example"
    [[ingress.rule.path]]
    path = "/"
    service = "web"
    port = 80
)";

config::LoadResult LoadWith(const std::string& rows) {
  return config::Load(StrCat(kLab, "\n", rows), "lab.toml");
}

// One [[expect]] table from "key = value, key = value", a key a line.
std::string Rows(std::string row) {
  std::string out = "[[expect]]\n";
  for (size_t at; (at = row.find(", ")) != std::string::npos; row.erase(0, at + 2)) {
    out += row.substr(0, at) + "\n";
  }
  return out + row + "\n";
}

// --- validation ----------------------------------------------------------------------------------

struct BadRow {
  std::string row;
  std::string message;  // FormatAll's text, line:col included
};

TEST(ExpectValidation, EveryMistakeHasItsLineAndColumn) {
  // The lab above ends on line 61; the row's [[expect]] is line 63, its keys one a line from 64.
  const std::vector<BadRow> table = {
      {R"(from = "clinet", to = "echo", proto = "icmp", result = "allow")",
       "lab.toml:64:8: expect #1: from: unknown pod or node \"clinet\" (did you mean "
       "\"client\"?)"},
      {R"(from = "client", to = "web", port = 8080, result = "allow")",
       "lab.toml:65:6: expect #1: to: unknown pod or node \"web\" (a deployment: its pods are "
       "\"web-0\"..., or select them with { app = \"...\" })"},
      {R"(from = { app = "nothing" }, to = "echo", proto = "icmp", result = "allow")",
       "lab.toml:64:8: expect #1: from: selector { app = \"nothing\" } matches no pod (labels "
       "are set by [[pod]] labels and a deployment's template)"},
      {R"(from = {}, to = "echo", proto = "icmp", result = "allow")",
       "lab.toml:64:8: expect #1: from: an empty selector would pick every pod; name the "
       "labels, like { app = \"web\" }"},
      {R"(from = "client", to = "echo", port = 70000, result = "allow")",
       "lab.toml:66:8: expect #1: port 70000 is out of range 1-65535"},
      {R"(from = "client", to = "echo", port = 7, result = "yes")",
       "lab.toml:67:10: expect #1: result \"yes\" is not \"allow\" or \"deny\""},
      {R"(from = "client", to = "echo", port = 7)",
       "lab.toml:63:1: expect #1: missing \"result\" (\"allow\" or \"deny\")"},
      {R"(from = "client", to = "echo", result = "allow")",
       "lab.toml:63:1: expect #1: missing \"port\" (proto \"tcp\" to a pod, a node or an "
       "address needs one)"},
      {R"(from = "client", to = "echo", proto = "icmp", port = 7, result = "allow")",
       "lab.toml:67:8: expect #1: port 7 with proto \"icmp\": a ping has no port"},
      {R"(from = "client", to = "echo", proto = "sctp", port = 7, result = "allow")",
       "lab.toml:66:9: expect #1: proto \"sctp\" is not \"tcp\", \"udp\", \"icmp\" (or, to "
       "the edge, \"http\" or \"https\")"},
      {R"(from = "client", to = "echo", proto = "http", port = 7, result = "allow")",
       "lab.toml:66:9: expect #1: proto \"http\" is for to = \"host-edge\"; here: \"tcp\", "
       "\"udp\" or \"icmp\""},
      {R"(from = "client", to = "svc/web", result = "allow")",
       "lab.toml:65:6: expect #1: to: service \"web\" has several ports (80, 81); say which: "
       "\"svc/web:PORT\" or port = N"},
      {R"(from = "client", to = "svc/web:90", result = "allow")",
       "lab.toml:65:6: expect #1: to: service \"web\" has no port 90 (its ports: 80, 81)"},
      {R"(from = "client", to = "svc/wbe:80", result = "allow")",
       "lab.toml:65:6: expect #1: to: unknown service \"wbe\" (did you mean \"web\"?)"},
      {R"(from = "client", to = "svc/web:80", port = 81, result = "allow")",
       "lab.toml:66:8: expect #1: port 81 contradicts to = \"svc/web:80\" (port 80)"},
      {R"(from = "client", to = "svc/dns", proto = "tcp", result = "allow")",
       "lab.toml:66:9: expect #1: proto \"tcp\": service \"dns\" port 53 is udp"},
      {R"(from = "client", to = "svc/dns", proto = "icmp", result = "allow")",
       "lab.toml:66:9: expect #1: proto \"icmp\" to a Service: a ClusterIP is virtual and "
       "answers no ping; probe its port"},
      {R"(from = "client", to = "fd00::1", port = 80, result = "allow")",
       "lab.toml:65:6: expect #1: to: \"fd00::1\" is an IPv6 address: IPv6 comes with dual "
       "stack"},
      {R"(from = "client", to = "10.244.1.300", port = 80, result = "allow")",
       "lab.toml:65:6: expect #1: to: \"10.244.1.300\" is not an IPv4 address"},
      {R"(from = "client", to = "host-edge", result = "allow")",
       "lab.toml:64:8: expect #1: from: the edge listens on the host's loopback: only from = "
       "\"host\" (or no from) reaches it"},
      {R"(from = "host", to = "echo", proto = "icmp", result = "allow")",
       "lab.toml:64:8: expect #1: from: \"host\" only sends to to = \"host-edge\": the host "
       "has no route into the lab's namespaces"},
      {R"(to = "host-edge", port = 9999, result = "allow")",
       "lab.toml:65:8: expect #1: to: \"host-edge\": no listener on port 9999 (listeners: "
       "http http :8080)"},
      {R"(to = "host-edge", path = "cart", result = "allow")",
       "lab.toml:65:8: expect #1: path \"cart\" must start with '/' and have no spaces"},
      {R"(from = "client", to = "echo", proto = "icmp", host = "x.example", result = "allow")",
       "lab.toml:67:8: expect #1: host and path are for to = \"host-edge\" (an HTTP request "
       "through the ingress)"},
      {R"(from = "svc/web", to = "echo", proto = "icmp", result = "allow")",
       "lab.toml:64:8: expect #1: from: \"svc/web\" cannot send: a row starts at a pod, a "
       "selector, a node, or \"host\" (for to = \"host-edge\")"},
      {R"(from = 3, to = "echo", proto = "icmp", result = "allow")",
       "lab.toml:64:8: expect #1: from: expected a name like \"client\" or \"svc/web\", or a "
       "selector like { app = \"web\" }, got an integer"},
      {R"(from = "client", too = "echo", result = "allow")",
       "lab.toml:65:1: expect #1: unknown key \"too\" (did you mean \"to\"?)"},
  };
  for (const BadRow& b : table) {
    config::LoadResult r = LoadWith(Rows(b.row));
    EXPECT_FALSE(r.spec.has_value()) << b.row;
    EXPECT_NE(r.diags.FormatAll().find(b.message), std::string::npos)
        << b.row << "\nwant: " << b.message << "\ngot:  " << r.diags.FormatAll();
  }
}

TEST(ExpectValidation, DefaultsAreFilled) {
  config::LoadResult r = LoadWith(R"(
[[expect]]
from = "client"
to = "svc/web:http"
result = "allow"
[[expect]]
from = { app = "client" }
to = "svc/dns"
result = "allow"
[[expect]]
to = "host-edge"
host = "shop.example"
path = "/cart"
result = "allow"
[[expect]]
from = "node1"
to = "node2"
port = 30080
result = "deny"
[[expect]]
from = "client"
to = "echo"
proto = "ICMP"
result = "Deny"
)");
  ASSERT_TRUE(r.spec.has_value()) << r.diags.FormatAll();
  const auto& x = r.spec->expects;
  ASSERT_EQ(x.size(), 5u);
  EXPECT_EQ(x[0].to.kind, config::ExpectEnd::Kind::kService);
  EXPECT_EQ(x[0].to.name, "web");
  EXPECT_EQ(x[0].port, 80);
  EXPECT_EQ(x[0].proto, ExpectProto::kTcp);
  EXPECT_EQ(x[1].from.kind, config::ExpectEnd::Kind::kSelector);
  EXPECT_EQ(x[1].port, 53);
  EXPECT_EQ(x[1].proto, ExpectProto::kUdp);
  EXPECT_EQ(x[2].from.kind, config::ExpectEnd::Kind::kHost);
  EXPECT_EQ(x[2].proto, ExpectProto::kHttp);
  EXPECT_EQ(x[2].port, 8080);
  EXPECT_EQ(x[2].edge_address.text, "127.0.0.1");
  EXPECT_EQ(x[2].path, "/cart");
  EXPECT_EQ(x[3].from.kind, config::ExpectEnd::Kind::kNode);
  EXPECT_EQ(x[3].to.kind, config::ExpectEnd::Kind::kNode);
  EXPECT_EQ(x[3].result, ExpectResult::kDeny);
  EXPECT_EQ(x[4].proto, ExpectProto::kIcmp);
  EXPECT_EQ(x[4].result, ExpectResult::kDeny);
}

// --- expansion -----------------------------------------------------------------------------------

control::ClusterState StateOf(const config::ClusterSpec& spec) {
  control::ClusterState s;
  s.cluster = spec.name;
  for (const config::NodeSpec& n : spec.nodes) {
    control::NodeState ns;
    ns.name = n.name;
    ns.netns = n.netns;
    ns.underlay_ip = n.underlay_ip.ToString();
    s.nodes.push_back(ns);
  }
  for (const config::PodSpec& p : spec.pods) {
    control::PodState ps;
    ps.name = p.name;
    ps.node = spec.nodes[p.node].name;
    ps.ip = p.ip.ToString();
    ps.netns = p.netns;
    ps.deployment = p.deployment;
    s.pods.push_back(ps);
  }
  return s;
}

struct ExpandCase {
  std::string rows;
  std::vector<std::string> cells;  // "from -> to want"
  std::vector<std::string> problems;
};

TEST(ExpectExpand, RowsBecomeSourcesTimesDestinations) {
  const std::vector<ExpandCase> table = {
      {R"(from = "client", to = "svc/web:80", result = "allow")",
       {"client -> svc/web:80/tcp allow 10.96.0.10"},
       {}},
      {R"(from = "client", to = { app = "web" }, port = 8080, result = "allow")",
       {"client -> web-0:8080/tcp allow 10.244.0.3", "client -> web-1:8080/tcp allow 10.244.1.3",
        "client -> web-2:8080/tcp allow 10.244.0.4"},
       {}},
      {R"(from = { tier = "back" }, to = "client", proto = "icmp", result = "deny")",
       {"echo -> client/icmp deny 10.244.0.2", "web-0 -> client/icmp deny 10.244.0.2",
        "web-1 -> client/icmp deny 10.244.0.2", "web-2 -> client/icmp deny 10.244.0.2"},
       {}},
      {R"(to = "host-edge", host = "shop.example", result = "allow")",
       {"host -> http://shop.example:8080/ allow 127.0.0.1"},
       {}},
      {R"(from = "node1", to = "node2", port = 30080, result = "allow")",
       {"node1 -> node2:30080/tcp allow 172.18.0.3"},
       {}},
      {R"(from = "client", to = "10.244.1.2", proto = "udp", port = 7, result = "allow")",
       {"client -> 10.244.1.2:7/udp allow 10.244.1.2"},
       {}},
  };
  for (const ExpandCase& c : table) {
    config::LoadResult r = LoadWith(Rows(c.rows));
    ASSERT_TRUE(r.spec.has_value()) << c.rows << "\n" << r.diags.FormatAll();
    Matrix m = Expand(*r.spec, WorldOf(*r.spec, StateOf(*r.spec)));
    std::vector<std::string> got;
    for (const Cell& cell : m.cells) {
      got.push_back(StrCat(cell.from, " -> ", cell.to, " ", config::ToString(cell.want), " ",
                           cell.address.text));
      EXPECT_EQ(cell.line, 63) << c.rows;
    }
    EXPECT_EQ(got, c.cells) << c.rows;
    EXPECT_EQ(m.problems, c.problems) << c.rows;
  }
}

TEST(ExpectExpand, TheRunningClusterDecides) {
  config::LoadResult r = LoadWith(R"(
[[expect]]
from = "client"
to = { app = "web" }
port = 8080
result = "allow"
[[expect]]
from = "echo"
to = "client"
proto = "icmp"
result = "allow"
)");
  ASSERT_TRUE(r.spec.has_value()) << r.diags.FormatAll();
  control::ClusterState s = StateOf(*r.spec);
  // `scale web 4` added web-3; `kill echo` removed echo.
  control::PodState extra = s.pods.back();
  extra.name = "web-3";
  extra.ip = "10.244.1.9";
  extra.deployment = "web";
  s.pods.push_back(extra);
  std::erase_if(s.pods, [](const control::PodState& p) { return p.name == "echo"; });
  Matrix m = Expand(*r.spec, WorldOf(*r.spec, s));
  ASSERT_EQ(m.cells.size(), 4u);
  EXPECT_EQ(m.cells.back().to, "web-3:8080/tcp");
  EXPECT_EQ(m.froms, std::vector<std::string>{"client"});
  ASSERT_EQ(m.problems.size(), 1u);
  EXPECT_EQ(m.problems[0], "line 69: from pod \"echo\" is not running");
}

// --- outcomes ------------------------------------------------------------------------------------

struct ClassifyCase {
  ExpectProto proto;
  ToolRun run;
  Outcome want;
};

TEST(ExpectClassify, AllowIsAnAnswerAndEverythingElseIsDeny) {
  const std::vector<ClassifyCase> table = {
      {ExpectProto::kTcp, {true, 0, false, "", ""}, Outcome::kAnswered},
      {ExpectProto::kTcp,
       {true, 1, false, "", "socat[9] E connect(5, AF=2 10.0.0.1:80, 16): Connection refused"},
       Outcome::kRefused},
      {ExpectProto::kTcp,
       {true, 1, false, "", "socat[9] E read(5, ...): Connection reset by peer"},
       Outcome::kAnswered},
      {ExpectProto::kTcp,
       {true, 1, false, "", "socat[9] E connect(5, ...): Connection timed out"},
       Outcome::kSilent},
      {ExpectProto::kTcp, {true, -1, true, "", ""}, Outcome::kSilent},
      {ExpectProto::kTcp,
       {true, 1, false, "", "connect(): No route to host"},
       Outcome::kUnreachable},
      {ExpectProto::kTcp, {false, -1, false, "", "socat: not installed"}, Outcome::kError},
      {ExpectProto::kUdp, {true, 0, false, "x\n", ""}, Outcome::kAnswered},
      {ExpectProto::kUdp, {true, 0, false, "", ""}, Outcome::kSilent},
      {ExpectProto::kUdp,
       {true, 1, false, "", "dd: error reading: Connection refused"},
       Outcome::kRefused},
      {ExpectProto::kUdp, {true, 124, false, "", "no answer within 1 s"}, Outcome::kSilent},
      {ExpectProto::kIcmp,
       {true, 0, false, "1 packets transmitted, 1 received", ""},
       Outcome::kAnswered},
      {ExpectProto::kIcmp,
       {true, 1, false, "1 packets transmitted, 0 received", ""},
       Outcome::kSilent},
      {ExpectProto::kIcmp,
       {true, 1, false, "From 10.244.0.1 icmp_seq=1 Destination Host Unreachable", ""},
       Outcome::kUnreachable},
      {ExpectProto::kIcmp,
       {true, 1, false, "From 10.244.0.1 icmp_seq=1 Packet filtered", ""},
       Outcome::kRefused},
      {ExpectProto::kHttp, {true, 0, false, "200", ""}, Outcome::kAnswered},
      {ExpectProto::kHttp, {true, 0, false, "308", ""}, Outcome::kAnswered},
      {ExpectProto::kHttp, {true, 0, false, "404", ""}, Outcome::kRefused},
      {ExpectProto::kHttp, {true, 0, false, "503", ""}, Outcome::kRefused},
      {ExpectProto::kHttp,
       {true, 7, false, "000", "curl: (7) Failed to connect"},
       Outcome::kRefused},
      {ExpectProto::kHttps, {true, 28, false, "000", "curl: (28) timed out"}, Outcome::kSilent},
  };
  for (const ClassifyCase& c : table) {
    EXPECT_EQ(Classify(c.proto, c.run), c.want)
        << config::ToString(c.proto) << " code " << c.run.code << " " << c.run.out << c.run.err;
  }
}

TEST(ExpectBudget, WavesBoundTheRun) {
  EXPECT_EQ(BudgetFor(1).total, std::chrono::milliseconds(10000));
  EXPECT_EQ(BudgetFor(16 * 20).total, std::chrono::milliseconds(20 * 1500));
  EXPECT_EQ(BudgetFor(16 * 20 + 1).total, std::chrono::milliseconds(21 * 1500));
}

// --- the report ----------------------------------------------------------------------------------

Report Sample() {
  Report r;
  r.cluster = "t";
  r.took = std::chrono::milliseconds(1234);
  auto add = [&](std::string from, std::string to, ExpectResult want, Outcome o, int line) {
    CellResult c;
    c.cell.from = from;
    c.cell.to = to;
    c.cell.want = want;
    c.cell.line = line;
    c.outcome = o;
    c.evidence = o == Outcome::kAnswered ? "`socat ...` exit 0" : "`socat ...` timed out";
    if (std::find(r.froms.begin(), r.froms.end(), from) == r.froms.end()) r.froms.push_back(from);
    if (std::find(r.tos.begin(), r.tos.end(), to) == r.tos.end()) r.tos.push_back(to);
    r.results.push_back(c);
  };
  add("client", "svc/web:80/tcp", ExpectResult::kAllow, Outcome::kAnswered, 40);
  add("client", "web-0:9999/tcp", ExpectResult::kAllow, Outcome::kRefused, 41);
  add("web-0", "svc/web:80/tcp", ExpectResult::kDeny, Outcome::kAnswered, 42);
  add("web-0", "client/icmp", ExpectResult::kDeny, Outcome::kSilent, 43);
  return r;
}

TEST(ExpectReport, TableMarksMismatches) {
  EXPECT_EQ(Table(Sample()),
            "-       1   2   3\n"
            "client  .   X!  -\n"
            "web-0   .!  -   X\n"
            "\n"
            "1   svc/web:80/tcp\n"
            "2   web-0:9999/tcp\n"
            "3   client/icmp\n"
            "\n"
            ". allowed   X denied   ! not what the lab expects   E probe error   - no row\n"
            "MISMATCH line 41: client -> web-0:9999/tcp: expected allow, got deny (refused): "
            "`socat ...` timed out\n"
            "MISMATCH line 42: web-0 -> svc/web:80/tcp: expected deny, got allow (answered): "
            "`socat ...` exit 0\n"
            "check t: 4 cells, 2 mismatches, 0 errors in 1234 ms: FAIL\n");
}

TEST(ExpectReport, JUnitHasOneTestcasePerCell) {
  const std::string x = JUnitXml(Sample());
  EXPECT_NE(x.find("tests=\"4\" failures=\"2\" errors=\"0\""), std::string::npos) << x;
  EXPECT_NE(x.find("<testcase classname=\"expect.line40\" name=\"client -&gt; svc/web:80/tcp\" "
                   "time=\"0.000\"/>"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<testcase classname=\"expect.line41\" name=\"client -&gt; web-0:9999/tcp\" "
                   "time=\"0.000\">\n      <failure message=\"expected allow, got deny (refused)\" "
                   "type=\"reachability\">"),
            std::string::npos)
      << x;
}

TEST(ExpectReport, JsonSaysEachCell) {
  const std::string j = Json(Sample());
  EXPECT_NE(j.find("\"passed\": false"), std::string::npos) << j;
  EXPECT_NE(j.find("\"mismatches\": 2"), std::string::npos) << j;
  EXPECT_NE(j.find("\"outcome\": \"refused\""), std::string::npos) << j;
}

}  // namespace
}  // namespace mkn::check
